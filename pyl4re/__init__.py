"""pyl4re: the L4Re microkernel system (Fiasco.OC + L4Re user level) as a fast, faithful
in-process model for Python.

The harness API starts at `Kernel`; the l4sys ABI (constants, message tags, timeouts,
flexpages) is `pyl4re.l4sys`; typed addresses are in `pyl4re.types`.
"""
from ._core import ARCHES, available_arches
from . import mem
from .code import entry
from .traps import compute
from .errors import (L4Error, L4InvalidArgumentError, L4NoMemoryError, L4NotFoundError,
                     L4PermissionError)
from .kernel import Kernel
from .types import CapIndex, CpuNumber, PageNumber, PhysAddr, VirtAddr

__all__ = [
    "ARCHES", "available_arches", "Kernel", "entry", "compute", "mem",
    "L4Error", "L4InvalidArgumentError", "L4NoMemoryError", "L4NotFoundError",
    "L4PermissionError",
    "CapIndex", "CpuNumber", "PageNumber", "PhysAddr", "VirtAddr",
]
