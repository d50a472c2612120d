"""How every benchmark figure is taken: a warm-up run, then repeated runs, summarised as
median and spread; and the progress bar that shows a long report is still moving."""
import statistics
import sys


WARM_CALLS = 8     # CPython 3.11 specialises a code object's bytecode after ~8 calls


def measure(fn, repeats, warm=None):
    """fn() -> (host ns per op, virtual ns per op). One warm-up run, then `repeats` runs:
    median, min and max of the host figure, and the virtual time of the last run.
    `warm`: a small run of the same code, made WARM_CALLS times first, so every run is
    timed with specialised bytecode (a µApp's code or a reference's coroutine is called
    once per run and loops inside: without this the first runs are timed unspecialised)."""
    for _ in range(WARM_CALLS if warm else 0):
        warm()
    fn()
    runs = [fn() for _ in range(repeats)]
    host = [r[0] for r in runs]
    return {"median_ns": statistics.median(host), "min_ns": min(host), "max_ns": max(host),
            "virtual_ns": runs[-1][1], "repeats": repeats}


class Progress:
    """A one-line bar on stderr, drawn only when stderr is a terminal (so logs and pipes
    stay clean): `step(what)` after each figure."""

    def __init__(self, total, stream=None, width=30):
        self.total, self.done, self.width = max(total, 1), 0, width
        self.stream = stream or sys.stderr
        self.active = hasattr(self.stream, "isatty") and self.stream.isatty()

    def step(self, what=""):
        self.done += 1
        if not self.active:
            return
        filled = self.width * self.done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} {what[:40]:40s}")
        self.stream.flush()

    def close(self):
        if self.active:
            self.stream.write("\r" + " " * (self.width + 50) + "\r")
            self.stream.flush()
