"""pyl4re: the L4Re microkernel system (Fiasco.OC + L4Re user level) as a fast, faithful
in-process model for Python.

The harness API starts at `Kernel` (a bare kernel) or `boot()` (a whole L4Re system:
sigma0 -> moe -> init, `pyl4re.l4re`); the l4sys ABI (constants, message tags, timeouts,
flexpages) is `pyl4re.l4sys`; typed addresses are in `pyl4re.types`.
"""
from ._core import ARCHES, available_arches
from . import guest, io, mem, vcpu, vm
from .code import entry
from .traps import compute, trap
from .errors import (L4Error, L4InvalidArgumentError, L4NoMemoryError, L4NotFoundError,
                     L4PermissionError)
from .kernel import Kernel
from .types import CapIndex, CpuNumber, PageNumber, PhysAddr, VirtAddr
from .l4sys.consts import L4_BASE_LOG_CAP as _LOG_CAP
from .l4sys.vcon import write_all as _write_all


def boot(arch="x86_64", init="rom/hello", **options):
    """Boot a whole L4Re system: sigma0 -> moe -> `init` (pyl4re.l4re.System)."""
    from .l4re.system import boot as _boot
    return _boot(arch=arch, init=init, **options)


async def log(text):
    """For µApps: print `text` (str or bytes) on the kernel log through the task's Log
    capability (env.log), with l4_vcon_write. The bytes written, or an error (< 0)."""
    return await _write_all(_LOG_CAP, text)


__all__ = [
    "ARCHES", "available_arches", "Kernel", "boot", "entry", "compute", "trap", "mem", "io",
    "vcpu", "vm", "guest", "log",
    "L4Error", "L4InvalidArgumentError", "L4NoMemoryError", "L4NotFoundError",
    "L4PermissionError",
    "CapIndex", "CpuNumber", "PageNumber", "PhysAddr", "VirtAddr",
]
