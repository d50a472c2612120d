"""A VMM µApp runs a guest program in a hardware VM (docs/vm.md), as uvmm runs a guest:
it creates a VM (`l4_factory_create_vm`), maps 16 MiB of its own memory into it as guest
RAM at guest-physical 0 with `l4_task_map`, makes its thread an extended vCPU and resumes
into the VM. Every exit is an upcall to its entry point, with the architecture's exit
information in the extended area (`pyl4re.vm.ExtState`):

- stage-2 misses in a lazily backed region: it maps a page there (a map item sent along
  with the resume) and the guest's access is made again;
- MMIO: accesses to a small device (a data register and a counter), emulated: the VMM
  stores what the guest wrote, answers loads in the data register and advances the ip;
- hypercalls (VMCALL / HVC / HYPCALL): add, report a checksum, acknowledge an interrupt,
  done;
- halts (HLT / WFI / WAIT): it injects a virtual interrupt, whose handler in the guest
  acknowledges it with a hypercall;
- IRQs: a timer Irq bound to the vCPU (an ICU line pulsed by `k.hw.at`) ends every long
  stretch of guest computing.

The guest writes all 16 MiB and checksums them (CRC-32), then makes at least EXITS exits
of each kind. Run it: `python examples/vm_guest.py [arch]`; tests/test_example_vm_guest.py
checks it on every architecture.
"""
import sys
import zlib

import numpy as np

import pyl4re
from pyl4re import Kernel, guest
from pyl4re.l4re.moe.memory import SIGMA0_REQ_ANY, sigma0_request
from pyl4re.l4sys import (
    L4_CAP_SHIFT, L4_FPAGE_RW, L4_FPAGE_RWX, l4_error, l4_factory_create_irq,
    l4_factory_create_vm, l4_fpage, l4_icu_bind, l4_irq_unmask, l4_map_control,
    l4_rcv_ep_bind_thread, l4_task_add_ku_mem, l4_task_map, l4_thread_vcpu_control_ext,
)
from pyl4re.l4sys.vcpu import vcpu_resume_with_items

EXITS = 1000                      # of each kind, at least
RAM_GPA, RAM_ORDER = 0x0, 24      # 16 MiB of guest RAM at guest-physical 0
CHUNK = 1 << 20
LAZY_GPA = 0x20000000             # backed page by page on stage-2 misses
MMIO_GPA = 0x40000000             # the device: +0 data register, +8 counter
HC_ADD, HC_CHECKSUM, HC_EOI, HC_DONE = 1, 2, 3, 4
TICK_NS, STEP_NS = 10_000, 10_000
TIMER_LINE, TIMER_LABEL = 9, 0x90
KU_VA = 0x30000000                # our extra ku-mem: the extended vCPU area
IRQ_CAP, VM_CAP = 0x40, 0x41
# What differs per architecture for the VMM: the vector it injects and the guest's first
# register state (arm64: PSTATE EL1h with IRQs unmasked; mips64: guest Status IE | IM).
VECTOR = {"x86_64": 0x30, "arm64": 27, "mips64": 2}
GUEST_FLAGS = {"x86_64": None, "arm64": 0x5, "mips64": None}
GUEST_FIELDS = {"x86_64": {}, "arm64": {}, "mips64": {0x40: 0xFC01}}


def pattern(off, n):
    """The bytes the guest writes at RAM offset `off`: a counter of 64-bit words."""
    return (np.arange(off // 8, (off + n) // 8, dtype="<u8") * 0x9E3779B97F4A7C15).tobytes()


def expected_checksum(size=1 << RAM_ORDER):
    crc = 0
    for off in range(0, size, CHUNK):
        crc = zlib.crc32(pattern(off, CHUNK), crc)
    return crc


def guest_program(page_size, steps):
    seen = {"irqs": 0}

    async def on_irq(vector):
        seen["irqs"] += 1
        await guest.hypercall(HC_EOI, vector)

    async def main():
        guest.on_interrupt(on_irq)
        for off in range(0, 1 << RAM_ORDER, CHUNK):            # all of RAM, then its CRC
            await guest.write(RAM_GPA + off, pattern(off, CHUNK))
        crc = 0
        for off in range(0, 1 << RAM_ORDER, CHUNK):
            crc = zlib.crc32(await guest.read(RAM_GPA + off, CHUNK), crc)
        await guest.hypercall(HC_CHECKSUM, crc)
        for i in range(EXITS):                                  # stage-2 misses
            await guest.store(LAZY_GPA + i * page_size, i)
            assert await guest.load(LAZY_GPA + i * page_size) == i
        for i in range(EXITS):                                  # MMIO
            await guest.store(MMIO_GPA, i, 4)
            assert await guest.load(MMIO_GPA + 8, 4) == i + 1
        total = 0
        for i in range(EXITS):                                  # hypercalls
            total = await guest.hypercall(HC_ADD, total, i)
        for _ in range(EXITS):                                  # halts
            await guest.wait_for_interrupt()
        for _ in range(steps):                                  # computing: timer IRQs
            await pyl4re.compute(STEP_NS)
        await guest.hypercall(HC_DONE, total, seen["irqs"])
    return main


def run(arch="x86_64", steps=EXITS + 100):
    k = Kernel(arch=arch, memory=64 << 20)
    page = 1 << k.arch_info["page_shift"]
    stats = {"exits": {"stage2": 0, "mmio": 0, "hypercall": 0, "halt": 0, "irq": 0},
             "checksum": None, "done": None, "errors": [], "layout_ok": True}
    guest_main = guest_program(page, steps)

    async def vmm(env):
        irq, vm = IRQ_CAP << L4_CAP_SHIFT, VM_CAP << L4_CAP_SHIFT
        err, ram = await sigma0_request(SIGMA0_REQ_ANY, l4_fpage(0, RAM_ORDER, 0).raw)
        assert err == 0, "no 16 MiB of RAM from sigma0"
        stats["ram"] = ram
        err, pool = await sigma0_request(SIGMA0_REQ_ANY, l4_fpage(0, 16, 0).raw)
        assert err == 0
        pool_pages = (1 << 16) // page
        assert l4_error(await l4_factory_create_vm(env.factory, vm)) == 0
        assert l4_error(await l4_task_map(vm, env.task, l4_fpage(ram, RAM_ORDER, L4_FPAGE_RWX),
                                          l4_map_control(RAM_GPA, 0, 0))) == 0
        assert l4_error(await l4_task_add_ku_mem(env.task, l4_fpage(KU_VA, 15, L4_FPAGE_RW))) == 0
        assert l4_error(await l4_thread_vcpu_control_ext(env.thread, KU_VA)) == 0
        assert l4_error(await l4_factory_create_irq(env.factory, irq)) == 0
        assert l4_error(await l4_rcv_ep_bind_thread(irq, env.thread, TIMER_LABEL)) == 0
        assert l4_error(await l4_icu_bind(env.icu, TIMER_LINE, irq)) == 0
        v, ext = pyl4re.vcpu.state(), pyl4re.vm.ext_state()
        device = {"data": None, "count": 0}

        async def resume(items=()):
            err = await vcpu_resume_with_items(v, vm, items, page.bit_length() - 1)
            stats["errors"].append(f"resume refused: {err}")
            return "resume refused"

        async def on_exit(v):
            e = ext.exit()
            if e.kind == "irq":
                if v.i.label != TIMER_LABEL:
                    stats["errors"].append(f"unexpected message {v.i.label:#x}")
                    return "unexpected message"
                stats["exits"]["irq"] += 1
                await l4_irq_unmask(irq)
                return await resume()
            if e.kind == "stage2" and MMIO_GPA <= e.gpa < MMIO_GPA + page:
                stats["exits"]["mmio"] += 1
                stats["layout_ok"] &= e.size == 4 and e.reg == ext.layout["data_reg"]
                if e.write:
                    device["data"] = e.value
                    device["count"] += 1
                    ext.advance(e.advance)
                else:
                    ext.complete_load(e, device["count"])
                return await resume()
            if e.kind == "stage2" and LAZY_GPA <= e.gpa < LAZY_GPA + EXITS * page:
                stats["exits"]["stage2"] += 1
                stats["layout_ok"] &= not e.exec and e.gpa % page == 0
                slot = (e.gpa - LAZY_GPA) // page % pool_pages
                return await resume([(e.gpa, pool + slot * page)])
            if e.kind == "hypercall":
                stats["exits"]["hypercall"] += 1
                regs = ext.layout["hc_regs"]
                number, a, b = (int(v.r[regs[i]]) for i in range(3))
                if number == HC_ADD:
                    v.r[regs[0]] = a + b
                elif number == HC_CHECKSUM:
                    stats["checksum"] = a
                elif number == HC_EOI:
                    ext.withdraw(a)                  # a level line (MIPS) goes down
                elif number == HC_DONE:
                    stats["done"] = (a, b)
                    return "guest done"
                ext.advance(e.advance)
                return await resume()
            if e.kind == "halt":
                stats["exits"]["halt"] += 1
                ext.inject(VECTOR[arch])
                ext.advance(e.advance)
                return await resume()
            stats["errors"].append(f"unexpected exit {e}")
            return "unexpected exit"

        v.entry_ip = pyl4re.entry(on_exit)
        v.entry_sp = 0x7fe000
        for field, value in GUEST_FIELDS[arch].items():
            ext.set(field, value)
        if GUEST_FLAGS[arch] is not None:
            v.flags = GUEST_FLAGS[arch]
        ext.guest_ip = pyl4re.entry(guest_main)
        await resume()

    k.start_task(vmm, name="vmm")
    line = k.hw.irq_line(TIMER_LINE)

    def tick(at):
        if stats["done"] is None and not stats["errors"]:
            line.pulse()
            k.hw.at(at + TICK_NS, lambda: tick(at + TICK_NS))

    k.hw.at(TICK_NS, lambda: tick(TICK_NS))
    stats["result"] = k.run()
    stats["kernel"] = k
    return stats


if __name__ == "__main__":
    out = run(sys.argv[1] if len(sys.argv) > 1 else "x86_64")
    print(f"guest RAM checksum {out['checksum']:#010x} (expected {expected_checksum():#010x})")
    print("exits:", ", ".join(f"{n} {c}" for n, c in out["exits"].items()))
    print(f"vmm: {out['result'].exited.get('vmm')!r}; errors: {out['errors'] or 'none'}; "
          f"virtual time {out['result'].now_ns} ns")
