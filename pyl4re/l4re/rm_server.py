"""The server side of L4Re::Rm (0x4005) and of the pager protocol (label -2) over one
`RegionMap`, shared by moe's region maps and the in-task loader's. How a dataspace is
named and how a fault is resolved differ between the two and come from a `backend`:

* `backend.take_ds(req, flags)`: the handle for the attach request's dataspace item
  (raises RpcError: -EINVAL for a missing or foreign one, -EPERM for too few rights);
* `backend.resolve(region, page, ds_offset, rights)`: what the fault reply is (moe: a map
  item from its own memory; the in-task loader: a Dataspace::map to moe into its own task,
  then an empty reply);
* `backend.detached(regions)`: after a detach; the result bits it adds (RM_UNMAPPED_RANGE).
"""
from . import rpc
from .protocols import (
    PROTO_PAGE_FAULT, PROTO_RM, RM_ATTACH, RM_DETACH, RM_FIND, RM_FREE_AREA, RM_GET_AREAS,
    RM_GET_REGIONS, RM_KERNEL, RM_PAGE_IN, RM_R, RM_REGIONS_PER_REPLY, RM_RESERVE_AREA, RM_RESERVED,
    RM_RIGHTS_MASK, RM_W, RM_X,
)
from .rpc import Packer, RpcError


class RmServer:
    INTERFACES = [(PROTO_RM, "L4Re::Rm"), (PROTO_PAGE_FAULT, "L4::Pager")]

    def __init__(self, rmap, backend, name=""):
        self.rmap = rmap
        self.backend = backend
        self.name = name
        self.faults = 0
        self._ops = {RM_ATTACH: self.attach, RM_DETACH: self.detach, RM_FIND: self.find,
                     RM_RESERVE_AREA: self.reserve_area, RM_FREE_AREA: self.free_area,
                     RM_GET_REGIONS: self.get_regions, RM_GET_AREAS: self.get_areas,
                     RM_PAGE_IN: self.page_in}

    def protocols(self):
        return {PROTO_RM: self.rm, PROTO_PAGE_FAULT: self.page_fault}

    async def rm(self, req):
        return await rpc.opcode_table(req, self._ops)(req)

    async def attach(self, req):
        u = req.unpack()
        start, size, flags, offset, align, cap_idx = (u.u64(), u.u64(), u.u32(), u.u64(),
                                                      u.u8(), u.u64())
        if flags & RM_RIGHTS_MASK and not flags & (RM_RESERVED | RM_KERNEL):
            ds = await self.backend.take_ds(req, flags, offset, size)
        else:
            ds = None
        region = self.rmap.attach(start, size, flags, ds, offset, align, cap_idx)
        return (0, Packer().u64(region.start).words(), ())

    async def detach(self, req):
        u = req.unpack()
        addr, size, flags = u.u64(), u.u64(), u.u32()
        result, gone = self.rmap.detach(addr, size, flags)
        result |= await self.backend.detached(gone)
        first = gone[0]
        return (result, Packer().u64(first.start).u64(first.end - first.start)
                .u64(first.cap_idx).words(), ())

    async def find(self, req):
        u = req.unpack()
        addr, _size = u.u64(), u.u64()
        r = self.rmap.lookup(addr)
        if r is None:
            raise RpcError(2, "no region")                    # -L4_ENOENT
        return (0, Packer().u64(r.start).u64(r.end - r.start).u32(r.flags).u64(r.offset)
                .u64(r.cap_idx).words(), ())

    async def reserve_area(self, req):
        u = req.unpack()
        start, size, flags, align = u.u64(), u.u64(), u.u32(), u.u8()
        return (0, Packer().u64(self.rmap.reserve_area(start, size, flags, align)).words(), ())

    async def free_area(self, req):
        return self.rmap.free_area(req.unpack().u64())

    def _records(self, items, start):
        items = [i for i in items if i[1] > start][:RM_REGIONS_PER_REPLY]
        p = Packer()
        for s, e, f in items:
            p.u64(s).u64(e - 1).u16(f)
        return (len(items), p.words(), ())

    async def get_regions(self, req):
        return self._records([(r.start, r.end, r.flags) for r in self.rmap.regions],
                             req.unpack().u64())

    async def get_areas(self, req):
        return self._records(self.rmap.areas, req.unpack().u64())

    async def page_in(self, req):
        """Bring in [first, last] (inclusive) with `rights`, as faults of those kinds
        would: the backend maps what it can map itself (the in-task region map: all of
        it; moe: the first page, as one map item)."""
        u = req.unpack()
        first, last, rights = u.u64(), u.u64(), u.u32()
        if last < first:
            raise RpcError(22, "an empty range")                  # -L4_EINVAL
        return await self.backend.page_in(self.rmap, first, last, rights | RM_R)

    async def page_fault(self, req):
        """Label -2: MR0 = address | access bits (1 write, 2 execute), MR1 = pc."""
        pfa, _pc = req.word(0), req.word(1)         # fewer words: -EMSGTOOSHORT
        write, execute = bool(pfa & 2), bool(pfa & 4)
        region, page, offset = self.rmap.fault(pfa & ~7, write, execute)
        rights = RM_R | (RM_W if write else 0) | (RM_X if execute or region.flags & RM_X else 0)
        self.faults += 1
        return await self.backend.resolve(region, page, offset, rights & (region.flags | RM_R))

