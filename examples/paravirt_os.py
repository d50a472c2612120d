"""A paravirtualized guest OS on a vCPU, as L4Linux runs: a "kernel" µApp whose thread is a
vCPU runs two user processes, each in an L4 task of its own, and gets control back on
every event that happens while they run.

- Timer: an Irq bound to the vCPU thread, raised through an ICU line by `k.hw.at` every
  TICK_NS. While a process runs, the vCPU's interrupt flag is on, so each tick is an
  upcall: the kernel saves the process's registers (the state area's r) and resumes the
  other process: preemption.
- Page faults: a process's first touch of a page is an upcall; the kernel takes a page of
  its own memory (from its pager, sigma0) and maps it into the process's task with a map
  item sent along with vcpu_resume.
- System calls: a process writes its arguments to its syscall page and traps
  (`pyl4re.trap(SYSCALL)`); the exception upcall lets the kernel read them through its
  own mapping of that page: WRITE prints a line, EXIT ends the process.

Run it: `python examples/paravirt_os.py [arch]`. `run(arch)` returns what happened (the
output lines, counts of preemptions, page faults and system calls); tests/test_example_
paravirt_os.py checks it on every architecture.
"""
import sys

import pyl4re
from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_CAP_SHIFT, l4_error, l4_factory_create_irq, l4_factory_create_task,
    l4_fpage_invalid, l4_icu_bind, l4_irq_unmask, l4_rcv_ep_bind_thread,
    l4_thread_vcpu_control,
)
from pyl4re.l4sys.vcpu import vcpu_resume_with_items

TICK_NS = 40_000                # the timer period
TIMER_LINE, TIMER_LABEL = 7, 0x70
SYSCALL = 0x30                  # the trap number of a system call
SYS_WRITE, SYS_EXIT = 1, 2
HEAP_VA = 0x01000000            # where a process keeps its data (user virtual addresses)
SYSCALL_VA = 0x00800000         # its syscall page: number, argument
POOL_VA = 0x01000000            # the kernel's own pages it hands out (sigma0 maps 1:1)
STATE_OFFSET = 0x1000           # the vCPU state area, in the UTCB area's ku-mem
FIRST_CAP = 0x40                # the kernel's capability slots for tasks and the Irq
# (name, pages it touches, steps): ≥ 50 page faults in all
PROCESSES = (("A", 30, 150), ("B", 26, 170))
STEP_NS = 20_000                # compute per step: ≥ 100 timer ticks in all


def user_program(name, pages, steps, page_size):
    """A user process: add step numbers into `pages` pages of its heap, computing between
    the steps; print the running total every 50 steps; exit with the final total."""
    async def syscall(number, arg):
        await pyl4re.mem.store(SYSCALL_VA, number)
        await pyl4re.mem.store(SYSCALL_VA + 8, arg)
        await pyl4re.trap(SYSCALL)

    async def process():
        for step in range(steps):
            va = HEAP_VA + (step % pages) * page_size
            await pyl4re.mem.store(va, await pyl4re.mem.load(va) + step)
            await pyl4re.compute(STEP_NS)
            if step % 50 == 49:
                total = 0
                for p in range(min(pages, step + 1)):
                    total += await pyl4re.mem.load(HEAP_VA + p * page_size)
                await syscall(SYS_WRITE, total)
        await syscall(SYS_EXIT, steps * (steps - 1) // 2)
    process.__qualname__ = f"process_{name}"
    return process


def run(arch="x86_64", memory=32 << 20, trace_size=None):
    k = Kernel(arch=arch, memory=memory, trace_size=trace_size)
    page_size = 1 << k.arch_info["page_shift"]
    stats = {"output": [], "preemptions": 0, "page_faults": 0, "syscalls": 0,
             "exit_codes": {}, "done": False}
    programs = [user_program(n, p, s, page_size) for n, p, s in PROCESSES]

    async def guest_kernel(env):
        procs = []                          # [name, task selector, saved r, pages, alive]
        pool = iter(range(POOL_VA, POOL_VA + (256 * page_size), page_size))
        irq = FIRST_CAP << L4_CAP_SHIFT
        # The vCPU: state area in our ku-mem, entry point, a timer IRQ bound to us.
        state_va = (env.utcb_area.raw & ~0xFFF) + STATE_OFFSET
        assert l4_error(await l4_thread_vcpu_control(env.thread, state_va)) == 0
        v = pyl4re.vcpu.state()
        assert l4_error(await l4_factory_create_irq(env.factory, irq)) == 0
        assert l4_error(await l4_rcv_ep_bind_thread(irq, env.thread, TIMER_LABEL)) == 0
        assert l4_error(await l4_icu_bind(env.icu, TIMER_LINE, irq)) == 0
        for n, (name, _, _) in enumerate(PROCESSES):
            sel = (FIRST_CAP + 1 + n) << L4_CAP_SHIFT
            assert l4_error(await l4_factory_create_task(env.factory, sel,
                                                         l4_fpage_invalid())) == 0
            v.ip, v.sp, v.flags = pyl4re.entry(programs[n]), 0x7ff000, 0
            procs.append([name, sel, v.regs(), {}, True])

        async def resume(current, items=()):
            """Continue process `current`: its registers, its task, user mode with
            interrupts on; `items`: (user page, our page) mappings to send along."""
            name, sel, regs, pages, _ = procs[current]
            v.set_regs(regs)
            err = await vcpu_resume_with_items(v, sel, items, page_size.bit_length() - 1)
            raise RuntimeError(f"resume of {name} refused: {err}")

        def next_alive(after):
            for step in range(1, len(procs) + 1):
                n = (after + step) % len(procs)
                if procs[n][4]:
                    return n
            return None

        current = [0]

        async def on_event(v):
            """The entry point: every event of the running process lands here."""
            n = current[0]
            proc = procs[n]
            event = v.event
            if event == "ipc" and v.i.label == TIMER_LABEL:        # a timer tick
                stats["preemptions"] += 1
                proc[2] = v.regs()
                await l4_irq_unmask(irq)
                nxt = next_alive(n)
                current[0] = nxt
                await resume(nxt)
            if event == "page_fault":
                stats["page_faults"] += 1
                user_page = v.pfa & ~(page_size - 1)
                own = next(pool)
                await pyl4re.mem.store(own, 0)                    # ours now (sigma0)
                proc[3][user_page] = own
                proc[2] = v.regs()
                await resume(n, [(user_page, own)])
            if event == "exception" and v.trapno == SYSCALL:
                stats["syscalls"] += 1
                own = proc[3][SYSCALL_VA]
                number = await pyl4re.mem.load(own)
                arg = await pyl4re.mem.load(own + 8)
                proc[2] = v.regs()
                if number == SYS_WRITE:
                    stats["output"].append(f"{proc[0]}: total {arg}")
                    await resume(n)
                if number == SYS_EXIT:
                    stats["output"].append(f"{proc[0]}: exit {arg}")
                    stats["exit_codes"][proc[0]] = arg
            # EXIT, or anything else (a process that returned or raised): it ends.
            proc[4] = False
            nxt = next_alive(n)
            if nxt is None:
                stats["done"] = True
                return "all processes ended"
            current[0] = nxt
            await resume(nxt)

        v.entry_ip = pyl4re.entry(on_event)
        v.entry_sp = 0x7fe000
        await resume(0)

    k.start_task(guest_kernel, name="guestos")
    line = k.hw.irq_line(TIMER_LINE)

    def tick(at):
        if stats["done"]:
            return
        line.pulse()
        k.hw.at(at + TICK_NS, lambda: tick(at + TICK_NS))

    k.hw.at(TICK_NS, lambda: tick(TICK_NS))
    result = k.run()
    stats["result"] = result
    stats["kernel"] = k
    return stats


if __name__ == "__main__":
    out = run(sys.argv[1] if len(sys.argv) > 1 else "x86_64")
    print("\n".join(out["output"]))
    print(f"{out['preemptions']} timer preemptions, {out['page_faults']} page faults, "
          f"{out['syscalls']} system calls; guest kernel: "
          f"{out['result'].exited.get('guestos')!r}; virtual time {out['result'].now_ns} ns")
