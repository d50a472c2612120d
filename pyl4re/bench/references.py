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
