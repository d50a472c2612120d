"""The pytest plugin (pyl4re.testing.plugin), run the way users run it: pytest's own
`pytester` writes a test suite that uses only the plugin's fixtures and runs it."""
import json
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from pyl4re import _core

pytest_plugins = ["pytester"]

BUILT = _core.available_arches()


def _plugin_args(paths):
    """Installed pyl4re registers the plugin through its entry point; a source tree needs
    -p (and giving both registers it twice, which pytest refuses)."""
    registered = any(ep.group == "pytest11" and ep.value == "pyl4re.testing.plugin"
                     for d in metadata.distributions(path=paths) for ep in d.entry_points)
    return () if registered else ("-p", "pyl4re.testing.plugin")


PLUGIN = _plugin_args(sys.path)
ROOT = Path(__file__).parents[1]
CHILD_PLUGIN = _plugin_args([str(ROOT)] + sys.path)     # a child runs with ROOT first


def run(pytester, *args):
    return pytester.runpytest_inprocess(*PLUGIN, *args)


@pytest.fixture
def run_failing(pytester, monkeypatch):
    """Suites that fail run in a child process: an in-process run keeps the failures'
    tracebacks (and so their kernels) alive, which the C-heap check counts as a leak."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return lambda *args: pytester.runpytest_subprocess(*CHILD_PLUGIN, *args)


def test_the_entry_point_is_declared():
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {"pyl4re": "pyl4re.testing.plugin"}
    assert "pyl4re.testing" in project["tool"]["setuptools"]["packages"]


SUITE = '''
import pytest
import pyl4re

def test_boots(l4_kernel, l4_arch):
    assert l4_kernel.arch == l4_arch and l4_kernel.memory == 16 << 20

def test_runs_a_uapp(l4_kernel):
    async def main(env):
        return 42
    l4_kernel.start_task(main, name="app")
    assert l4_kernel.run().exited == {"app": 42}

@pytest.mark.l4_arch("arm64")
def test_only_arm(l4_arch):
    assert l4_arch == "arm64"

@pytest.mark.l4_kernel(cpus=2, memory=8 << 20)
def test_kernel_arguments(l4_kernel):
    assert (l4_kernel.cpus, l4_kernel.memory) == (2, 8 << 20)

def test_not_parametrised():
    pass
'''


def test_a_suite_of_plugin_fixtures_runs_on_every_built_arch(pytester):
    pytester.makepyfile(SUITE)
    result = run(pytester, "-v")
    n = len(BUILT)
    result.assert_outcomes(passed=3 * n + ("arm64" in BUILT) + 1)
    for arch in BUILT:
        result.stdout.fnmatch_lines([f"*test_boots?{arch}? PASSED*"])


def test_the_option_narrows_the_arches(pytester):
    pytester.makepyfile(SUITE)
    result = run(pytester, "-v", f"--l4-arch={BUILT[0]}")
    arm = BUILT[0] == "arm64"
    result.assert_outcomes(passed=3 + arm + 1, skipped=not arm)
    assert f"[{BUILT[-1]}]" not in result.stdout.str() or len(BUILT) == 1
    if not arm:
        result.stdout.fnmatch_lines(["*test_only_arm?no-arch? SKIPPED*"])


def test_an_unknown_arch_is_a_usage_error(pytester):
    pytester.makepyfile(SUITE)
    result = run(pytester, "--l4-arch=riscv")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown architecture 'riscv'*x86_64, arm64, mips64*"])


def test_a_marker_naming_an_unknown_arch_is_a_collection_error(pytester):
    pytester.makepyfile('''
import pytest
@pytest.mark.l4_arch("sparc")
def test_x(l4_arch):
    pass
''')
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*l4_arch('sparc',)*name one or more of x86_64*"])


def test_an_arch_that_was_not_built_is_skipped_with_the_reason(pytester, monkeypatch):
    monkeypatch.setattr(_core, "available_arches", lambda: BUILT[:1])
    pytester.makepyfile(SUITE)
    result = run(pytester, "-rs")
    skipped = 3 * (len(BUILT) - 1) + ("arm64" in BUILT[1:])
    result.assert_outcomes(passed=3 + (BUILT[0] == "arm64") + 1, skipped=skipped)
    if skipped:
        result.stdout.fnmatch_lines([f"*architecture '{BUILT[1]}' was not built "
                                     f"(built: {BUILT[0]})*"])


def test_l4_system_skips_cleanly_until_the_user_level_boots(pytester):
    pytester.makepyfile('''
def test_sys(l4_system):
    assert l4_system is not None
''')
    result = run(pytester, "-rs")
    try:
        from pyl4re import l4re
        booted = hasattr(l4re, "boot")
    except ImportError:
        booted = False
    if booted:
        result.assert_outcomes(passed=len(BUILT))
    else:
        result.assert_outcomes(skipped=len(BUILT))
        result.stdout.fnmatch_lines(["*no L4Re user-level boot*"])


def test_l4_system_boots_with_the_markers_arguments(pytester, monkeypatch):
    """With a user level present (a stand-in here), the fixture boots it per arch with
    the marker's arguments and reports on its kernel."""
    import types
    import pyl4re
    booted = []

    def boot(arch, **kwargs):
        booted.append((arch, kwargs))
        return types.SimpleNamespace(kernel=pyl4re.Kernel(arch=arch, memory=16 << 20))

    monkeypatch.setitem(sys.modules, "pyl4re.l4re", types.SimpleNamespace(boot=boot))
    monkeypatch.setattr(pyl4re, "l4re", sys.modules["pyl4re.l4re"], raising=False)
    pytester.makepyfile('''
import pytest

@pytest.mark.l4_system(init="rom/hello")
def test_sys(l4_system, l4_arch):
    assert l4_system.kernel.arch == l4_arch
''')
    result = run(pytester)
    result.assert_outcomes(passed=len(BUILT))
    assert booted == [(a, {"init": "rom/hello"}) for a in BUILT]


FAILING = '''
import pyl4re
from pyl4re.l4sys import L4_IPC_NEVER, l4_ipc_call, l4_msgtag, l4_utcb

def test_deadlock(l4_kernel):
    k = l4_kernel
    gate = k.create_gate(0x10)

    async def server(env):
        await pyl4re.log("server up\\n")
        # never binds the gate nor waits: the client below stays blocked
        return None

    async def client(env):
        await l4_ipc_call(0x50000, l4_utcb(), l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)  # empty
        await l4_ipc_call(env.caps["svc"], l4_utcb(), l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)

    k.start_task(server, name="server")
    k.start_task(client, name="client", caps={"svc": gate})
    result = k.run()
    assert result.blocked == {}, "the client must not hang"
'''


def test_a_failing_test_shows_the_kernel_state(pytester, run_failing):
    pytester.makepyfile(FAILING)
    result = run_failing(f"--l4-arch={BUILT[0]}", "--l4-trace-records=5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        f"*- pyl4re kernel state ({BUILT[0]}) -*",
        f"<Kernel {BUILT[0]} cpus=1 memory=16 MiB> at * ns, * kernel objects alive",
        "threads:",
        "  server: exited",
        "  client: send through an unbound gate",
        "last 5 trace records:",
        "  #* ns cpu 0 *",
        "last 20 log lines:",
        "*server up*",
        "last failed kernel operation:",
        "  thread 'client' invoked selector 0x50000",
        "*result: IPC error*",
    ])


def test_passing_tests_show_no_report(pytester):
    pytester.makepyfile(SUITE)
    result = run(pytester, f"--l4-arch={BUILT[0]}", "-rA")
    assert "pyl4re kernel state" not in result.stdout.str()


def test_the_trace_dir_keeps_a_perfetto_trace_per_failing_test(pytester, run_failing,
                                                              tmp_path):
    pytester.makepyfile(FAILING + '''

def test_fine(l4_kernel):
    pass
''')
    out = tmp_path / "traces"
    result = run_failing(f"--l4-trace-dir={out}")
    result.assert_outcomes(failed=len(BUILT), passed=len(BUILT))
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"test_the_trace_dir_keeps_a_perfetto_trace_per_failing_test.py_"
                           f"test_deadlock_{a}.json" for a in BUILT)
    events = json.loads((out / files[0]).read_text())["traceEvents"]
    assert any(e["ph"] == "X" for e in events)
    result.stdout.fnmatch_lines([f"trace: {out}*.json"])


def test_kernels_a_test_makes_itself_can_be_watched(pytester, run_failing):
    pytester.makepyfile('''
import pyl4re
from pyl4re.testing.plugin import watch

def test_two(request):
    a = pyl4re.Kernel(memory=16 << 20)
    b = pyl4re.Kernel(memory=16 << 20, cpus=2)
    watch(request.node, a)
    watch(request.node, b)
    assert False
''')
    result = run_failing()
    result.stdout.fnmatch_lines(["*pyl4re kernel state (x86_64) #1*",
                                 "*pyl4re kernel state (x86_64) #2*", "*cpus=2*"])


def test_a_test_may_parametrise_l4_arch_itself(pytester):
    pytester.makepyfile(f'''
import pytest

@pytest.mark.parametrize("l4_arch", ["{BUILT[0]}"])
def test_one(l4_kernel, l4_arch):
    assert l4_kernel.arch == "{BUILT[0]}"
''')
    run(pytester).assert_outcomes(passed=1)


def test_the_project_fixtures_are_not_shadowed(arch, kernel):
    assert kernel.arch == arch
