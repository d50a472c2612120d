"""`Dataspace`: the client of L4Re::Dataspace (protocol 0x4000) for µApps.

A dataspace is memory a server (moe) provides; a program sees it by mapping its pages
(`map`, usually done for it by its region map on a page fault) or by asking the server to
work on it (`clear`, `copy_in`, `allocate`). Every method is one RPC with L4Re's opcode
and layout (l4re-core `l4re/include/dataspace`) and raises `L4Error` when the server
refuses.
"""
from ..errors import check
from ..l4sys import L4_FPAGE_RWX, l4_fpage
from . import rpc
from .protocols import (
    DS_ALLOCATE, DS_CLEAR, DS_COPY_IN, DS_INFO, DS_MAP, DS_MAP_INFO, PROTO_DATASPACE,
)


def _msg(op):
    return rpc.Packer().u32(op)


class Dataspace:
    """A capability to a dataspace (`cap`: its selector in the running task)."""
    __slots__ = ("cap",)

    def __init__(self, cap):
        self.cap = cap

    async def map(self, offset, flags, local_addr, min_addr=None, max_addr=None):
        """Map the dataspace at `offset` to `local_addr` of the caller's task with the
        rights in `flags` (DS_R/W/X). The receive window is, as L4Re picks it, the
        largest naturally aligned block around `local_addr` inside [min_addr, max_addr)
        (default: just its page); the server may answer with that much at once."""
        shift = rpc.running_page_shift()
        page = local_addr & ~((1 << shift) - 1)
        lo = page if min_addr is None else min_addr
        hi = page + (1 << shift) if max_addr is None else max_addr
        order = shift
        while order < 63:
            size = 1 << (order + 1)
            base = local_addr & ~(size - 1)
            if base < lo or base + size > hi:
                break
            order += 1
        window = l4_fpage(local_addr & ~((1 << order) - 1), order, L4_FPAGE_RWX).raw
        msg = _msg(DS_MAP).u64(offset).u64(local_addr).u64(flags)
        r = await rpc.call(self.cap, PROTO_DATASPACE, msg.words(), rcv_window=window)
        return check(r.label, f"Dataspace.map(offset={offset:#x})")

    async def info(self):
        """(size, flags) as the server reports them (W missing if this cap lacks it)."""
        r = await rpc.call(self.cap, PROTO_DATASPACE, _msg(DS_INFO).words())
        check(r.label, "Dataspace.info")
        u = r.unpack()
        return u.u64(), u.u64()

    async def size(self):
        return (await self.info())[0]

    async def flags(self):
        return (await self.info())[1]

    async def clear(self, offset, size):
        """Zero [offset, offset + size) (needs W)."""
        msg = _msg(DS_CLEAR).u64(offset).u64(size)
        return check((await rpc.call(self.cap, PROTO_DATASPACE, msg.words())).label,
                     "Dataspace.clear")

    async def allocate(self, offset, size):
        """Back [offset, offset + size) with memory now rather than on first use."""
        msg = _msg(DS_ALLOCATE).u64(offset).u64(size)
        return check((await rpc.call(self.cap, PROTO_DATASPACE, msg.words())).label,
                     "Dataspace.allocate")

    async def copy_in(self, dst_offs, src, src_offs, size):
        """Copy `size` bytes from dataspace `src` at `src_offs` to `dst_offs` here."""
        msg = _msg(DS_COPY_IN).u64(dst_offs).u64(src_offs).u64(size)
        src_cap = src.cap if isinstance(src, Dataspace) else src
        r = await rpc.call(self.cap, PROTO_DATASPACE, msg.words(), items=[rpc.cap_item(src_cap)])
        return check(r.label, "Dataspace.copy_in")

    async def map_info(self):
        """(start, end) of a fixed physical placement; (0, 0) on MMU systems."""
        r = await rpc.call(self.cap, PROTO_DATASPACE, _msg(DS_MAP_INFO).words())
        check(r.label, "Dataspace.map_info")
        u = r.unpack()
        return u.u64(), u.u64()

    def __repr__(self):
        return f"<Dataspace cap={self.cap:#x}>"
