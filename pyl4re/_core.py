"""The only module that imports the compiled extensions (`pyl4re._core_<arch>`, and
`pyl4re._core_<arch>_wfq` for the WFQ scheduler build).

Everything else reaches C through here: `load(arch)` gives the (ffi, lib) pair of one
architecture's build (`load(arch, "wfq")` its WFQ build), `abi()` the lib whose ABI
constants the arch-neutral modules read at import time (the generic ABI header is the same
in every build; tests check they agree). With PYL4RE_CORE_DIR set, the extensions found
in that folder are loaded instead of the package's own (another build of the same
sources: the coverage build of `pyl4re fuzz --coverage`).
"""
import importlib
import importlib.machinery
import importlib.util
import os
import sys

ARCHES = ("x86_64", "arm64", "mips64")
SCHEDS = ("fp", "wfq")           # fixed priority (the default), weighted fair queueing

_loaded = {}

# A folder of extension modules of another build that take precedence over the package's
# own (`pyl4re fuzz --coverage` runs itself again with the coverage build's, see
# pyl4re/fuzz/coverage.py); the Python code stays the package's.
CORE_DIR = os.environ.get("PYL4RE_CORE_DIR")


def _module(arch, sched):
    return f"pyl4re._core_{arch}" + ("" if sched == "fp" else f"_{sched}")


def _import(name):
    """The extension module `name`, from CORE_DIR if that folder has it."""
    if name in sys.modules or not CORE_DIR:
        return importlib.import_module(name)
    base = name.rpartition(".")[2]
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(CORE_DIR, base + suffix)
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location(name, path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            sys.modules[name] = mod
            return mod
    return importlib.import_module(name)


def load(arch, sched="fp"):
    """(ffi, lib) of the build for `arch` with scheduler `sched`; ValueError if either is
    unknown or that build was not made."""
    if arch not in ARCHES:
        raise ValueError(f"unknown architecture {arch!r}; pyl4re knows {', '.join(ARCHES)}")
    if sched not in SCHEDS:
        raise ValueError(f"unknown scheduler {sched!r}; pyl4re builds {', '.join(SCHEDS)}")
    key = arch if sched == "fp" else (arch, sched)
    if key not in _loaded:
        try:
            mod = _import(_module(arch, sched))
        except ImportError as e:
            if sched != "fp":
                raise ValueError(f"the {sched} scheduler build of {arch!r} was not made; "
                                 f"rebuild with PYL4RE_SCHED including {sched}") from e
            built = ", ".join(available_arches()) or "none"
            raise ValueError(
                f"architecture {arch!r} was not built (built: {built}); rebuild with "
                f"PYL4RE_ARCHES including {arch}") from e
        _loaded[key] = (mod.ffi, mod.lib)
    return _loaded[key]


def available_builds(sched):
    """The architectures whose `sched` build is importable, in canonical order."""
    found = []
    for arch in ARCHES:
        try:
            load(arch, sched)
        except ValueError:
            continue
        found.append(arch)
    return tuple(found)


def available_arches():
    """The architectures whose extension is importable, in canonical order."""
    found = []
    for arch in ARCHES:
        try:
            load(arch) if arch in _loaded else _import(_module(arch, "fp"))
        except ImportError:
            continue
        found.append(arch)
    return tuple(found)


def abi_build():
    """(ffi, lib) of the first built architecture: the source of arch-neutral ABI values."""
    arches = available_arches()
    if not arches:
        raise ImportError("no pyl4re core extension is built; run `pip install -e .`")
    return load(arches[0])


def abi():
    """The lib whose arch-neutral ABI constants (l4_abi.h) Python reads at import time."""
    return abi_build()[1]
