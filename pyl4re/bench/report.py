"""The printed report of `pyl4re bench`: the machine, the references, one table per
architecture with ratios against the references, and the targets with their verdicts.

Every target says where it comes from (`source`, in words a reader can check without
this project's history) and, when it does not hold, what bounds it (`bound`);
docs/benchmarks.md explains both at length.
"""

FLOOR_SOURCE = ("pyl4re's own goal: the C path costs at most ten times the least work any "
                "IPC must do, the C floor measured in this run (docs/benchmarks.md, "
                "'The references')")
FLOOR_BOUND = ("the C path's own work per round trip: two IPCs through the fast path, two "
               "scheduler steps, two kernel entries and the model's virtual-time charges "
               "(docs/benchmarks.md, 'What bounds the C path')")
SIMPY_SOURCE = ("pyl4re's own goal: a system of µApps in pyl4re should run clearly faster "
                "than the same exchange in a plain discrete-event simulator, SimPy's Store, "
                "measured in this run")
SIMPY_BOUND = ("the Python interpreter: a µApp<->µApp round trip is two kernel entries (in "
               "C, pyl4re/_entry.c) and two coroutine switches plus the µApps' own code; "
               "µApp calls to a native server (no switch) reach {native}x (docs/benchmarks.md, "
               "'What bounds the Python path')")
PY_FLOOR_SOURCE = ("pyl4re's own goal: the µApp path costs at most twice the least CPython "
                   "allows for the same exchange, the Python floor measured in this run (two "
                   "coroutines, the same number of awaits and of cffi calls into a no-op)")
PY_FLOOR_BOUND = ("what the real exchange does beyond the floor's no-op call and await: "
                  "two l4sys calls with their argument checks, the kernel's own work in the "
                  "entry, the answer read and the run loop's switch, all in C for the "
                  "common case (docs/benchmarks.md, 'What bounds the Python path')")
NATIVE_SOURCE = ("pyl4re's own goal: a µApp calling a native server (no coroutine switch) "
                 "runs an order of magnitude faster than SimPy's Store round trip")
NATIVE_BOUND = ("one l4sys call per round trip: its argument checks and the kernel entry "
                "with the native server's step inside it (docs/benchmarks.md, 'What bounds "
                "the Python path')")
UAPP_VS_FLOOR, UAPP_VS_SIMPY, NATIVE_VS_SIMPY = 2, 5, 12


def targets(results):
    """The IPC targets, with the value measured in this run: a list of {"name", "value",
    "holds", "source", "bound"} (holds is None where it could not be measured; bound only
    matters where it does not hold)."""
    out = []
    refs = results["references"]
    simpy = refs.get("simpy_store_round_trip", {}).get("median_ns")
    for arch, cases in results["arches"].items():
        floor = cases["c_floor"]["median_ns"]
        native = cases["native_round_trip"]["median_ns"]
        out.append({"name": f"{arch}: C IPC round trip <= 10x the C floor",
                    "value": f"{native / floor:.1f}x", "holds": native <= 10 * floor,
                    "source": FLOOR_SOURCE, "bound": FLOOR_BOUND})
        uapp = cases["uapp_round_trip"]["median_ns"]
        py_floor = cases.get("python_floor", {}).get("median_ns")
        out.append({"name": f"{arch}: µApp<->µApp round trip <= {UAPP_VS_FLOOR}x the Python "
                            f"floor",
                    "value": f"{uapp / py_floor:.2f}x" if py_floor else "not measured",
                    "holds": uapp <= UAPP_VS_FLOOR * py_floor if py_floor else None,
                    "source": PY_FLOOR_SOURCE, "bound": PY_FLOOR_BOUND})
        to_native = cases.get("uapp_to_native_round_trip", {}).get("median_ns")
        out.append({"name": f"{arch}: µApp<->µApp round trip >= {UAPP_VS_SIMPY}x faster "
                            f"than SimPy Store",
                    "value": f"{simpy / uapp:.2f}x" if simpy else "SimPy not installed",
                    "holds": simpy / uapp >= UAPP_VS_SIMPY if simpy else None,
                    "source": SIMPY_SOURCE,
                    "bound": SIMPY_BOUND.format(
                        native=f"{simpy / to_native:.1f}" if simpy and to_native else "?")})
        if to_native:
            out.append({"name": f"{arch}: µApp->native round trip >= {NATIVE_VS_SIMPY}x "
                                f"faster than SimPy Store",
                        "value": f"{simpy / to_native:.2f}x" if simpy else
                                 "SimPy not installed",
                        "holds": simpy / to_native >= NATIVE_VS_SIMPY if simpy else None,
                        "source": NATIVE_SOURCE, "bound": NATIVE_BOUND})
    return out


def fmt_ns(v):
    """A ns figure as the tables print it: whole ns from 100 up, tenths below."""
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def print_report(results, cases, out, more=None):
    """The report; `more(out)` prints further tables before the targets."""
    m = results["machine"]
    refs = results["references"]
    simpy = refs.get("simpy_store_round_trip", {}).get("median_ns")
    aio = refs["asyncio_queue_round_trip"]["median_ns"]
    print(f"pyl4re bench on {m['description']}", file=out)
    print("host ns per operation: median [min..max] over repeated runs after a warm-up; "
          "virtual ns the model charged", file=out)
    awaits = refs.get("awaits_floor_round_trip", {}).get("median_ns")
    print(f"references (same run): asyncio.Queue round trip {fmt_ns(aio)} ns"
          + (f", SimPy Store round trip {fmt_ns(simpy)} ns" if simpy else
             ", SimPy not installed (pip install -e '.[bench]')")
          + (f", two coroutines' awaits alone {fmt_ns(awaits)} ns per round trip"
             if awaits else ""), file=out)
    for arch, figures in results["arches"].items():
        floor = figures["c_floor"]["median_ns"]
        py_floor = figures.get("python_floor", {}).get("median_ns")
        print(f"\n{arch}  (C floor {fmt_ns(floor)} ns"
              + (f", Python floor {fmt_ns(py_floor)} ns" if py_floor else "") + ")", file=out)
        print(f"  {'case':40s} {'median ns':>11s} {'[min..max]':>22s} {'virtual ns':>11s}"
              f"  ratios", file=out)
        for case in cases:
            c = figures.get(case.key)
            if c is None:
                continue
            ratios = [f"{c['median_ns'] / floor:.1f}x floor"]
            if case.peer:
                ref, name = (simpy, "SimPy") if simpy else (aio, "asyncio")
                ratios.append(f"{ref / c['median_ns']:.2f}x faster than {name}")
            spread = f"[{fmt_ns(c['min_ns'])}..{fmt_ns(c['max_ns'])}]"
            print(f"  {case.label:40s} {fmt_ns(c['median_ns']):>11s} {spread:>22s} "
                  f"{c['virtual_ns']:11,.0f}  {', '.join(ratios)}", file=out)
    counts = results.get("instructions")
    if counts:
        print("\ninstructions per native <-> native 2-word round trip (callgrind, "
              f"{next(iter(counts.values()))['valgrind']}: exact, whatever the load)", file=out)
        for arch, c in counts.items():
            print(f"  {arch:8s} {c['instructions_per_round_trip']:8,.0f}", file=out)
    elif counts is None:
        print("\ninstruction counts: valgrind is not installed (apt install valgrind)",
              file=out)
    if more:
        more(out)
    print("\ntargets (each with where it comes from; one that does not hold says what "
          "bounds it)", file=out)
    for t in results["targets"]:
        verdict = {True: "holds", False: "does not hold", None: "not measured"}[t["holds"]]
        print(f"  {t['name']}: {t['value']} -> {verdict}", file=out)
        print(f"      from: {t['source']}", file=out)
        if t["holds"] is False:
            print(f"      bounded by: {t['bound']}", file=out)
