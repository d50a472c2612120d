"""Seeds that mean something (kernel_c/seed.c): `Kernel(seed=N)` draws among the legal
schedules where the real kernel's order depends on timing; seed=None is the canonical one."""
import hashlib

import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.l4sys import (L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_sleep,
                          l4_ipc_wait, l4_msgtag, l4_rcv_ep_bind_thread, l4_timeout,
                          l4_timeout_abs_u, l4_utcb)

SEEDS = range(12)


async def server(env):
    await l4_rcv_ep_bind_thread(env.caps["s"], env.thread, 0x40)
    u = l4_utcb()
    await l4_ipc_wait(u, L4_IPC_NEVER)
    while True:
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)


def make_client(n):
    async def main(env):
        for _ in range(4):
            await pyl4re.compute(1000)
            await pyl4re.mem.write(0x900000 + n * 0x10000, b"x")
            await l4_ipc_call(env.caps["s"], l4_utcb(), l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)
            await pyl4re.compute(25_000_000)
    return main


def busy_system(arch, seed, cpus=3):
    """Clients on three CPUs calling one server, computing, faulting, sleeping."""
    k = Kernel(arch=arch, cpus=cpus, memory=16 << 20, seed=seed, trace_size=8192,
               log_schedule=True)
    gate = k.create_gate(0x10)
    k.start_task(server, name="srv", caps={"s": gate.svr()})
    for n in range(4):
        k.start_task(make_client(n), name=f"c{n}", caps={"s": gate}, cpu=n % cpus)
    k.hw.at(5000, lambda: None, jitter_ns=3000)
    k.run()
    return k


def digest(k):
    return hashlib.sha256(k.trace_json().encode()).hexdigest()


def test_the_same_seed_gives_the_same_trace(arch):
    for seed in (None, 0, 12345, (1 << 64) - 1):
        assert digest(busy_system(arch, seed)) == digest(busy_system(arch, seed))


def test_different_seeds_give_different_legal_schedules(arch):
    traces = {digest(busy_system(arch, seed)) for seed in SEEDS}
    assert len(traces) > len(SEEDS) // 2
    for seed in SEEDS:          # every schedule is one the kernel allows
        busy_system(arch, seed).check_invariants()


def test_cpu_ties_draw_which_cpu_goes_first(arch):
    def first(seed):
        k = Kernel(arch=arch, cpus=3, memory=16 << 20, seed=seed, log_schedule=True)

        async def main(env):
            pass

        k.start_task(main, name="on1", cpu=1)      # CPU 0 starts with sigma0's own step
        k.start_task(main, name="on2", cpu=2)
        k.run()
        return [name for _, _, name in k.schedule_log][0]

    assert first(None) == "on1"                    # canonical: the lowest CPU
    assert {first(seed) for seed in SEEDS} == {"on1", "on2"}


def test_wakeups_due_together_come_in_a_drawn_order(arch):
    def order(seed):
        k = Kernel(arch=arch, memory=16 << 20, seed=seed)
        woke = []

        def sleeper(n):
            async def main(env):
                u = l4_utcb()
                await l4_ipc_sleep(l4_timeout(0, l4_timeout_abs_u(50, 3, u)))   # 50 µs
                woke.append(n)
            return main

        for n in range(4):
            k.start_task(sleeper(n), name=f"s{n}")
        k.run()
        return tuple(woke)

    assert order(None) == (0, 1, 2, 3)                 # canonical: FIFO
    orders = {order(seed) for seed in SEEDS}
    assert len(orders) > 3 and all(sorted(o) == [0, 1, 2, 3] for o in orders)


def test_quanta_are_drawn_within_the_bound(arch):
    def slices(seed, jitter=0.5):
        k = Kernel(arch=arch, memory=16 << 20, seed=seed, quantum_jitter=jitter)

        async def spin(env):
            await pyl4re.compute(200_000_000)

        k.start_task(spin, name="a")
        k.start_task(spin, name="b")
        k.run()
        switches = [r.time_ns for r in k.trace if r.kind == "switch" and r.name in ("a", "b")]
        # The time slices after the first refills, up to the one cut short by the end.
        return [b - a for a, b in zip(switches[2:-1], switches[3:-1])]

    quantum = 10_000_000
    assert set(slices(None)) == {quantum}
    drawn = [g for seed in range(3) for g in slices(seed)]
    assert all(quantum // 2 <= g <= quantum for g in drawn) and len(drawn) > 40
    assert len(set(drawn)) > len(drawn) // 2
    assert all(quantum * 3 // 4 <= g <= quantum for g in slices(1, jitter=0.25))
    assert set(slices(5, jitter=0)) == {quantum}


def test_device_event_jitter_stays_in_its_bound(arch):
    def fired(seed):
        k = Kernel(arch=arch, memory=16 << 20, seed=seed)
        at = []
        k.hw.at(10_000, lambda: at.append(k.now_ns), jitter_ns=2_000)
        k.run()
        return at[0]

    assert fired(None) == 10_000
    times = [fired(seed) for seed in SEEDS]
    assert all(10_000 <= t <= 12_000 for t in times) and len(set(times)) > 6


@pytest.mark.parametrize("kwargs, error", [
    ({"seed": -1}, ValueError), ({"seed": 1 << 64}, ValueError), ({"seed": 1.5}, TypeError),
    ({"quantum_jitter": 1.5}, ValueError), ({"quantum_jitter": -0.1}, ValueError),
    ({"quantum_jitter": "half"}, ValueError), ({"quantum_jitter": True}, ValueError),
])
def test_bad_seed_arguments(arch, kwargs, error):
    with pytest.raises(error):
        Kernel(arch=arch, memory=16 << 20, **kwargs)


def test_bad_jitter_arguments(kernel):
    for bad in (-1, 1.0, None, 1 << 63):
        with pytest.raises((TypeError, ValueError), match="jitter_ns"):
            kernel.hw.at(10, lambda: None, jitter_ns=bad)
    assert kernel.hw.next_event() is None


def test_reruns_in_one_process_give_the_same_trace_with_fresh_closures(arch):
    """Code a harness starts gets per-kernel addresses: new closures, same trace."""
    def run_once():
        k = Kernel(arch=arch, cpus=2, memory=16 << 20, seed=3)
        gate = k.create_gate(0x10)
        k.start_task(server, name="srv", caps={"s": gate.svr()})
        for n in range(3):
            k.start_task(make_client(n), name=f"c{n}", caps={"s": gate}, cpu=n % 2)
        k.run()
        return digest(k)

    assert run_once() == run_once()


def test_a_seed_changes_nothing_where_there_is_no_choice(arch):
    """One CPU, full quanta, no timeouts due together, no device jitter: every seed
    takes the canonical schedule, byte for byte."""
    def one_cpu(seed):
        k = Kernel(arch=arch, memory=16 << 20, seed=seed, quantum_jitter=0)
        gate = k.create_gate(0x10)
        k.start_task(server, name="srv", caps={"s": gate.svr()})
        k.start_task(make_client(0), name="c0", caps={"s": gate})
        k.start_task(make_client(1), name="c1", caps={"s": gate})
        k.hw.at(5000, lambda: None)
        k.run()
        return digest(k)

    canonical = one_cpu(None)
    assert all(one_cpu(seed) == canonical for seed in range(5))
