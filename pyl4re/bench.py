"""`pyl4re bench`: IPC latency per architecture, with references measured in the same run.

A first slice of the benchmark report (issue 6): round trips of two words between two
native threads (the pure C path), between two µApps (the Python path), and from a µApp to
a native server; the C floor (kernel_c/floor.c) and an asyncio.Queue round trip (and
SimPy's Store, if installed) as references, shown as ratios. Each figure is the median of
repeated runs after a warm-up, in ns of host time per round trip, with the spread
(min..max) and the virtual time the model charged. Nothing here is a pass/fail test.
"""
import asyncio
import json
import statistics
import sys
import time

from . import _core
from .kernel import Kernel
from .l4sys import (
    L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_wait, l4_msgtag, l4_utcb,
)


def _measure(fn, repeats):
    """fn() -> (host ns per op, virtual ns per op); warm-up once, then repeat."""
    fn()
    runs = [fn() for _ in range(repeats)]
    host = [r[0] for r in runs]
    return {"median_ns": statistics.median(host), "min_ns": min(host), "max_ns": max(host),
            "virtual_ns": runs[-1][1]}


def _system(arch, server_native, client_native, rounds):
    k = Kernel(arch=arch, memory=16 << 20, trace_size=0)
    gate = k.create_gate(0x10)
    if server_native:
        srv = k.start_native("echo", "srv", caps={"svc": gate.svr()})
    else:
        async def server(env):
            u = l4_utcb()
            await l4_ipc_wait(u, L4_IPC_NEVER)
            reply = l4_msgtag(0, 2, 0, 0)
            while True:
                await l4_ipc_reply_and_wait(u, reply, L4_IPC_NEVER)
        srv = k.start_task(server, name="srv", caps={"svc": gate.svr()})
    k._lib.gate_bind(k._k, [gate.object.id], [srv.thread_id], 0x10)
    if client_native:
        k.start_native("call_loop", "client", caps={"svc": gate}, user=(0x16000, rounds, 2))
    else:
        async def client(env):
            u, svc, tag = l4_utcb(), env.caps["svc"], l4_msgtag(0, 2, 0, 0)
            for _ in range(rounds):
                await l4_ipc_call(svc, u, tag, L4_IPC_NEVER)
        k.start_task(client, name="client", caps={"svc": gate})
    k.run(max_steps=100)                 # boot and first messages: not measured
    t0 = time.perf_counter_ns()
    v0 = k.now_ns
    k.run()
    return (time.perf_counter_ns() - t0) / rounds, (k.now_ns - v0) / rounds


def _floor(arch, rounds):
    lib = _core.load(arch)[1]
    t0 = time.perf_counter_ns()
    lib.bench_floor(rounds, 2)
    return (time.perf_counter_ns() - t0) / rounds, 0


def _asyncio(rounds):
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


def _simpy(rounds):
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


def run(quick=False, out=None):
    out = out or sys.stdout
    c_rounds, py_rounds, repeats = ((20_000, 2_000, 3) if quick else (200_000, 20_000, 7))
    results = {"machine": _machine(), "references": {}, "arches": {}}
    refs = results["references"]
    refs["asyncio_queue_round_trip"] = _measure(lambda: _asyncio(py_rounds), repeats)
    try:
        refs["simpy_store_round_trip"] = _measure(lambda: _simpy(py_rounds), repeats)
    except ImportError:
        pass
    for arch in _core.available_arches():
        results["arches"][arch] = {
            "c_floor": _measure(lambda: _floor(arch, c_rounds * 10), repeats),
            "native_round_trip": _measure(lambda: _system(arch, True, True, c_rounds), repeats),
            "uapp_round_trip": _measure(lambda: _system(arch, False, False, py_rounds), repeats),
            "uapp_to_native_round_trip": _measure(
                lambda: _system(arch, True, False, py_rounds), repeats),
        }
    _print(results, out)
    return results


def _machine():
    import os
    import platform
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "system": platform.system()}


def _print(results, out):
    refs = results["references"]
    simpy = refs.get("simpy_store_round_trip", {}).get("median_ns")
    aio = refs["asyncio_queue_round_trip"]["median_ns"]
    m = results["machine"]
    print(f"pyl4re bench on {m['machine']}, {m['cpus']} CPUs, Python {m['python']} "
          "(host ns per 2-word round trip: median [min..max]; virtual ns the model charged)",
          file=out)
    print(f"  references: asyncio.Queue {aio:,.0f} ns"
          + (f", SimPy Store {simpy:,.0f} ns" if simpy else ", SimPy not installed "
             "(pip install simpy)"), file=out)
    for arch, cases in results["arches"].items():
        floor = cases["c_floor"]["median_ns"]
        print(f"  {arch}:  C floor {floor:.1f} ns", file=out)
        for name, label in (("native_round_trip", "native <-> native (C path)"),
                            ("uapp_to_native_round_trip", "µApp -> native"),
                            ("uapp_round_trip", "µApp <-> µApp (Python path)")):
            c = cases[name]
            ratio = f"{c['median_ns'] / floor:6.1f}x floor"
            if name == "uapp_round_trip":
                ratio += f", {(simpy or aio) / c['median_ns']:.2f}x faster than " \
                         f"{'SimPy' if simpy else 'asyncio'}"
            print(f"    {label:30s} {c['median_ns']:10,.0f} ns [{c['min_ns']:,.0f}.."
                  f"{c['max_ns']:,.0f}]  virtual {c['virtual_ns']:7.0f} ns  ({ratio})", file=out)
        native = cases["native_round_trip"]["median_ns"]
        print(f"    target C round trip <= 10x floor: {native / floor:.1f}x -> "
              f"{'holds' if native <= 10 * floor else 'does not hold'}", file=out)


def main(argv):
    import argparse
    p = argparse.ArgumentParser(prog="pyl4re bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds (well under 30 s)")
    p.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    args = p.parse_args(argv)
    results = run(quick=args.quick)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0
