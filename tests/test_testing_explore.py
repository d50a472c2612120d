"""Seeded exploration (pyl4re.testing.explore): a race that only some schedules show is
found within 100 seeds, and its seed replays it."""
import pytest
from hypothesis import given, settings

import pyl4re
from pyl4re import Kernel, mem
from pyl4re.testing import explore, seed_strategy, SeedFailure

COUNTER = 0x900000
ROUNDS = 50


async def increment_worker():
    """A read-modify-write with a window in it: a preemption there loses an update."""
    for _ in range(ROUNDS):
        await pyl4re.compute(1_000_000)           # work outside the critical section
        value = await mem.load(COUNTER, 8)
        await pyl4re.compute(20_000)              # the window
        await mem.store(COUNTER, value + 1, 8)


def racy_system(k):
    """Two threads of one task increment a shared counter without a lock."""
    async def main(env):
        await mem.store(COUNTER, 0, 8)
        k.start_thread(task, increment_worker, "second")
        await increment_worker()

    task = k.start_task(main, name="first")
    k.run()
    total = int(k.physmem[COUNTER:COUNTER + 8].view("uint64")[0])
    assert total == 2 * ROUNDS, f"lost updates: the counter is {total}, not {2 * ROUNDS}"


def racy_counter(seed, arch="x86_64"):
    racy_system(Kernel(arch=arch, memory=16 << 20, seed=seed))


def test_the_canonical_schedule_hides_the_race(arch):
    racy_counter(None, arch)


def test_explore_finds_the_race_and_its_seed_replays_it(arch):
    found = explore(lambda seed: racy_counter(seed, arch), seeds=range(100))
    assert not found.ok and found.seed < 100 and found.ran == found.seed + 1
    assert found.error.startswith("AssertionError: lost updates: the counter is ")
    assert "racy_counter" in found.traceback
    with pytest.raises(AssertionError) as again:       # the seed replays the failure
        racy_counter(found.seed, arch)
    assert found.error == f"AssertionError: {again.value}"
    with pytest.raises(SeedFailure, match=f"seed {found.seed} fails after {found.ran} seed"):
        found.check()
    for seed in range(found.seed):                     # the seeds before it pass
        racy_counter(seed, arch)


def test_workers_report_the_same_first_seed():
    one = explore(racy_counter, seeds=range(100))
    two = explore(racy_counter, seeds=range(100), workers=2)
    assert (two.seed, two.error, two.ran) == (one.seed, one.error, one.ran)


def test_a_passing_exploration():
    result = explore(racy_counter, seeds=[], workers=2)
    assert result.ok and result.ran == 0 and result.check() is result
    fine = explore(lambda seed: None, seeds=range(20), workers=2)
    assert fine.ok and fine.ran == 20


@pytest.mark.parametrize("kwargs, error, match", [
    ({"seeds": [-1]}, ValueError, "a seed is an int"),
    ({"seeds": [1 << 64]}, ValueError, "a seed is an int"),
    ({"seeds": ["1"]}, ValueError, "a seed is an int"),
    ({"workers": 0}, ValueError, "workers must be a positive int"),
    ({"workers": 1.5}, ValueError, "workers must be a positive int"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        explore(racy_counter, **kwargs)
    with pytest.raises(TypeError, match="scenario must be a callable"):
        explore("racy_counter")


@settings(max_examples=30, deadline=None)
@given(seed=seed_strategy())
def test_the_seed_strategy_gives_kernel_seeds(seed):
    assert 0 <= seed < 1 << 64
    assert Kernel(memory=16 << 20, seed=seed).seed == seed


def test_an_executor_of_processes_reports_the_same_first_seed():
    """The engine a user brings (here the standard library's process pool: a local
    cluster of processes) explores the same seeds in the same order."""
    from concurrent.futures import ProcessPoolExecutor
    one = explore(racy_counter, seeds=range(100))
    with ProcessPoolExecutor(2) as pool:
        on_pool = explore(racy_counter, seeds=range(100), executor=pool, window=4)
        fine = explore(passes, seeds=range(10), executor=pool)
    assert (on_pool.seed, on_pool.error, on_pool.ran) == (one.seed, one.error, one.ran)
    assert fine.ok and fine.ran == 10
    with pytest.raises(TypeError, match="executor must have submit"):
        explore(racy_counter, executor=object())
    with pytest.raises(ValueError, match="window must be a positive int"):
        explore(racy_counter, executor=pool, window=0)


def passes(seed):
    pass


def test_a_dask_cluster_explores_too():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        found = explore(racy_counter, seeds=range(100), executor=client.get_executor())
    here = explore(racy_counter, seeds=range(100))
    assert (found.seed, found.error, found.ran) == (here.seed, here.error, here.ran)
