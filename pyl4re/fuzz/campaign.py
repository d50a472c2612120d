"""`pyl4re fuzz`: runs cases seed after seed for a time budget, in one or more processes,
and turns each finding into a shrunk, runnable reproducer.

Seeds are dealt round-robin (worker w of n takes seeds N+w, N+w+n, ...), so a campaign
with the same `--seed` and `--workers` draws the same cases; findings are merged and
reported per kind with their reproducer files. With `--coverage` each worker keeps its
own corpus (coverage.Guide) and the edges reported are the union of the workers'.
"""
import argparse
import multiprocessing
import os
import sys
import time

from .. import _core
from . import case as fuzz_case
from . import coverage as coverage_mod
from . import shrink


def campaign(arch, seconds, first_seed=0, step=1, out_dir=None, max_cases=None,
             coverage=None):
    """Cases of `arch` from `first_seed` on, every `step`th, for `seconds` (or
    `max_cases`). With `coverage` ("guided" or "count", in the coverage build) a
    coverage.Guide picks the cases. Returns a summary dict (cases, invocations, refused,
    findings; with coverage also edges, corpus, mutants and the edge bitmap)."""
    stats = {"invocations": 0, "refused": 0}
    findings, cases = [], 0
    guide = coverage_mod.Guide(arch, first_seed, coverage) if coverage else None
    deadline = time.monotonic() + seconds
    seed = first_seed
    while time.monotonic() < deadline and (max_cases is None or cases < max_cases):
        if guide:
            c, fresh = guide.next_case(seed)
        else:
            c, fresh = fuzz_case.draw(arch, seed), True
        failed = False
        try:
            fuzz_case.run(c, stats)
        except fuzz_case.Finding as f:
            failed = True
            findings.append(_finding(c, f, out_dir))
        if guide:
            guide.ran(c, failed)
        cases += 1
        if fresh:
            seed += step
    return {"arch": arch, "cases": cases, "findings": findings, **stats,
            **(guide.summary() if guide else {})}


def _finding(c, f, out_dir):
    """Shrinks a failing case and writes its reproducer (into `out_dir`, if given)."""
    small = shrink.shrink(c, f.kind)
    try:
        fuzz_case.run(small)
        small, detail = c, f            # did not shrink to the same finding
    except fuzz_case.Finding as again:
        detail = again
    name = f"{c['seed']}" + (f"m{c['mutant']}" if "mutant" in c else "")
    path = None
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, f"fuzz_{c['arch']}_{name}_{f.kind}.py")
        with open(path, "w") as fh:
            fh.write(shrink.reproducer(small, detail))
    return {"arch": c["arch"], "seed": c["seed"], "mutant": c.get("mutant"), "kind": f.kind,
            "detail": detail.detail, "reproducer": path}


def _worker(args):
    return campaign(*args)


def add_arguments(p):
    p.add_argument("--arch", action="append", choices=_core.ARCHES,
                   help="architecture to fuzz (repeatable; default: every built one)")
    p.add_argument("--seconds", type=float, default=60, help="time per architecture")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--workers", type=int, default=1, help="processes per architecture")
    p.add_argument("--out", default="fuzz-findings", help="where reproducers go")
    p.add_argument("--sanitized", action="store_true",
                   help="run under the ASan+UBSan build (needs a source checkout)")
    p.add_argument("--coverage", nargs="?", const="guided", choices=coverage_mod.MODES,
                   help="coverage-guided (default: guided): keep the cases that reach new "
                   "edges of the C core and mutate them; 'count' only counts the edges of "
                   "random cases. Builds the coverage core into build/coverage on first "
                   "use (needs a source checkout)")


def main(argv=None):
    p = argparse.ArgumentParser(prog="pyl4re fuzz", description=DESCRIPTION)
    add_arguments(p)
    return run_args(p.parse_args(argv), p.error)


DESCRIPTION = ("Random kernel invocations from several µApps and a native server at once, "
               "with harness events and wrong values, checked by the oracles (invariants, "
               "mapping database, rights, leaks). Findings are shrunk and written as "
               "runnable reproducers.")


def run_args(a, error=None):
    msg = None
    if a.workers < 1 or a.seconds <= 0:
        msg = "--workers must be >= 1 and --seconds > 0"
    elif a.sanitized and a.coverage:
        msg = "--sanitized and --coverage are different builds: choose one"
    if msg:
        if error:
            error(msg)
        raise SystemExit(f"pyl4re fuzz: {msg}")
    argv = ["--seconds", str(a.seconds), "--seed", str(a.seed), "--workers",
            str(a.workers), "--out", a.out]
    for arch in a.arch or ():
        argv += ["--arch", arch]
    if a.sanitized:
        return _rerun_sanitized(argv)
    arches = a.arch or list(_core.available_arches())
    if a.coverage and not all(coverage_mod.available(arch) for arch in arches):
        return coverage_mod.rerun(argv + ["--coverage", a.coverage], arches)
    total = 0
    for arch in arches:
        jobs = [(arch, a.seconds, a.seed + w, a.workers, a.out, None, a.coverage)
                for w in range(a.workers)]
        if a.workers == 1:
            results = [_worker(jobs[0])]
        else:
            with multiprocessing.get_context("spawn").Pool(a.workers) as pool:
                results = pool.map(_worker, jobs)
        cases = sum(r["cases"] for r in results)
        inv = sum(r["invocations"] for r in results)
        refused = sum(r["refused"] for r in results)
        found = [f for r in results for f in r["findings"]]
        total += len(found)
        print(f"{arch}: {cases} cases, {inv} invocations ({refused} refused before the "
              f"kernel) in {a.seconds:g} s x {a.workers} worker(s): {len(found)} finding(s)")
        if a.coverage:
            edges = coverage_mod.merged_edges([r["bitmap"] for r in results])
            print(f"  coverage ({a.coverage}): {edges} edges of the C core reached; "
                  f"{sum(r['mutants'] for r in results)} mutants, corpus of "
                  f"{sum(r['corpus'] for r in results)} case(s)")
        for f in found:
            mutant = f" (mutant {f['mutant']})" if f.get("mutant") else ""
            print(f"  seed {f['seed']}{mutant} {f['kind']}: {f['detail']}"[:300])
            if f["reproducer"]:
                print(f"    reproducer: {f['reproducer']}")
    return 1 if total else 0


def _rerun_sanitized(argv):
    """Re-executes this command under tools/sanitize (the ASan+UBSan build)."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    tool = os.path.join(here, "tools", "sanitize")
    if not os.path.exists(tool):
        print("--sanitized needs a source checkout (tools/sanitize builds the ASan build)",
              file=sys.stderr)
        return 2
    os.execv("/bin/bash", ["bash", tool, "--run", "-m", "pyl4re", "fuzz", *argv])
