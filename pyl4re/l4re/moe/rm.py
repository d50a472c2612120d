"""moe's region maps (l4re-core `moe/server/src/region.cc`): the loader stage's pager.

They cover the user address space above page 0 (the null-pointer guard) and hold moe's
own dataspaces only; a fault is answered with a map item of the dataspace's page straight
from moe's memory (moe is the dataspaces' server: no further IPC). `find` is not offered,
as in moe.
"""
from ...l4sys import L4_ENOENT, L4_EPERM, l4_fpage, l4_map_control
from ..protocols import DS_W, RM_FIND, RM_W
from ..region_map import RegionMap
from ..rm_server import RmServer
from ..rpc import RpcError
from .dataspace import MoeDataspace


class MoeBackend:
    def __init__(self, moe):
        self.moe = moe

    async def take_ds(self, req, flags, offset, size):
        ds, rights = req.local_object(0)
        if not isinstance(ds, MoeDataspace):
            raise RpcError(L4_ENOENT, "not a moe dataspace")
        if flags & RM_W and not (rights & 1 and ds.flags & DS_W):
            raise RpcError(L4_EPERM, "a writable region needs a writable dataspace")
        return ds

    async def resolve(self, region, page, offset, rights):
        ds = region.ds
        if offset >= ds.page_count << ds.shift:
            return -34                                        # -L4_ERANGE
        pa = await ds.page(offset >> ds.shift)
        item = (l4_map_control(page, 0, 0), l4_fpage(pa, ds.shift, rights).raw)
        return (0, b"", [item])

    async def page_in(self, rmap, first, last, rights):
        region, page, offset = rmap.fault(first, bool(rights & RM_W), bool(rights & 1))
        return await self.resolve(region, page, offset, rights & (region.flags | 4))

    async def detached(self, regions):
        return 0


def new_region_map(moe):
    shift = moe.shift
    server = RmServer(RegionMap(1 << shift, moe.user_max + 1, shift), MoeBackend(moe), "moe")
    server._ops[RM_FIND] = unsupported_async
    return server


async def unsupported_async(req):
    raise RpcError(L4_EPERM, "moe's region maps do not offer find")
