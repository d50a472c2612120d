"""pyl4re.l4sys: the L4Re C system-call library's data types and helpers, in Python.

Constants (`L4_*`, spec §1–§7) are read from the C core's ABI header at import time;
the functions keep l4sys's names and meanings: message tags (msgtag), error results
(errors), timeouts (timeout), flexpages and map items (fpage), capability selectors (cap),
UTCB access (utcb), and the µApp calls that enter the kernel: IPC (ipc) and the kernel
objects' protocols (factory, task, thread, ipc_gate, scheduler, irq, vcon,
platform_control, debugger, iommu), and the vCPU state area (vcpu), which are async and
work inside µApps run by `Kernel.run()`.
"""
from .consts import *  # noqa: F401,F403
from .msgtag import *  # noqa: F401,F403
from .utcb import *  # noqa: F401,F403
from .errors import *  # noqa: F401,F403
from .timeout import *  # noqa: F401,F403
from .fpage import *  # noqa: F401,F403
from .cap import *  # noqa: F401,F403
from .ipc import *  # noqa: F401,F403
from .factory import *  # noqa: F401,F403
from .task import *  # noqa: F401,F403
from .thread import *  # noqa: F401,F403
from .ipc_gate import *  # noqa: F401,F403
from .scheduler import *  # noqa: F401,F403
from .irq import *  # noqa: F401,F403
from .vcon import *  # noqa: F401,F403
from .platform_control import *  # noqa: F401,F403
from .debugger import *  # noqa: F401,F403
from .iommu import *  # noqa: F401,F403
from .vcpu import *  # noqa: F401,F403
from . import (cap, consts, debugger, errors, factory, fpage, iommu, ipc, ipc_gate, irq, msgtag,
               platform_control, scheduler, task, thread, timeout, utcb, vcon, vcpu)

__all__ = (consts.__all__ + msgtag.__all__ + utcb.__all__ + errors.__all__ + timeout.__all__
           + fpage.__all__ + cap.__all__ + ipc.__all__ + factory.__all__ + task.__all__
           + thread.__all__ + ipc_gate.__all__ + scheduler.__all__ + irq.__all__ + vcon.__all__
           + platform_control.__all__ + debugger.__all__ + iommu.__all__ + vcpu.__all__)
