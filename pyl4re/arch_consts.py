"""The constants of the running µApp's architecture: what a C program has at compile time
(`L4_PAGESHIFT`, the UTCB size, the top of the user address space, where the KIP is and
where L4Re puts a task's UTCB area). µApp code reads them here, never through the kernel
object, which a µApp must not hold: the one look at the kernel is in this module."""
from collections import namedtuple

from . import traps

ArchConsts = namedtuple("ArchConsts", "arch page_shift utcb_size user_max kip_va utcb_area")
_by_build = {}                      # one entry per architecture build (its cffi lib)


def running_consts():
    """The ArchConsts of the architecture the running µApp runs on (RuntimeError outside
    a µApp)."""
    kernel = traps.running().kernel
    lib = kernel._lib
    consts = _by_build.get(lib)
    if consts is None:
        a = kernel.arch_info
        consts = _by_build[lib] = ArchConsts(kernel.arch, a["page_shift"], a["utcb_size"],
                                             a["user_max"], lib.KIP_VA,
                                             lib.ARCH_UTCB_AREA_DEFAULT)
    return consts
