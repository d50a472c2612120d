"""`pyl4re bench`: IPC latency per architecture, with references measured in the same run.

For each built architecture: IPC round trips on the C path (native threads) and the Python
path (µApps), with more words, capability items, page faults, map/unmap and two CPUs; the
C floor (kernel_c/floor.c), asyncio.Queue and SimPy's Store (the `bench` extra) measured
in the same run and shown as ratios; the targets of the benchmark issue with verdicts.
Every figure is the median of repeated runs after a warm-up, in host ns per operation,
with its spread and the virtual time the model charged. Nothing here is a pass/fail test.
"""
import json
import os
import platform
import sys

from .. import _core
from . import references
from .ipc_cases import CASES
from .measure import Progress, measure
from .report import print_report, targets


def machine():
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"python": platform.python_version(), "machine": platform.machine(), "cpu": cpu,
            "cpus": os.cpu_count(), "system": platform.system(),
            "description": f"{cpu} ({platform.machine()}, {os.cpu_count()} CPUs), "
                           f"{platform.system()}, Python {platform.python_version()}"}


def run(quick=False, out=None, arches=None):
    out = out or sys.stdout
    arches = arches or _core.available_arches()
    repeats = 3 if quick else 7
    py_refs = 2_000 if quick else 20_000
    with_simpy = references.simpy_available()
    progress = Progress(1 + with_simpy + len(arches) * (1 + len(CASES)))
    results = {"machine": machine(), "quick": quick, "references": {}, "arches": {}}
    refs = results["references"]
    refs["asyncio_queue_round_trip"] = measure(lambda: references.asyncio_queue(py_refs),
                                               repeats)
    progress.step("asyncio.Queue")
    if with_simpy:
        refs["simpy_store_round_trip"] = measure(lambda: references.simpy_store(py_refs),
                                                 repeats)
        progress.step("SimPy Store")
    for arch in arches:
        figures = results["arches"][arch] = {}
        floor_rounds = 200_000 if quick else 2_000_000
        figures["c_floor"] = measure(lambda: references.c_floor(arch, floor_rounds), repeats)
        progress.step(f"{arch} C floor")
        for case in CASES:
            ops = case.ops_per_run(quick)
            figures[case.key] = dict(measure(lambda: case.run(arch, ops), repeats),
                                     path=case.path, ops=ops)
            progress.step(f"{arch} {case.label}")
    progress.close()
    results["targets"] = targets(results)
    print_report(results, CASES, out)
    return results


def main(argv):
    import argparse
    p = argparse.ArgumentParser(prog="pyl4re bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds (under 30 s)")
    p.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    p.add_argument("--arch", action="append", choices=_core.available_arches(),
                   help="measure only this architecture (repeatable; default: all built)")
    args = p.parse_args(argv)
    results = run(quick=args.quick, arches=args.arch)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0
