"""The run loop and the harness: µApps as coroutines, their env and UTCB, failures that
explain themselves."""
import asyncio

import numpy as np
import pytest

import pyl4re
from pyl4re import CapIndex, Kernel
from pyl4re.l4sys import (
    L4_BASE_DEBUGGER_CAP, L4_BASE_FACTORY_CAP, L4_BASE_ICU_CAP, L4_BASE_LOG_CAP,
    L4_BASE_SCHEDULER_CAP, L4_BASE_TASK_CAP, L4_BASE_THREAD_CAP, L4_IPC_NEVER,
    L4_IPC_ENOT_EXISTENT, l4_fpage_memaddr, l4_fpage_size, l4_ipc_call,
    l4_ipc_error, l4_ipc_send, l4_ipc_wait, l4_msgtag, l4_rcv_ep_bind_thread, l4_utcb,
)
from pyl4re.runloop import MicroAppError


def small(arch, **kw):
    return Kernel(arch=arch, memory=16 << 20, **kw)


def test_env_is_like_l4re_env(arch):
    k = small(arch)
    gate = k.create_gate(0x10)
    seen = {}

    async def main(env):
        seen["env"] = env
        return "ok"

    h = k.start_task(main, name="app", caps={"a": gate, "b": gate.svr()})
    assert k.run().exited == {"app": "ok"}
    env = seen["env"]
    assert (env.task, env.factory, env.thread, env.log, env.icu, env.scheduler, env.debugger) == (
        L4_BASE_TASK_CAP, L4_BASE_FACTORY_CAP, L4_BASE_THREAD_CAP, L4_BASE_LOG_CAP,
        L4_BASE_ICU_CAP, L4_BASE_SCHEDULER_CAP, L4_BASE_DEBUGGER_CAP)
    assert env.caps == {"a": 0x16000, "b": 0x17000} and env.first_free_cap == 0x18
    assert env.get_cap("a") == 0x16000 and env.get_cap("zz") == pyl4re.l4sys.L4_INVALID_CAP
    base = k.arch_info and k._lib.ARCH_UTCB_AREA_DEFAULT
    assert l4_fpage_memaddr(env.utcb_area) == base and l4_fpage_size(env.utcb_area) == 14
    assert env.first_free_utcb == base + 1024
    # The capabilities are where env says, with the rights asked for.
    a, b = h.task.cap(CapIndex(0x16)), h.task.cap(CapIndex(0x17))
    assert a.type == b.type == "gate" and a.rights == 0x5 and b.rights == 0x7
    assert not a.attrs & 0x20 and b.attrs & 0x20
    for index, kind in ((1, "task"), (2, "factory"), (3, "thread"), (5, "log"), (6, "icu"),
                        (7, "scheduler"), (10, "debugger")):
        assert h.task.cap(CapIndex(index)).type == kind


def test_utcb_views_are_physical_memory(arch):
    k = small(arch)

    async def main(env):
        u = l4_utcb()
        u.mr[0] = 0x1122334455667788
        u.br[0] = 7
        u.bdr = 0x400
        return u

    k.start_task(main, name="m")
    u = k.run().exited["m"]
    assert u.mr.dtype == np.uint64 and len(u.mr) == 63 and len(u.br) == 58 and len(u.tcr) == 5
    assert u.bdr == 0x400
    assert np.shares_memory(u.mr, k.physmem)
    info = k._thread_info(next(iter(k._loop.threads)))
    words = k.physmem[info.utcb.raw:info.utcb.raw + 1024].view(np.uint64)
    assert words[0] == 0x1122334455667788 and words[65] == 7 and words[64] == 0x400


def test_a_raising_uapp_fails_loudly(arch):
    k = small(arch)

    async def bad(env):
        raise ValueError("boom")

    k.start_task(bad, name="bad")
    with pytest.raises(MicroAppError, match="'bad' raised ValueError: boom") as e:
        k.run()
    assert isinstance(e.value.__cause__, ValueError)


def test_failures_can_be_recorded_instead(arch):
    k = small(arch)

    async def bad(env):
        raise KeyError("x")

    async def good(env):
        return 1

    k.start_task(bad, name="bad")
    k.start_task(good, name="good")
    res = k.run(raise_errors=False)
    assert isinstance(res.failed["bad"], KeyError) and res.exited == {"good": 1}


def test_awaiting_something_else_is_refused(arch):
    k = small(arch)

    async def wrong(env):
        await asyncio.sleep(0)

    k.start_task(wrong, name="w")
    with pytest.raises(MicroAppError, match="may only await pyl4re operations"):
        k.run()


def test_l4sys_calls_outside_a_uapp(arch):
    with pytest.raises(RuntimeError, match="no current thread"):
        l4_utcb()
    coro = l4_ipc_call(0x1000, None, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)
    with pytest.raises(RuntimeError, match="no current thread"):
        coro.send(None)


def test_bad_arguments_are_refused_in_python(arch):
    k = small(arch)

    async def main(env):
        u = l4_utcb()
        errors = []
        for args in ((-1, u, l4_msgtag(0, 0, 0, 0), 0), (0x1000, u, 5, 0),
                     (0x1000, u, l4_msgtag(0, 0, 0, 0), 1 << 32), (1 << 64, u, l4_msgtag(0, 0, 0, 0), 0),
                     ("x", u, l4_msgtag(0, 0, 0, 0), 0)):
            try:
                await l4_ipc_send(*args)
            except (TypeError, ValueError) as exc:
                errors.append(type(exc).__name__)
        return errors

    k.start_task(main, name="m")
    assert k.run().exited["m"] == ["ValueError", "TypeError", "ValueError", "ValueError",
                                   "TypeError"]


def test_start_task_refusals(arch):
    k = small(arch)

    async def main(env):
        pass

    with pytest.raises(ValueError):
        k.start_task(main, prio=0)
    with pytest.raises(ValueError):
        k.start_task(main, prio=256)
    with pytest.raises(ValueError):
        k.start_task(main, cpu=1)
    with pytest.raises(TypeError):
        k.start_task(main, caps={"x": 5})
    with pytest.raises(TypeError):
        k.start_task(lambda env: None)
    other = small(arch)
    with pytest.raises(TypeError):
        k.start_task(main, caps={"x": other.create_gate(0)})
    with pytest.raises(ValueError):
        k.create_gate(label=3)


def test_entry_addresses(arch):
    async def f():
        pass

    async def g():
        pass

    a, b = pyl4re.entry(f), pyl4re.entry(g)
    assert a != b and pyl4re.entry(f) == a and a >= 0x100000
    with pytest.raises(TypeError):
        pyl4re.entry(lambda: None)


def test_explain_last_error(arch):
    k = small(arch)

    async def main(env):
        u = l4_utcb()
        tag = await l4_ipc_call(0x99 << 12, u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)
        return l4_ipc_error(tag, u)

    assert k.explain_last_error() == "no kernel operation has failed"
    k.start_task(main, name="caller")
    assert k.run().exited["caller"] == L4_IPC_ENOT_EXISTENT
    text = k.explain_last_error()
    assert "thread 'caller'" in text and "0x99000" in text
    assert "no object at this capability selector" in text


def test_explain_names_a_missing_right(arch):
    from pyl4re.l4sys import L4_PROTO_FACTORY, l4_error, L4_EPERM
    k = small(arch)
    fac = k.create_gate(0)          # any object: we only need a capability without S

    async def main(env):
        u = l4_utcb()
        u.mr[0] = 0
        tag = await l4_ipc_call(env.factory, u, l4_msgtag(L4_PROTO_FACTORY, 1, 0, 0),
                                L4_IPC_NEVER)
        return l4_error(tag, u)

    h = k.start_task(main, name="m")
    # Replace the factory capability by one without S.
    h.task.delete(CapIndex(2))
    h.task.copy(CapIndex(2), k.root_task, CapIndex(2), rights=0x5)
    assert k.run().exited["m"] == -L4_EPERM
    text = k.explain_last_error()
    assert "factory" in text and "rights rw" in text and "needed s" in text
    assert "L4_EPERM" in text
    del fac


def test_deleting_a_running_thread(arch):
    k = small(arch)

    async def main(env):
        await pyl4re.compute(1_000_000)
        return "finished"

    h = k.start_task(main, name="m")
    k.run(until_ns=1000)                                 # it is inside its compute burst
    k.root_task.delete_obj(CapIndex(h.thread_slot))
    res = k.run()
    assert res.deleted == ["m"] and not res.exited and not res.blocked


# ---- a run that ends with threads blocked says where to look (RunResult.hint)

def test_a_gate_nobody_bound_is_named(arch):
    async def server(env):                   # forgets l4_rcv_ep_bind_thread
        await l4_ipc_wait(l4_utcb(), L4_IPC_NEVER)

    async def client(env):
        await l4_ipc_call(env.caps["svc"], l4_utcb(), l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)

    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate()
    k.start_task(server, name="srv", caps={"svc": gate.svr()})
    k.start_task(client, name="client", caps={"svc": gate})
    res = k.run()
    assert res.blocked == {"srv": "receive (open wait)",
                           "client": "send through an unbound gate"}
    assert res.hint.startswith("'client' sends through a gate no thread is bound to")
    assert "l4_rcv_ep_bind_thread" in res.hint


def test_a_failure_during_the_run_is_explained(arch):
    """The server's call fails (an empty slot) and it never replies: the client stays
    blocked, and the result carries k.explain_last_error()'s text."""
    async def server(env):
        u = l4_utcb()
        await l4_rcv_ep_bind_thread(env.caps["svc"], env.thread, 0x10)
        await l4_ipc_wait(u, L4_IPC_NEVER)
        await l4_ipc_call(0x7F000, u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)
        await l4_ipc_wait(u, L4_IPC_NEVER)

    async def client(env):
        await l4_ipc_call(env.caps["svc"], l4_utcb(), l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)

    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate()
    k.start_task(server, name="srv", caps={"svc": gate.svr()}, prio=2)
    k.start_task(client, name="client", caps={"svc": gate})
    res = k.run()
    assert res.blocked == {"srv": "receive (open wait)", "client": "receive from srv"}
    assert res.hint == ("a kernel operation failed during this run; "
                        "k.explain_last_error():\n" + k.explain_last_error())
    assert "invoked selector 0x7f000" in res.hint
    # A later run in which nothing fails has no hint about the old failure.
    assert k.run().hint is None


def test_no_hint_when_nothing_is_wrong(arch):
    async def main(env):
        return 1

    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="m")
    assert k.run().hint is None
