"""Shared fixtures: every architecture that was built, and stand-ins the early modules need.

`arch` parametrises a test over the built extensions (pyl4re._core.available_arches());
`lib`/`ffi` are that build's cffi objects; `kernel` is a booted 16 MiB kernel on it.
`fake_utcb` is a duck-typed UTCB (numpy arrays shaped like the real register blocks) for
the l4sys helpers until the real UTCB exists.
"""
import gc
import types

import numpy as np
import pytest

from pyl4re import _core

BUILT_ARCHES = _core.available_arches()


@pytest.fixture(params=BUILT_ARCHES)
def arch(request):
    return request.param


@pytest.fixture
def ffi(arch):
    return _core.load(arch)[0]


@pytest.fixture
def lib(arch):
    return _core.load(arch)[1]


WFQ_ARCHES = _core.available_builds("wfq")


@pytest.fixture(params=WFQ_ARCHES)
def wfq_arch(request):
    """An architecture whose WFQ scheduler build (pyl4re._core_<arch>_wfq) was made."""
    return request.param


@pytest.fixture
def kernel(arch):
    from pyl4re import Kernel
    return Kernel(arch=arch, memory=16 << 20)


@pytest.fixture
def fake_utcb():
    """An object with .mr (63), .br (58) and .tcr (5) as uint64 arrays, all zero."""
    return types.SimpleNamespace(mr=np.zeros(63, dtype=np.uint64),
                                 br=np.zeros(58, dtype=np.uint64),
                                 tcr=np.zeros(5, dtype=np.uint64))


_LIBS = [_core.load(a, sched)[1] for sched in _core.SCHEDS
         for a in _core.available_builds(sched)]


def _heap_blocks():
    return [lib.core_heap_blocks() for lib in _LIBS]


@pytest.fixture(scope="session", autouse=True)
def _collected_start():
    """One full collection before the first test, so every test starts from a clean count."""
    gc.collect()


@pytest.fixture(autouse=True)
def no_c_heap_leak(request):
    """Every test gives back all C heap blocks its kernels took, once they are gone.

    The count is the C core's own (every heap block it holds), so the check is exact. It
    costs nothing when the count is already back; otherwise the garbage collector runs,
    youngest generation first: a Kernel the test dropped is a small reference cycle that a
    young collection frees, and a full collection (tens of ms late in a run, the cost that
    used to dominate the suite) runs only when the younger ones did not bring it back."""
    before = _heap_blocks()
    yield
    # This autouse fixture is torn down last; the item still holds the other fixtures'
    # values (a `kernel`) until its protocol ends, so let go of them here.
    request.node.funcargs.clear()
    after = _heap_blocks()
    for generation in (0, 1, 2):
        if after == before:
            break
        gc.collect(generation)
        after = _heap_blocks()
    assert after == before, f"C heap blocks still held: {before} -> {after}"
