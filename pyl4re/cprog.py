"""C µApps: programs written in C against l4sys's API, built with the host compiler and
run in the model with stacks of their own (docs/c-uapps.md).

`build(sources, name=...)` compiles the sources with pyl4re's l4sys-compatible headers
(pyl4re/include) and the C runtime (pyl4re/crt/runtime.c) into a shared object, cached by
content under build/cprog (or PYL4RE_CPROG_CACHE). `Kernel.start_cprogram` loads a fresh
copy of it per task (so each task has its own globals), links its ops table to that
kernel's C entry points (cthread_link: C pointers, so C never calls Python), fills in its
l4re environment, and starts main in a new task like `start_task`.

Each thread of a C µApp is a µApp thread whose code is `_run_thread` below: it runs the
C code (cthread_run) until a kernel entry cannot finish at once, goes on with that entry as
any µApp's (traps.continue_entry), and hands the result back to the C code. The C code's
own crash (SIGSEGV, abort, stack overflow) ends the thread with CProgramFault, which goes
to its exception handler or into the run's result like any µApp's failure.
"""
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import weakref
from dataclasses import dataclass

import cffi

from . import traps
from .errors import L4Error
from .traps import SYS_SWITCH_TO

_HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE_DIR = os.path.join(_HERE, "include")
RUNTIME = os.path.join(_HERE, "crt", "runtime.c")
# The kernel's l4_abi.h: in the source tree, or the copy an installed package carries.
_ABI_DIRS = (os.path.join(os.path.dirname(_HERE), "kernel_c"), os.path.join(INCLUDE_DIR, "abi"))
CFLAGS = ("-std=gnu11", "-O2", "-g", "-fPIC", "-Wall", "-Wextra", "-Wno-unused-parameter")
LDFLAGS = ("-shared", "-Wl,-Bsymbolic-functions")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_ENV_CAPS, _ENV_CAP_NAME = 64, 16

# The runtime's symbols the loader uses (pyl4re/crt/runtime.c).
_ffi = cffi.FFI()
_ffi.cdef("""
    struct pyl4re_model_ops_head { uint32_t version, size; };
    extern struct pyl4re_model_ops_head pyl4re_model_ops;
    int pyl4re_env_init(const unsigned long *fields, unsigned n);
    int pyl4re_env_add_cap(const char *name, unsigned long cap);
    int main(int argc, char **argv);
""")


class CompileError(RuntimeError):
    """The C compiler refused the program: the message is the compiler's."""


class CProgramFault(RuntimeError):
    """A C µApp thread crashed (signal, fault address; `overflow`: it ran off its stack
    into the guard page)."""

    def __init__(self, message, signo, addr, overflow):
        super().__init__(message)
        self.signo, self.addr, self.overflow = signo, addr, overflow


@dataclass(frozen=True)
class CProgram:
    """A built C µApp: its name and the shared object's path."""
    name: str
    path: str


def _abi_dir():
    for d in _ABI_DIRS:
        if os.path.exists(os.path.join(d, "l4_abi.h")):
            return d
    raise FileNotFoundError("l4_abi.h: neither the source tree's kernel_c/ nor the "
                            "installed pyl4re/include/abi/ has it")


def cache_dir():
    """Where built programs are kept: PYL4RE_CPROG_CACHE, else build/cprog in the source
    tree (if writable), else the temporary directory."""
    d = os.environ.get("PYL4RE_CPROG_CACHE")
    if not d:
        root = os.path.dirname(_HERE)
        d = os.path.join(root, "build", "cprog") if os.access(root, os.W_OK) \
            else os.path.join(tempfile.gettempdir(), "pyl4re-cprog")
    os.makedirs(d, exist_ok=True)
    return d


def _include_args(stage):
    """-I options: ours, or (PYL4RE_L4RE_SRC) an l4re-core checkout's l4sys headers with
    our arch/ipc.h, model_ops.h and UTCB wrap hook in front of them."""
    src = os.environ.get("PYL4RE_L4RE_SRC")
    abi = ["-I", _abi_dir()]
    if not src:
        return ["-I", INCLUDE_DIR] + abi
    l4sys = os.path.join(src, "l4sys", "include")
    if not os.path.isdir(l4sys):
        raise ValueError(f"PYL4RE_L4RE_SRC={src!r} has no l4sys/include: is it an "
                         "l4re-core checkout?")
    # The install layout (l4/sys/X from l4sys/include/X), with our own arch/ipc.h.
    sys_dir = os.path.join(stage, "l4", "sys")
    shutil.rmtree(os.path.join(stage, "l4"), ignore_errors=True)
    os.makedirs(os.path.join(sys_dir, "arch"))
    for f in os.listdir(l4sys):
        if f.endswith(".h"):
            os.symlink(os.path.join(l4sys, f), os.path.join(sys_dir, f))
    shutil.copy(os.path.join(INCLUDE_DIR, "l4", "sys", "arch", "ipc.h"),
                os.path.join(sys_dir, "arch", "ipc.h"))
    return ["-DL4SYS_USE_UTCB_WRAP=1", "-I", stage, "-I", INCLUDE_DIR] + abi


def _sources(sources):
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if not isinstance(sources, (list, tuple)) or not sources:
        raise ValueError(f"sources must be a C file's path or a non-empty list of them, not "
                         f"{sources!r}"[:200])
    out = []
    for s in sources:
        if not isinstance(s, (str, os.PathLike)):
            raise TypeError(f"sources: {s!r} is not a path"[:200])
        s = os.fspath(s)
        if not os.path.isfile(s):
            raise FileNotFoundError(f"C source {s!r} does not exist")
        out.append(os.path.abspath(s))
    return out


def _digest(paths, flags):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(p.encode() + b"\0" + f.read())
    trees = [INCLUDE_DIR]
    if os.environ.get("PYL4RE_L4RE_SRC"):          # a user's headers count as sources too
        trees.append(os.path.join(os.environ["PYL4RE_L4RE_SRC"], "l4sys", "include"))
    for tree in trees:
        for root, _, files in sorted(os.walk(tree)):
            for f in sorted(files):
                with open(os.path.join(root, f), "rb") as fh:
                    h.update(f.encode() + fh.read())
    with open(os.path.join(_abi_dir(), "l4_abi.h"), "rb") as f:
        h.update(f.read())
    h.update(" ".join(flags).encode())
    h.update(os.environ.get("PYL4RE_L4RE_SRC", "").encode())
    return h.hexdigest()[:16]


def build(sources, name=None, cflags=(), cc=None):
    """Compile C sources into a C µApp (CProgram); cached, so a rebuild of unchanged
    sources costs a hash. CompileError carries the compiler's message."""
    paths = _sources(sources)
    name = name if name is not None else os.path.splitext(os.path.basename(paths[0]))[0]
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be a short file-name-like string, not {name!r}"[:200])
    if isinstance(cflags, str) or not all(isinstance(f, str) for f in cflags):
        raise TypeError(f"cflags must be a sequence of strings, not {cflags!r}"[:200])
    cc = cc or os.environ.get("CC", "gcc")
    flags = list(CFLAGS) + list(cflags)
    out_dir = cache_dir()
    target = os.path.join(out_dir, f"{name}-{_digest(paths, flags + [cc])}.so")
    if os.path.exists(target):
        return CProgram(name, target)
    stage = tempfile.mkdtemp(prefix="stage-", dir=out_dir)
    try:
        tmp = os.path.join(stage, "out.so")
        cmd = [cc, *flags, *_include_args(stage), *LDFLAGS, "-o", tmp, RUNTIME, *paths]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise CompileError(f"no C compiler {cc!r} (set CC)") from None
        if done.returncode != 0:
            raise CompileError(f"compiling {name} failed:\n{done.stderr.strip()}")
        os.replace(tmp, target)              # atomic: parallel builds of one program agree
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return CProgram(name, target)


def _as_program(program):
    if isinstance(program, CProgram):
        return program
    if isinstance(program, (str, os.PathLike)):
        path = os.fspath(program)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"C µApp {path!r} does not exist (build it with "
                                    "pyl4re.cprog.build or `pyl4re cc`)")
        return CProgram(os.path.splitext(os.path.basename(path))[0], os.path.abspath(path))
    raise TypeError(f"program must be a CProgram (pyl4re.cprog.build) or a .so path, not "
                    f"{type(program).__name__}")


class _Loaded:
    """One task's copy of a program: the library, and where main is."""

    def __init__(self, kernel, program):
        fd, copy = tempfile.mkstemp(suffix=".so", prefix=f"{program.name}-")
        try:
            with os.fdopen(fd, "wb") as out, open(program.path, "rb") as f:
                shutil.copyfileobj(f, out)
            try:
                self.lib = _ffi.dlopen(copy)
            except OSError as exc:
                raise ValueError(f"{program.path!r} is not a loadable C µApp: {exc}") from None
        finally:
            os.unlink(copy)                   # the mapping stays; the name is not needed
        try:
            ops = _ffi.addressof(self.lib, "pyl4re_model_ops")
            self.main_ip = int(_ffi.cast("uintptr_t", _ffi.addressof(self.lib, "main")))
        except (AttributeError, cffi.FFIError):
            _ffi.dlclose(self.lib)
            raise ValueError(f"{program.path!r} is no C µApp: it lacks main or pyl4re's "
                             "runtime (build it with pyl4re.cprog.build)") from None
        if kernel._lib.cthread_link(kernel._ffi.cast("void *", int(_ffi.cast("uintptr_t", ops))),
                                    ops.size) != 0:
            _ffi.dlclose(self.lib)
            raise ValueError(f"{program.path!r} was built for another pyl4re runtime "
                             f"(ops version {ops.version}); rebuild it")
        self.name = program.name
        self.base = kernel._lib.cthread_code_base(self.main_ip)
        weakref.finalize(kernel, _ffi.dlclose, self.lib)

    def set_env(self, env):
        """The l4re environment of the task's C code, from its Env."""
        inv = 0xFFFFFFFFFFFFF800                 # L4_INVALID_CAP
        utcb_area = getattr(env.utcb_area, "raw", env.utcb_area) or 0
        fields = [inv, inv, inv, env.log, env.thread, env.factory, env.scheduler, inv, inv,
                  env.first_free_cap, 0, utcb_area, env.first_free_utcb]
        self.lib.pyl4re_env_init(fields, len(fields))
        base = {"task": env.task, "icu": env.icu, "jdb": env.debugger}
        for cap_name, sel in list(base.items()) + sorted(env.caps.items()):
            if len(cap_name.encode()) > _ENV_CAP_NAME:
                raise ValueError(f"capability name {cap_name!r} is longer than an "
                                 f"l4re_env_t entry holds ({_ENV_CAP_NAME} bytes)")
            if self.lib.pyl4re_env_add_cap(cap_name.encode(), sel) != 0:
                raise ValueError(f"capability {cap_name!r}: at most {_ENV_CAPS} named "
                                 "capabilities, each a valid selector")


def start(kernel, program, name=None, caps=None, prio=1, cpu=0, pager=None):
    """Kernel.start_cprogram: a new task whose first thread runs the program's main."""
    program = _as_program(program)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a string, not {name!r}"[:200])
    if caps is not None:
        for cap_name in caps if isinstance(caps, dict) else ():
            if not isinstance(cap_name, str) or len(cap_name.encode()) > _ENV_CAP_NAME:
                raise ValueError(f"caps: {cap_name!r} is no capability name for a C µApp "
                                 f"(a string of at most {_ENV_CAP_NAME} bytes)"[:200])
    loaded = _Loaded(kernel, program)
    kernel._cprograms[loaded.base] = loaded

    async def main(env):
        loaded.set_env(env)
        return await _run_thread(kernel, loaded.main_ip, 0, True)

    main.__name__ = main.__qualname__ = name or program.name
    return kernel.start_task(main, name=name or program.name, caps=caps, prio=prio, cpu=cpu,
                             pager=pager)


def code_at(kernel, ip):
    """The code a thread sent to ip runs, if ip is a function of a C µApp this kernel
    loaded (l4_thread_ex_regs from C): None otherwise."""
    programs = kernel._cprograms
    if not programs or kernel._lib.cthread_code_base(ip) not in programs:
        return None

    async def c_thread():
        sp = kernel._thread_info(traps.running().id).sp
        return await _run_thread(kernel, ip, sp, False)

    return c_thread


_SIGNALS = {signal.SIGSEGV: "segmentation fault", signal.SIGBUS: "bus error",
            signal.SIGILL: "illegal instruction", signal.SIGFPE: "arithmetic exception",
            signal.SIGABRT: "abort", signal.SIGTRAP: "trap"}


async def _run_thread(kernel, ip, sp, is_main):
    """The running thread's C code at ip, to its end (the exit code)."""
    cur = traps.running()
    lib, ffi = kernel._lib, kernel._ffi
    out = ffi.new("struct cthread **")
    rc = lib.cthread_create(kernel._k, cur.ref, ip, sp, int(is_main), kernel._result,
                            kernel._next, out)
    if rc < 0:
        raise L4Error(-rc, f"starting C code at {ip:#x} in thread {cur.name!r}")
    ct, info = out[0], ffi.new("struct cthread_info *")
    peers = kernel._loop.by_index
    try:
        status = lib.cthread_run(ct, 0, 0)
        while True:
            if status >= SYS_SWITCH_TO:       # to the µApp C chose, as a fast entry does
                if await traps.switch_by_index(peers[status]) == traps.RESUME_RESULT:
                    status = lib.cthread_run_next(ct)   # its result from the scheduler
                    continue
                lib.cthread_info(ct, info)    # resumed otherwise: the entry again
                tag, label = await traps.enter(info.dest, info.tag, info.label,
                                               info.timeout)
            elif status == lib.CTHREAD_ENTRY:
                lib.cthread_info(ct, info)
                tag, label = await traps.continue_entry(info.entry_status, info.dest,
                                                        info.tag, info.label, info.timeout)
            elif status == lib.CTHREAD_EXITED:
                lib.cthread_info(ct, info)
                return info.exit_code
            elif status == lib.CTHREAD_FAULTED:
                lib.cthread_info(ct, info)
                what = _SIGNALS.get(info.signo, f"signal {info.signo}")
                where = (f"stack overflow (the guard page at {info.fault_addr:#x})"
                         if info.overflow else "" if info.signo == signal.SIGABRT
                         else f"at {info.fault_addr:#x}")    # a raised signal has none
                raise CProgramFault(f"C µApp thread {cur.name!r}: "
                                    f"{signal.Signals(info.signo).name} ({what}) {where}".rstrip(),
                                    info.signo, info.fault_addr, bool(info.overflow))
            else:
                raise L4Error(-status, f"resuming the C code of thread {cur.name!r}")
            status = lib.cthread_run(ct, tag, label)
    finally:
        lib.cthread_free(ct)
