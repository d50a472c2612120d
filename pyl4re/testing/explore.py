"""Seeded schedule exploration: run one scenario under many seeds and report the first seed
whose schedule makes it fail, so a race is found once and then replayed at will.

A scenario is a function of one argument, the seed, that builds a Kernel with
`Kernel(seed=seed)`, runs it and raises (an assertion, a MicroAppError) when the system
misbehaves. The kernel's seeded choices (kernel_c/seed.c) make each seed one legal
schedule, the same every time, so `scenario(result.seed)` fails again exactly as it did.

`workers=N` runs the seeds in N processes of Python's multiprocessing (fork where the
platform has it, so a scenario may be a closure; elsewhere it must be picklable).
`executor=` hands them to an engine the user runs instead: anything with the
concurrent.futures interface (`submit`, futures with `result` and `cancel`), such as a
`ProcessPoolExecutor` or a Dask cluster's `client.get_executor()` (the scenario must then
be picklable by that engine). Either way the seeds are judged in order, so the seed
reported is the first failing one whatever the parallelism. `seed_strategy()` is the
same space of seeds for Hypothesis.
"""
import collections
import multiprocessing
import traceback
from dataclasses import dataclass

SEED_LIMIT = 1 << 64


class SeedFailure(AssertionError):
    """A scenario failed under a seed; the message says which, and how to replay it."""


@dataclass(frozen=True)
class Exploration:
    """What explore() found: `ran` seeds tried; for the first failing one, its `seed`,
    the error as `error` ("Type: message") and `traceback` text. `ok` if none failed."""
    ran: int
    seed: object = None
    error: str = None
    traceback: str = None

    @property
    def ok(self):
        return self.seed is None

    def check(self):
        """Raise SeedFailure if a seed failed (for a test: `explore(...).check()`)."""
        if not self.ok:
            raise SeedFailure(f"seed {self.seed} fails after {self.ran} seed(s): {self.error}\n"
                              f"replay it with the same scenario and Kernel(seed={self.seed})"
                              f"\n{self.traceback}")
        return self


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"a seed is an int in 0..2**64-1, not {seed!r}")
    return seed


def run_seed(scenario, seed):
    """(seed, None, None) if scenario(seed) passes, else (seed, "Type: message", traceback)."""
    try:
        scenario(seed)
    except Exception as exc:
        return seed, f"{type(exc).__name__}: {exc}", traceback.format_exc()
    return seed, None, None


_scenario = None           # the scenario a forked worker inherits


def _worker(seed):
    return run_seed(_scenario, seed)


def _explore_on(executor, scenario, seeds, window):
    """Seeds on a concurrent.futures-style executor, at most `window` in flight, judged
    in order; what is still in flight after the first failure is cancelled."""
    pending = collections.deque()
    todo = iter(seeds)
    ran = 0
    try:
        while True:
            while len(pending) < window:
                seed = next(todo, None)
                if seed is None:
                    break
                pending.append(executor.submit(run_seed, scenario, seed))
            if not pending:
                return Exploration(ran)
            seed, error, tb = pending.popleft().result()
            ran += 1
            if error:
                return Exploration(ran, seed, error, tb)
    finally:
        for future in pending:
            future.cancel()


def explore(scenario, seeds=range(100), workers=1, executor=None, window=16):
    """Run `scenario(seed)` for each seed in order until one fails; see the module doc.
    With `executor`, `window` seeds at the most are in flight on it at a time."""
    global _scenario
    if not callable(scenario):
        raise TypeError("scenario must be a callable taking a seed")
    seeds = [_check_seed(s) for s in seeds]
    for value, name in ((workers, "workers"), (window, "window")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, not {value!r}")
    if executor is not None:
        if not callable(getattr(executor, "submit", None)):
            raise TypeError("executor must have submit() (a concurrent.futures.Executor, "
                            "or a Dask client's get_executor())")
        return _explore_on(executor, scenario, seeds, window)
    ran = 0
    if workers == 1 or len(seeds) < 2:
        for seed in seeds:
            ran += 1
            _, error, tb = run_seed(scenario, seed)
            if error:
                return Exploration(ran, seed, error, tb)
        return Exploration(ran)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    _scenario = scenario
    try:
        with ctx.Pool(workers) as pool:
            if ctx.get_start_method() == "fork":
                results = pool.imap(_worker, seeds)
            else:
                results = pool.starmap(run_seed, [(scenario, s) for s in seeds])
            for seed, error, tb in results:       # in seed order: the first is the first
                ran += 1
                if error:
                    pool.terminate()
                    return Exploration(ran, seed, error, tb)
    finally:
        _scenario = None
    return Exploration(ran)


def seed_strategy():
    """A Hypothesis strategy over kernel seeds (shrinks towards 0):
    `@given(seed=seed_strategy())`."""
    from hypothesis import strategies as st
    return st.integers(min_value=0, max_value=SEED_LIMIT - 1)
