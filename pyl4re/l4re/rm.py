"""`Rm`: the client of L4Re::Rm (protocol 0x4005), the region map of a task, for µApps.

A region map decides what a task's virtual addresses mean: which dataspace, at which
offset, with which rights, backs each region. The task's page faults go to it (it is the
pager), so attaching a dataspace makes its memory usable at the returned address.
Opcodes and argument order as l4re-core `l4re/include/rm`; the flags in
`pyl4re.l4re.protocols` (RM_*). Methods raise `L4Error` when the server refuses.
"""
from dataclasses import dataclass

from ..errors import check
from ..l4sys import L4_FP_ALL_SPACES, L4_FPAGE_RWX, l4_fpage, l4_fpage_all, l4_task_unmap
from . import rpc
from .dataspace import Dataspace
from .protocols import (
    PROTO_RM, RM_ATTACH, RM_DETACH, RM_EAGER_MAP, RM_FIND, RM_FREE_AREA, RM_GET_REGIONS,
    RM_KERNEL, RM_NO_EAGER_MAP, RM_PAGE_IN, RM_RESERVE_AREA, RM_RESERVED, RM_RIGHTS_MASK,
    RM_UNMAPPED_RANGE,
)


@dataclass(frozen=True)
class Region:
    """One attached region as `find` reports it."""
    start: int
    size: int
    flags: int
    offset: int
    ds_cap: int


class Rm:
    """A capability to a region map; `task` is the selector of the task it pages (for the
    unmap after a detach)."""
    __slots__ = ("cap", "task")

    def __init__(self, cap, task):
        self.cap = cap
        self.task = task

    async def attach(self, start, size, flags, ds=None, offset=0, align=None):
        """Attach `ds` (a Dataspace or selector) at `start` (RM_SEARCH_ADDR: the first free
        place from there, aligned to 2^align); the address it landed at."""
        shift = rpc.running_page_shift()
        align = shift if align is None else align
        cap = ds.cap if isinstance(ds, Dataspace) else ds
        if cap is None or not flags & RM_RIGHTS_MASK or flags & (RM_RESERVED | RM_KERNEL):
            items, idx = [], 0
        else:
            items, idx = [rpc.cap_item(cap)], cap >> 12
        msg = (rpc.Packer().u32(RM_ATTACH).u64(start).u64(size).u32(flags).u64(offset)
               .u8(align).u64(idx))
        r = await rpc.call(self.cap, PROTO_RM, msg.words(), items=items)
        check(r.label, "Rm.attach")
        addr = r.unpack().u64()
        if flags & RM_EAGER_MAP and not flags & RM_NO_EAGER_MAP and items:
            page = 1 << shift
            await self.page_in(addr, addr + -(-size // page) * page - 1,
                               flags & RM_RIGHTS_MASK)
        return addr

    async def page_in(self, first, last, rights):
        """Have the region map bring in [first, last] (inclusive) of the task it pages,
        with `rights` (what an eager attach does)."""
        msg = rpc.Packer().u32(RM_PAGE_IN).u64(first).u64(last).u32(rights)
        r = await rpc.call(self.cap, PROTO_RM, msg.words(), rcv_window=l4_fpage_all().raw)
        return check(r.label, "Rm.page_in")

    async def detach(self, addr, size=1, flags=0):
        """Detach the region at `addr`; the result bits (RM_DETACHED_DS ...). The pages go
        from this task unless the server already unmapped them."""
        msg = rpc.Packer().u32(RM_DETACH).u64(addr).u64(size).u32(flags)
        r = await rpc.call(self.cap, PROTO_RM, msg.words())
        result = check(r.label, "Rm.detach")
        u = r.unpack()
        start, length = u.u64(), u.u64()
        if not result & RM_UNMAPPED_RANGE:
            shift = rpc.running_page_shift()
            for page in range(start, start + length, 1 << shift):
                await l4_task_unmap(self.task, l4_fpage(page, shift, L4_FPAGE_RWX),
                                    L4_FP_ALL_SPACES)
        return result

    async def find(self, addr, size=1):
        """The Region containing `addr`."""
        r = await rpc.call(self.cap, PROTO_RM, rpc.Packer().u32(RM_FIND).u64(addr).u64(size).words())
        check(r.label, "Rm.find")
        u = r.unpack()
        start, length, flags, offset, idx = u.u64(), u.u64(), u.u32(), u.u64(), u.u64()
        return Region(start, length, flags, offset, idx << 12)

    async def reserve_area(self, start, size, flags=0, align=None):
        align = rpc.running_page_shift() if align is None else align
        msg = rpc.Packer().u32(RM_RESERVE_AREA).u64(start).u64(size).u32(flags).u8(align)
        r = await rpc.call(self.cap, PROTO_RM, msg.words())
        check(r.label, "Rm.reserve_area")
        return r.unpack().u64()

    async def free_area(self, addr):
        r = await rpc.call(self.cap, PROTO_RM, rpc.Packer().u32(RM_FREE_AREA).u64(addr).words())
        return check(r.label, "Rm.free_area")

    async def get_regions(self, start=0):
        """[(start, end, flags)] of the regions from `start` on (one reply's worth)."""
        r = await rpc.call(self.cap, PROTO_RM, rpc.Packer().u32(RM_GET_REGIONS).u64(start).words())
        n = check(r.label, "Rm.get_regions")
        u = r.unpack()
        return [(u.u64(), u.u64(), u.u16()) for _ in range(n)]
