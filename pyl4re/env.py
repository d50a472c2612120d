"""`Env`: what a µApp started by `Kernel.start_task` gets, like L4Re's `l4re_env_t`
(user-level §3).

Capability fields are selectors (index << 12), as in L4Re; `first_free_cap` is an index,
`utcb_area` an fpage and `first_free_utcb` an address, as the L4Re fields are.
`env.cap_alloc()` hands out the free slots from `first_free_cap` on as selectors, as
`l4re_util_cap_alloc` does, so a µApp never shifts indices by hand; every thread of the
task shares the one allocator. `env.utcb_alloc()` hands out the UTCB slots after
`first_free_utcb` for more threads of the task (Kernel.start_thread takes them there too).
"""
import heapq
from dataclasses import dataclass, field

from . import _core
from .l4sys.fpage import fpage_end

_lib = _core.abi()


class CapAlloc:
    """Free capability slots [first, end) of one task, handed out as selectors: the lowest
    free slot first (deterministic), freed slots again before new ones. It only counts
    slots; what a slot holds is the kernel's business (l4re_util_cap_alloc does the same)."""

    __slots__ = ("_next", "_end", "_freed", "_used")

    def __init__(self, first, end=_lib.CSPACE_SLOTS):
        self._next, self._end = first, end
        self._freed = []                     # a heap of freed indices
        self._used = set()

    def alloc(self):
        """A free slot's selector, or L4_INVALID_CAP when none is left."""
        if self._freed:
            index = heapq.heappop(self._freed)
        elif self._next < self._end:
            index = self._next
            self._next += 1
        else:
            return _lib.L4_INVALID_CAP
        self._used.add(index)
        return index << _lib.L4_CAP_SHIFT

    def free(self, cap):
        """Give back a selector alloc() returned (ValueError for any other)."""
        index = cap >> _lib.L4_CAP_SHIFT if cap.__class__ is int and cap >= 0 else None
        if index is None or cap & ((1 << _lib.L4_CAP_SHIFT) - 1) or index not in self._used:
            raise ValueError(f"cap_free: {cap!r} is not a selector cap_alloc() handed out")
        self._used.remove(index)
        heapq.heappush(self._freed, index)


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
    utcb_size: int = 0                            # the architecture's UTCB size
    _caps_free: CapAlloc = field(default=None, repr=False, compare=False)
    _utcb_next: list = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self._caps_free is None:
            object.__setattr__(self, "_caps_free", CapAlloc(self.first_free_cap))
        object.__setattr__(self, "_utcb_next", [self.first_free_utcb])

    def utcb_alloc(self):
        """The address of the next free UTCB of the task's area, for another thread
        (the harness's start_thread and the task's own threads share it); ValueError
        when the area is full."""
        va = self._utcb_next[0]
        if not self.utcb_size or va + self.utcb_size > fpage_end(self.utcb_area):
            raise ValueError("the task has no free UTCB left")
        self._utcb_next[0] = va + self.utcb_size
        return va

    @property
    def main_thread(self):
        return self.thread

    def get_cap(self, name):
        """The selector of a named capability, or L4_INVALID_CAP (l4re_env_get_cap)."""
        return self.caps.get(name, _lib.L4_INVALID_CAP)

    def cap_alloc(self):
        """A free capability slot of this task as a selector (l4re_util_cap_alloc), to
        pass as the target of l4_factory_create_*, a receive item, ...; L4_INVALID_CAP
        when the table is full."""
        return self._caps_free.alloc()

    def cap_free(self, cap):
        """Hand a selector from cap_alloc() back (l4re_util_cap_free); the slot's content
        stays: release it first with l4_task_release_cap if it holds a capability."""
        self._caps_free.free(cap)
