"""The README's examples run and say what the README says they say."""
import os
import re
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_blocks():
    text = open(os.path.join(ROOT, "README.md")).read()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_the_usage_example_runs():
    block = python_blocks()[0]
    scope = {}
    exec(compile(block, "README.md", "exec"), scope)
    res = scope["res"]
    assert res.exited == {"client": (5, b"hi")}
    assert res.blocked == {"srv": "receive (open wait)"}
    assert scope["k"].now_ns > 0


def test_the_log_shutdown_trace_example_runs():
    block, = [textwrap.dedent(b) for b in python_blocks()     # it sits in a list item
              if "l4_platform_ctl_system_shutdown" in b]
    scope = {}
    exec(compile(block, "README.md", "exec"), scope)
    res, k = scope["res"], scope["k"]
    assert (res.reason, res.shutdown) == ("shutdown", "poweroff")
    assert k.log_lines == ["Hello World!"] and k.log_records[0].task == "hello"
    assert k.trace[-1].kind == "switch"


def test_the_user_level_example_runs():
    scope = {}
    block, = [b for b in python_blocks() if "system = " in b]
    exec(compile(textwrap.dedent(block), "README.md", "exec"), scope)
    system = scope["system"]
    assert system.log_lines == ["\x1b[32mapp     | paged in by the region map\x1b[0m"]
    assert system.exits == {"app": 0}


def test_the_c_uapp_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                          # it writes its hello.c
    scope = {}
    block, = [b for b in python_blocks() if "start_cprogram" in b]
    exec(compile(textwrap.dedent(block), "README.md", "exec"), scope)
    k = scope["k"]
    assert k.log_lines == ["6 * 7 = 42 (error 0)"] and k.log_records[0].task == "hello"
