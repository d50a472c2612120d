"""Synchronous IPC (§3, §4, §6.3, §9): rendezvous, gates and labels, reply capability,
timeouts in virtual time, cancellation, sender priority order, message sizes."""
import pytest

from pyl4re import CapIndex, Kernel
from pyl4re.l4sys import (
    L4_IPC_BOTH_TIMEOUT_0, L4_IPC_ENOT_EXISTENT,
    L4_IPC_NEVER, L4_IPC_RECANCELED, L4_IPC_RECV_TIMEOUT_0, L4_IPC_RETIMEOUT,
    L4_IPC_SECANCELED, L4_IPC_SEMSGCUT, L4_IPC_SEND_TIMEOUT_0, L4_IPC_SETIMEOUT,
    l4_ipc_call, l4_ipc_error, l4_ipc_receive, l4_ipc_reply_and_wait, l4_ipc_send,
    l4_ipc_send_and_wait, l4_ipc_sleep, l4_ipc_wait, l4_msgtag, l4_msgtag_has_error,
    l4_msgtag_label, l4_msgtag_words, l4_timeout, l4_timeout_from_us, l4_utcb,
)

NEVER = L4_IPC_NEVER


def bind(k, gate, handle, label):
    """Bind a harness gate to a task's first thread (what l4_rcv_ep_bind_thread does)."""
    assert k._lib.gate_bind(k._k, [gate.object.id], [handle.thread_id], label) == 0


async def adder(env):
    """Replies to (a, b) with a + b, forever."""
    u = l4_utcb()
    tag, label = await l4_ipc_wait(u, NEVER)
    while True:
        u.mr[0] = int(u.mr[0]) + int(u.mr[1])
        tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 1, 0, 0), NEVER)


async def sum_client(env):
    u = l4_utcb()
    total = 0
    for i in range(1000):
        u.mr[0], u.mr[1] = i, 2 * i
        tag = await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 2, 0, 0), NEVER)
        assert not l4_msgtag_has_error(tag), l4_ipc_error(tag, u)
        assert l4_msgtag_words(tag) == 1
        total += int(u.mr[0])
    return total


def calculator(arch, cpus, log=True):
    k = Kernel(arch=arch, cpus=cpus, memory=16 << 20, log_schedule=log)
    gate = k.create_gate(label=0x10)
    srv = k.start_task(adder, name="srv", caps={"svc": gate.svr()})
    bind(k, gate, srv, 0x10)
    k.start_task(sum_client, name="client", caps={"svc": gate}, cpu=cpus - 1)
    return k, k.run()


@pytest.mark.parametrize("cpus", [1, 2])
def test_calculator_1000_calls(arch, cpus):
    k, res = calculator(arch, cpus)
    assert res.reason == "idle"
    assert res.exited == {"client": sum(3 * i for i in range(1000))}
    assert res.blocked == {"srv": "receive (open wait)"}
    assert res.now_ns == k.now_ns > 0


@pytest.mark.parametrize("cpus", [1, 2])
def test_reruns_are_identical(arch, cpus):
    k1, r1 = calculator(arch, cpus)
    k2, r2 = calculator(arch, cpus)
    assert r1 == r2
    assert k1.schedule_log == k2.schedule_log and len(k1.schedule_log) > 2000


def test_results_agree_across_cpus_and_arches(arch):
    (_, one), (_, two) = calculator(arch, 1, False), calculator(arch, 2, False)
    assert one.exited == two.exited
    assert two.now_ns > one.now_ns          # every call crosses CPUs: IPIs cost time


def run_one(arch, main, cpus=1, **caps):
    k = Kernel(arch=arch, cpus=cpus, memory=16 << 20)
    k.start_task(main, name="t", caps=caps)
    return k, k.run()


def test_receive_timeout_advances_the_clock(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    times = {}

    async def waiter(env):
        u = l4_utcb()
        times["before"] = k.now_ns
        tag, _ = await l4_ipc_wait(u, l4_timeout(0, l4_timeout_from_us(1000)))
        times["after"] = k.now_ns
        return l4_ipc_error(tag, u)

    srv = k.start_task(waiter, name="w", caps={"svc": gate.svr()})
    bind(k, gate, srv, 0x10)
    res = k.run()
    assert res.exited == {"w": L4_IPC_RETIMEOUT}
    waited = times["after"] - times["before"]
    assert 1_000_000 <= waited < 1_000_000 + 2_000      # the timeout plus kernel costs


def test_zero_receive_timeout_fails_at_once(arch):
    async def main(env):
        u = l4_utcb()
        tag, _ = await l4_ipc_wait(u, L4_IPC_RECV_TIMEOUT_0)
        return l4_ipc_error(tag, u)
    _, res = run_one(arch, main)
    assert res.exited == {"t": L4_IPC_RETIMEOUT}


def test_sleep(arch):
    k = Kernel(arch=arch, memory=16 << 20)

    async def main(env):
        before = k.now_ns
        tag = await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(5000)))
        return l4_ipc_error(tag, l4_utcb()), k.now_ns - before
    k.start_task(main, name="t")
    err, slept = k.run().exited["t"]
    assert err == L4_IPC_RETIMEOUT and 5_000_000 <= slept < 5_010_000


def test_send_with_zero_timeout_to_a_busy_receiver(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)

    async def busy(env):
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(100)))

    async def sender(env):
        u = l4_utcb()
        tag = await l4_ipc_send(env.caps["svc"], u, l4_msgtag(0, 0, 0, 0), L4_IPC_SEND_TIMEOUT_0)
        return l4_ipc_error(tag, u)

    srv = k.start_task(busy, name="srv", caps={"svc": gate.svr()})
    bind(k, gate, srv, 0x10)
    k.start_task(sender, name="snd", caps={"svc": gate})
    assert k.run().exited["snd"] == L4_IPC_SETIMEOUT


def test_invalid_selector_is_not_existent(arch):
    async def main(env):
        u = l4_utcb()
        results = []
        for sel in (0x0, 0x55 << 12, ((1 << 20) - 1) << 12):
            tag = await l4_ipc_call(sel, u, l4_msgtag(0, 0, 0, 0), NEVER)
            results.append(l4_ipc_error(tag, u))
        tag = await l4_ipc_receive(0x77 << 12, u, NEVER)
        results.append(l4_ipc_error(tag, u))
        return results
    _, res = run_one(arch, main)
    assert res.exited["t"] == [L4_IPC_ENOT_EXISTENT] * 4


def test_large_and_converted_arguments_pass_the_full_checks_alike(arch):
    """The l4sys IPC calls test small plain ints inline; a selector or timeout pair beyond
    that (index >= 2^18, send half >= 0x4000), a CapIndex and a numpy integer take the
    full checks and must mean exactly the same."""
    np = pytest.importorskip("numpy")
    far_send = 0x4001 << 16                     # a finite send timeout, receive: never
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)

    async def client(env):
        u, svc = l4_utcb(), env.caps["svc"]
        answers = []
        for dest, timeout in ((svc, far_send), (CapIndex(svc >> 12), np.uint32(far_send)),
                              (np.uint64(svc), NEVER)):
            u.mr[0], u.mr[1] = 20, 22
            tag = await l4_ipc_call(dest, u, l4_msgtag(0, 2, 0, 0), timeout)
            answers.append((l4_msgtag_has_error(tag), int(u.mr[0])))
        tag = await l4_ipc_call(((1 << 20) - 1) << 12, u, l4_msgtag(0, 0, 0, 0), far_send)
        answers.append(l4_ipc_error(tag, u))
        return answers

    srv = k.start_task(adder, name="srv", caps={"svc": gate.svr()})
    bind(k, gate, srv, 0x10)
    k.start_task(client, name="client", caps={"svc": gate})
    assert k.run().exited["client"] == [(False, 42)] * 3 + [L4_IPC_ENOT_EXISTENT]


def test_fast_entry_refuses_without_a_running_python_thread(arch):
    """sys_enter acts for the thread the scheduler last handed to Python, checked as every
    entry is: before any run there is none, after a run it no longer runs."""
    k = Kernel(arch=arch, memory=16 << 20)
    lib = k._lib
    assert lib.sys_enter(k._k, 0x16000 | 3, 0, 0) == -lib.L4_EINVAL

    async def main(env):
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(10)))
        return "slept"
    k.start_task(main, name="t")
    assert k.run().exited == {"t": "slept"}
    now = k.now_ns
    assert lib.sys_enter(k._k, 0x16000 | 3, 0, 0) == -lib.L4_EINVAL
    assert k.now_ns == now                      # refused before it entered: nothing charged


def test_py_index_refusals(arch):
    """thread_set_py_index takes SYS_SWITCH_TO..INT32_MAX (or 0) for a live Python thread:
    the indices below are sys_enter's own answers, and nothing else is a thread."""
    k = Kernel(arch=arch, memory=16 << 20)
    lib = k._lib

    async def main(env):
        return None
    h = k.start_task(main, name="t")
    tid = h.thread_id
    for index in (1, lib.SYS_SWITCH_TO - 1, (1 << 31), (1 << 32) - 1):
        assert lib.thread_set_py_index(k._k, [tid], index) == -lib.L4_EINVAL
    assert lib.thread_set_py_index(k._k, [tid ^ (1 << 40)], lib.SYS_SWITCH_TO) == -lib.L4_EINVAL
    assert lib.thread_set_py_index(k._k, [k.root_task.id], lib.SYS_SWITCH_TO) == -lib.L4_EINVAL
    assert lib.thread_set_py_index(k._k, [tid], (1 << 31) - 1) == 0
    assert lib.thread_set_py_index(k._k, [tid], 0) == 0     # none: the general path finds it
    assert k.run().exited == {"t": None}


def test_gate_label_carries_the_senders_rights(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    seen = []

    async def server(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, NEVER)
        while True:
            seen.append(label)
            tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), NEVER)

    async def client(env):
        u = l4_utcb()
        for name in ("ro", "rw", "rws"):
            await l4_ipc_call(env.caps[name], u, l4_msgtag(0, 0, 0, 0), NEVER)

    srv = k.start_task(server, name="srv", caps={"svc": gate.svr()})
    bind(k, gate, srv, 0x40)
    k.start_task(client, name="c", caps={"ro": gate.mode("r"), "rw": gate.mode("rw"),
                                         "rws": gate.mode("rws")})
    k.run()
    assert seen == [0x40, 0x41, 0x43]


def test_thread_to_thread_ipc_and_the_label_register(arch):
    """Through a thread capability the receiver gets the sender's label register."""
    from pyl4re.l4sys import L4_SYSF_SEND, l4_ipc
    k = Kernel(arch=arch, memory=16 << 20)
    got = []

    async def receiver(env):
        tag, label = await l4_ipc_wait(l4_utcb(), NEVER)
        got.append((l4_msgtag_label(tag), int(l4_utcb().mr[0]), label))

    async def sender(env):
        u = l4_utcb()
        u.mr[0] = 77
        await l4_ipc(env.caps["peer"], u, L4_SYSF_SEND, 0x1230, l4_msgtag(5, 1, 0, 0), NEVER)

    r = k.start_task(receiver, name="r")
    # Give the sender a capability to the receiver's thread.
    slot = k._harness._root_slot()
    k._lib.cspace_insert(k._k, [k.root_task.id], [slot], [r.thread_id], 0x7, 0x10)
    from pyl4re.harness import Capability
    k.start_task(sender, name="s", caps={"peer": Capability(k, slot)})
    k.run()
    assert got == [(5, 77, 0x1230)]


def test_senders_are_served_by_priority(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    order = []

    async def server(env):
        u = l4_utcb()
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(1000)))   # let them queue
        tag, label = await l4_ipc_wait(u, NEVER)
        while True:
            order.append(int(u.mr[0]))
            tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), NEVER)

    def client(prio):
        async def main(env):
            u = l4_utcb()
            u.mr[0] = prio
            await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 1, 0, 0), NEVER)
        main.__name__ = f"client{prio}"
        return main

    srv = k.start_task(server, name="srv", caps={"svc": gate.svr()}, prio=100)
    bind(k, gate, srv, 0x10)
    for prio in (10, 30, 20, 30):
        k.start_task(client(prio), name=f"c{prio}{len(order)}{prio}", caps={"svc": gate},
                     prio=prio)
    k.run()
    assert order == [30, 30, 20, 10]


def test_reply_without_a_caller(arch):
    async def main(env):
        u = l4_utcb()
        tag, _ = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), L4_IPC_RECV_TIMEOUT_0)
        return l4_ipc_error(tag, u)
    _, res = run_one(arch, main)
    assert res.exited["t"] == L4_IPC_ENOT_EXISTENT


def test_reply_to_a_caller_that_gave_up(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)

    async def slow_server(env):
        u = l4_utcb()
        await l4_ipc_wait(u, NEVER)
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(500)))
        tag, _ = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), L4_IPC_BOTH_TIMEOUT_0)
        return l4_ipc_error(tag, u)

    async def impatient(env):
        u = l4_utcb()
        tag = await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 0, 0, 0),
                                l4_timeout(0, l4_timeout_from_us(100)))
        return l4_ipc_error(tag, u)

    srv = k.start_task(slow_server, name="srv", caps={"svc": gate.svr()})
    bind(k, gate, srv, 0x10)
    k.start_task(impatient, name="c", caps={"svc": gate})
    res = k.run()
    assert res.exited == {"c": L4_IPC_RETIMEOUT, "srv": L4_IPC_SETIMEOUT}


def test_63_words_arrive_intact(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)

    async def echo(env):
        u = l4_utcb()
        tag, _ = await l4_ipc_wait(u, NEVER)
        n = l4_msgtag_words(tag)
        for i in range(n):
            u.mr[i] = int(u.mr[i]) ^ 0xFFFF
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, n, 0, 0), NEVER)

    async def client(env):
        u = l4_utcb()
        for i in range(63):
            u.mr[i] = (i << 40) | i
        tag = await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 63, 0, 0), NEVER)
        return l4_msgtag_words(tag), [int(u.mr[i]) for i in range(63)]

    srv = k.start_task(echo, name="srv", caps={"svc": gate.svr()})
    bind(k, gate, srv, 0x10)
    k.start_task(client, name="c", caps={"svc": gate})
    words, values = k.run().exited["c"]
    assert words == 63 and values == [((i << 40) | i) ^ 0xFFFF for i in range(63)]


def test_more_than_the_mrs_is_refused(arch):
    async def main(env):
        u = l4_utcb()
        tag = await l4_ipc_send(env.task, u, l4_msgtag(0, 60, 2, 0), NEVER)
        return l4_ipc_error(tag, u)
    _, res = run_one(arch, main)
    assert res.exited["t"] == L4_IPC_SEMSGCUT


def test_unbound_gate_blocks_until_bound(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)

    async def server(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, NEVER)
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), L4_IPC_RECV_TIMEOUT_0)
        return label

    async def client(env):
        u = l4_utcb()
        tag = await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 0, 0, 0), NEVER)
        return l4_ipc_error(tag, u)

    srv = k.start_task(server, name="srv", caps={"svc": gate.svr()})
    k.start_task(client, name="c", caps={"svc": gate})
    res = k.run()
    assert res.blocked["c"] == "send through an unbound gate"
    bind(k, gate, srv, 0x20)
    res = k.run()
    assert res.exited == {"c": 0, "srv": 0x21}


def test_unbound_gate_send_timeout(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)

    async def client(env):
        u = l4_utcb()
        tag = await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 0, 0, 0),
                                l4_timeout(l4_timeout_from_us(50), 0))
        zero = await l4_ipc_send(env.caps["svc"], u, l4_msgtag(0, 0, 0, 0), L4_IPC_SEND_TIMEOUT_0)
        return l4_ipc_error(tag, u), l4_ipc_error(zero, u)

    k.start_task(client, name="c", caps={"svc": gate})
    assert k.run().exited["c"] == (L4_IPC_SETIMEOUT, L4_IPC_SETIMEOUT)


def test_deleting_a_gate_releases_its_waiters(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)

    async def client(env):
        u = l4_utcb()
        tag = await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 0, 0, 0), NEVER)
        return l4_ipc_error(tag, u)

    handle = k.start_task(client, name="c", caps={"svc": gate})
    k.run()
    k.root_task.delete(CapIndex(gate.index))           # the harness's reference
    handle.task.delete(CapIndex(0x16))                 # the client's: the gate dies
    assert k.run().exited == {"c": L4_IPC_ENOT_EXISTENT}


def cancel(k, handle):
    old = k._ffi.new("struct thread_regs *")
    assert k._lib.thread_ex_regs(k._k, [handle.thread_id], 2**64 - 1, 2**64 - 1,
                                 k._lib.L4_THREAD_EX_REGS_CANCEL, old) == 0


def test_ex_regs_cancel_receive_and_send(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)

    async def receiver(env):
        tag, _ = await l4_ipc_wait(l4_utcb(), NEVER)
        return l4_ipc_error(tag, l4_utcb())

    async def sender(env):
        u = l4_utcb()
        tag = await l4_ipc_send(env.caps["svc"], u, l4_msgtag(0, 0, 0, 0), NEVER)
        return l4_ipc_error(tag, u)

    r = k.start_task(receiver, name="r")
    s = k.start_task(sender, name="s", caps={"svc": gate})       # unbound: blocks
    res = k.run()
    assert set(res.blocked) == {"r", "s"}
    cancel(k, r)
    cancel(k, s)
    assert k.run().exited == {"r": L4_IPC_RECANCELED, "s": L4_IPC_SECANCELED}


def test_ex_regs_cancel_wakes_a_sleeper(arch):
    k = Kernel(arch=arch, memory=16 << 20)

    async def sleeper(env):
        tag = await l4_ipc_sleep(NEVER)
        return l4_ipc_error(tag, l4_utcb())

    h = k.start_task(sleeper, name="z")
    assert k.run().blocked == {"z": "receive from z"}
    cancel(k, h)
    assert k.run().exited == {"z": L4_IPC_RECANCELED}


def test_closed_receive_from_a_deleted_thread(arch):
    k = Kernel(arch=arch, memory=16 << 20)

    async def idle(env):
        await l4_ipc_sleep(NEVER)

    async def main(env):
        u = l4_utcb()
        tag = await l4_ipc_receive(env.caps["peer"], u, L4_IPC_RECV_TIMEOUT_0)
        first = l4_ipc_error(tag, u)
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(10)))   # the harness deletes it
        tag = await l4_ipc_receive(env.caps["peer"], u, NEVER)
        return first, l4_ipc_error(tag, u)

    other = k.start_task(idle, name="other")
    slot = k._harness._root_slot()
    k._lib.cspace_insert(k._k, [k.root_task.id], [slot], [other.thread_id], 0xF, 0x10)
    from pyl4re.harness import Capability
    k.start_task(main, name="m", caps={"peer": Capability(k, slot, 0xF)})
    k.run(until_ns=5_000)
    thread = k.object(other.thread_id)
    k.root_task.delete_obj(CapIndex(slot))             # delete the thread object itself
    assert not thread.alive
    res = k.run()
    assert res.exited["m"] == (L4_IPC_RETIMEOUT, L4_IPC_ENOT_EXISTENT)


def test_send_and_wait(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate_a, gate_b = k.create_gate(0x10), k.create_gate(0x20)

    async def ping(env):
        u = l4_utcb()
        u.mr[0] = 1
        tag, label = await l4_ipc_send_and_wait(env.caps["b"], u, l4_msgtag(0, 1, 0, 0), NEVER)
        return label, int(u.mr[0])

    async def pong(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, NEVER)
        u.mr[0] = int(u.mr[0]) + 1
        await l4_ipc_send(env.caps["a"], u, l4_msgtag(0, 1, 0, 0), NEVER)
        return label

    a = k.start_task(ping, name="ping", caps={"a": gate_a.svr(), "b": gate_b})
    b = k.start_task(pong, name="pong", caps={"b": gate_b.svr(), "a": gate_a})
    bind(k, gate_a, a, 0x10)
    bind(k, gate_b, b, 0x20)
    assert k.run().exited == {"ping": (0x11, 2), "pong": 0x21}


def test_absolute_timeouts_in_a_buffer_register(arch):
    from pyl4re.l4sys import l4_timeout_abs_u
    k = Kernel(arch=arch, memory=16 << 20)

    async def main(env):
        u = l4_utcb()
        tag = await l4_ipc_sleep(l4_timeout(0, l4_timeout_abs_u(3000, 5, u)))
        woke = k.now_ns
        past = await l4_ipc_sleep(l4_timeout(0, l4_timeout_abs_u(1000, 57, u)))
        return l4_ipc_error(tag, u), woke, l4_ipc_error(past, u), k.now_ns - woke

    k.start_task(main, name="t")
    err, woke, err_past, extra = k.run().exited["t"]
    assert err == L4_IPC_RETIMEOUT and 3_000_000 <= woke < 3_001_000
    assert err_past == L4_IPC_RETIMEOUT and extra < 1_000      # already past: at once
