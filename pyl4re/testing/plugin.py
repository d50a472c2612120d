"""The pytest plugin (entry point `pytest11`): fixtures, a marker and options that let a
test suite run a pyl4re system on every built architecture and explain its failures.

  l4_arch     the architecture of this test instance; tests asking for it (directly or
              through l4_kernel) are parametrised over the built architectures, narrowed
              by `@pytest.mark.l4_arch("arm64", ...)` and `--l4-arch x86_64,arm64`; an
              architecture that was not built is a skip with the reason, as pytest does.
  l4_kernel   a booted Kernel on l4_arch; `@pytest.mark.l4_kernel(cpus=2, seed=3, ...)`
              passes keyword arguments to Kernel.
  l4_system   the L4Re user-level boot (pyl4re.l4re.boot) on l4_arch, where pyl4re has
              it (else a skip); `@pytest.mark.l4_system(init="rom/hello")` passes boot's
              keyword arguments.

A test that fails gets a report section per kernel it used (pyl4re.testing.report), and
`--l4-trace-dir DIR` keeps each failing test's trace as Perfetto JSON there. The fixture
names all start with `l4_` so they never shadow a project's own `arch` or `kernel`.
The plugin imports pyl4re's core only when a test uses it.
"""
import re
from pathlib import Path

import pytest

_KERNELS = pytest.StashKey()
_DEFAULT_MEMORY = 16 << 20


def pytest_addoption(parser):
    group = parser.getgroup("pyl4re")
    group.addoption("--l4-arch", action="append", default=[], metavar="ARCH[,ARCH]",
                    help="run pyl4re tests only on these architectures (repeatable)")
    group.addoption("--l4-trace-dir", default=None, metavar="DIR",
                    help="write the trace of every failing pyl4re test as Perfetto JSON here")
    group.addoption("--l4-trace-records", type=int, default=20, metavar="N",
                    help="trace records shown in a failing test's kernel report (default 20)")


def pytest_configure(config):
    config.addinivalue_line("markers", "l4_arch(*arches): run this test only on these "
                                       "pyl4re architectures")
    config.addinivalue_line("markers", "l4_kernel(**kwargs): keyword arguments for the "
                                       "l4_kernel fixture's Kernel")
    config.addinivalue_line("markers", "l4_system(**kwargs): keyword arguments for the "
                                       "l4_system fixture's pyl4re.l4re.boot")
    from pyl4re._core import ARCHES
    for arch in _option_arches(config):
        if arch not in ARCHES:
            raise pytest.UsageError(f"--l4-arch: unknown architecture {arch!r}; "
                                    f"pyl4re knows {', '.join(ARCHES)}")


def _option_arches(config):
    return [a.strip() for value in config.getoption("l4_arch") for a in value.split(",")
            if a.strip()]


def pytest_generate_tests(metafunc):
    if "l4_arch" not in metafunc.fixturenames or any(
            "l4_arch" in _argnames(m) for m in metafunc.definition.iter_markers("parametrize")):
        return                  # not a pyl4re test, or one that names its arches itself
    from pyl4re._core import ARCHES, available_arches
    wanted = list(ARCHES)
    for marker in metafunc.definition.iter_markers("l4_arch"):
        unknown = [a for a in marker.args if a not in ARCHES]
        if unknown or not marker.args:
            raise ValueError(f"@pytest.mark.l4_arch{marker.args!r}: name one or more of "
                             f"{', '.join(ARCHES)}")
        wanted = [a for a in wanted if a in marker.args]
    chosen = _option_arches(metafunc.config)
    if chosen:
        wanted = [a for a in wanted if a in chosen]
    built = available_arches()
    params = [pytest.param(a, id=a, marks=() if a in built else pytest.mark.skip(
        reason=f"pyl4re architecture {a!r} was not built (built: {', '.join(built) or 'none'})"))
        for a in wanted]
    if not params:
        params = [pytest.param(None, id="no-arch", marks=pytest.mark.skip(
            reason="no pyl4re architecture left after --l4-arch and @mark.l4_arch"))]
    metafunc.parametrize("l4_arch", params, indirect=True)


def _argnames(marker):
    names = marker.args[0] if marker.args else marker.kwargs.get("argnames", ())
    return [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)


@pytest.fixture
def l4_arch(request):
    """The pyl4re architecture of this test instance ("x86_64", "arm64" or "mips64")."""
    arch = getattr(request, "param", None)
    if arch is None:
        pytest.skip("l4_arch is parametrised by the pyl4re plugin only")
    return arch


@pytest.fixture
def l4_kernel(request, l4_arch):
    """A booted pyl4re Kernel on l4_arch (16 MiB unless `@pytest.mark.l4_kernel(...)` says)."""
    from pyl4re import Kernel
    kwargs = {"memory": _DEFAULT_MEMORY}
    for marker in reversed(list(request.node.iter_markers("l4_kernel"))):
        kwargs.update(marker.kwargs)
    k = Kernel(arch=l4_arch, **kwargs)
    watch(request.node, k)
    yield k
    request.node.stash[_KERNELS].remove(k)


@pytest.fixture
def l4_system(request, l4_arch):
    """The L4Re user level booted on l4_arch (`pyl4re.l4re.boot(arch=, ...)`; keyword
    arguments from `@pytest.mark.l4_system(...)`), where pyl4re has it (else a skip)."""
    try:
        from pyl4re import l4re
    except ImportError:
        l4re = None
    boot = getattr(l4re, "boot", None)
    if boot is None:
        pytest.skip("this pyl4re has no L4Re user-level boot (pyl4re.l4re.boot) yet")
    kwargs = {}
    for marker in reversed(list(request.node.iter_markers("l4_system"))):
        kwargs.update(marker.kwargs)
    system = boot(arch=l4_arch, **kwargs)
    kernel = getattr(system, "kernel", None)
    if kernel is not None:
        watch(request.node, kernel)
    yield system
    if kernel is not None:
        request.node.stash[_KERNELS].remove(kernel)


def watch(item, kernel):
    """Report on `kernel` too if test `item` fails (for kernels a test makes itself).
    The plugin keeps it only until the item's teardown ends."""
    item.stash.setdefault(_KERNELS, []).append(kernel)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    kernels = item.stash.get(_KERNELS, [])
    if report.when != "call" or not report.failed or not kernels:
        return
    from .report import kernel_report
    config = item.config
    trace_dir = config.getoption("l4_trace_dir")
    for n, k in enumerate(kernels):
        title = f"pyl4re kernel state ({k.arch})" + (f" #{n + 1}" if len(kernels) > 1 else "")
        try:
            text = kernel_report(k, trace_records=config.getoption("l4_trace_records"))
        except Exception as exc:            # a broken kernel must not hide the failure
            text = f"(no report: {type(exc).__name__}: {exc})"
        if trace_dir:
            path = Path(trace_dir) / (_file_name(item.nodeid)
                                      + (f"-{n + 1}" if len(kernels) > 1 else "") + ".json")
            path.parent.mkdir(parents=True, exist_ok=True)
            k.trace_json(str(path))
            text += f"\ntrace: {path}"
        report.sections.append((title, text))


def _file_name(nodeid):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")
