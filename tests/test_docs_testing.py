"""docs/testing.md's examples run and say what the page says they say."""
import os
import re
from importlib import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytest_plugins = ["pytester"]


def python_blocks():
    text = open(os.path.join(ROOT, "docs", "testing.md")).read()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def run_block(n):
    scope = {"__name__": "docs_testing"}
    exec(compile(python_blocks()[n], f"docs/testing.md block {n}", "exec"), scope)
    return scope


def test_the_plugin_example_is_a_passing_test_file(pytester):
    pytester.makepyfile(python_blocks()[0])
    registered = any(ep.value == "pyl4re.testing.plugin"
                     for ep in metadata.entry_points(group="pytest11"))
    args = () if registered else ("-p", "pyl4re.testing.plugin")
    from pyl4re import available_arches
    built = available_arches()
    result = pytester.runpytest_inprocess(*args)
    result.assert_outcomes(passed=len(built) + len({"arm64", "x86_64"} & set(built)))


def test_the_isolation_example():
    scope = run_block(1)
    assert scope["shared"]


def test_the_exploration_example():
    scope = run_block(2)
    assert scope["found"].seed is not None


def test_the_replay_example():
    scope = run_block(3)
    assert scope["again"].trace_json() == scope["first"].trace_json()


def test_the_snapshot_example():
    scope = run_block(4)
    assert "[Task] {app}" in scope["text"]
