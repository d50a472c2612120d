"""The only module that imports the compiled extensions (`pyl4re._core_<arch>`, and
`pyl4re._core_<arch>_wfq` for the WFQ scheduler build).

Everything else reaches C through here: `load(arch)` gives the (ffi, lib) pair of one
architecture's build (`load(arch, "wfq")` its WFQ build), `abi()` the lib whose ABI
constants the arch-neutral modules read at import time (the generic ABI header is the same
in every build; tests check they agree).
"""
import importlib

ARCHES = ("x86_64", "arm64", "mips64")
SCHEDS = ("fp", "wfq")           # fixed priority (the default), weighted fair queueing

_loaded = {}


def _module(arch, sched):
    return f"pyl4re._core_{arch}" + ("" if sched == "fp" else f"_{sched}")


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
            mod = importlib.import_module(_module(arch, sched))
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
            load(arch) if arch in _loaded else importlib.import_module(f"pyl4re._core_{arch}")
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
