"""Instructions per C IPC round trip, counted by callgrind: exact and repeatable on a noisy
machine, where host time is not.

One child Python runs under `valgrind --tool=callgrind`, collecting only while C runs in
the cffi wrapper of sched_next() (kernel_c/sched.c: where native threads run, with no
Python in between; the wrapper, as link-time optimisation may inline sched_next into it
and renames it `..._sched_next.lto_priv.0`, hence the pattern). For
each architecture it runs the native <-> native round-trip case of `pyl4re bench` twice, with
the trace ring on (the kernel's default ring: every IPC and switch is recorded, as the
target demands) and ROUNDS[0] and ROUNDS[1] rounds, and calls getppid() after each run: callgrind dumps the
count there. (I(N2) - I(N1)) / (N2 - N1) cancels what does not repeat per round (boot, the
first messages, the end), so small round counts are exact. The child's Python startup under
valgrind dominates the time (~9 s for three architectures), hence one child for all.

Without valgrind on PATH nothing runs: instruction_counts() returns None; so it does in the
sanitizer run (tools/sanitize), as AddressSanitizer cannot run under valgrind.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROUNDS = (1_000, 2_000)
FIASCO_ONE_WAY_IPC = 540       # instructions, x86-64 (l4re.org performance page)
SOURCE = ("Fiasco's published figure: 543 instructions retired for one IPC between two "
          "threads of one task on an Intel Xeon Platinum 8352S, L4Re's ipcbench "
          "(https://l4re.org/perf/; docs/benchmarks.md, [F1])")
BOUND = ("the model's bookkeeping per round trip, counted with callgrind with the trace "
         "ring on (527-530): two fast-path IPCs' guards and capability lookups "
         "~180, four trace records ~85, the virtual-time charges ~65, the switches' state "
         "~60, the native programs ~50, the scheduler's native runs ~40, the word copies "
         "~40 (docs/benchmarks.md, 'What bounds the C path')")

# The child: argv = arches (comma-separated), round counts (comma-separated).
_CHILD = """
import os, sys
from pyl4re.bench.ipc_cases import round_trip_system
for arch in sys.argv[1].split(","):
    for rounds in sys.argv[2].split(","):
        round_trip_system(arch, int(rounds), server_native=True, client_native=True,
                          trace_size=None).k.run()       # the trace ring on: its default
        os.getppid()    # the marker: callgrind dumps the count collected since the last one
"""
_MARKER = "getppid"
_TOTALS = re.compile(r"^(?:summary|totals):\s*(\d+)", re.M)


def valgrind_version():
    """valgrind's version string ("valgrind-3.19.0"), or None when it is not on PATH."""
    exe = shutil.which("valgrind")
    if not exe:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    return out.stdout.strip() or None


def sanitized():
    """Whether this is the sanitizer run, whose preloaded ASan valgrind cannot run."""
    return "asan" in os.environ.get("LD_PRELOAD", "")


def _marker_dumps(outdir):
    """The counts callgrind dumped at the marker, in order (callgrind.out.1, .2, ...), each
    read from its totals line."""
    parts = []
    for name in os.listdir(outdir):
        m = re.fullmatch(r"callgrind\.out\.(\d+)", name)
        if not m:
            continue                           # callgrind.out: the final dump, at exit
        with open(os.path.join(outdir, name)) as f:
            text = f.read()
        total = _TOTALS.search(text)
        if f"--dump-before={_MARKER}" not in text or not total:
            raise RuntimeError(f"unexpected callgrind output {name}")
        parts.append((int(m.group(1)), int(total.group(1))))
    return [count for _, count in sorted(parts)]


def per_round_trip(arches, rounds=ROUNDS):
    """Instructions per native <-> native round trip for each of `arches` (a list; an
    architecture may repeat), counted in one child under callgrind. `rounds`: the two round
    counts (N1, N2) whose difference is counted. valgrind must be on PATH."""
    arches = list(arches)
    pkg_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_root, env.get("PYTHONPATH")]))
    env["LD_BIND_NOW"] = "1"       # no lazy symbol binding inside a run: only its first
    with tempfile.TemporaryDirectory(prefix="pyl4re-callgrind-") as outdir:
        cmd = [shutil.which("valgrind"), "--tool=callgrind", "--collect-atstart=no",
               "--toggle-collect=_cffi_f_sched_next*", f"--dump-before={_MARKER}",
               f"--callgrind-out-file={os.path.join(outdir, 'callgrind.out')}",
               sys.executable, "-c", _CHILD, ",".join(arches), ",".join(map(str, rounds))]
        # cwd: the child's sys.path starts with it, so no other checkout's pyl4re shadows ours.
        proc = subprocess.run(cmd, cwd=outdir, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"callgrind run failed ({proc.returncode}):\n"
                               + proc.stderr[-2000:])
        counts = _marker_dumps(outdir)
    if len(counts) != 2 * len(arches):
        raise RuntimeError(f"expected {2 * len(arches)} callgrind dumps, got {len(counts)}")
    if not all(counts):                    # e.g. the wrapper's symbol renamed: no match
        raise RuntimeError("callgrind collected nothing in sched_next's wrapper")
    n1, n2 = rounds
    return [(counts[2 * i + 1] - counts[2 * i]) / (n2 - n1) for i in range(len(arches))]


def instruction_counts(arches, rounds=ROUNDS):
    """{arch: {"instructions_per_round_trip", "rounds", "valgrind"}} for the native <->
    native round trip (the C path), or None when valgrind is not on PATH (or sanitized())."""
    version = valgrind_version()
    if version is None or sanitized():
        return None
    arches = list(arches)
    return {arch: {"instructions_per_round_trip": n, "rounds": tuple(rounds),
                   "valgrind": version}
            for arch, n in zip(arches, per_round_trip(arches, rounds))}


def targets(counts):
    """The instruction-count target per architecture: a whole C IPC round trip, the trace
    ring on, in fewer instructions than one real one-way IPC in Fiasco on x86-64. A list of {"name",
    "value", "holds", "source", "bound"}; empty when nothing was counted."""
    out = []
    for arch, c in (counts or {}).items():
        n = c["instructions_per_round_trip"]
        out.append({"name": f"{arch}: C IPC round trip < {FIASCO_ONE_WAY_IPC} instructions, "
                            f"trace ring on (a Fiasco one-way IPC on x86-64)",
                    "value": f"{n:,.0f} instructions", "holds": n < FIASCO_ONE_WAY_IPC,
                    "source": SOURCE, "bound": BOUND})
    return out
