"""`pyl4re bench`: IPC latency per architecture, with references measured in the same run.

For each built architecture: IPC round trips on the C path (native threads) and the Python
path (µApps), with more words, capability items, page faults, map/unmap and two CPUs; the
C floor (kernel_c/floor.c), the Python floor (two coroutines, the same awaits and no-op
cffi calls), asyncio.Queue and SimPy's Store (the `bench` extra) measured
in the same run and shown as ratios; instructions per C round trip under callgrind (when
valgrind is installed); the tasks-alive sweep of target 3 (10 and 100 000 tasks; 10 000
with --quick), or with --scaling all sweeps of scaling.py and their plot; the targets with
their verdicts, where each comes from and, when one does not hold, what bounds it.
Every figure is the median of repeated runs after a warm-up, in host ns per operation,
with its spread and the virtual time the model charged. Nothing here is a pass/fail test.
"""
import json
import os
import platform
import sys

from .. import _core
from . import guest_cases, instructions, references
from . import scaling as scaling_mod
from .ipc_cases import CASES
from .measure import Progress, measure
from .report import fmt_ns, print_report, targets


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


def run(quick=False, out=None, arches=None, scaling=False, plot_path=None, count=True):
    """Measures everything, prints the report on `out` and returns every figure (the
    --json document). `scaling`: also the sweeps (scaling.py), drawn to `plot_path` if
    matplotlib is there; `count`: instruction counts under callgrind if valgrind is."""
    out = out or sys.stdout
    arches = arches or _core.available_arches()
    repeats = 3 if quick else 7
    py_refs = 2_000 if quick else 20_000
    with_simpy = references.simpy_available()
    count = count and instructions.valgrind_version() is not None
    # Target 3 (tasks alive) needs its own sweep unless the whole scaling set runs.
    alive = scaling_mod.Sizes(tasks=(10, 10_000 if quick else 100_000),
                              rounds=20_000 if quick else 200_000, repeats=repeats)
    progress = Progress(2 + with_simpy + len(arches) * (2 + len(CASES)) + count
                        + len(arches) * (scaling_mod.steps(quick) if scaling
                                         else len(alive.tasks))
                        + guest_cases.steps(arches))
    results = {"machine": machine(), "quick": quick, "references": {}, "arches": {}}
    refs = results["references"]
    refs["asyncio_queue_round_trip"] = measure(lambda: references.asyncio_queue(py_refs),
                                               repeats, lambda: references.asyncio_queue(50))
    progress.step("asyncio.Queue")
    refs["awaits_floor_round_trip"] = measure(lambda: references.awaits_floor(py_refs),
                                              repeats, lambda: references.awaits_floor(50))
    progress.step("awaits alone")
    if with_simpy:
        refs["simpy_store_round_trip"] = measure(lambda: references.simpy_store(py_refs),
                                                 repeats, lambda: references.simpy_store(50))
        progress.step("SimPy Store")
    for arch in arches:
        figures = results["arches"][arch] = {}
        floor_rounds = 200_000 if quick else 2_000_000
        figures["c_floor"] = measure(lambda: references.c_floor(arch, floor_rounds), repeats)
        progress.step(f"{arch} C floor")
        figures["python_floor"] = measure(lambda: references.python_floor(arch, py_refs),
                                          repeats, lambda: references.python_floor(arch, 50))
        progress.step(f"{arch} Python floor")
        for case in CASES:
            ops = case.ops_per_run(quick)
            warm = (lambda: case.build(arch, 20).k.run()) if case.path == "python" else None
            figures[case.key] = dict(measure(lambda: case.run(arch, ops), repeats, warm),
                                     path=case.path, ops=ops)
            progress.step(f"{arch} {case.label}")
    results["instructions"] = instructions.instruction_counts(arches) if count else None
    if count:
        progress.step("instruction counts")
    results["guest"] = guest_cases.measure_guests(arches, repeats, quick, measure,
                                                  progress.step)
    results["targets"] = targets(results) + instructions.targets(results["instructions"])
    if scaling:
        results["scaling"] = {arch: scaling_mod.sweep(arch, quick, progress.step)
                              for arch in arches}
    else:
        results["scaling"] = {arch: {"tasks": scaling_mod.tasks_sweep(arch, alive,
                                                                      progress.step)}
                              for arch in arches}
    results["targets"] += scaling_mod.targets(results["scaling"])
    results["targets"].sort(key=lambda t: arches.index(t["name"].split(":")[0]))
    progress.close()
    table = scaling_mod.print_table if scaling else scaling_mod.print_tasks

    def more(out):
        guest_cases.print_guests(results["guest"], out, fmt_ns)
        table(results["scaling"], out)
    print_report(results, CASES, out, more=more)
    if scaling:
        if plot_path:
            drawn = scaling_mod.plot(results["scaling"], plot_path)
            print(f"\nplot: {plot_path}" if drawn else "\nno plot: matplotlib is not "
                  "installed (pip install -e '.[bench]')", file=out)
    return results


def add_arguments(p):
    """The options of `pyl4re bench` (the command line is in pyl4re/__main__.py)."""
    p.add_argument("--quick", action="store_true", help="fewer rounds (under 30 s)")
    p.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    p.add_argument("--arch", action="append", choices=_core.available_arches(),
                   help="measure only this architecture (repeatable; default: all built)")
    p.add_argument("--scaling", action="store_true",
                   help="also the scaling sweeps (tasks alive, capability-table sizes, "
                        "map/unmap vs pages, memory per object)")
    p.add_argument("--plot", metavar="FILE", default="pyl4re-scaling.png",
                   help="where --scaling draws its PNG (default: %(default)s)")
    p.add_argument("--no-count", action="store_true",
                   help="skip the instruction counts under callgrind")
    p.add_argument("--platform", nargs="?", const="all", metavar="NAME",
                   help="instead of the report: ipcbench in the model under the platform "
                        "profile NAME (default: every profile), its cycles next to the "
                        "published ones and the deviation")


def run_args(args):
    """Runs the report for parsed command-line arguments; the exit status."""
    if args.platform:
        from . import calibration
        try:
            rows = calibration.run(args.platform)
        except ValueError as exc:
            print(f"pyl4re bench: {exc}", file=sys.stderr)
            return 2
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": machine(), "calibration": rows}, f, indent=1)
        return 0
    results = run(quick=args.quick, arches=args.arch, scaling=args.scaling,
                  plot_path=args.plot, count=not args.no_count)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0
