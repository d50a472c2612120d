"""Scheduling and virtual time (§12): compute, round robin, preemption, yield, SMP,
migration, idle time, run limits."""
import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_sleep, l4_ipc_wait, l4_msgtag,
    l4_thread_yield, l4_timeout, l4_timeout_from_us, l4_utcb,
)

MS = 1_000_000
QUANTUM = 10 * MS


def kernel(arch, cpus=1):
    return Kernel(arch=arch, cpus=cpus, memory=16 << 20, log_schedule=True)


def test_compute_advances_time_and_consumed_time(arch):
    k = kernel(arch)

    async def worker(env):
        await pyl4re.compute(3 * MS)
        return k.now_ns

    h = k.start_task(worker, name="w")
    res = k.run()
    assert 3 * MS <= res.exited["w"] < 3 * MS + 10_000
    assert 3 * MS <= h.thread.consumed_ns < 3 * MS + 10_000


def test_compute_refuses_bad_values(arch):
    k = kernel(arch)

    async def worker(env):
        for bad in (-1, 1 << 64):
            with pytest.raises(ValueError, match="compute"):
                await pyl4re.compute(bad)
        for bad in (1.5, True, "1", None):
            with pytest.raises(TypeError, match="compute"):
                await pyl4re.compute(bad)
        await pyl4re.compute(0)
        return "ok"
    k.start_task(worker, name="w")
    assert k.run().exited == {"w": "ok"}


def test_round_robin_within_a_priority(arch):
    k = kernel(arch)
    done = {}

    def worker(name):
        async def main(env):
            await pyl4re.compute(25 * MS)
            done[name] = k.now_ns
        return main

    k.start_task(worker("a"), name="a")
    k.start_task(worker("b"), name="b")
    k.run()
    # a: 0-10, b: 10-20, a: 20-30, b: 30-40, a: 40-45, b: 45-50 (plus switch costs)
    assert 45 * MS <= done["a"] < 45 * MS + 50_000
    assert 50 * MS <= done["b"] < 50 * MS + 50_000


def test_higher_priority_preempts(arch):
    k = kernel(arch)
    seen = {}

    async def low(env):
        await pyl4re.compute(10 * MS)
        seen["low"] = k.now_ns

    async def high(env):
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(1000)))
        seen["high"] = k.now_ns
        await pyl4re.compute(2 * MS)

    k.start_task(low, name="low", prio=10)
    k.start_task(high, name="high", prio=20)
    k.run()
    assert 1 * MS <= seen["high"] < 1 * MS + 10_000         # ran as soon as it woke
    assert 12 * MS <= seen["low"] < 12 * MS + 20_000        # lost 2 ms to high


def test_lower_priority_waits(arch):
    k = kernel(arch)
    order = []

    def worker(name, ms):
        async def main(env):
            await pyl4re.compute(ms * MS)
            order.append(name)
        return main

    k.start_task(worker("low", 1), name="low", prio=5)
    k.start_task(worker("high", 3), name="high", prio=50)
    k.run()
    assert order == ["high", "low"]


def test_yield_alternates_threads_of_one_priority(arch):
    k = kernel(arch)
    trace = []

    def worker(name):
        async def main(env):
            for i in range(3):
                trace.append(name)
                await l4_thread_yield()
        return main

    k.start_task(worker("a"), name="a")
    k.start_task(worker("b"), name="b")
    k.run()
    assert trace == ["a", "b", "a", "b", "a", "b"]


def test_two_cpus_run_in_parallel(arch):
    k = kernel(arch, cpus=2)

    def worker():
        async def main(env):
            await pyl4re.compute(5 * MS)
        return main

    k.start_task(worker(), name="a", cpu=0)
    k.start_task(worker(), name="b", cpu=1)
    res = k.run()
    assert 5 * MS <= res.now_ns < 5 * MS + 50_000             # not 10 ms: in parallel
    assert {cpu for cpu, _, _ in k.schedule_log} == {0, 1}


def test_idle_time_is_counted_per_cpu(arch):
    k = kernel(arch, cpus=2)

    async def sleeper(env):
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(2000)))

    k.start_task(sleeper, name="s", cpu=1)
    k.run()
    clock1, idle1 = k.cpu_clock(1)
    assert idle1 >= 2 * MS - 10_000 and clock1 >= 2 * MS
    clock0, idle0 = k.cpu_clock(0)
    assert clock0 < 2_000 and idle0 == 0             # only sigma0 entering its wait ran there


def test_migration_moves_a_thread(arch):
    k = kernel(arch, cpus=2)
    gate = k.create_gate(0x10)

    async def server(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)

    async def client(env):
        u = l4_utcb()
        for _ in range(4):
            await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)
            await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(100)))

    srv = k.start_task(server, name="srv", caps={"svc": gate.svr()}, cpu=0)
    assert k._lib.gate_bind(k._k, [gate.object.id], [srv.thread_id], 0x10) == 0
    cl = k.start_task(client, name="c", caps={"svc": gate}, cpu=0)
    k.run(until_ns=150_000)
    assert cl.thread.cpu == 0
    assert k._lib.thread_run(k._k, [cl.thread_id], [1], 1, 0) == 0     # run_thread to CPU 1
    assert cl.thread.cpu == 1
    res = k.run()
    assert "c" in res.exited
    assert {cpu for cpu, _, name in k.schedule_log if name == "c"} == {0, 1}
    assert k.cpu_clock(1)[0] > 0


def test_run_until_and_max_steps(arch):
    k = kernel(arch)

    async def ticker(env):
        for _ in range(10):
            await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(1000)))
        return "done"

    k.start_task(ticker, name="t")
    res = k.run(until_ns=3_500_000)
    assert res.reason == "limit" and res.now_ns <= 3_500_000
    assert "t" in res.blocked
    res = k.run(max_steps=2)
    assert res.reason == "steps"
    res = k.run()
    assert res.reason == "idle" and res.exited == {"t": "done"}
    assert res.now_ns >= 10 * MS
    with pytest.raises(ValueError):
        k.run(until_ns=0)
    with pytest.raises(ValueError):
        k.run(max_steps=-1)


def test_smp_runs_are_deterministic(arch):
    def once():
        k = kernel(arch, cpus=2)

        def worker(n):
            async def main(env):
                for i in range(5):
                    await pyl4re.compute((n + 1) * 300_000)
                    await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(50 * (n + 1))))
                return k.now_ns
            return main

        for n in range(4):
            k.start_task(worker(n), name=f"w{n}", cpu=n % 2, prio=1 + n)
        return k.run(), k.schedule_log

    assert once() == once()
