"""`Env`: the L4Re environment of a running program (`L4Re::Env`), read from its
`l4re_env_t` in memory, with the client objects L4Re's API gives for each capability.

`env.get_cap(name)` finds a named capability (a selector, or L4_INVALID_CAP; names over
16 characters never match, as in L4Re); `env.mem_alloc` (a Mem_alloc), `env.rm` (an Rm),
`env.log` (a Log), `env.parent` (a Parent) are ready to use; `env.factory`,
`env.scheduler`, `env.main_thread` and `env.task` are selectors; `env.cap_alloc` hands out
the free slots from `env.first_free_cap` on.
"""
from ..l4sys import L4_BASE_TASK_CAP, L4_INVALID_CAP
from ..l4sys.fpage import fpage_end, l4_fpage_t
from ..arch_consts import running_consts
from .cap_alloc import CapAlloc
from .crt0 import read_startup
from .log import Log
from .mem_alloc import Mem_alloc
from .namespace import Namespace
from .parent import Parent
from .protocols import CAP_NAME_MAX
from .rm import Rm


class Env:
    """A program's environment (see module doc). `record` is the raw l4re_env_t."""

    def __init__(self, record, args=(), aux=None):
        self.record = record
        self.args = list(args)
        self.aux = dict(aux or {})
        self.cap_alloc = CapAlloc(record.first_free_cap)
        self.task = L4_BASE_TASK_CAP
        self.factory = record.factory
        self.scheduler = record.scheduler
        self.main_thread = record.main_thread
        self.mem_alloc = Mem_alloc(record.mem_alloc, self.cap_alloc)
        self.rm = Rm(record.rm, self.task)
        self.log = Log(record.log)
        self.parent = Parent(record.parent)
        self.caps = dict(record.caps)

    @classmethod
    async def from_stack(cls):
        """The running program's Env, from its initial stack (crt0)."""
        record, args, aux = await read_startup()
        return cls(record, args, aux)

    @property
    def first_free_cap(self):
        return self.record.first_free_cap

    @property
    def utcb_area(self):
        return self.record.utcb_area

    @property
    def first_free_utcb(self):
        return self.record.first_free_utcb

    def utcb_alloc(self):
        """The address of the next free UTCB slot of the task's UTCB area (`utcb_area`, an
        fpage), for another thread of the program; ValueError when the area is full."""
        va = getattr(self, "_next_utcb", self.first_free_utcb)
        size = running_consts().utcb_size
        if va + size > fpage_end(l4_fpage_t(self.utcb_area)):
            raise ValueError("the task has no free UTCB left")
        self._next_utcb = va + size
        return va

    def get_cap(self, name):
        """The selector of the named capability, or L4_INVALID_CAP."""
        if len(name.encode()) > CAP_NAME_MAX:
            return L4_INVALID_CAP
        return self.caps.get(name, L4_INVALID_CAP)

    def namespace(self, name):
        """The named capability `name` as a Namespace client (e.g. "rom")."""
        cap = self.get_cap(name)
        if cap == L4_INVALID_CAP:
            raise LookupError(f"no capability named {name!r}")
        return Namespace(cap, self.cap_alloc)

    async def exit(self, code=0):
        """End the program: the parent learns `code`, the task goes."""
        await self.parent.exit(code)

    def __repr__(self):
        return f"<Env {sorted(self.caps)} first_free_cap={self.first_free_cap:#x}>"
