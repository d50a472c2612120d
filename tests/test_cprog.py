"""C µApps (pyl4re.cprog, kernel_c/cthread.c): C programs written against l4sys's API,
built with the host compiler, run in the model on stacks of their own; the examples in
examples/c, crashes, garbage arguments and the build's errors."""
import os
import signal

import pytest

from pyl4re import Kernel, cprog
from pyl4re.l4sys import (
    L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_wait, l4_msgtag, l4_utcb,
)
from pyl4re.runloop import MicroAppError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples", "c")
TESTS_C = os.path.join(ROOT, "tests", "c")


def example(name, **kw):
    return cprog.build(os.path.join(EXAMPLES, f"{name}.c"), **kw)


def crash(mode):
    return cprog.build(os.path.join(TESTS_C, "crash.c"), name=f"crash_{mode}",
                       cflags=[f"-DCRASH={mode}"])


def lines_of(k, task):
    return [r.line for r in k.log_records if r.task == task]


SQUARES = [line for n in range(1, 6) for line in (f"Sending:  {n}", f"Received: {n * n}")]


def test_ipc_example_c_client_c_server(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(label=0x10)
    k.start_cprogram(example("ipc_server"), name="srv", caps={"svc": gate.svr()})
    k.start_cprogram(example("ipc_client"), name="client", caps={"svc": gate})
    res = k.run()
    assert res.exited == {"client": 0}
    assert res.blocked == {"srv": "receive (open wait)"}
    assert lines_of(k, "client") == SQUARES
    assert res.now_ns >= 5_000_000                 # five l4_sleep(1) of virtual time


def test_c_client_calls_python_server(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(label=0x10)

    async def squarer(env):
        u = l4_utcb()
        await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            u.mr[0] = int(u.mr[0]) ** 2
            await l4_ipc_reply_and_wait(u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)

    srv = k.start_task(squarer, name="srv", caps={"svc": gate.svr()})
    gate.bind(srv, 0x10)
    k.start_cprogram(example("ipc_client"), name="client", caps={"svc": gate})
    assert k.run().exited == {"client": 0}
    assert lines_of(k, "client") == SQUARES


def test_python_client_calls_c_server(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(label=0x10)
    k.start_cprogram(example("ipc_server"), name="srv", caps={"svc": gate.svr()})

    async def client(env):
        u, got = l4_utcb(), []
        for n in (3, 12, 1 << 20):
            u.mr[0] = n
            await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
            got.append(int(u.mr[0]))
        return got

    k.start_task(client, name="client", caps={"svc": gate})
    assert k.run().exited == {"client": [9, 144, 1 << 40]}


def test_utcb_ipc_example_thread_and_63_words(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    k.start_cprogram(example("utcb_ipc"), name="utcb")
    res = k.run()
    assert res.exited == {"utcb": 0}
    sums = [63 * 1000 * r + sum(range(63)) for r in (1, 2, 3)]
    expected = []
    for r, s in zip((1, 2, 3), sums):
        expected += [f"main: sending 63 words, round {r}", f"thread: got 63 words, sum {s}",
                     f"main: reply {s}"]
    assert lines_of(k, "utcb") == expected
    # The thread l4_thread_ex_regs started waits for the next message, on its own stack.
    assert list(res.blocked.values()) == ["receive (open wait)"]


def test_irq_receiver_example(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    k.start_cprogram(example("irq_receiver"), name="irq")
    line = k.hw.irq_line(5)
    for i in range(3):
        k.hw.at(10_000 * (i + 1), line.pulse)
    res = k.run()
    assert res.exited == {"irq": 0}
    assert lines_of(k, "irq") == ["waiting for line 5", "irq 1 of 3 at 10 us",
                                  "irq 2 of 3 at 20 us", "irq 3 of 3 at 30 us"]


def test_c_client_to_native_echo_stays_in_c(arch):
    from pyl4re.bench.ipc_cases import c_round_trip_system
    s = c_round_trip_system(arch, 300, "native", words=5)
    s.k.log_schedule = False
    res = s.k.run()
    assert res.exited == {"client": 0}
    assert s.done() == 300
    assert s.tasks["srv"].thread.native_count == 300


@pytest.mark.parametrize("server", ["c", "python"])
def test_bench_c_round_trips_count(arch, server):
    from pyl4re.bench.ipc_cases import c_round_trip_system
    s = c_round_trip_system(arch, 50, server, words=63)
    assert s.k.run().exited == {"client": 0}
    assert s.done() == 50


def test_same_program_twice_has_its_own_globals(arch):
    """Each task loads its own copy: two clients each count their own five rounds."""
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(label=0x10)
    k.start_cprogram(example("ipc_server"), name="srv", caps={"svc": gate.svr()})
    prog = example("ipc_client")
    k.start_cprogram(prog, name="a", caps={"svc": gate})
    k.start_cprogram(prog.path, name="b", caps={"svc": gate})      # a path works too
    assert k.run().exited == {"a": 0, "b": 0}
    assert lines_of(k, "a") == lines_of(k, "b") == SQUARES


def test_garbage_arguments_get_kernel_error_codes(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    k.start_cprogram(cprog.build(os.path.join(TESTS_C, "badargs.c")), name="bad")
    assert k.run().exited == {"bad": 0}
    assert lines_of(k, "bad") == [
        "call empty slot: -2004",           # L4_EIPC_LO + L4_IPC_ENOT_EXISTENT
        "too many words: -2008",            # L4_IPC_SEMSGCUT
        "selector out of range: -2004",
        "factory of no protocol: -19",      # -L4_ENODEV
        "ex_regs on a log: -39",            # -L4_EBADPROTO
        "receive timeout: -2003",           # L4_IPC_RETIMEOUT
        "kip magic: 4be6344c",
        "errtostr: Invalid argument",
    ]


@pytest.mark.parametrize("mode, signo, overflow", [
    (1, signal.SIGSEGV, False), (2, signal.SIGABRT, False), (3, signal.SIGSEGV, True),
    (5, signal.SIGFPE, False)])
def test_crash_is_reported_and_the_rest_goes_on(arch, mode, signo, overflow):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(label=0x10)
    k.start_cprogram(example("ipc_server"), name="srv", caps={"svc": gate.svr()})
    k.start_cprogram(crash(mode), name="crash")
    k.start_cprogram(example("ipc_client"), name="client", caps={"svc": gate})
    res = k.run(raise_errors=False)
    fault = res.failed["crash"]
    assert isinstance(fault, cprog.CProgramFault)
    assert (fault.signo, fault.overflow) == (signo, overflow)
    assert signal.Signals(signo).name in str(fault) and "'crash'" in str(fault)
    assert ("stack overflow" in str(fault)) == overflow
    if mode == 1:
        assert fault.addr == 16
    assert lines_of(k, "crash") == ["before"]
    assert res.exited == {"client": 0} and lines_of(k, "client") == SQUARES


def test_crashes_one_after_another_are_each_caught(arch):
    """The fault handler leaves by a jump, so it unblocks its signal itself: a second and
    a third crash of the same kind, in one run, are caught as the first was."""
    k = Kernel(arch=arch, memory=16 << 20)
    for i in range(3):
        k.start_cprogram(crash(1), name=f"crash{i}")
    k.start_cprogram(crash(5), name="fpe")
    res = k.run(raise_errors=False)
    assert sorted(res.failed) == ["crash0", "crash1", "crash2", "fpe"]
    assert [res.failed[f"crash{i}"].signo for i in range(3)] == [signal.SIGSEGV] * 3
    assert res.failed["fpe"].signo == signal.SIGFPE


def test_crash_raises_by_default(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    k.start_cprogram(crash(1), name="crash")
    with pytest.raises(MicroAppError, match="SIGSEGV") as info:
        k.run()
    assert isinstance(info.value.__cause__, cprog.CProgramFault)


def test_crash_goes_to_the_exception_handler(arch):
    """A thread with an exception handler: the fault is exception IPC to it first."""
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(label=0x20)
    seen = []

    async def handler(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        seen.append((tag.label, label))
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)

    h = k.start_task(handler, name="handler", caps={"exc": gate.svr()})
    gate.bind(h, 0x20)
    k.start_cprogram(crash(6), name="crash", caps={"exc": gate})
    res = k.run(raise_errors=False)
    assert isinstance(res.failed["crash"], cprog.CProgramFault)
    assert [(t, lbl & ~3) for t, lbl in seen] == [(-5, 0x20)]   # L4_PROTO_EXCEPTION, via the gate
    assert lines_of(k, "crash") == ["before"]


def test_exit_ends_the_thread_not_the_process(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    k.start_cprogram(crash(4), name="quits")
    res = k.run()
    assert res.exited == {"quits": 7}
    assert lines_of(k, "quits") == ["before"]


def test_compile_error_carries_the_compilers_message(tmp_path):
    src = tmp_path / "broken.c"
    src.write_text("int main(void) { return undefined_name; }\n")
    with pytest.raises(cprog.CompileError, match="undefined_name"):
        cprog.build(src)


@pytest.mark.parametrize("sources, exc", [
    ([], ValueError), (42, ValueError), ([42], TypeError),
    (["/nonexistent/x.c"], FileNotFoundError)])
def test_build_bad_sources(sources, exc):
    with pytest.raises(exc):
        cprog.build(sources)


def test_build_bad_name_and_flags():
    src = os.path.join(EXAMPLES, "ipc_client.c")
    with pytest.raises(ValueError, match="name"):
        cprog.build(src, name="../evil")
    with pytest.raises(TypeError, match="cflags"):
        cprog.build(src, cflags="-O0")


def test_build_is_cached():
    a = example("ipc_client")
    mtime = os.path.getmtime(a.path)
    assert example("ipc_client") == a and os.path.getmtime(a.path) == mtime


def test_start_cprogram_bad_input(kernel, tmp_path):
    with pytest.raises(TypeError, match="CProgram"):
        kernel.start_cprogram(42)
    with pytest.raises(FileNotFoundError):
        kernel.start_cprogram(str(tmp_path / "missing.so"))
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not an ELF file")
    with pytest.raises(ValueError, match="not a loadable"):
        kernel.start_cprogram(str(junk))
    with pytest.raises(ValueError, match="capability name"):
        kernel.start_cprogram(example("ipc_client"), caps={"a_name_far_too_long": None})
    with pytest.raises(TypeError):
        kernel.start_cprogram(example("ipc_client"), caps=[1])


def test_a_shared_object_without_the_runtime_is_refused(kernel, tmp_path):
    src = tmp_path / "plain.c"
    src.write_text("int f(void) { return 1; }\n")
    so = tmp_path / "plain.so"
    os.system(f"gcc -shared -fPIC -o {so} {src}")
    with pytest.raises(ValueError, match="no C µApp"):
        kernel.start_cprogram(str(so))


def test_cthread_boundary_refuses_garbage(kernel):
    lib, ffi = kernel._lib, kernel._ffi
    out = ffi.new("struct cthread **")
    assert lib.cthread_create(kernel._k, [0], 0x1000, 0, 1, kernel._result, kernel._next,
                              out) < 0                       # no such thread
    assert lib.cthread_run(ffi.NULL, 0, 0) < 0 and lib.cthread_run_next(ffi.NULL) < 0
    assert lib.cthread_link(ffi.NULL, 40) < 0
    table = ffi.new("uint32_t[16]", [7, 48])                 # another version
    assert lib.cthread_link(table, 48) < 0
    assert lib.cthread_code_base(0) == 0
    lib.cthread_free(ffi.NULL)


def test_cli_cc_builds_a_program_that_runs(arch, tmp_path, capsys):
    from pyl4re.__main__ import main
    out = tmp_path / "client.so"
    assert main(["cc", os.path.join(EXAMPLES, "ipc_client.c"), "-o", str(out),
                 "-D", "ROUNDS=2"]) == 0
    assert "C µApp client" in capsys.readouterr().out
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(label=0x10)
    k.start_cprogram(example("ipc_server"), name="srv", caps={"svc": gate.svr()})
    k.start_cprogram(str(out), name="client", caps={"svc": gate})
    assert k.run().exited == {"client": 0}
    assert lines_of(k, "client") == SQUARES[:4]


def test_cli_cc_reports_compile_errors(tmp_path, capsys):
    from pyl4re.__main__ import main
    src = tmp_path / "bad.c"
    src.write_text("int main(void) { syntax error }\n")
    assert main(["cc", str(src), "-o", str(tmp_path / "bad.so")]) == 1
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "bad.so").exists()


def test_headers_and_runtime_ship_with_the_package():
    """pyproject's package-data names every file a C µApp build reads from the package."""
    import glob
    tomllib = pytest.importorskip("tomllib")     # Python 3.11+
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        data = tomllib.load(f)["tool"]["setuptools"]["package-data"]
    shipped = set()
    for package, patterns in data.items():
        base = os.path.join(ROOT, *package.split("."))
        for pattern in patterns:
            shipped |= {os.path.relpath(p, ROOT)
                        for p in glob.glob(os.path.join(base, pattern), recursive=True)}
    pkg = os.path.join(ROOT, "pyl4re")
    needed = {os.path.relpath(p, ROOT) for p in
              glob.glob(os.path.join(pkg, "include", "**", "*.h"), recursive=True)
              + glob.glob(os.path.join(pkg, "crt", "*.c"))
              + glob.glob(os.path.join(pkg, "bench", "c", "*.c"))}
    assert len(needed) > 20 and needed <= shipped, needed - shipped


def test_l4re_src_tree_layout_is_used(arch, tmp_path, monkeypatch):
    """PYL4RE_L4RE_SRC: an l4re-core-shaped tree (l4sys/include/*.h; here our own headers
    stand in for a user's checkout) is laid out as l4/sys/, with our arch/ipc.h first."""
    import shutil
    inc = tmp_path / "l4re-core" / "l4sys" / "include"
    inc.mkdir(parents=True)
    for h in os.listdir(os.path.join(cprog.INCLUDE_DIR, "l4", "sys")):
        if h.endswith(".h"):
            shutil.copy(os.path.join(cprog.INCLUDE_DIR, "l4", "sys", h), inc / h)
    (inc / "types.h").write_text((inc / "types.h").read_text()
                                 + "\n#define FROM_USER_TREE 1\n")
    src = tmp_path / "probe.c"
    src.write_text("#include <stdio.h>\n#include <l4/sys/ipc.h>\n"
                   "#if !defined(FROM_USER_TREE) || !L4SYS_USE_UTCB_WRAP\n#error not used\n#endif\n"
                   "int main(void) { puts(\"user tree\"); return 0; }\n")
    monkeypatch.setenv("PYL4RE_L4RE_SRC", str(tmp_path / "l4re-core"))
    prog = cprog.build(src)
    k = Kernel(arch=arch, memory=16 << 20)
    k.start_cprogram(prog, name="probe")
    assert k.run().exited == {"probe": 0} and lines_of(k, "probe") == ["user tree"]
    monkeypatch.setenv("PYL4RE_L4RE_SRC", str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="l4sys/include"):
        cprog.build(src)


def test_every_header_is_warning_free_c11(tmp_path):
    """A program built with -std=c11 -Wpedantic -Werror may include any of the headers."""
    import glob
    import subprocess
    headers = sorted(os.path.relpath(p, cprog.INCLUDE_DIR) for p in
                     glob.glob(os.path.join(cprog.INCLUDE_DIR, "l4", "**", "*.h"), recursive=True))
    assert "l4/sys/ipc.h" in headers and "l4/re/env.h" in headers
    src = tmp_path / "all.c"
    src.write_text("".join(f"#include <{h}>\n" for h in headers) + "int main(void) { return 0; }\n")
    r = subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                        "-fsyntax-only", "-I", cprog.INCLUDE_DIR, "-I", cprog._abi_dir(),
                        str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
