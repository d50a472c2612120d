"""vCPUs (§11): the state area and its numpy view, upcalls for IRQs, IPC, page faults and
exceptions, the virtual interrupt flag and its sticky pending flag, resume into a user
task, and every refusal of vcpu_control and vcpu_resume."""
import numpy as np
import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_CAP_FPAGE_RW, L4_CAP_FPAGE_RWS, L4_EINVAL, L4_ENODEV, L4_ENOENT, L4_ENOSYS, L4_EPERM,
    L4_FPAGE_RW, L4_INVALID_CAP, L4_IPC_BOTH_TIMEOUT_0, L4_IPC_NEVER, L4_PROTO_IRQ_SENDER,
    L4_PROTO_THREAD, L4_PROTO_VCPU_CONTEXT, L4_SYSF_REPLY, L4_VCPU_F_EXCEPTIONS,
    L4_VCPU_F_FPU_ENABLED, L4_VCPU_F_IRQ, L4_VCPU_F_PAGE_FAULTS, L4_VCPU_F_USER_MODE,
    L4_VCPU_SF_IRQ_PENDING, L4_IPC_TIMEOUT_NEVER, l4_error, l4_factory_create, l4_factory_create_irq,
    l4_factory_create_task, l4_fpage, l4_fpage_invalid, l4_icu_bind,
    l4_ipc_send, l4_ipc_wait, l4_map_control, l4_timeout, l4_timeout_from_us, l4_msgtag, l4_obj_fpage, l4_rcv_ep_bind_thread,
    l4_task_delete_obj, l4_thread_vcpu_control, l4_thread_vcpu_control_ext,
    l4_thread_vcpu_resume_commit, l4_thread_vcpu_resume_start, l4_utcb,
)
from pyl4re.vcpu import VcpuState

from kobj_util import invoke, new_thread, sel

# §11.1, written down from the spec (not from the C table): offsets of version, r, i.tag,
# i.label, state, saved_state, sticky_flags, user_task, entry_sp, entry_ip, and the
# l4_exc_regs_t word of ip; the version.
SPEC = {
    "x86_64": dict(r=0x40, i_tag=0x110 + 56, i_label=0x118, state=0x150, saved_state=0x152,
                   sticky_flags=0x154, user_task=0x158, entry_sp=0x160, entry_ip=0x168,
                   ip_word=18, version=0x26),
    "arm64": dict(r=0x40, i_tag=0x180, i_label=0x188, state=0x1A8, saved_state=0x1AA,
                  sticky_flags=0x1AC, user_task=0x1B0, entry_sp=0x1B8, entry_ip=0x1C0,
                  ip_word=36, version=0x38),
    "mips64": dict(r=0x40, i_tag=0x188 + 24, i_label=0x188 + 32, state=0x1B0,
                   saved_state=0x1B2, sticky_flags=0x1B4, user_task=0x1B8, entry_sp=0x1C0,
                   entry_ip=0x1C8, ip_word=39, version=0x12),
}
AREA_OFFSET = 0x1000            # the state area: in the UTCB area's ku-mem, past the UTCB
USER_TASK, IRQ = sel(0), sel(1)
USER_VA, POOL_VA = 0x200000, 0x600000
ALL_TRAPS = L4_VCPU_F_IRQ | L4_VCPU_F_PAGE_FAULTS | L4_VCPU_F_EXCEPTIONS


def area_va(env):
    return (env.utcb_area.raw & ~0xFFF) + AREA_OFFSET


async def make_vcpu(env, entry=None):
    """This thread becomes a vCPU; its state area's view (entry_ip set if given)."""
    assert l4_error(await l4_thread_vcpu_control(env.thread, area_va(env))) == 0
    v = pyl4re.vcpu.state()
    v.user_task = L4_INVALID_CAP                   # none (0 would name slot 0, an empty one)
    if entry is not None:
        v.entry_ip = pyl4re.entry(entry)
        v.entry_sp = 0x7ff000
    return v


async def resume(v=None, tag=None):
    """vcpu_resume on itself; returns l4_error only if it was refused."""
    tag = tag if tag is not None else l4_thread_vcpu_resume_start()
    return l4_error(await l4_thread_vcpu_resume_commit(L4_INVALID_CAP, tag))


def run(arch, main, **kw):
    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="main", **kw)
    res = k.run()
    return k, res


def page_shift(k):
    return k.arch_info["page_shift"]


# ---- the state area -------------------------------------------------------------------

def test_view_and_raw_memory_agree_at_the_spec_offsets(arch):
    spec = SPEC[arch]
    seen = {}

    async def main(env):
        v = await make_vcpu(env)
        pa = pyl4re.vcpu.info(env_kernel[0], pyl4re.traps.running().id).state.raw
        mem = env_kernel[0].physmem
        raw = lambda off, n: int.from_bytes(mem[pa + off:pa + off + n].tobytes(), "little")
        seen["version"] = (v.version, raw(0, 8))
        # writes through the view land at the spec's offsets ...
        v.state, v.saved_state, v.sticky_flags = 0x0123, 0x0456, 0x0789
        v.user_task, v.entry_sp, v.entry_ip = 0xABC000, 0x1111000, 0x2222000
        v.i.tag, v.i.label = 0x3333, 0x4444
        v.ip = 0x5555
        seen["raw"] = [raw(spec[f], n) for f, n in (
            ("state", 2), ("saved_state", 2), ("sticky_flags", 2), ("user_task", 8),
            ("entry_sp", 8), ("entry_ip", 8), ("i_tag", 8), ("i_label", 8))]
        seen["ip"] = raw(spec["r"] + 8 * spec["ip_word"], 8)
        # ... and raw writes show in the view (no copy anywhere)
        mem[pa + spec["entry_ip"]:pa + spec["entry_ip"] + 8] = np.frombuffer(
            (0x77000).to_bytes(8, "little"), np.uint8)
        mem[pa + spec["state"]:pa + spec["state"] + 2] = (0x21, 0)
        seen["view"] = (v.entry_ip, v.state, int(v.array["state"]), v.r[spec["ip_word"]])
        seen["utcb_pa"] = env_kernel[0]._thread_info(pyl4re.traps.running().id).utcb.raw
        seen["pa"] = pa
        return True

    env_kernel = [Kernel(arch=arch, memory=16 << 20)]
    env_kernel[0].start_task(main, name="main")
    assert env_kernel[0].run().exited["main"]
    assert seen["version"] == (spec["version"],) * 2
    assert seen["raw"] == [0x0123, 0x0456, 0x0789, 0xABC000, 0x1111000, 0x2222000, 0x3333,
                           0x4444]
    assert seen["ip"] == 0x5555
    assert seen["view"] == (0x77000, 0x21, 0x21, 0x5555)
    assert seen["pa"] == seen["utcb_pa"] + AREA_OFFSET     # in the same ku-mem piece


def test_vcpu_state_rejects_a_bad_address(kernel):
    with pytest.raises(ValueError):
        VcpuState(kernel, 3)
    with pytest.raises(ValueError):
        VcpuState(kernel, kernel.memory - 8)
    with pytest.raises(TypeError):
        pyl4re.vcpu.of(kernel, "thread")
    with pytest.raises(ValueError):
        pyl4re.vcpu.of(kernel, 0x12345)


def test_a_harness_sees_the_same_area(arch):
    async def main(env):
        v = await make_vcpu(env)
        v.entry_ip = 0x4242
        return v.pa

    k = Kernel(arch=arch, memory=16 << 20)
    h = k.start_task(main, name="main")
    pa = k.run().exited["main"]
    v = pyl4re.vcpu.of(k, h.thread_id)
    assert (v.pa, v.entry_ip, v.version) == (pa, 0x4242, SPEC[arch]["version"])
    assert pyl4re.vcpu.of(k, k._lib.kernel_sigma0_thread(k._k).raw) is None


@pytest.mark.parametrize("case", ["misaligned", "outside ku-mem", "crosses the end",
                                  "no address", "another task's ku-mem"])
def test_vcpu_control_refusals(arch, case):
    async def main(env):
        base = env.utcb_area.raw & ~0xFFF
        size = 1 << ((env.utcb_area.raw >> 6) & 0x3F)
        if case == "no address":
            return await invoke(env.thread, L4_PROTO_THREAD, [7])
        if case == "another task's ku-mem":
            # a new task with ku-mem at an address our task does not have
            area = l4_fpage(0x9000000, 14, L4_FPAGE_RW)
            assert l4_error(await l4_factory_create_task(env.factory, USER_TASK, area)) == 0
            return l4_error(await l4_thread_vcpu_control(env.thread, 0x9000000))
        va = {"misaligned": base + AREA_OFFSET + 4, "outside ku-mem": 0x5000000,
              "crosses the end": base + size - 0x100}[case]
        return l4_error(await l4_thread_vcpu_control(env.thread, va))

    k, res = run(arch, main)
    assert res.exited["main"] == -L4_EINVAL
    assert pyl4re.vcpu.info(k, next(iter(k._loop.threads))).state.raw == 0   # no vCPU


def test_vcpu_control_over_the_utcb_is_accepted_as_in_fiasco(arch):
    # Fiasco checks only ku-mem and alignment; an area over the UTCB is the user's problem.
    # (The extended form, 4 KiB aligned with its extended area in ku-mem: tests/test_vm.py.)
    async def main(env):
        ok = l4_error(await l4_thread_vcpu_control(env.thread, env.utcb_area.raw & ~0xFFF))
        ext = l4_error(await l4_thread_vcpu_control_ext(env.thread, area_va(env) + 8))
        return ok, ext

    assert run(arch, main)[1].exited["main"] == (0, -L4_EINVAL)


def test_bind_vcpu_and_vcpu_context_are_not_modelled(arch):
    async def main(env):
        assert l4_error(await l4_factory_create_irq(env.factory, IRQ)) == 0
        bind = await invoke(IRQ, L4_PROTO_IRQ_SENDER, [2, 0, 8, l4_obj_fpage(
            env.thread, 0, L4_CAP_FPAGE_RWS).raw], items=1)
        ctx = l4_error(await l4_factory_create(env.factory, L4_PROTO_VCPU_CONTEXT, sel(2)))
        return bind, ctx

    assert run(arch, main)[1].exited["main"] == (-L4_ENOSYS, -L4_ENODEV)


# ---- IRQ and IPC upcalls, the interrupt flag --------------------------------------------

async def bind_irq(env, line, label=0x44):
    assert l4_error(await l4_factory_create_irq(env.factory, IRQ)) == 0
    assert l4_error(await l4_rcv_ep_bind_thread(IRQ, env.thread, label)) == 0
    assert l4_error(await l4_icu_bind(env.icu, line, IRQ)) == 0


def test_an_irq_interrupts_compute_and_resume_goes_on(arch):
    log = []

    async def on_event(v):
        log.append((v.event, v.i.label, v.i.tag, v.saved_state, v.state, v.ip))
        assert v is pyl4re.vcpu.state()
        await resume()

    async def main(env):
        v = await make_vcpu(env, on_event)
        await bind_irq(env, 3)
        v.state = L4_VCPU_F_IRQ | L4_VCPU_F_FPU_ENABLED
        await pyl4re.compute(1_000_000)
        return v.state

    k = Kernel(arch=arch, memory=16 << 20)
    h = k.start_task(main, name="main")
    for t in (200_000, 400_000):
        k.hw.at(t, lambda: k.hw.irq_line(3).pulse())
    res = k.run()
    assert res.exited["main"] == L4_VCPU_F_IRQ | L4_VCPU_F_FPU_ENABLED
    assert [e[:4] for e in log] == [("ipc", 0x44, 0, L4_VCPU_F_IRQ | L4_VCPU_F_FPU_ENABLED)] * 2
    assert all(e[4] == L4_VCPU_F_FPU_ENABLED for e in log)       # traps off, FPU kept
    assert all(e[5] >= k._lib.VCPU_CONT_BASE for e in log)       # continuation ips
    assert log[0][5] != log[1][5]
    assert h.thread.consumed_ns >= 1_000_000                     # all of it was burnt
    kinds = [r.kind for r in k.trace]
    assert kinds.count("vcpu_upcall") == 2 and kinds.count("vcpu_resume") == 2


def test_with_the_flag_clear_the_irq_queues_and_sets_the_sticky_flag(arch):
    async def on_event(v):
        return "no upcall expected"

    async def main(env):
        v = await make_vcpu(env, on_event)
        await bind_irq(env, 4)
        v.state = 0
        await pyl4re.compute(300_000)              # the IRQ comes at 100 µs: queued
        pending = v.sticky_flags
        tag, label = await l4_ipc_wait(l4_utcb(), L4_IPC_BOTH_TIMEOUT_0)
        return pending, label, v.sticky_flags

    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="main")
    k.hw.at(100_000, lambda: k.hw.irq_line(4).pulse())
    assert k.run().exited["main"] == (L4_VCPU_SF_IRQ_PENDING, 0x44, 0)


def test_resume_with_an_irq_pending_upcalls_instead(arch):
    log = []

    async def on_event(v):
        log.append((v.event, v.i.label, v.sticky_flags))
        if len(log) == 1:
            return "done"

    async def main(env):
        v = await make_vcpu(env, on_event)
        await bind_irq(env, 5, label=0x80)
        v.state = 0
        await pyl4re.compute(200_000)
        v.saved_state = L4_VCPU_F_IRQ              # resume with interrupts on: one waits
        v.ip = pyl4re.entry(on_event)
        return ("resumed", await resume())

    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="main")
    k.hw.at(50_000, lambda: k.hw.irq_line(5).pulse())
    res = k.run()
    assert res.exited["main"] == "done"
    assert log == [("ipc", 0x80, 0)]
    ups = [r for r in k.trace if r.kind == "vcpu_upcall"]
    assert ups[-1].fields["event"] == "resume_irq"


def test_ipc_to_a_vcpu_with_interrupts_on_is_an_upcall(arch):
    log = []

    async def on_event(v):
        u = l4_utcb()
        log.append((v.event, v.i.label & ~3, v.i.tag & 0x3F, int(u.mr[0])))
        if len(log) == 3:
            return "two messages"
        await pyl4re.compute(50_000)               # the second send queues meanwhile
        log.append(("sticky", v.sticky_flags))
        await resume()                             # ... so resume upcalls at once

    async def client(env):
        u = l4_utcb()
        await l4_ipc_wait(u, l4_timeout(L4_IPC_TIMEOUT_NEVER, l4_timeout_from_us(100)))
        for n in (11, 22):
            u.mr[0] = n
            await l4_ipc_send(env.caps["vcpu"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
        return "sent"

    async def main(env):
        v = await make_vcpu(env, on_event)
        v.state = L4_VCPU_F_IRQ
        await pyl4re.compute(5_000_000)
        return "not interrupted"

    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x60)
    h = k.start_task(main, name="main")
    gate.bind(h, 0x60)
    k.start_task(client, name="client", caps={"vcpu": gate}, prio=2)
    res = k.run()
    assert res.exited == {"main": "two messages", "client": "sent"}
    assert log == [("ipc", 0x60, 1, 11), ("sticky", L4_VCPU_SF_IRQ_PENDING),
                   ("ipc", 0x60, 1, 22)]
    events = [r.fields["event"] for r in k.trace if r.kind == "vcpu_upcall"]
    assert events == ["ipc", "resume_irq"]


def test_libvcpu_irq_enable_handles_what_queued_while_the_flag_was_off(arch):
    from pyl4re.l4sys import l4_vcpu_check_version, l4vcpu_irq_disable, l4vcpu_irq_enable
    handled = []

    async def on_event(v):
        return "no upcall expected"

    async def work(v):
        handled.append((v.i.label, v.sticky_flags))

    async def main(env):
        v = await make_vcpu(env, on_event)
        await bind_irq(env, 8, label=0x90)
        l4vcpu_irq_disable(v)
        await pyl4re.compute(300_000)              # the IRQ queues meanwhile
        before = v.sticky_flags
        await l4vcpu_irq_enable(v, l4_utcb(), work)
        return l4_vcpu_check_version(v), before, v.sticky_flags, v.state & L4_VCPU_F_IRQ

    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="main")
    k.hw.at(100_000, lambda: k.hw.irq_line(8).pulse())
    assert k.run().exited["main"] == (True, L4_VCPU_SF_IRQ_PENDING, 0, L4_VCPU_F_IRQ)
    assert handled == [(0x90, 0)]


def test_an_exception_in_kernel_mode_with_the_exception_flag_is_an_upcall(arch):
    async def on_event(v):
        return (v.event, v.trapno)

    async def main(env):
        v = await make_vcpu(env, on_event)
        v.state = L4_VCPU_F_EXCEPTIONS
        raise ValueError("an illegal instruction, as far as the kernel can tell")

    k, res = run(arch, main)
    assert res.exited["main"] == ("exception", k._lib.arch_illegal_trapno())


# ---- user mode -------------------------------------------------------------------------

def user_system(arch, user_code, on_other=None, extra=None, harness=None):
    """A vCPU kernel that runs `user_code` in a user task: it maps a page of its own pool
    for each page fault, answers exception 0x30 by resuming, and ends on any other
    exception. Returns (kernel, run result, event log)."""
    log = []
    k = Kernel(arch=arch, memory=16 << 20)
    ps = page_shift(k)
    pool = iter(range(POOL_VA, POOL_VA + (64 << ps), 1 << ps))

    async def on_event(v):
        ev = v.event
        log.append((ev, v.trapno if ev == "exception" else v.pfa if ev == "page_fault"
                    else v.i.label))
        tag = l4_thread_vcpu_resume_start()
        if ev == "page_fault":
            page = next(pool)
            await pyl4re.mem.store(page, 0)        # our own page, from sigma0
            u = l4_utcb()
            u.mr[1] = l4_map_control(v.pfa & ~((1 << ps) - 1), 0, 0)
            u.mr[2] = l4_fpage(page, ps, L4_FPAGE_RW).raw
            tag = l4_msgtag(L4_PROTO_THREAD, 1, 1, 0)
        elif ev != "exception" or v.trapno != 0x30:
            if on_other is not None:
                return await on_other(v, log)
            return "user code ended"
        return ("resume refused", await resume(v, tag))

    async def main(env):
        v = await make_vcpu(env, on_event)
        assert l4_error(await l4_factory_create_task(env.factory, USER_TASK,
                                                     l4_fpage_invalid())) == 0
        if extra is not None:
            await extra(env)
        v.user_task = USER_TASK
        v.ip, v.sp = pyl4re.entry(user_code), 0x8000
        v.saved_state = L4_VCPU_F_USER_MODE | L4_VCPU_F_FPU_ENABLED
        return ("resume refused", await resume())

    h = k.start_task(main, name="kernel")
    if harness is not None:
        harness(k, h)
    return k, k.run(), log


def test_user_code_runs_in_the_user_task_and_continues_after_faults(arch):
    seen = {}

    async def user():
        for i in range(3):
            await pyl4re.mem.store(USER_VA + (i << 14), 100 + i)
        seen["sum"] = sum([await pyl4re.mem.load(USER_VA + (i << 14)) for i in range(3)])
        await pyl4re.trap(0x30)                    # a "system call"
        seen["after"] = True

    k, res, log = user_system(arch, user)
    assert res.exited["kernel"] == "user code ended"
    assert seen == {"sum": 303, "after": True}
    faults = [e for e in log if e[0] == "page_fault"]
    pages = {USER_VA + (i << 14) >> page_shift(k) for i in range(3)}
    assert {f[1] >> page_shift(k) for f in faults} == pages
    assert ("exception", 0x30) in log
    assert log[-1] == ("exception", k._lib.arch_illegal_trapno())   # returned: illegal
    # the user task's page table has the pages, the vCPU's own task has not them there
    kernel_task = k.object(k._thread_info(next(iter(k._loop.threads))).task.raw)
    assert kernel_task.translate(pyl4re.VirtAddr(USER_VA)) is None


def test_a_kernel_entry_in_user_mode_is_a_syscall_upcall(arch):
    async def user():
        await l4_ipc_wait(l4_utcb(), L4_IPC_NEVER)     # would block forever in a task
        return "ipc returned"

    async def other(v, log):
        return v.event

    k, res, log = user_system(arch, user, on_other=other)
    assert res.exited["kernel"] == "syscall"


def test_user_task_refusals(arch):
    async def user():
        return None

    results = {}

    async def main(env):
        v = await make_vcpu(env, user)
        assert l4_error(await l4_factory_create_irq(env.factory, IRQ)) == 0
        assert l4_error(await l4_factory_create_task(env.factory, USER_TASK,
                                                     l4_fpage_invalid())) == 0
        v.saved_state = L4_VCPU_F_USER_MODE
        v.user_task = sel(9)                        # empty slot
        results["empty"] = await resume()
        v.user_task = IRQ                           # not a task
        results["not a task"] = await resume()
        v.saved_state = L4_VCPU_F_USER_MODE
        v.user_task = L4_INVALID_CAP                # none cached yet
        results["no user task"] = await resume()
        # a task capability without S (mapped with RW only to another slot)
        from pyl4re.l4sys import l4_task_map, l4_map_obj_control
        await l4_task_map(env.task, env.task, l4_obj_fpage(USER_TASK, 0, L4_CAP_FPAGE_RW),
                          l4_map_obj_control(sel(3), 0))
        v.user_task = sel(3)
        results["no S"] = await resume()
        v.user_task = USER_TASK | L4_SYSF_REPLY      # drop the cache
        results["dropped"] = await resume()
        results["why"] = env_kernel[0].explain_last_error()
        results["state"] = v.state
        return "refused"

    env_kernel = [Kernel(arch=arch, memory=16 << 20)]
    env_kernel[0].start_task(main, name="main")
    assert env_kernel[0].run().exited["main"] == "refused"
    assert (results["empty"], results["not a task"], results["no user task"],
            results["no S"], results["dropped"]) == (-L4_ENOENT, -L4_EINVAL, -L4_ENOENT,
                                                     -L4_EPERM, -L4_ENOENT)
    assert "without a user task" in results["why"]
    assert results["state"] == 0                    # nothing changed by the refusals


def test_resume_on_another_threads_capability_is_refused(arch):
    async def other():
        return None

    async def main(env):
        await make_vcpu(env, other)
        await new_thread(env, sel(4), other)
        return await invoke(sel(4), L4_PROTO_THREAD, [4])

    assert run(arch, main)[1].exited["main"] == -L4_EINVAL


def test_map_items_that_do_not_fit_the_user_task_map_nothing(arch):
    # Fiasco maps resume items with the whole user task as the window: one whose send
    # base lies beyond every user address, or one naming memory the vCPU's task does not
    # have, maps nothing, and the resume goes ahead.
    async def user():
        return "user ran"

    seen = {}

    async def on_event(v):
        seen["event"] = (v.event, v.trapno)
        return "ended"

    async def main(env):
        v = await make_vcpu(env, on_event)
        assert l4_error(await l4_factory_create_task(env.factory, USER_TASK,
                                                     l4_fpage_invalid())) == 0
        v.user_task = USER_TASK
        v.ip = pyl4re.entry(user)
        v.saved_state = L4_VCPU_F_USER_MODE
        ps = page_shift(env_kernel[0])
        await pyl4re.mem.store(POOL_VA, 1)
        u = l4_utcb()
        l4_thread_vcpu_resume_start()
        u.mr[1] = l4_map_control(1 << 62, 0, 0)
        u.mr[2] = l4_fpage(POOL_VA, ps, L4_FPAGE_RW).raw
        u.mr[3] = l4_map_control(USER_VA, 0, 0)
        u.mr[4] = l4_fpage(0x9000000, ps, L4_FPAGE_RW).raw      # not ours
        return await resume(tag=l4_msgtag(L4_PROTO_THREAD, 1, 2, 0))

    env_kernel = [Kernel(arch=arch, memory=16 << 20)]
    k = env_kernel[0]
    h = k.start_task(main, name="main")
    res = k.run()
    assert res.exited["main"] == "ended"
    assert seen["event"] == ("exception", k._lib.arch_illegal_trapno())
    user_task = k.object(pyl4re.vcpu.info(k, h.thread_id).user_task.raw)
    assert user_task.translate(pyl4re.VirtAddr(USER_VA)) is None


def test_garbage_in_state_bits_is_ignored(arch):
    async def on_event(v):
        return ("upcall", v.saved_state, v.state)

    async def main(env):
        v = await make_vcpu(env, on_event)
        await bind_irq(env, 6)
        v.state = 0xFF5F & ~L4_VCPU_F_USER_MODE     # every bit but user mode
        await pyl4re.compute(200_000)
        return "no upcall"

    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="main")
    k.hw.at(10_000, lambda: k.hw.irq_line(6).pulse())
    tag, saved, state = k.run().exited["main"]
    assert saved == 0xFF5F & ~L4_VCPU_F_USER_MODE
    assert state == saved & ~(ALL_TRAPS | L4_VCPU_F_USER_MODE)


# ---- deletion ---------------------------------------------------------------------------

def test_the_user_task_deleted_under_a_running_vcpu(arch):
    async def user():
        await pyl4re.mem.store(USER_VA, 1)
        await pyl4re.compute(500_000)               # the task dies meanwhile
        await pyl4re.mem.store(USER_VA + 0x10000, 2)
        return None

    async def deleter():
        await l4_ipc_wait(l4_utcb(), l4_timeout(L4_IPC_TIMEOUT_NEVER, l4_timeout_from_us(100)))
        await l4_task_delete_obj(pyl4re.l4sys.L4_BASE_TASK_CAP, USER_TASK)
        return "deleted"

    async def extra(env):
        await new_thread(env, sel(5), deleter, prio=2)

    async def other(v, log):
        return ("refused at", v.event, await resume())

    k, res, log = user_system(arch, user, on_other=other, extra=extra)
    # the fault after the deletion still upcalls; the resume cannot go back (-L4_ENOENT)
    assert res.exited["kernel"] == ("resume refused", -L4_ENOENT)
    assert log[-1][0] == "page_fault"


def test_a_vcpu_deleted_while_in_user_mode(arch):
    async def user():
        await pyl4re.compute(10_000_000)
        return None

    def harness(k, h):
        k.hw.at(200_000, lambda: k._lib.cspace_delete_obj(k._k, [k.root_task.id],
                                                          [h.thread_slot]))

    k, res, log = user_system(arch, user, harness=harness)
    assert "kernel" in res.deleted
    assert not k._loop.parked                       # its parked code went with it
    k.check_invariants()
