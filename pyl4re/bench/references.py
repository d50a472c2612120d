"""The references measured in the same run as pyl4re's figures: the C floor
(kernel_c/floor.c: a call, two lookups, the words copied each way), two asyncio tasks
through asyncio.Queue, and two SimPy processes through a Store (the `bench` extra).
Each returns (host ns per round trip, 0): none of them has virtual time."""
import asyncio
import time

from .. import _core


def c_floor(arch, rounds, words=2):
    lib = _core.load(arch)[1]
    t0 = time.perf_counter_ns()
    lib.bench_floor(rounds, words)
    return (time.perf_counter_ns() - t0) / rounds, 0


class _Hop:
    """A preallocated awaitable: awaiting it suspends the coroutine once."""
    __slots__ = ()

    def __await__(self):
        yield None


def _take_turns(side, rounds):
    """Two coroutines of `side` taking turns through a driver loop: ns per round trip
    (two turns)."""
    a, b = side(), side()
    a_send, b_send = a.send, b.send
    t0 = time.perf_counter_ns()
    for _ in range(rounds):
        a_send(None)
        b_send(None)
    dt = time.perf_counter_ns() - t0
    a.close()
    b.close()
    return dt / rounds, 0


def python_floor(arch, rounds):
    """The least a µApp<->µApp round trip can cost in CPython: two coroutines taking
    turns through a driver loop, each turn one await of a preallocated awaitable and one
    cffi call into a C function that does nothing (two kernel entries, two switches)."""
    noop = _core.load(arch)[1].bench_noop
    hop = _Hop()

    async def side():
        while True:
            noop()
            await hop
    return _take_turns(side, rounds)


def awaits_floor(rounds):
    """The Python floor without its cffi calls: each turn only the await. What a round
    trip costs in CPython with no kernel entry at all (the µApp fast entry makes no cffi
    call, so this is the bound below it; docs/benchmarks.md, "The references")."""
    hop = _Hop()

    async def side():
        while True:
            await hop
    return _take_turns(side, rounds)


def asyncio_queue(rounds):
    async def main():
        a, b = asyncio.Queue(), asyncio.Queue()

        async def echo():
            while True:
                b.put_nowait(await a.get())

        task = asyncio.ensure_future(echo())
        t0 = time.perf_counter_ns()
        for i in range(rounds):
            a.put_nowait(i)
            await b.get()
        dt = time.perf_counter_ns() - t0
        task.cancel()
        return dt / rounds, 0
    return asyncio.run(main())


def simpy_available():
    try:
        import simpy  # noqa: F401
    except ImportError:
        return False
    return True


def simpy_store(rounds):
    import simpy
    env = simpy.Environment()
    a, b = simpy.Store(env), simpy.Store(env)

    def echo():
        while True:
            item = yield a.get()
            yield b.put(item)

    def client():
        for i in range(rounds):
            yield a.put(i)
            yield b.get()

    env.process(echo())
    env.process(client())
    t0 = time.perf_counter_ns()
    env.run()
    return (time.perf_counter_ns() - t0) / rounds, 0
