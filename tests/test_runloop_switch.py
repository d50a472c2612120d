"""A waiting kernel entry that schedules at once (SYS_SWITCH, docs/execution.md) must be
invisible: the same system gives the same trace, times and results as when the run loop
asks the scheduler itself (which it does when it logs every decision)."""
import sys
import threading
import time

import pytest

import pyl4re
from pyl4re import Kernel, _core
from pyl4re.l4sys import (
    L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_sleep, l4_ipc_wait, l4_msgtag,
    l4_timeout, l4_timeout_from_us, l4_utcb,
)


async def server(env):
    u = l4_utcb()
    tag, _ = await l4_ipc_wait(u, L4_IPC_NEVER)
    while True:
        u.mr[0] = int(u.mr[0]) * 2
        tag, _ = await l4_ipc_reply_and_wait(u, tag, L4_IPC_NEVER)


async def client(env):
    u, got = l4_utcb(), []
    for i in range(20):
        u.mr[0] = i
        await l4_ipc_call(env.caps["native"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
        await l4_ipc_call(env.caps["py"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
        got.append(int(u.mr[0]))
        if i % 5 == 0:
            await pyl4re.compute(1_000)
            await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(2)))
            await pyl4re.mem.write(0x800000 + i * 0x10000, b"x")
    return got


def system(arch, log_schedule, until_ns=None, max_steps=None):
    """µApp -> native calls, µApp <-> µApp calls on two CPUs, sleeps, compute, page
    faults to sigma0 and harness events: every way a thread waits."""
    k = Kernel(arch=arch, cpus=2, memory=16 << 20, seed=7, log_schedule=log_schedule,
               trace_size=4096)
    native_gate, py_gate = k.create_gate(0x10), k.create_gate(0x20)
    echo = k.start_native("echo", "echo", caps={"svc": native_gate.svr()})
    native_gate.bind(echo, 0x10)
    fired = []
    k.hw.at(3_000, lambda: fired.append(k.now_ns))
    srv = k.start_task(server, name="srv", caps={"svc": py_gate.svr()}, cpu=1)
    py_gate.bind(srv, 0x20)
    k.start_task(client, name="client", caps={"native": native_gate, "py": py_gate})
    res = k.run(until_ns=until_ns, max_steps=max_steps)
    return res, k.now_ns, fired, list(k.trace)


@pytest.mark.parametrize("bounds", [{}, {"until_ns": 40_000}, {"max_steps": 25}])
def test_switching_in_the_entry_changes_nothing_observable(arch, bounds):
    fused = system(arch, False, **bounds)
    looped = system(arch, True, **bounds)
    assert fused == looped
    res = fused[0]
    if not bounds:
        assert res.exited["client"] == [2 * i for i in range(20)]
        assert fused[2], "the harness event fired"


def test_the_core_keeps_the_gil_during_a_call():
    """No other Python thread runs while the core works (it is not thread-safe)."""
    lib = _core.load(_core.available_arches()[0])[1]
    ticks, stop = [0], threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    interval = sys.getswitchinterval()
    t = threading.Thread(target=spin)
    t.start()
    during = []
    try:
        sys.setswitchinterval(0.5)
        for _ in range(3):
            # Sleeping hands the spinner the GIL; once it is back, this thread holds it
            # for a whole fresh interval unless a call gives it away.
            time.sleep(0.001)
            before = ticks[0]
            lib.bench_floor(10_000_000, 2)         # ~0.1 s of C
            during.append(ticks[0] - before)
    finally:
        sys.setswitchinterval(interval)
        stop.set()
        t.join()
    assert ticks[0] > 0 and 0 in during, during


def c_system(arch, log_schedule, server):
    """A C µApp client calling a C µApp server or a Python one, with the trace ring on:
    the C thread's entry switches to its partner by index (SYS_SWITCH_TO) when the loop
    does not log."""
    from pyl4re.bench.ipc_cases import GATE_LABEL, c_program, c_tcr_user
    k = Kernel(arch=arch, memory=16 << 20, seed=3, log_schedule=log_schedule,
               trace_size=4096)
    gate = k.create_gate(GATE_LABEL)
    if server == "c":
        srv = k.start_cprogram(c_program("echo"), name="srv", caps={"svc": gate.svr()})
    else:
        srv = k.start_task(server_echo, name="srv", caps={"svc": gate.svr()})
    gate.bind(srv, GATE_LABEL)
    client = k.start_cprogram(c_program("call_loop"), name="client", caps={"svc": gate})
    user = c_tcr_user(k, client)
    user[1], user[2] = 30, 2
    res = k.run()
    return res.exited.get("client"), int(user[0]), k.now_ns, list(k.trace)


async def server_echo(env):
    u = l4_utcb()
    tag, _ = await l4_ipc_wait(u, L4_IPC_NEVER)
    while True:
        tag, _ = await l4_ipc_reply_and_wait(u, tag, L4_IPC_NEVER)


@pytest.mark.parametrize("server", ["c", "python"])
def test_a_c_uapp_switching_by_index_changes_nothing_observable(arch, server, monkeypatch):
    from pyl4re import traps
    switches = []
    switch_by_index = traps.switch_by_index

    def counted(record):
        switches.append(record)
        return switch_by_index(record)

    monkeypatch.setattr(traps, "switch_by_index", counted)
    fused = c_system(arch, False, server)
    taken, switches[:] = len(switches), []
    looped = c_system(arch, True, server)
    assert fused == looped
    assert fused[:2] == (0, 30)
    assert taken >= 30 and not switches      # by index only where the loop does not log
