"""Mutating a fuzz case: the coverage-guided fuzzer's way to new cases from ones that
reached new edges of the C core (pyl4re/fuzz/coverage.py).

A case is plain data, so a mutant is one too: the same systems (architecture, CPUs, fuzz
µApps) with a few of these changes to its ops and events:

- insert: a freshly drawn op at a random place of one program;
- delete: one op or a run of up to eight;
- splice: a run of up to 32 ops of another corpus case, inserted;
- change: one field of an op taken from a fresh op of the same kind (so every field keeps
  a value its op can take: an `io` op's size stays 1, 2 or 4);
- event: a harness event added, dropped or moved in virtual time;
- prio: a µApp's priority re-drawn.

Every choice comes from the `random.Random` passed in, so a seed fixes the mutants.
"""
import copy

from . import program
from .case import EVENTS

MAX_OPS = 400                        # per program: mutants grow by inserts and splices
MAX_EVENTS = 8
KINDS = ("insert", "insert", "delete", "splice", "change", "change", "change", "event",
         "prio")


def mutate(c, rnd, corpus=()):
    """A mutant of case `c`: one to four changes (KINDS), splices from `corpus`."""
    m = copy.deepcopy(c)
    for _ in range(rnd.choice((1, 1, 2, 3, 4))):
        _MUTATIONS[rnd.choice(KINDS)](m, rnd, corpus)
    return m


def _program(m, rnd):
    return m["programs"][rnd.randrange(len(m["programs"]))]


def _insert(m, rnd, corpus):
    ops = _program(m, rnd)
    if len(ops) < MAX_OPS:
        ops.insert(rnd.randrange(len(ops) + 1), program.draw_op(rnd))


def _delete(m, rnd, corpus):
    ops = _program(m, rnd)
    if ops:
        i = rnd.randrange(len(ops))
        del ops[i:i + rnd.choice((1, 1, 1, 2, 4, 8))]


def _splice(m, rnd, corpus):
    donor = rnd.choice(corpus) if corpus else m
    src = _program(donor, rnd)
    ops = _program(m, rnd)
    if src:
        start = rnd.randrange(len(src))
        run = src[start:start + rnd.randrange(1, 33)][:MAX_OPS - len(ops)]
        at = rnd.randrange(len(ops) + 1)
        ops[at:at] = run


def _change(m, rnd, corpus):
    ops = _program(m, rnd)
    if not ops:
        return _insert(m, rnd, corpus)
    i = rnd.randrange(len(ops))
    op = ops[i]
    fresh = program.draw_op(rnd, op[0])
    if len(op) > 1:
        j = rnd.randrange(1, len(op))
        ops[i] = op[:j] + (fresh[j],) + op[j + 1:]


def _event(m, rnd, corpus):
    events = m["events"]
    r = rnd.random()
    if events and r < 0.3:
        del events[rnd.randrange(len(events))]
    elif events and r < 0.6:
        events[rnd.randrange(len(events))][0] = rnd.randrange(0, 2_000_000)
    elif len(events) < MAX_EVENTS:
        events.append([rnd.randrange(0, 2_000_000), rnd.choice(EVENTS),
                       rnd.randrange(len(m["programs"])), rnd.getrandbits(16)])
    events.sort()


def _prio(m, rnd, corpus):
    m["prios"][rnd.randrange(len(m["prios"]))] = rnd.randrange(1, 4)


_MUTATIONS = {"insert": _insert, "delete": _delete, "splice": _splice, "change": _change,
              "event": _event, "prio": _prio}
