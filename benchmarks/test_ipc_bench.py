"""pytest-benchmark suites for the cases of `pyl4re bench` (`pytest benchmarks/
--benchmark-only`), kept out of the default test run (pyproject's testpaths is tests/).

A round is one run of a case's system, built fresh and untimed before it: a round's time
is that of `SMALL` ops of the case together with the start of its threads (the report,
`pyl4re bench`, gives the figures per op)."""
import pytest

from pyl4re import _core
from pyl4re.bench import guest_cases, references
from pyl4re.bench.ipc_cases import CASES

ARCHES = _core.available_arches()
SMALL = {case.key: case.ops_per_run(True) // 10 for case in CASES}   # a tenth of --quick


@pytest.mark.parametrize("arch", ARCHES)
def test_c_floor(benchmark, arch):
    lib = _core.load(arch)[1]
    benchmark(lib.bench_floor, 10_000, 2)


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("case", CASES, ids=[case.key for case in CASES])
def test_case(benchmark, arch, case):
    def build():
        return (case.build(arch, SMALL[case.key]),), {}

    def run(system):
        system.k.run()
        assert system.done() == SMALL[case.key]

    benchmark.pedantic(run, setup=build, rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("arch", guest_cases.available())
@pytest.mark.parametrize("case", guest_cases.GUEST_CASES,
                         ids=[case.key for case in guest_cases.GUEST_CASES])
def test_guest_case(benchmark, arch, case):
    ops = case.ops_per_run(True) // 10

    def build():
        return (case.build(arch, ops),), {}

    def run(system):
        system.k.run()
        assert system.done() >= ops

    benchmark.pedantic(run, setup=build, rounds=5, warmup_rounds=1)


def test_asyncio_queue_round_trips(benchmark):
    benchmark.pedantic(references.asyncio_queue, args=(1_000,), rounds=5, warmup_rounds=1)
