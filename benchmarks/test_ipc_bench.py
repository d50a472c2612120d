"""pytest-benchmark suites for IPC round trips (`pytest benchmarks/ --benchmark-only`),
kept out of the default test run (pyproject's testpaths is tests/)."""
import pytest

from pyl4re import _core
from pyl4re.bench import references
from pyl4re.bench.ipc_cases import round_trips

ARCHES = _core.available_arches()


@pytest.mark.parametrize("arch", ARCHES)
def test_c_floor(benchmark, arch):
    lib = _core.load(arch)[1]
    benchmark(lib.bench_floor, 10_000, 2)


@pytest.mark.parametrize("arch", ARCHES)
def test_native_round_trips(benchmark, arch):
    benchmark.pedantic(round_trips, args=(arch, 10_000, True, True), rounds=5,
                       warmup_rounds=1)


@pytest.mark.parametrize("arch", ARCHES)
def test_uapp_round_trips(benchmark, arch):
    benchmark.pedantic(round_trips, args=(arch, 1_000, False, False), rounds=5,
                       warmup_rounds=1)


def test_asyncio_queue_round_trips(benchmark):
    benchmark.pedantic(references.asyncio_queue, args=(1_000,), rounds=5, warmup_rounds=1)
