"""Interrupts (§8.5, §8.6): Irq objects bound to threads and to ICU lines, software
triggers, level and edge lines driven by the harness at chosen virtual times, semaphores."""
import pytest

from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_EINVAL, L4_ENOSYS, L4_EPERM, L4_IPC_ENOT_EXISTENT, L4_IPC_NEVER, L4_IPC_RECANCELED,
    L4_IPC_RECV_TIMEOUT_0, L4_IPC_RETIMEOUT, L4_IRQ_F_LEVEL_HIGH, L4_IRQ_F_POS_EDGE,
    l4_error, l4_factory_create_irq, l4_factory_create_semaphore, l4_icu_bind, l4_icu_info,
    l4_icu_set_mode, l4_icu_unbind, l4_icu_unmask, l4_ipc_error, l4_ipc_sleep, l4_ipc_wait,
    l4_irq_detach, l4_irq_receive, l4_irq_trigger, l4_irq_unmask, l4_irq_wait,
    l4_rcv_ep_bind_thread, l4_semaphore_down,
    l4_semaphore_up, l4_timeout, l4_timeout_from_us, l4_utcb,
)

IRQ, SEM = 0x30 << 12, 0x31 << 12


def ok(tag):
    err = l4_error(tag, l4_utcb())
    assert err == 0, err
    return tag


async def make_irq(env, label=0x120, line=None):
    ok(await l4_factory_create_irq(env.factory, IRQ))
    ok(await l4_rcv_ep_bind_thread(IRQ, env.thread, label))
    if line is not None:
        ok(await l4_icu_bind(env.icu, line, IRQ))


def kernel(arch, cpus=1):
    return Kernel(arch=arch, cpus=cpus, memory=16 << 20)


@pytest.mark.parametrize("cpus", [1, 2])
def test_a_driver_gets_100_edges_at_chosen_times(arch, cpus):
    k = kernel(arch, cpus)
    seen = []

    async def driver(env):
        await make_irq(env, line=5)
        for _ in range(100):
            tag = await l4_irq_receive(IRQ, L4_IPC_NEVER)
            assert l4_ipc_error(tag, l4_utcb()) == 0 and tag.raw == 0
            seen.append(k.now_ns)
        return "done"

    k.start_task(driver, name="drv", cpu=cpus - 1)
    line = k.hw.irq_line(5)
    for i in range(100):
        k.hw.at(10_000 * (i + 1), line.pulse)
    assert k.run().exited == {"drv": "done"}
    assert len(seen) == 100
    assert all(10_000 * (i + 1) <= t < 10_000 * (i + 1) + 5_000 for i, t in enumerate(seen))


def test_the_message_carries_the_bound_label(arch):
    k = kernel(arch)

    async def driver(env):
        await make_irq(env, label=0x440, line=7)
        tag, label = await l4_ipc_wait(l4_utcb(), L4_IPC_NEVER)
        return tag.raw, label

    k.start_task(driver, name="drv")
    k.hw.at(5000, k.hw.irq_line(7).pulse)
    assert k.run().exited["drv"] == (0, 0x440)


def test_a_level_line_delivers_once_until_unmasked(arch):
    k = kernel(arch)
    seen = []

    async def driver(env):
        await make_irq(env, line=3)
        ok(await l4_icu_set_mode(env.icu, 3, L4_IRQ_F_LEVEL_HIGH))
        await l4_ipc_wait(l4_utcb(), L4_IPC_NEVER)
        seen.append(k.now_ns)
        # Not unmasked yet: the line stays high, but nothing more comes.
        tag, _ = await l4_ipc_wait(l4_utcb(), l4_timeout(0, l4_timeout_from_us(100)))
        seen.append(l4_ipc_error(tag, l4_utcb()))
        # Unmask while still asserted: it fires again at once.
        tag = await l4_irq_receive(IRQ, L4_IPC_RECV_TIMEOUT_0)
        seen.append(l4_ipc_error(tag, l4_utcb()))
        return "done"

    k.start_task(driver, name="drv")
    line = k.hw.irq_line(3)
    k.hw.at(1000, line.raise_)
    assert k.run().exited == {"drv": "done"}
    assert seen[1:] == [L4_IPC_RETIMEOUT, 0]
    assert line.state[2] is True and line.state[3] is True     # masked again, still high


def test_a_level_line_while_unbound_is_dropped_an_edge_is_kept(arch):
    k = kernel(arch)

    async def driver(env):
        ok(await l4_factory_create_irq(env.factory, IRQ))
        ok(await l4_icu_bind(env.icu, 2, IRQ))             # bound to a line, not a thread
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(50)))
        ok(await l4_rcv_ep_bind_thread(IRQ, env.thread, 0x10))
        tag, label = await l4_ipc_wait(l4_utcb(), L4_IPC_RECV_TIMEOUT_0)
        return l4_ipc_error(tag, l4_utcb()), label

    k.start_task(driver, name="drv")
    k.hw.at(10_000 + 0, k.hw.irq_line(2).pulse)               # before the bind? no: after
    k.hw.at(10, k.hw.irq_line(2).pulse)                       # an edge while unbound
    assert k.run().exited["drv"] == (0, 0x10)


def test_software_trigger_and_one_pending_message(arch):
    k = kernel(arch)

    async def driver(env):
        await make_irq(env)
        await l4_irq_trigger(IRQ)
        await l4_irq_trigger(IRQ)                             # still queued: no second one
        first, _ = await l4_ipc_wait(l4_utcb(), L4_IPC_RECV_TIMEOUT_0)
        second, _ = await l4_ipc_wait(l4_utcb(), L4_IPC_RECV_TIMEOUT_0)
        return l4_ipc_error(first, l4_utcb()), l4_ipc_error(second, l4_utcb())

    k.start_task(driver, name="drv")
    assert k.run().exited["drv"] == (0, L4_IPC_RETIMEOUT)


def test_irqs_come_before_thread_senders(arch):
    from pyl4re.l4sys import l4_ipc_send, l4_msgtag
    k = kernel(arch)
    gate = k.create_gate(0x10)
    order = []

    async def server(env):
        ok(await l4_rcv_ep_bind_thread(env.caps["svc"], env.thread, 0x10))
        await make_irq(env, label=0x900, line=9)
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(100)))   # both queue up
        for _ in range(2):
            tag, label = await l4_ipc_wait(l4_utcb(), L4_IPC_NEVER)
            order.append(label)

    async def sender(env):
        await l4_ipc_send(env.caps["svc"], l4_utcb(), l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)

    k.start_task(server, name="srv", caps={"svc": gate.svr()}, prio=10)
    k.start_task(sender, name="s", caps={"svc": gate}, prio=200)
    k.hw.at(50_000, k.hw.irq_line(9).pulse)                 # after the sender queued
    k.run()
    assert order == [0x900, 0x11]                           # the IRQ first (priority 255)


def test_detach_and_rights(arch):
    k = kernel(arch)

    async def driver(env):
        await make_irq(env)
        r = [l4_error(await l4_irq_detach(IRQ), l4_utcb())]
        await l4_irq_trigger(IRQ)                             # detached: kept pending
        tag, _ = await l4_ipc_wait(l4_utcb(), L4_IPC_RECV_TIMEOUT_0)
        r.append(l4_ipc_error(tag, l4_utcb()))
        ok(await l4_rcv_ep_bind_thread(IRQ, env.thread, 0x10))   # bound again: delivered
        tag, label = await l4_ipc_wait(l4_utcb(), L4_IPC_RECV_TIMEOUT_0)
        r.append((l4_ipc_error(tag, l4_utcb()), label))
        r.append(l4_error(await l4_rcv_ep_bind_thread(IRQ, env.thread, 0x10 | 0), l4_utcb()))
        return r

    k.start_task(driver, name="drv")
    assert k.run().exited["drv"] == [0, L4_IPC_RETIMEOUT, (0, 0x10), 0]


def test_icu_info_and_refusals(arch):
    k = kernel(arch)

    async def driver(env):
        ok(await l4_factory_create_irq(env.factory, IRQ))
        tag, features, nirqs, nmsis = await l4_icu_info(env.icu)
        r = [l4_error(tag, l4_utcb()), features, nirqs, nmsis]
        r.append(l4_error(await l4_icu_bind(env.icu, 64, IRQ), l4_utcb()))      # no line 64
        r.append(l4_error(await l4_icu_bind(env.icu, 1 << 31 | 32, IRQ), l4_utcb()))  # no MSI 32
        r.append(l4_error(await l4_icu_bind(env.icu, 1, env.thread), l4_utcb()))  # not an Irq
        r.append(l4_error(await l4_icu_unbind(env.icu, 1, IRQ), l4_utcb()))     # not bound
        ok(await l4_icu_bind(env.icu, 1, IRQ))
        ok(await l4_icu_bind(env.icu, 2, IRQ))                 # moves it off line 1
        r.append(l4_error(await l4_icu_unbind(env.icu, 1, IRQ), l4_utcb()))
        ok(await l4_icu_unbind(env.icu, 2, IRQ))
        r.append(l4_error(await l4_icu_set_mode(env.icu, 64, L4_IRQ_F_POS_EDGE), l4_utcb()))
        r.append(l4_error(await l4_icu_set_mode(env.icu, 1, 0x1000), l4_utcb()))  # no mode
        ok(await l4_icu_set_mode(env.icu, 1, L4_IRQ_F_POS_EDGE))
        return r

    k.start_task(driver, name="drv")
    assert k.run().exited["drv"] == [0, 1 << 31, k._lib.ICU_LINES, k._lib.ICU_MSIS,
                                     -L4_EINVAL, -L4_EINVAL,
                                     -L4_EINVAL, -L4_EINVAL, -L4_EINVAL, -L4_EINVAL,
                                     -L4_EINVAL]


def test_harness_line_refusals(arch):
    k = kernel(arch)
    with pytest.raises(ValueError):
        k.hw.irq_line(64)
    with pytest.raises(ValueError):
        k.hw.irq_line(-1)
    with pytest.raises(ValueError):
        k.hw.at(-5, lambda: None)
    with pytest.raises(TypeError):
        k.hw.at(5, 7)


# ---- semaphores

def test_semaphore_counts_and_blocks(arch):
    k = kernel(arch)
    log = []

    async def waiter(env):
        ok(await l4_factory_create_semaphore(env.factory, SEM))
        await l4_semaphore_up(SEM)
        await l4_semaphore_up(SEM)
        for _ in range(2):                                    # the count serves two
            log.append(("down", l4_ipc_error(await l4_semaphore_down(SEM, L4_IPC_NEVER), l4_utcb())))
        tag = await l4_semaphore_down(SEM, l4_timeout(0, l4_timeout_from_us(200)))
        log.append(("timeout", l4_ipc_error(tag, l4_utcb()), k.now_ns >= 200_000))
        tag = await l4_semaphore_down(SEM, L4_IPC_RECV_TIMEOUT_0)
        log.append(("zero", l4_ipc_error(tag, l4_utcb())))
        return "done"

    k.start_task(waiter, name="w")
    assert k.run().exited == {"w": "done"}
    assert log == [("down", 0), ("down", 0), ("timeout", L4_IPC_RETIMEOUT, True),
                   ("zero", L4_IPC_RETIMEOUT)]


def test_semaphore_wakes_waiters_by_priority(arch):
    k = kernel(arch)
    sem_holder = k.create_gate(0)            # just to get a root slot to share a semaphore
    order = []

    async def owner(env):
        ok(await l4_factory_create_semaphore(env.factory, SEM))
        return "made"

    h = k.start_task(owner, name="owner")
    k.run()
    from pyl4re import CapIndex
    from pyl4re.harness import Capability
    slot = k._harness._root_slot()
    k.root_task.copy(CapIndex(slot), h.task, CapIndex(SEM >> 12))
    sem = Capability(k, slot).mode("rws")

    def waiter(name):
        async def main(env):
            await l4_semaphore_down(env.caps["sem"], L4_IPC_NEVER)
            order.append(name)
        return main

    async def upper(env):
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(100)))
        for _ in range(3):
            await l4_semaphore_up(env.caps["sem"])

    for name, prio in (("low", 5), ("high", 50), ("mid", 20)):
        k.start_task(waiter(name), name=name, caps={"sem": sem}, prio=prio)
    k.start_task(upper, name="up", caps={"sem": sem}, prio=100)
    k.run()
    assert order == ["high", "mid", "low"]
    del sem_holder


def test_semaphore_down_needs_s_and_deletion_wakes_waiters(arch):
    k = kernel(arch)

    async def main(env):
        from pyl4re.l4sys import l4_task_map, l4_obj_fpage, l4_map_obj_control
        ok(await l4_factory_create_semaphore(env.factory, SEM))
        ok(await l4_task_map(env.task, env.task, l4_obj_fpage(SEM, 0, 0x5),
                             l4_map_obj_control(0x32 << 12, 0)))
        no_s = l4_error(await l4_semaphore_down(0x32 << 12, L4_IPC_RECV_TIMEOUT_0), l4_utcb())
        return no_s

    k.start_task(main, name="m")
    assert k.run().exited["m"] == -L4_EPERM


def test_deleting_a_semaphore_wakes_its_waiters_and_cancel_ends_a_down(arch):
    from pyl4re import CapIndex
    k = kernel(arch)

    def waiter(slot):
        async def main(env):
            ok(await l4_factory_create_semaphore(env.factory, slot))
            tag = await l4_semaphore_down(slot, L4_IPC_NEVER)
            return l4_ipc_error(tag, l4_utcb())
        return main

    a = k.start_task(waiter(SEM), name="deleted")
    b = k.start_task(waiter(SEM), name="canceled")
    res = k.run()
    assert set(res.blocked) == {"deleted", "canceled"}
    k.check_invariants()
    a.task.delete_obj(CapIndex(SEM >> 12))
    old = k._ffi.new("struct thread_regs *")
    k._lib.thread_ex_regs(k._k, [b.thread_id], 2**64 - 1, 2**64 - 1,
                          k._lib.L4_THREAD_EX_REGS_CANCEL, old)
    assert k.run().exited == {"deleted": L4_IPC_ENOT_EXISTENT, "canceled": L4_IPC_RECANCELED}


def test_irq_wait_mask_unmask_and_msi_info(arch):
    from pyl4re.l4sys import l4_icu_mask, l4_icu_msi_info
    k = kernel(arch)
    log = []

    async def driver(env):
        await make_irq(env, label=0x60, line=4)
        tag, label = await l4_irq_wait(IRQ, L4_IPC_NEVER)        # unmask, then open wait
        log.append(("wait", l4_ipc_error(tag, l4_utcb()), label))
        await l4_icu_mask(env.icu, 4)                            # masked: the next edge waits
        tag, _ = await l4_ipc_wait(l4_utcb(), l4_timeout(0, l4_timeout_from_us(200)))
        log.append(("masked", l4_ipc_error(tag, l4_utcb())))
        await l4_icu_unmask(env.icu, 4)                          # the kept edge comes now
        tag, label = await l4_ipc_wait(l4_utcb(), L4_IPC_RECV_TIMEOUT_0)
        log.append(("unmasked", l4_ipc_error(tag, l4_utcb()), label))
        tag, addr, data = await l4_icu_msi_info(env.icu, 99, 0)   # no MSI 99 (test_msi.py)
        log.append(("msi", l4_error(tag, l4_utcb())))
        return "done"

    k.start_task(driver, name="drv")
    line = k.hw.irq_line(4)
    k.hw.at(10_000, line.pulse)
    k.hw.at(30_000, line.pulse)                                   # while masked
    assert k.run().exited == {"drv": "done"}
    assert log == [("wait", 0, 0x60), ("masked", L4_IPC_RETIMEOUT), ("unmasked", 0, 0x60),
                   ("msi", -L4_EINVAL)]


def test_irq_refusals(arch):
    from pyl4re.l4sys import L4_EBADPROTO, L4_IPC_ENOT_EXISTENT, l4_msgtag, l4_ipc_call
    k = kernel(arch)

    async def driver(env):
        u = l4_utcb()
        await make_irq(env)
        r = []
        r.append(l4_ipc_error(await l4_irq_trigger(0x77 << 12), u))      # no such Irq
        u.mr[0] = 9                                                        # unknown Irq op
        r.append(l4_error(await l4_ipc_call(IRQ, u, l4_msgtag(-1, 1, 0, 0), L4_IPC_NEVER), u))
        u.mr[0] = 0                                                        # attach: reserved
        r.append(l4_error(await l4_ipc_call(IRQ, u, l4_msgtag(-18, 1, 0, 0), L4_IPC_NEVER), u))
        r.append(l4_error(await l4_ipc_call(IRQ, u, l4_msgtag(-12, 1, 0, 0), L4_IPC_NEVER), u))
        u.mr[0] = 5                                                        # semaphore op
        r.append(l4_error(await l4_ipc_call(SEM, u, l4_msgtag(-20, 1, 0, 0), L4_IPC_NEVER), u))
        await l4_irq_unmask(IRQ)                      # not masked: harmless
        ok(await l4_rcv_ep_bind_thread(IRQ, env.thread, 0x20))    # a rebind is allowed
        return r

    k.start_task(driver, name="drv")
    assert k.run().exited["drv"] == [L4_IPC_ENOT_EXISTENT, -L4_ENOSYS, -L4_ENOSYS,
                                     -L4_EBADPROTO, -(2000 + L4_IPC_ENOT_EXISTENT)]   # no semaphore there


def test_a_deleted_irq_stops_delivering(arch):
    from pyl4re import CapIndex
    k = kernel(arch)

    async def driver(env):
        await make_irq(env, line=6)
        tag, _ = await l4_ipc_wait(l4_utcb(), l4_timeout(0, l4_timeout_from_us(500)))
        return l4_ipc_error(tag, l4_utcb())

    h = k.start_task(driver, name="drv")
    k.run(until_ns=50_000)                                    # it made the Irq and waits
    h.task.delete_obj(CapIndex(IRQ >> 12))
    k.hw.at(200_000, k.hw.irq_line(6).pulse)                      # the line has no Irq any more
    assert k.run().exited["drv"] == L4_IPC_RETIMEOUT
    assert k.hw.irq_line(6).state[0] == 0
