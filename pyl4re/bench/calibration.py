"""`pyl4re bench --platform`: ipcbench run in the model under platform profiles, next to
the cycles L4Re published for each machine, with the deviation and a verdict per figure.

Virtual time is deterministic, so one run per profile is the figure (no repetitions).
"""
import sys

from .. import _core, platforms
from . import ipcbench

TOLERANCE = 0.05             # a calibrated figure holds within 5 % of the published one
# The published figure each scenario reproduces (ipcbench's per-operation counter).
FIGURES = (("1AS", "intra", "IPC, one task"), ("2AS", "inter", "IPC, two tasks"),
           ("syscall", "syscall", "syscall"))


def calibrate(profile, rounds=ipcbench.NUM_ROUNDS):
    """Runs ipcbench under one profile: its lines and one row per published figure."""
    results = ipcbench.run(profile.arch, profile.name, rounds=rounds)
    rows = []
    for scenario, attr, what in FIGURES:
        modelled = results[scenario][0].per_op(profile)
        published = getattr(profile, attr)
        deviation = modelled / published - 1
        rows.append({"platform": profile.name, "figure": what, "published": published,
                     "model": modelled, "deviation": deviation,
                     "holds": abs(deviation) <= TOLERANCE})
    return results, rows


def selected(name):
    """The profiles `--platform NAME` asks for (all for "all"), built architectures only."""
    built = _core.available_arches()
    if name == "all":
        return [p for p in platforms.PLATFORMS.values() if p.arch in built]
    for arch in built:
        try:
            profile = platforms.lookup(name, arch)
        except ValueError:
            continue
        if profile is None:
            raise ValueError("--platform model has no published figures to compare with; "
                             f"name a profile: {', '.join(platforms.PLATFORMS)}")
        return [profile]
    raise ValueError(f"--platform {name!r}: not a profile of a built architecture "
                     f"({', '.join(platforms.PLATFORMS)})")


def run(name="all", out=None, rounds=ipcbench.NUM_ROUNDS, lines=True):
    """Prints ipcbench's lines per profile, then the calibration table; returns the rows."""
    out = out or sys.stdout
    rows = []
    for profile in selected(name):
        results, profile_rows = calibrate(profile, rounds)
        rows += profile_rows
        if lines:
            print(f"== ipcbench on {profile.name} ({profile.machine}, {profile.ghz:g} GHz, "
                  f"modelled as {profile.arch})", file=out)
            ipcbench.print_lines(results, profile, out)
            print(file=out)
    print_table(rows, out)
    return rows


def print_table(rows, out):
    print("| platform | figure | published cycles | model cycles | deviation | verdict |",
          file=out)
    print("|---|---|---|---|---|---|", file=out)
    for r in rows:
        print(f"| {r['platform']} | {r['figure']} | {r['published']} | {r['model']:.1f} | "
              f"{r['deviation']:+.2%} | {'holds' if r['holds'] else 'does not hold'} |",
              file=out)
    held = sum(r["holds"] for r in rows)
    print(f"\n{held} of {len(rows)} figures within {TOLERANCE:.0%} of the published ones "
          f"(L4Re ipcbench, l4re.org Performance Overview); mips64: no published figures, "
          f"only the model table.", file=out)
