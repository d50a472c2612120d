"""The IPC cases of `pyl4re bench`: each builds a small system, runs it once through
boot and the first messages (not measured), then measures the rest.

A case is a `Case`: its key in the JSON, its label in the table, which path it measures
("c": only C runs while it is measured; "python": µApp coroutines take part),
`run(arch, ops) -> (host ns per op, virtual ns per op)`, and how many ops one run makes
(full report, --quick).
"""
import time
from dataclasses import dataclass
from typing import Callable

from ..kernel import Kernel
from ..l4sys import (
    L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_wait, l4_msgtag, l4_utcb,
)


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    path: str                                  # "c" or "python"
    run: Callable[[str, int], tuple]           # (arch, ops) -> (host ns/op, virtual ns/op)
    ops: tuple = None                          # (full, quick); None: the path's default

    def ops_per_run(self, quick):
        full, fast = self.ops or ((200_000, 20_000) if self.path == "c" else (20_000, 2_000))
        return fast if quick else full


def timed_run(k, ops):
    """Run k to the end; host and virtual ns per op. Boot and the first messages are run
    first and not counted."""
    k.run(max_steps=100)
    t0, v0 = time.perf_counter_ns(), k.now_ns
    k.run()
    return (time.perf_counter_ns() - t0) / ops, (k.now_ns - v0) / ops


def round_trips(arch, rounds, server_native, client_native, words=2):
    """`rounds` calls of `words` words from a client to an echo server."""
    k = Kernel(arch=arch, memory=16 << 20, trace_size=0)
    gate = k.create_gate(0x10)
    if server_native:
        srv = k.start_native("echo", "srv", caps={"svc": gate.svr()})
    else:
        async def server(env):
            u = l4_utcb()
            tag, _ = await l4_ipc_wait(u, L4_IPC_NEVER)
            while True:                  # echo: the reply is the words that came, as is
                tag, _ = await l4_ipc_reply_and_wait(u, tag, L4_IPC_NEVER)
        srv = k.start_task(server, name="srv", caps={"svc": gate.svr()})
    k._lib.gate_bind(k._k, [gate.object.id], [srv.thread_id], 0x10)
    if client_native:
        k.start_native("call_loop", "client", caps={"svc": gate}, user=(0x16000, rounds, words))
    else:
        async def client(env):
            u, svc, tag = l4_utcb(), env.caps["svc"], l4_msgtag(0, words, 0, 0)
            for _ in range(rounds):
                await l4_ipc_call(svc, u, tag, L4_IPC_NEVER)
        k.start_task(client, name="client", caps={"svc": gate})
    return timed_run(k, rounds)


CASES = [
    Case("native_round_trip", "native <-> native (C path)", "c",
         lambda arch, n: round_trips(arch, n, True, True)),
    Case("uapp_to_native_round_trip", "µApp -> native", "python",
         lambda arch, n: round_trips(arch, n, True, False)),
    Case("uapp_round_trip", "µApp <-> µApp (Python path)", "python",
         lambda arch, n: round_trips(arch, n, False, False)),
]
