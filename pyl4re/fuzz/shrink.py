"""Shrinking a failing case and writing it out as a script anyone can run.

Shrinking is greedy delta debugging over the case's data: drop whole programs' tails,
then chunks of ops (halving the chunk size), then single ops and events, keeping every
cut after which the case still fails with the same kind of finding. A case is plain data,
so the shrunk one is written verbatim into the reproducer.
"""
import copy
import pprint

from . import case as fuzz_case


def _fails(c, kind):
    try:
        fuzz_case.run(c)
    except fuzz_case.Finding as f:
        return f.kind == kind
    return False


def shrink(c, kind, budget=400):
    """The smallest case found (within `budget` runs) that fails with `kind`."""
    c = copy.deepcopy(c)
    runs = 0

    def attempt(candidate):
        nonlocal runs
        runs += 1
        return _fails(candidate, kind)

    changed = True
    while changed and runs < budget:
        changed = False
        if len(c["events"]) and runs < budget:
            for i in reversed(range(len(c["events"]))):
                cand = copy.deepcopy(c)
                del cand["events"][i]
                if attempt(cand):
                    c, changed = cand, True
        for p in range(len(c["programs"])):
            size = max(1, len(c["programs"][p]) // 2)
            while size >= 1 and runs < budget:
                i = 0
                while i < len(c["programs"][p]) and runs < budget:
                    cand = copy.deepcopy(c)
                    del cand["programs"][p][i:i + size]
                    if attempt(cand):
                        c, changed = cand, True
                    else:
                        i += size
                size //= 2
    return c


def reproducer(c, finding):
    """A runnable script that replays the case and shows the finding again."""
    return (f'"""pyl4re fuzz finding on {c["arch"]} (seed {c["seed"]}): {finding.kind}\n\n'
            f'{finding.detail}\n\nRun: python this_file.py  (raises the finding again)\n"""\n'
            "from pyl4re.fuzz import case\n\n"
            f"CASE = {pprint.pformat(c, width=96, compact=True)}\n\n"
            'if __name__ == "__main__":\n'
            "    case.run(CASE)\n"
            '    print("no finding: fixed")\n')
