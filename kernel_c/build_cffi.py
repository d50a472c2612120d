"""cffi builder: one extension per architecture, `pyl4re._core_<arch>`.

Each extension is the same `kernel_c/` sources plus `arch/<arch>/` and one scheduling
policy folder, `kernel_c/sched_fp/` (fixed priority, `pyl4re._core_<arch>`) or
`kernel_c/sched_wfq/` (weighted fair queueing, `pyl4re._core_<arch>_wfq`): Fiasco selects
its scheduler at compile time, so does pyl4re. The cdef is read from the boundary header
`kernel_c/pyl4re.h` (local `#include "..."` lines are followed, other preprocessor lines
dropped), so the C code and cffi share one set of declarations.

Environment:
  PYL4RE_ARCHES    comma-separated subset of x86_64,arm64,mips64 to build (default: all)
  PYL4RE_SCHED     comma-separated subset of fp,wfq: the schedulers to build (default:
                   both; fp is the `pyl4re._core_<arch>` every Kernel uses unless
                   Kernel(sched="wfq") asks for the WFQ build)
  PYL4RE_SANITIZE  1 = build with AddressSanitizer + UndefinedBehaviorSanitizer
  PYL4RE_COVERAGE  1 = the coverage build: every basic block records its edge (kernel_c/
                   cov.c) for `pyl4re fuzz --coverage`; built into build/coverage by
                   pyl4re/fuzz/coverage.py, never in place
  PYL4RE_MIPS_PAGE_SIZE  16K (default, as Fiasco) or 4K for the MIPS64 build
"""
import os
import re

from cffi import FFI

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCHES = ("x86_64", "arm64", "mips64")
SCHEDS = ("fp", "wfq")

# Listed explicitly: adding a file is a conscious act.
KERNEL_SOURCES = [
    "kernel_c/kernel.c",
    "kernel_c/heap.c",
    "kernel_c/frames.c",
    "kernel_c/kobject.c",
    "kernel_c/quota.c",
    "kernel_c/factory.c",
    "kernel_c/cspace.c",
    "kernel_c/thread.c",
    "kernel_c/sched.c",
    "kernel_c/seed.c",
    "kernel_c/ipc.c",
    "kernel_c/syscall.c",
    "kernel_c/native.c",
    "kernel_c/sigma0.c",
    "kernel_c/check.c",
    "kernel_c/memaccess.c",
    "kernel_c/kip.c",
    "kernel_c/irq.c",
    "kernel_c/semaphore.c",
    "kernel_c/exception.c",
    "kernel_c/floor.c",
    "kernel_c/ptab.c",
    "kernel_c/vspace.c",
    "kernel_c/mapdb.c",
    "kernel_c/trace.c",
    "kernel_c/pfc.c",
    "kernel_c/vcpu.c",
    "kernel_c/iommu.c",
    "kernel_c/thread_ops.c",
    "kernel_c/msi.c",
    "kernel_c/iospace.c",
    "kernel_c/vm.c",
    "kernel_c/cthread.c",
    "kernel_c/cov.c",
]
ARCH_SOURCES = ["arch.c", "paging.c", "mmu.c", "vcpu.c", "vm.c"]

# -flto: the core's files are optimised as one (inlining across them), ~60 instructions
# fewer per C IPC round trip (docs/benchmarks.md); the link needs -flto and -O2 again.
BASE_CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-O2"]
CFLAGS = BASE_CFLAGS + ["-fvisibility=hidden", "-flto"]
SANITIZE_LINK = ["-fsanitize=address,undefined"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                  "-fno-omit-frame-pointer", "-g", "-O1"]
# The coverage build: no LTO (it builds in a third of the time, and edges are counted per
# compiled block either way).
COVERAGE_FLAGS = ["-fsanitize-coverage=trace-pc", "-DPYL4RE_COVERAGE=1"]

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
_INT_DEFINE = re.compile(r"^\s*#\s*define\s+\w+\s+-?(0x[0-9a-fA-F]+|\d+)\s*(/\*.*\*/)?\s*$")


def selected_arches():
    wanted = os.environ.get("PYL4RE_ARCHES", "").strip()
    if not wanted:
        return list(ARCHES)
    names = [a.strip() for a in wanted.split(",") if a.strip()]
    unknown = sorted(set(names) - set(ARCHES))
    if unknown:
        raise SystemExit(f"PYL4RE_ARCHES: unknown architecture(s) {unknown}; "
                         f"choose from {', '.join(ARCHES)}")
    return [a for a in ARCHES if a in names]


def selected_scheds():
    wanted = os.environ.get("PYL4RE_SCHED", "").strip()
    if not wanted:
        return list(SCHEDS)
    names = [s.strip() for s in wanted.split(",") if s.strip()]
    unknown = sorted(set(names) - set(SCHEDS))
    if unknown or not names:
        raise SystemExit(f"PYL4RE_SCHED: unknown scheduler(s) {unknown}; "
                         f"choose from {', '.join(SCHEDS)}")
    return [s for s in SCHEDS if s in names]


def module_name(arch, sched="fp"):
    return f"pyl4re._core_{arch}" + ("" if sched == "fp" else f"_{sched}")


def include_dirs(arch, sched="fp"):
    # pyl4re/include: the ops table C µApps share with the kernel (cthread.c)
    return [os.path.join(ROOT, "kernel_c"), os.path.join(ROOT, "arch", arch),
            os.path.join(ROOT, "kernel_c", f"sched_{sched}"),
            os.path.join(ROOT, "pyl4re", "include")]


def cdef_text(arch, header="pyl4re.h", sched="fp"):
    """The boundary header as cffi sees it: includes inlined, other directives dropped."""
    for d in include_dirs(arch, sched):
        path = os.path.join(d, header)
        if os.path.exists(path):
            break
    else:
        raise FileNotFoundError(header)
    out = []
    with open(path) as f:
        for line in f:
            m = _INCLUDE.match(line)
            if m:
                out.append(cdef_text(arch, m.group(1), sched))
            elif line.lstrip().startswith("#") and not _INT_DEFINE.match(line):
                continue
            else:
                out.append(line.rstrip("\n"))
    return "\n".join(out)


def compile_flags(arch):
    flags = list(CFLAGS)
    if arch == "mips64" and os.environ.get("PYL4RE_MIPS_PAGE_SIZE", "16K").upper() == "4K":
        flags.append("-DPYL4RE_MIPS_PAGE_4K=1")
    if os.environ.get("PYL4RE_SANITIZE") == "1":
        flags += SANITIZE_FLAGS
    if coverage():
        flags = [f for f in flags if f != "-flto"] + COVERAGE_FLAGS
    return flags


def coverage():
    return os.environ.get("PYL4RE_COVERAGE") == "1"


def entry_extension_flags():
    """Compiler and linker flags of the µApp fast-entry extension (pyl4re/_entry.c): the
    core's warnings and optimisation, and the sanitizers in the sanitizer build."""
    sanitize = os.environ.get("PYL4RE_SANITIZE") == "1"
    return {"extra_compile_args": BASE_CFLAGS + ["-Wno-unused-parameter"]
            + (SANITIZE_FLAGS + ["-DPYL4RE_SANITIZE=1"] if sanitize else []),
            "extra_link_args": SANITIZE_LINK if sanitize else []}


# cffi's wrappers release the GIL around every call and save/restore errno. The core
# needs neither (it never blocks, never sets errno, and is not thread-safe: holding the GIL
# keeps two Python threads out of one kernel), and the pair costs ~600 instructions per
# call on the µApp path, more than the kernel entry itself. The generated code includes
# this preamble after cffi's own macros, so redefining them here takes effect.
KEEP_GIL = """
#undef Py_BEGIN_ALLOW_THREADS
#undef Py_END_ALLOW_THREADS
#define Py_BEGIN_ALLOW_THREADS {
#define Py_END_ALLOW_THREADS }
#undef _cffi_restore_errno
#undef _cffi_save_errno
#define _cffi_restore_errno() ((void)0)
#define _cffi_save_errno() ((void)0)
"""


def make_ffi(arch, sched="fp"):
    ffi = FFI()
    ffi.cdef(cdef_text(arch, sched=sched))
    sources = [os.path.relpath(os.path.join(ROOT, s)) for s in KERNEL_SOURCES]
    sources += [os.path.relpath(os.path.join(ROOT, "arch", arch, s)) for s in ARCH_SOURCES]
    link = ([] if coverage() else ["-flto", "-O2"]) + (
        SANITIZE_LINK if os.environ.get("PYL4RE_SANITIZE") == "1" else [])
    ffi.set_source(module_name(arch, sched), KEEP_GIL + '#include "pyl4re.h"\n',
                   sources=sources, include_dirs=include_dirs(arch, sched),
                   extra_compile_args=compile_flags(arch), extra_link_args=link)
    return ffi


ffi_x86_64 = make_ffi("x86_64")
ffi_arm64 = make_ffi("arm64")
ffi_mips64 = make_ffi("mips64")
ffi_x86_64_wfq = make_ffi("x86_64", "wfq")
ffi_arm64_wfq = make_ffi("arm64", "wfq")
ffi_mips64_wfq = make_ffi("mips64", "wfq")
