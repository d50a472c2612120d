"""`Mem_alloc`: the client of moe's memory allocator / user factory (env.mem_alloc).

`alloc` is not an RPC of its own: it is L4::Factory::create (label -15) with the type
Dataspace (0x4000) and the varg arguments size, flags, align (l4re-core
`l4re/include/impl/mem_alloc_impl.h`). `create` makes the other objects moe's factory
offers (name spaces, region maps, logs, scheduler proxies, sub-factories); `info` is
opcode 0 of protocol 0x400B.
"""
import struct

from ..errors import check
from ..l4sys import L4_INVALID_CAP
from . import rpc
from .dataspace import Dataspace
from .protocols import (
    MEM_ALLOC_INFO, PROTO_DATASPACE, PROTO_FACTORY, PROTO_LOG, PROTO_MEM_ALLOC,
    PROTO_NAMESPACE, PROTO_RM, PROTO_SCHEDULER, VARG_MWORD, VARG_STRING, VARG_UMWORD,
)


def vargs(*args):
    """Factory arguments as vargs: ints as signed words (ned passes Lua numbers so),
    ("u", n) as unsigned words, str/bytes as strings incl. NUL, None as nil."""
    out = bytearray()
    for a in args:
        if a is None:
            out += struct.pack("<Q", 0)
        elif isinstance(a, tuple) and a[0] == "u":
            out += struct.pack("<QQ", VARG_UMWORD | 8 << 16, a[1] & (1 << 64) - 1)
        elif isinstance(a, bool) or not isinstance(a, (int, str, bytes)):
            raise TypeError(f"a factory argument is an int, a string or None, not {a!r}")
        elif isinstance(a, int):
            out += struct.pack("<QQ", VARG_MWORD | 8 << 16, a & (1 << 64) - 1)
        else:
            raw = (a.encode() if isinstance(a, str) else a) + b"\0"
            out += struct.pack("<Q", VARG_STRING | len(raw) << 16)
            out += raw + b"\0" * (-len(raw) % 8)
    return bytes(out)


async def factory_create(factory, proto, target, *args):
    """L4::Factory::create of `proto` into slot `target` with vargs: the reply label."""
    data = struct.pack("<q", proto) + vargs(*args)
    r = await rpc.call(factory, PROTO_FACTORY, data, rcv_cap=target)
    return r.label


class Mem_alloc:
    """A capability to a memory allocator (moe's factory). `cap_alloc` gives the slots the
    created objects land in."""
    __slots__ = ("cap", "cap_alloc")

    def __init__(self, cap, cap_alloc):
        self.cap = cap
        self.cap_alloc = cap_alloc

    async def create(self, proto, *args):
        """A new object of `proto` (PROTO_NAMESPACE, PROTO_RM, PROTO_LOG, PROTO_FACTORY,
        PROTO_SCHEDULER, PROTO_DATASPACE): its selector."""
        sel = self.cap_alloc.alloc()
        if sel == L4_INVALID_CAP:
            raise MemoryError("no free capability slot")
        err = await factory_create(self.cap, proto, sel, *args)
        if err < 0:
            self.cap_alloc.free(sel)
            check(err, f"Mem_alloc.create({proto:#x})")
        return sel

    async def alloc(self, size, flags=0, align=0):
        """A new dataspace of `size` bytes (MEM_CONTINUOUS etc. in `flags`, `align` log2)."""
        return Dataspace(await self.create(PROTO_DATASPACE, size, ("u", flags), ("u", align)))

    async def create_namespace(self):
        return await self.create(PROTO_NAMESPACE)

    async def create_rm(self):
        return await self.create(PROTO_RM)

    async def create_log(self, tag, color="w"):
        return await self.create(PROTO_LOG, tag, color)

    async def create_factory(self, quota):
        return Mem_alloc(await self.create(PROTO_FACTORY, quota), self.cap_alloc)

    async def create_scheduler(self, prio_limit, prio_offset, *cpu_words):
        return await self.create(PROTO_SCHEDULER, prio_limit, prio_offset, *cpu_words)

    async def info(self):
        """Stats: (quota, quota_used, mem_limit, mem_used, mem_free) in bytes."""
        r = await rpc.call(self.cap, PROTO_MEM_ALLOC, rpc.Packer().u32(MEM_ALLOC_INFO).words())
        check(r.label, "Mem_alloc.info")
        u = r.unpack()
        return tuple(u.u64() for _ in range(5))
