"""RunResult: run() ends without visiting every known thread; the thread fields are
gathered when read, and always describe the state as the run ended."""
import pyl4re
from pyl4re import Kernel
from pyl4re.l4sys import L4_IPC_NEVER, l4_ipc_wait, l4_rcv_ep_bind_thread, l4_utcb
from pyl4re.runloop import RunResult


def small(arch):
    return Kernel(arch=arch, memory=16 << 20)


def counting_gather(k):
    calls = []
    gather = k._loop._gather_threads

    def counted(*args):
        calls.append(1)
        return gather(*args)
    k._loop._gather_threads = counted
    return calls


def test_dropped_result_costs_no_walk(arch):
    k = small(arch)
    calls = counting_gather(k)

    async def main(env):
        return 1
    for i in range(5):
        k.start_task(main, name=f"t{i}")
    k.run()
    k.run()
    assert calls == []            # nobody held either result: no per-thread walk


def test_fields_and_repr_as_before(arch):
    k = small(arch)
    gate = k.create_gate()

    async def done(env):
        return "ok"

    async def waits(env):
        await l4_rcv_ep_bind_thread(env.get_cap("g"), env.thread, 0)
        await l4_ipc_wait(l4_utcb(), L4_IPC_NEVER)

    k.start_task(done, name="done")
    k.start_task(waits, name="waits", caps={"g": gate.svr()})
    r = k.run()
    assert r.reason == "idle" and r.exited == {"done": "ok"} and r.failed == {}
    assert list(r.blocked) == ["waits"] and r.deleted == [] and r.shutdown is None
    assert repr(r).startswith("RunResult(reason='idle', now_ns=") and "exited={'done': 'ok'}" \
        in repr(r) and repr(r).endswith("hint=None)")
    assert r == RunResult("idle", r.now_ns, exited={"done": "ok"}, blocked=dict(r.blocked))
    assert r != RunResult("limit", r.now_ns)


def test_held_result_keeps_the_state_of_its_run(arch):
    k = small(arch)
    calls = counting_gather(k)

    async def first(env):
        return "first"

    async def second(env):
        return "second"
    h = k.start_task(first, name="first")
    r1 = k.run()
    k.start_task(second, name="second")    # a new thread: r1 is gathered before it exists
    assert len(calls) == 1
    r2 = k.run()
    assert r1.exited == {"first": "first"}
    assert r2.exited == {"first": "first", "second": "second"}
    assert len(calls) == 2
    r3 = k.run()
    k.root_task.delete_obj(pyl4re.CapIndex(h.task_slot))   # not part of r3's run
    assert r3.deleted == [] and r3.exited == {"first": "first", "second": "second"}
