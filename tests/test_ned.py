"""ned and `pyl4re run`: L4Re's example systems print what L4Re's do (matched by the
golden-file rules), ned's Lua API performs real invocations with real errors, and a
user's configuration mistake is one clear line, never a traceback."""
import io
import os
import subprocess
import sys

import pytest

from pyl4re.l4re.examples import configs, expected
from pyl4re.run import RunError, run
from pyl4re.testing import match_output

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNTIL = {"hello.cfg": 3, "hello-2.cfg": 3, "ipc.cfg": 3, "clntsrv.cfg": 1,
         "clntsrv_ns.cfg": 1, "ipcbench.cfg": 5}


def run_cfg(text, arch="x86_64", until=2, name="t.cfg", tmp=None, **kw):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return run(path, arch=arch, until=until, colour=False, out=io.StringIO(), **kw)


@pytest.mark.parametrize("config", sorted(UNTIL))
def test_example_output(arch, config):
    status, lines, reason = run(f"rom/{config}", arch=arch, until=UNTIL[config],
                                colour=False, out=io.StringIO())
    assert status == 0, reason
    m = match_output(lines, expected(config))
    assert m, m.diff


def test_every_builtin_config_has_a_test_and_an_expect_file():
    assert sorted(UNTIL) == configs()
    assert all(expected(c) for c in configs())


def test_hello_tag_padding_and_colour(arch):
    out = io.StringIO()
    status, lines, _ = run("rom/hello-2.cfg", arch=arch, until=1, colour=True, out=out)
    assert "\x1b[31mhello-1 | Hello World!\x1b[0m" in lines
    assert "\x1b[36mhello-2 | Hello World!\x1b[0m" in lines
    assert "\x1b[31m" in out.getvalue()
    _, lines, _ = run("rom/hello.cfg", arch=arch, until=3, colour=False, out=io.StringIO())
    assert lines.count("\x1b[37mhello   | Hello World!\x1b[0m") == 3


def test_cli_hello_until_3_prints_three_lines():
    res = subprocess.run([sys.executable, "-m", "pyl4re", "run", "rom/hello.cfg",
                          "--until", "3"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines().count("hello   | Hello World!") == 3
    assert "\x1b[" not in res.stdout                 # piped: no colours


def test_cli_expect_mismatch_exits_1_with_a_diff(tmp_path):
    exp = tmp_path / "x.expect"
    exp.write_text("hello | Goodbye\n")
    res = subprocess.run([sys.executable, "-m", "pyl4re", "run", "rom/hello.cfg",
                          "--until", "1", "--expect", str(exp)], capture_output=True,
                         text=True, cwd=ROOT)
    assert res.returncode == 1
    assert "- hello | Goodbye" in res.stderr and "Traceback" not in res.stderr
    exp.write_text("hello | Hello World!\n")
    res = subprocess.run([sys.executable, "-m", "pyl4re", "run", "rom/hello.cfg",
                          "--until", "1", "--expect", str(exp)], capture_output=True,
                         text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr


# ---- match_output: L4Re's rules

def test_match_output_rules():
    out = ["\x1b[37mhello   | Hello World!\x1b[0m", "junk", "  plain  "]
    assert match_output(out, "hello | Hello World!\nplain\n")
    assert match_output(out, "hello | Hello W.rld!")                  # a regex
    assert not match_output(out, "hello | Hello W.rld!", literal=True)
    assert not match_output(out, "plain\nhello | Hello World!")      # order counts
    assert not match_output(out, "hell | Hello World!")
    assert not match_output(["xplain"], "plain")                     # whole line
    assert match_output(["old", "L4 Bootstrapper", "new"], "new")
    assert not match_output(["old", "L4 Bootstrapper", "new"], "old")
    with pytest.raises(TypeError):
        match_output(5, "x")
    with pytest.raises(ValueError):
        match_output(["x"], "a(b")


# ---- the L4 module, against the real system

def test_rights_and_caps(tmp_path):
    cfg = """
local L4 = require("L4")
local r = L4.Env.rom
print("env", r:m(), r:rights())
print("m", r:m("rw"):m(), r:m("x"):m(), r:m(1):m(), r:svr():rights(), r:m("rw") == r:m("rw"))
print("same", r:m("rws") == r)
print("proto", L4.Proto.Namespace, L4.Proto.Log, L4.Rights.rws, L4.Dbg.Warn, L4.Info.mword_bits())
print("arch", L4.Info.arch(), #L4.Info.Kip.str() >= 0)
local ch = L4.default_loader:new_channel()
print("chan", ch:m(), ch:is_valid())
local ok, e = pcall(function() return L4.Env.mem_alloc:create(L4.Proto.Dataspace, -1) end)
print("err", ok, e.code, type(e.msg))
local ok2, e2 = pcall(function() return L4.Env.factory:create(12345) end)
print("err2", ok2, e2.code)
"""
    status, lines, reason = run_cfg(cfg, tmp=str(tmp_path))
    assert status == 0, reason
    text = "\n".join(lines)
    assert "env\t7\t7" in text
    assert "m\t5\t4\t5\t239\tfalse" in text
    assert "same\ttrue" in text
    assert "proto\t16385\t-13\t7\t2\t64" in text
    assert "arch\tamd64\ttrue" in text
    assert "chan\t4\ttrue" in text
    assert "err\tfalse\t-34\tstring" in text          # moe: size <= 0 is -ERANGE
    assert "err2\tfalse\t-19" in text or "err2\tfalse\t-" in text


def test_task_objects_wait_kill_handler_sleep(tmp_path, arch):
    cfg = """
local L4 = require("L4")
local l = L4.default_loader
local calc = l:new_channel()
local s = l:start({ caps = { calc_server = calc:svr() }, log = L4.Env.log },
                  "rom/ex_clntsrv-server")
local c = l:start({ caps = { calc_server = calc }, log = L4.Env.log }, "rom/ex_clntsrv-client")
c:exit_handler(function(code) print("handler", code) end)
local ok, e = pcall(function() c:exit_handler(print) end)
print("twice", ok)
print("state", s:state())
print("wait", c:wait(), c:state())
L4.msleep(100)
print("kill", s:kill(), s:state(), s:kill())
local n = l:start({ log = L4.Env.log }, "rom/ex_ns-client")
L4.sleep(1)
print("exit_code", n:exit_code(), n:state())
"""
    status, lines, reason = run_cfg(cfg, arch=arch, until=3, tmp=str(tmp_path))
    assert status == 0, reason
    assert "twice\tfalse" in lines and "state\trunning" in lines
    assert "wait\t0\tnil" in lines and "handler\t0" in lines
    assert "Ned: Sleeping 100ms" in lines and "Ned: Sleeping 1s" in lines
    assert "kill\tkilled\tnil\tnil" in lines
    assert "Could not find namespace" in lines
    assert "exit_code\t1\tzombie" in lines


def test_startv_scheduler_proxy_and_args(tmp_path, arch):
    cfg = """
local L4 = require("L4")
local l = L4.default_loader
local sched = l:create_sched_proxy{ prio_offset = 10, prio_limit = 20 }
l:startv({ log = L4.Env.log, scheduler = sched }, "rom/ipcbench", "-1", "-n", "10"):wait()
local ok, e = pcall(function() return l:create_sched_proxy{ prio_offset = 5, prio_limit = 5 } end)
print("proxy", ok, e.code)
l:start({ log = { "tagged", "R" } }, "rom/ipcbench -n 3 unused"):wait()
"""
    status, lines, reason = run_cfg(cfg, arch=arch, tmp=str(tmp_path))
    assert status == 0, reason
    assert any(l.startswith("CPU  0 done 20 IPCs in ") for l in lines)   # untagged
    assert "proxy\tfalse\t-22" in lines                       # moe: limit <= offset
    assert any(l.startswith("\x1b[01;31mtagged  | CPU  0 done 6 IPCs") for l in lines)


def test_namespaces_from_lua(tmp_path):
    cfg = """
local L4 = require("L4")
local ns = L4.default_loader:create_namespace({ hello = "rom/hello",
                                                inner = { x = "rom/hello.cfg" } })
print("q", ns:q("hello")() ~= nil, ns:q("missing")(), ns:q("inner/x")() ~= nil)
ns:r("log2", L4.Env.log)
print("r", ns:q("log2")() ~= nil)
ns:r("log2", nil)
print("unlinked", ns:q("log2")())
local ok, e = pcall(function() L4.Env.rom:register("hello", L4.Env.log) end)
print("ro", ok, e.code)
"""
    status, lines, reason = run_cfg(cfg, tmp=str(tmp_path))
    assert status == 0, reason
    assert "q\ttrue\tnil\ttrue" in lines
    assert "r\ttrue" in lines and "unlinked\tnil" in lines
    assert "ro\tfalse\t-17" in lines               # a boot-time entry: -EEXIST


def test_ned_command_line(tmp_path):
    cfg = 'local L4 = require("L4")\nprint("script", arg[0], arg[1])\n' \
          'L4.default_loader:start({ log = L4.Env.log }, "rom/ex_clntsrv-client")\n'
    status, lines, reason = run_cfg(cfg, tmp=str(tmp_path), until=None,
                                    ned_args=["--wait-and-exit", "-e", "print('first')"])
    assert status == 0, reason
    assert lines.index("first") < lines.index("script\trom/t.cfg\tnil")
    assert "Could not get server capability!" in lines
    # ned itself exits once its program has: moe, its parent, records the code
    import pyl4re.l4re as l4re
    from pyl4re.l4re.examples import rom
    system = l4re.boot(init="rom/ned", args=["--wait-and-exit", "rom/t.cfg"],
                       rom={**rom(), "t.cfg": cfg.encode()})
    system.run(until_ns=5_000_000_000)
    assert system.exits == {"ned": 0}
    system = l4re.boot(init="rom/ned", args=["rom/t.cfg"], rom={**rom(), "t.cfg": cfg.encode()})
    system.run(until_ns=5_000_000_000)
    assert system.exits == {}                          # by default ned serves on
    # --exit: ned ends after the script; moe reports its exit code 0 silently
    status, lines, reason = run_cfg("print('bye')", tmp=str(tmp_path), until=None,
                                    ned_args=["--exit"])
    assert status == 0 and "bye" in lines


# ---- bad input: a clear line naming the file and line, the system runs on

@pytest.mark.parametrize("cfg, message", [
    ("local L4 = require('L4')\nx = = 1\n", "rom/t.cfg:2: unexpected symbol"),
    ("local L4 = require('L4')\n\nL4.no_such_function()\n",
     "rom/t.cfg:3: attempt to call a nil value (field 'no_such_function')"),
    ("local L4 = require('L4')\nL4.default_loader:start(5, 'rom/hello')\n",
     "rom/t.cfg:2: loader:start(env, cmd): env must be a table"),
    ("local L4 = require('L4')\nL4.default_loader:start({}, 'rom/nothere')\n",
     "rom/t.cfg:2: could not start 'rom/nothere'"),
    ("local L4 = require('L4')\n"
     "L4.default_loader:start({caps = {x = L4.Env.log:m('rwsd')}}, 'rom/hello')\n",
     "rom/t.cfg:2: start: caps.x: rights 0xf beyond what ned holds (0x7)"),
    ("local L4 = require('L4')\nL4.Env.rom:m({})\n", "rom/t.cfg:2: cap:m() takes"),
    ("local L4 = require('L4')\nL4.Env.mem_alloc:create(L4.Proto.Dataspace, {})\n",
     "rom/t.cfg:2: factory:create argument 1"),
    ("require('nomodule')\n", "rom/t.cfg:1: module 'nomodule' not found"),
    ("local L4 = require('L4')\nL4.Env.log:create(L4.Proto.Namespace)\n",
     "rom/t.cfg:2: factory:create(0x4001) failed"),
    ("local L4 = require('L4')\nlocal x = 0\nwhile true do x = x + 1 end\n",
     "rom/t.cfg:3: ran 100 million Lua instructions without an L4 operation"),
])
def test_bad_config_is_one_clear_line(tmp_path, cfg, message):
    status, lines, reason = run_cfg(cfg, tmp=str(tmp_path), until=1)
    assert status == 1
    assert reason.startswith("ned: " + message), reason
    assert any(l.startswith("lua error: " + message) for l in lines)


def test_bad_config_keeps_started_programs_running(tmp_path):
    cfg = "local L4 = require('L4')\nL4.default_loader:start({}, 'rom/hello')\nerror('stop')\n"
    status, lines, reason = run_cfg(cfg, tmp=str(tmp_path), until=3)
    assert status == 1 and reason == "ned: rom/t.cfg:3: stop"
    assert sum("Hello World!" in l for l in lines) == 3


def test_a_crashing_program_is_reported(tmp_path):
    prog = tmp_path / "roms"
    prog.mkdir()
    (prog / "crash.py").write_text("async def main(env):\n    raise ValueError('oops')\n")
    cfg = "local L4 = require('L4')\nL4.default_loader:start({}, 'rom/crash')\n" \
          "L4.default_loader:start({}, 'rom/hello')\n"
    status, lines, reason = run_cfg(cfg, tmp=str(tmp_path), until=2, rom_dirs=[str(prog)])
    assert status == 1 and "crashed" in reason and "oops" in reason
    assert sum("Hello World!" in l for l in lines) == 2          # the rest runs on


def test_cli_bad_input_no_traceback(tmp_path):
    bad = tmp_path / "bad.cfg"
    bad.write_text("L4 = require('L4')\nL4.nope()\n")
    for args in (["run", str(bad), "--until", "1"], ["run", "rom/none.cfg"],
                 ["run", str(tmp_path / "missing.cfg")],
                 ["run", "rom/hello.cfg", "--rom", "/nonexistent"]):
        res = subprocess.run([sys.executable, "-m", "pyl4re", *args], capture_output=True,
                             text=True, cwd=ROOT)
        assert res.returncode != 0
        assert "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "bad.cfg:2:" in subprocess.run(
        [sys.executable, "-m", "pyl4re", "run", str(bad), "--until", "1"],
        capture_output=True, text=True, cwd=ROOT).stderr


def test_trace_and_cpus(tmp_path):
    trace = tmp_path / "t.json"
    status, lines, reason = run("rom/clntsrv.cfg", cpus=2, until=1, trace=str(trace),
                                colour=False, out=io.StringIO())
    assert status == 0, reason
    assert "Result of negate call: -3" in "\n".join(lines)
    assert trace.read_text().lstrip().startswith(("{", "["))


def test_ipcbench_in_parallel_on_every_cpu(arch):
    status, lines, reason = run("rom/ipcbench.cfg", arch=arch, cpus=2, colour=False,
                                out=io.StringIO())
    assert status == 0, reason
    m = match_output(lines, "IPC on all CPUs in parallel:\n"
                     "ipc:PL | CPU  0 done 2000 IPCs\nipc:PL | CPU  1 done 2000 IPCs\n"
                     "Benchmarks done.")
    assert m, m.diff


def test_same_config_same_output(tmp_path):
    a = run("rom/ipcbench.cfg", arch="arm64", colour=False, out=io.StringIO())
    b = run("rom/ipcbench.cfg", arch="arm64", colour=False, out=io.StringIO())
    assert a == b and a[0] == 0


def test_run_refuses_bad_options():
    with pytest.raises(RunError):
        run("rom/hello.cfg", cpus=0, out=io.StringIO())
    with pytest.raises(RunError):
        run("rom/hello.cfg", until=-1, out=io.StringIO())
