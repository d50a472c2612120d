"""Mutating a fuzz case: the coverage-guided fuzzer's way to new cases from ones that
reached new edges of the C core (pyl4re/fuzz/coverage.py).

A case is plain data, so a mutant is one too: the case with one to four of these changes:

- redraw: one µApp's program drawn afresh;
- crossover: one µApp's program replaced by a program of another corpus case;
- insert, insert_run: one freshly drawn op, or up to 32, at a random place of a program;
- delete: one op or a run of up to eight;
- splice: a run of up to 32 ops of another corpus case, inserted;
- change: one field of an op taken from a fresh op of the same kind (so every field keeps
  a value its op can take: an `io` op's size stays 1, 2 or 4);
- event: a harness event added, dropped or moved in virtual time;
- prio, cpus, apps: a µApp's priority re-drawn, one CPU or two, a fuzz µApp more (with a
  fresh program) or fewer (two to four, as drawn).

Every choice comes from the `random.Random` passed in, so a seed fixes the mutants.
"""
import copy

from . import program
from .case import EVENTS

MAX_OPS = 400                        # per program: mutants grow by inserts and splices
MAX_EVENTS = 8
KINDS = ("redraw", "crossover", "insert", "insert_run", "delete", "splice", "change",
         "change", "event", "prio", "cpus", "apps")


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


def _insert_run(m, rnd, corpus):
    ops = _program(m, rnd)
    at = rnd.randrange(len(ops) + 1)
    ops[at:at] = program.draw(rnd, rnd.randrange(1, 33))[:MAX_OPS - len(ops)]


def _redraw(m, rnd, corpus):
    i = rnd.randrange(len(m["programs"]))
    m["programs"][i] = program.draw(rnd, rnd.randrange(1, 201))


def _crossover(m, rnd, corpus):
    donor = rnd.choice(corpus) if corpus else m
    i = rnd.randrange(len(m["programs"]))
    m["programs"][i] = list(donor["programs"][rnd.randrange(len(donor["programs"]))])


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


def _cpus(m, rnd, corpus):
    m["cpus"] = 3 - m["cpus"]


def _apps(m, rnd, corpus):
    """A fuzz µApp more (a fresh program) or one fewer (2 to 4, as drawn)."""
    n = len(m["programs"])
    if n < 4 and (n == 2 or rnd.random() < 0.5):
        m["programs"].append(program.draw(rnd, rnd.randrange(1, 201)))
        m["prios"].append(rnd.randrange(1, 4))
    elif n > 2:
        del m["programs"][-1], m["prios"][-1]
        for e in m["events"]:
            e[2] %= n - 1


def _prio(m, rnd, corpus):
    m["prios"][rnd.randrange(len(m["prios"]))] = rnd.randrange(1, 4)


_MUTATIONS = {"insert": _insert, "insert_run": _insert_run, "redraw": _redraw,
              "crossover": _crossover, "cpus": _cpus, "apps": _apps, "delete": _delete, "splice": _splice, "change": _change,
              "event": _event, "prio": _prio}
