"""`Env`: what a µApp started by `Kernel.start_task` gets, like L4Re's `l4re_env_t` (§3).

Capability fields are selectors (index << 12), as in L4Re; `first_free_cap` is an index,
`utcb_area` an fpage and `first_free_utcb` an address, as the L4Re fields are.
"""
from dataclasses import dataclass, field

from . import _core

_lib = _core.abi()


@dataclass(frozen=True)
class Env:
    task: int = _lib.L4_BASE_TASK_CAP
    factory: int = _lib.L4_BASE_FACTORY_CAP
    thread: int = _lib.L4_BASE_THREAD_CAP
    log: int = _lib.L4_BASE_LOG_CAP
    icu: int = _lib.L4_BASE_ICU_CAP
    scheduler: int = _lib.L4_BASE_SCHEDULER_CAP
    debugger: int = _lib.L4_BASE_DEBUGGER_CAP
    caps: dict = field(default_factory=dict)      # name -> selector
    utcb_area: object = None                      # l4_fpage_t of the UTCB area
    first_free_utcb: int = 0
    first_free_cap: int = 0                       # an index, as in l4re_env_t
    kip: int = _lib.KIP_VA                        # the kernel info page, read-only

    @property
    def main_thread(self):
        return self.thread

    def get_cap(self, name):
        """The selector of a named capability, or L4_INVALID_CAP (l4re_env_get_cap)."""
        return self.caps.get(name, _lib.L4_INVALID_CAP)
