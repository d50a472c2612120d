"""How a benchmark case's system is timed: a built system (`System`: its kernel, a count of
the operations done so far, its tasks) is run through boot and its first operations, and
only the rest is measured. Building systems is the cases' job (ipc_cases.py,
mem_cases.py), not this file's."""
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class System:
    """A case's system, built and not run yet. `done()` says how many operations have
    finished so far; `tasks` are its parts by name, for tests to look at."""
    k: object
    done: Callable[[], int]
    tasks: dict = field(default_factory=dict)
    start: tuple = None        # (ops done, host ns, virtual ns) where mark() was called

    def mark(self):
        """Start the timed part here. For a µApp that never waits (its kernel objects'
        invocations all end at once, so it does every op without going back to the run
        loop): it calls this itself after its set-up."""
        self.start = (self.done(), time.perf_counter_ns(), self.k.now_ns)


def counter():
    """A count µApps bump (`n[0] += 1`), and the `done` that reads it: (n, done)."""
    n = [0]
    return n, lambda: n[0]


def native_count(handle):
    """The `done` of a native program: its thread's count (calls, messages, pages)."""
    return lambda: handle.thread.native_count


def timed_run(s):
    """Run s to the end; host and virtual ns per operation. Boot and the first operations
    are run first and not counted (or what comes before s.mark()): only the operations
    done in the timed part are."""
    s.k.run(max_steps=100)
    n0, t0, v0 = s.start or (s.done(), time.perf_counter_ns(), s.k.now_ns)
    s.k.run()
    dt, dv, n = time.perf_counter_ns() - t0, s.k.now_ns - v0, s.done() - n0
    if n <= 0:
        raise RuntimeError("the case did no operation in its timed part: it is broken, or "
                           "has too few operations to measure")
    return dt / n, dv / n
