"""The cases of `pyl4re bench`, and the IPC systems they measure: round trips of 2, 8 and
63 words and with a capability item, one-way sends, and round trips across two CPUs. The
memory cases (page faults, map and unmap) are built in mem_cases.py, the VM exit round
trip in vm_cases.py.

A case is a `Case`: its key in the JSON, its label in the table (saying what one
operation is), which path it measures ("c": only C runs while it is measured; "python":
µApp coroutines take part), `build(arch, ops)`, which returns its system (a `System`,
system.py, that tests run and inspect too), and how many ops one run makes (full report,
--quick). `run(arch, ops) -> (host ns per op, virtual ns per op)` builds and times it.
"""
import os
from dataclasses import dataclass
from functools import partial
from typing import Callable

from ..kernel import Kernel
from ..l4sys import (
    L4_IPC_NEVER, L4_RCV_ITEM_SINGLE_CAP, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_send,
    l4_ipc_wait, l4_msgtag, l4_utcb,
)
from .mem_cases import map_unmap_system, page_fault_system
from .system import System, counter, native_count, timed_run
from .. import cprog
from .vm_cases import vm_exit_system
from .vmm_cases import mmio_exit_system, virtqueue_system

GATE_LABEL = 0x10
NAMED = 0x16000               # the first named capability's selector (harness.FIRST_NAMED_CAP)
CAP_SLOT = 0x40               # where the capability-item server receives


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    path: str                                  # "c" or "python"
    build: Callable[[str, int], System]        # (arch, ops) -> the system, not run yet
    ops: tuple = None                          # (full, quick); None: the path's default
    peer: bool = False     # a round trip SimPy's and asyncio's references also make

    def run(self, arch, ops):
        """(host ns per op, virtual ns per op) of one run of `ops` operations."""
        return timed_run(self.build(arch, ops))

    def ops_per_run(self, quick):
        full, fast = self.ops or ((200_000, 20_000) if self.path == "c" else (20_000, 2_000))
        return fast if quick else full


def _server(k, gate, native, rcv_item=0):
    """An echo server bound to gate: native, or a µApp replying with the words it got."""
    if native:
        srv = k.start_native("echo", "srv", caps={"svc": gate.svr()}, user=(rcv_item, 0, 0))
    else:
        async def server(env):
            u = l4_utcb()
            tag, _ = await l4_ipc_wait(u, L4_IPC_NEVER)
            while True:                  # echo: the reply is the words that came, as is
                tag, _ = await l4_ipc_reply_and_wait(u, tag, L4_IPC_NEVER)
        srv = k.start_task(server, name="srv", caps={"svc": gate.svr()})
    gate.bind(srv, GATE_LABEL)
    return srv


_C_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "c")


def c_program(name):
    """A C µApp of the benchmark (bench/c/NAME.c), built once and cached."""
    return cprog.build(os.path.join(_C_DIR, f"{name}.c"), name=f"bench_{name}")


def c_tcr_user(k, handle):
    """The TCR user words of a task's first thread: the C call loop's parameters and count."""
    info = k._thread_info(handle.thread_id)
    return k.physmem[info.utcb.raw:info.utcb.raw + 1024].view("uint64")[125:128]


def c_round_trip_system(arch, rounds, server, words=2):
    """`rounds` calls from a C µApp client to an echo server: a C µApp ("c"), a native
    program ("native") or a Python µApp ("python")."""
    k = Kernel(arch=arch, memory=16 << 20, trace_size=0)
    gate = k.create_gate(GATE_LABEL)
    if server == "c":
        srv = k.start_cprogram(c_program("echo"), name="srv", caps={"svc": gate.svr()})
        gate.bind(srv, GATE_LABEL)
    else:
        srv = _server(k, gate, server == "native")
    client = k.start_cprogram(c_program("call_loop"), name="client", caps={"svc": gate})
    user = c_tcr_user(k, client)
    user[1], user[2] = rounds, words
    return System(k, lambda: int(user[0]), {"srv": srv, "client": client})


def round_trip_system(arch, rounds, server_native, client_native, words=2, cpus=1,
                      trace_size=0):
    """`rounds` calls of `words` words from a client to an echo server; with 2 CPUs the
    server is on CPU 0 and the client on CPU 1. `trace_size`: the kernel's trace ring (0:
    off, None: the default ring, as the instruction count runs it)."""
    k = Kernel(arch=arch, cpus=cpus, memory=16 << 20, trace_size=trace_size)
    gate = k.create_gate(GATE_LABEL)
    srv = _server(k, gate, server_native)
    if client_native:
        client = k.start_native("call_loop", "client", caps={"svc": gate}, cpu=cpus - 1,
                                user=(NAMED, rounds, words))
        done = native_count(client)
    else:
        n, done = counter()

        async def calls(env):
            u, svc, tag = l4_utcb(), env.caps["svc"], l4_msgtag(0, words, 0, 0)
            for _ in range(rounds):
                await l4_ipc_call(svc, u, tag, L4_IPC_NEVER)
                n[0] += 1
        client = k.start_task(calls, name="client", caps={"svc": gate}, cpu=cpus - 1)
    return System(k, done, {"srv": srv, "client": client})


def one_way_system(arch, sends, native, words=2):
    """`sends` one-way sends of `words` words to a receiver that only waits; an op is a
    message that arrived."""
    k = Kernel(arch=arch, memory=16 << 20, trace_size=0)
    gate = k.create_gate(GATE_LABEL)
    if native:
        rcv = k.start_native("sink", "rcv", caps={"svc": gate.svr()})
        snd = k.start_native("send_loop", "snd", caps={"svc": gate}, user=(NAMED, sends, words))
        done = native_count(rcv)
    else:
        n, done = counter()

        async def receiver(env):
            u = l4_utcb()
            while True:
                await l4_ipc_wait(u, L4_IPC_NEVER)
                n[0] += 1

        async def sender(env):
            u, svc, tag = l4_utcb(), env.caps["svc"], l4_msgtag(0, words, 0, 0)
            for _ in range(sends):
                await l4_ipc_send(svc, u, tag, L4_IPC_NEVER)
        rcv = k.start_task(receiver, name="rcv", caps={"svc": gate.svr()})
        snd = k.start_task(sender, name="snd", caps={"svc": gate})
    gate.bind(rcv, GATE_LABEL)
    return System(k, done, {"rcv": rcv, "snd": snd})


def cap_round_trip_system(arch, rounds):
    """`rounds` calls of 2 words and a map item of a gate capability, to a native echo
    server with a receive buffer for it at CAP_SLOT; the client sends two gates in turn,
    so each call replaces the capability in the server's slot."""
    k = Kernel(arch=arch, memory=16 << 20, trace_size=0)
    gate = k.create_gate(GATE_LABEL)
    srv = _server(k, gate, True, rcv_item=(CAP_SLOT << 12) | L4_RCV_ITEM_SINGLE_CAP)
    sent = {"a": k.create_gate(0x20), "b": k.create_gate(0x30)}    # at NAMED + 1, + 2
    client = k.start_native("cap_call_loop", "client", caps={"svc": gate, **sent},
                            user=(NAMED, rounds, NAMED + 0x1000))
    return System(k, native_count(client), {"srv": srv, "client": client})


# Page faults are limited by memory: sigma0 hands out each page 1:1, so the faulter needs
# that many pages of physical memory (MIPS64: 16 KiB each). A map and an unmap by a µApp
# take two trips through the Python control plane: fewer keep the full report short.
PAGE_FAULT_OPS = (10_000, 2_000)
MAP_OPS = (5_000, 1_000)
VMM_OPS = (2_000, 300)

CASES = [
    Case("native_round_trip", "native <-> native (C path)", "c",
         partial(round_trip_system, server_native=True, client_native=True)),
    Case("uapp_to_native_round_trip", "µApp -> native", "python",
         partial(round_trip_system, server_native=True, client_native=False), peer=True),
    Case("uapp_round_trip", "µApp <-> µApp (Python path)", "python",
         partial(round_trip_system, server_native=False, client_native=False), peer=True),
    Case("c_uapp_round_trip", "C µApp <-> C µApp", "python",
         partial(c_round_trip_system, server="c")),
    Case("c_uapp_to_native_round_trip", "C µApp -> native", "c",
         partial(c_round_trip_system, server="native")),
    Case("c_uapp_to_uapp_round_trip", "C µApp -> µApp", "python",
         partial(c_round_trip_system, server="python")),
    Case("native_one_way", "one-way send native -> native (C path)", "c",
         partial(one_way_system, native=True)),
    Case("uapp_one_way", "one-way send µApp -> µApp", "python",
         partial(one_way_system, native=False)),
    Case("native_round_trip_8_words", "8 words native <-> native (C path)", "c",
         partial(round_trip_system, server_native=True, client_native=True, words=8)),
    Case("native_round_trip_63_words", "63 words native <-> native (C path)", "c",
         partial(round_trip_system, server_native=True, client_native=True, words=63)),
    Case("uapp_round_trip_63_words", "63 words µApp <-> µApp", "python",
         partial(round_trip_system, server_native=False, client_native=False, words=63), peer=True),
    Case("native_cap_round_trip", "2 words + cap item native<->native (C)", "c",
         cap_round_trip_system),
    Case("native_page_fault_sigma0", "page fault: native -> sigma0 (C path)", "c",
         partial(page_fault_system, faulter_native=True, pager_native=True), PAGE_FAULT_OPS),
    Case("uapp_page_fault_sigma0", "page fault: µApp -> sigma0", "python",
         partial(page_fault_system, faulter_native=False, pager_native=True), PAGE_FAULT_OPS),
    Case("uapp_page_fault_uapp_pager", "page fault: µApp -> µApp pager", "python",
         partial(page_fault_system, faulter_native=False, pager_native=False), PAGE_FAULT_OPS),
    Case("uapp_map_unmap_page", "map+unmap 1 page, µApp (MIPS: 16K)", "python",
         partial(map_unmap_system, superpage=False), MAP_OPS),
    Case("uapp_map_unmap_superpage", "map+unmap 2M superpage, µApp", "python",
         partial(map_unmap_system, superpage=True), MAP_OPS),
    Case("native_cross_cpu_round_trip", "2 CPUs: native <-> native (C path)", "c",
         partial(round_trip_system, server_native=True, client_native=True, cpus=2)),
    Case("uapp_cross_cpu_round_trip", "2 CPUs: µApp <-> µApp", "python",
         partial(round_trip_system, server_native=False, client_native=False, cpus=2),
         peer=True),
    Case("vm_exit_round_trip", "VM exit: guest hypercall -> VMM -> guest", "python",
         vm_exit_system, MAP_OPS),
    Case("vmm_mmio_round_trip", "VMM: guest MMIO load -> VirtIO transport -> guest",
         "python", mmio_exit_system, VMM_OPS),
    Case("vmm_virtqueue_round_trip", "VMM: 64-byte virtio console write (virtqueue)",
         "python", virtqueue_system, VMM_OPS),
]
