"""Native threads: built-in C programs on the same kernel entry as µApps, so the pure C
IPC path runs with no Python in between."""
import pytest

from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_wait, l4_msgtag, l4_msgtag_words,
    l4_utcb,
)


def bind(k, gate, handle, label):
    assert k._lib.gate_bind(k._k, [gate.object.id], [handle.thread_id], label) == 0


@pytest.mark.parametrize("cpus", [1, 2])
def test_native_call_loop_against_native_echo(arch, cpus):
    k = Kernel(arch=arch, cpus=cpus, memory=16 << 20, log_schedule=True)
    gate = k.create_gate(0x10)
    echo = k.start_native("echo", "echo", caps={"svc": gate.svr()})
    bind(k, gate, echo, 0x10)
    caller = k.start_native("call_loop", "caller", caps={"svc": gate}, cpu=cpus - 1,
                            user=(0x16000, 5000, 2))
    res = k.run()
    assert res.reason == "idle"
    assert caller.thread.native_count == 5000           # every call came back
    assert echo.thread.native_count == 5000
    assert k.schedule_log == []                          # no Python thread ever ran
    assert res.now_ns > 0


def test_uapp_client_to_native_echo(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    echo = k.start_native("echo", "echo", caps={"svc": gate.svr()})
    bind(k, gate, echo, 0x10)

    async def client(env):
        u = l4_utcb()
        for i in range(8):
            u.mr[i] = 100 + i
        tag = await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 8, 0, 0), L4_IPC_NEVER)
        return l4_msgtag_words(tag), [int(x) for x in u.mr[:8]]

    k.start_task(client, name="c", caps={"svc": gate})
    assert k.run().exited == {"c": (8, list(range(100, 108)))}


def test_native_caller_to_uapp_server(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    served = []

    async def server(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            served.append(l4_msgtag_words(tag))
            tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)

    srv = k.start_task(server, name="srv", caps={"svc": gate.svr()})
    bind(k, gate, srv, 0x10)
    caller = k.start_native("call_loop", "caller", caps={"svc": gate}, user=(0x16000, 7, 3))
    k.run()
    assert served == [3] * 7 and caller.thread.native_count == 7


def test_native_refusals(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    with pytest.raises(ValueError):
        k.start_native("fork_bomb", "x")
    with pytest.raises(ValueError):
        k.start_native("echo", "x", user=(1, 2))
    with pytest.raises(ValueError):
        k.start_native("echo", "x", user=(-1, 0, 0))


def test_native_caller_with_a_bad_selector_ends(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    caller = k.start_native("call_loop", "caller", user=(0x999000, 3, 1))
    k.run()
    assert caller.thread.native_count == 0              # every call failed
    assert caller.thread.state & k._lib.THREAD_DEAD


def test_the_harness_binds_a_gate_for_a_native_server(arch):
    """gate.bind(handle, label) routes the gate's messages to a native server; binding
    what is not a gate is refused with the kernel's error."""
    from pyl4re import L4Error
    from pyl4re.harness import Capability
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate()
    echo = k.start_native("echo", "echo", caps={"svc": gate.svr()})
    gate.bind(echo, 0x40)

    async def client(env):
        u = l4_utcb()
        u.mr[0] = 7
        tag = await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
        return l4_msgtag_words(tag), int(u.mr[0])

    k.start_task(client, name="client", caps={"svc": gate})
    res = k.run()
    assert res.exited["client"] == (1, 7)
    assert echo.thread.native_count == 1
    with pytest.raises(L4Error):
        Capability(k, echo.task_slot).bind(echo, 0x40)      # a task, not a gate
