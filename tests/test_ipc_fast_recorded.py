"""The IPC fast path against a recorded expectation: round trips whose trace records, CPU
clock, KIP clock and thread times were recorded with the kernel before the fast path was
inlined into the native programs' entry and charged each IPC once (kernel_c/ipc_fast.h).
The fast path must keep them byte for byte. They change with the cost tables or with what
the harness creates (object ids are in the trace): re-record them only for such a change,
never to make a fast-path change pass."""
import hashlib
import json

import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.bench.ipc_cases import GATE_LABEL, NAMED, _server
from pyl4re.l4sys import L4_IPC_NEVER, l4_ipc_call, l4_ipc_sleep, l4_msgtag, l4_utcb
from pyl4re.l4sys.timeout import l4_timeout, l4_timeout_rel

KIP_CLOCK = 0x20

# (arch, case): how many trace records the ring holds, their sha256 (first 16 hex digits)
# as JSON lists of [seq, time_ns, cpu, kind, thread, [a, b, c]], CPU 0's clock, the KIP
# clock (µs), and (consumed_ns, left_ns) of the server and of the client.
RECORDED = {
    ("x86_64", "native"):
        (803, "36087c9f9deb527d", 141300, 141, (70600, 9929400), (70500, 9929500)),
    ("x86_64", "slices"): (243, "3ceb4db1b9da9ed3", 42740, 42, (21320, 0), (21220, 51)),
    ("x86_64", "seeded"): (803, "36087c9f9deb527d", 141300, 141, (70600, 0), (70500, 2459)),
    ("x86_64", "uapp"): (403, "07dc5f69406f64d3", 70900, 70, (35400, 9964600), (35300, 9964700)),
    ("x86_64", "shared"): (4096, "c8555917ebb089e4", 791675, 791, (352300, 340), (356100, 1700)),
    ("arm64", "native"):
        (803, "05e86940d1209dea", 169400, 169, (84640, 9915360), (84520, 9915480)),
    ("arm64", "slices"): (243, "4cd77ae774d0983b", 51240, 50, (25560, 0), (25440, 51)),
    ("arm64", "seeded"): (803, "05e86940d1209dea", 169400, 169, (84640, 1681), (84520, 815)),
    ("arm64", "uapp"): (403, "b04bced0da219ff3", 85000, 85, (42440, 9957560), (42320, 9957680)),
    ("arm64", "shared"): (4096, "2b9abce1ffc09a4f", 934235, 933, (426680, 1698), (422600, 1700)),
    ("mips64", "native"):
        (803, "aac82fa20e205ec9", 222350, 221, (111100, 9888900), (110950, 9889050)),
    ("mips64", "slices"): (243, "1bd91ad7defe777c", 67230, 66, (33540, 0), (33390, 51)),
    ("mips64", "seeded"): (803, "aac82fa20e205ec9", 222350, 221, (111100, 1362), (110950, 715)),
    ("mips64", "uapp"): (403, "47f2d19629af8f13", 111550, 111, (55700, 9944300), (55550, 9944450)),
    ("mips64", "shared"): (4096, "eca47d7c014f0d83", 1202075, 1201, (556550, 1596), (558050, 38)),
}
CASES = ["native", "slices", "seeded", "uapp", "shared"]


def set_quantum(k, handle, quantum_ns):
    assert k._lib.thread_run(k._k, [handle.thread_id], [0], 1, quantum_ns) == 0


def system(arch, case):
    """native: a native echo server and call loop; slices: the same with time slices that
    end in every IPC; seeded: with a seed and slices that end now and then; uapp: a µApp
    calling the native server; shared: the native pair with short slices beside a µApp
    that sleeps and computes and one that computes, all at one priority."""
    k = Kernel(arch=arch, memory=16 << 20, seed=3 if case == "seeded" else None)
    gate = k.create_gate(GATE_LABEL)
    srv = _server(k, gate, True)
    if case == "uapp":
        async def calls(env):
            u, svc, tag = l4_utcb(), env.caps["svc"], l4_msgtag(0, 2, 0, 0)
            for _ in range(100):
                await l4_ipc_call(svc, u, tag, L4_IPC_NEVER)
        return k, srv, k.start_task(calls, name="client", caps={"svc": gate})
    rounds = {"native": 200, "slices": 60, "seeded": 200, "shared": 1000}[case]
    cl = k.start_native("call_loop", "client", caps={"svc": gate}, user=(NAMED, rounds, 2))
    quanta = {"slices": (1, 51), "seeded": (3000, 2900), "shared": (2000, 1700)}.get(case)
    if quanta:
        set_quantum(k, srv, quanta[0])
        set_quantum(k, cl, quanta[1])
    if case == "shared":
        async def sleeper(env):
            for i in range(40):
                await l4_ipc_sleep(l4_timeout(0, l4_timeout_rel(5 + i % 3, 0)))
                await pyl4re.compute(700 + i)
        k.start_task(sleeper, name="sleeper", prio=1)

        async def busy(env):
            for i in range(30):
                await pyl4re.compute(1000 + 37 * i)
        k.start_task(busy, name="busy", prio=1)
    return k, srv, cl


@pytest.mark.parametrize("case", CASES)
def test_round_trips_as_recorded(arch, case):
    if (arch, case) not in RECORDED:
        pytest.skip(f"nothing recorded for {arch}")
    k, srv, cl = system(arch, case)
    k.run()
    trace = [[r.seq, r.time_ns, r.cpu, r.kind, r.thread, list(r.raw)] for r in k.trace]
    digest = hashlib.sha256(json.dumps(trace).encode()).hexdigest()[:16]
    times = [(i.consumed_ns, i.left_ns)
             for i in map(k._thread_info, (srv.thread_id, cl.thread_id))]
    kip_clock = int(k.kip[KIP_CLOCK:KIP_CLOCK + 8].view("uint64")[0])
    assert (len(trace), digest, k.cpu_clock(0)[0], kip_clock, *times) == RECORDED[arch, case]
