"""moe's dataspaces: memory served over L4Re::Dataspace (0x4000; l4re-core
`moe/server/src/dataspace.cc`, `dataspace_noncont.cc`).

A dataspace is a size, its rights (moe makes them RWX; boot modules are read-only) and
its pages in moe's memory: a non-contiguous one gets zeroed pages on first map, a
contiguous one all of them at creation. `map` answers with a map item of the page from
moe's address space with send base = the client's hot spot; the kernel puts it into the
client's receive window.
"""
from ... import mem
from ...l4sys import (
    L4_EACCESS, L4_EINVAL, L4_ENOMEM, L4_EPERM, L4_ERANGE, l4_fpage, l4_map_control,
)
from .. import rpc
from ..protocols import (
    DS_ALLOCATE, DS_CACHE_MASK, DS_CLEAR, DS_COPY_IN, DS_INFO, DS_MAP, DS_MAP_INFO, DS_R,
    DS_RIGHTS_MASK, DS_RWX, DS_W, DS_X, PROTO_DATASPACE,
)
from ..rpc import Packer, RpcError
from .memory import zero

MAX_MAP_ORDER = 30                  # the largest flexpage moe answers with (1 GiB)


class MoeDataspace:
    INTERFACES = [(PROTO_DATASPACE, "L4Re::Dataspace")]

    def __init__(self, moe, size, flags=DS_RWX, contiguous=False, pages=None, charged=0, owned=True):
        self.moe = moe
        self.size = size
        self.flags = flags
        self.contiguous = contiguous
        self.pages = dict(pages or {})          # page index -> physical (= moe) address
        self.charged = charged                  # bytes charged to the creating factory
        self.owned = owned                      # False: pages moe does not hand out (KIP)
        self._ops = {DS_MAP: self.map, DS_CLEAR: self.clear, DS_INFO: self.info,
                     DS_COPY_IN: self.copy_in, DS_ALLOCATE: self.allocate,
                     DS_MAP_INFO: self.map_info}

    @property
    def shift(self):
        return self.moe.shift

    @property
    def page_count(self):
        return -(-self.size // (1 << self.shift))

    def protocols(self):
        return {PROTO_DATASPACE: self.dispatch}

    async def dispatch(self, req):
        return await rpc.opcode_table(req, self._ops)(req)

    async def page(self, index):
        """moe's address of page `index`, allocated and zeroed on first use."""
        pa = self.pages.get(index)
        if pa is None:
            pa = await self.moe.alloc_pages(1 << self.shift)
            if pa is None:
                raise RpcError(L4_ENOMEM, "moe is out of memory")
            await zero(pa, 1 << self.shift)
            self.pages[index] = pa
        return pa

    async def map(self, req):
        u = req.unpack()
        offset, spot, flags = u.u64(), u.u64(), u.u64()
        if offset >= self.page_count << self.shift:
            await self.moe.warn(f"MOE: ds access out of bounds: offset={offset:#x} size={self.size:#x}")
            raise RpcError(L4_ERANGE, "offset beyond the dataspace")
        if flags & DS_W and not (req.rights & 1 and self.flags & DS_W):
            raise RpcError(L4_EPERM, "write mapping without the W right")
        if flags & DS_X and not self.flags & DS_X:
            raise RpcError(L4_EPERM, "execute mapping of a dataspace without X")
        order, pa = await self._block(offset, spot)
        rights = DS_R | (flags & (DS_W | DS_X))
        cache = (max(flags & DS_CACHE_MASK, self.flags & DS_CACHE_MASK)) >> 4
        item = (l4_map_control(spot & ~0xFFF, cache, 0), l4_fpage(pa, order, rights).raw)
        return (0, b"", [item])

    async def _block(self, offset, spot):
        """(order, address) of the flexpage that answers a map at `offset`: one page of a
        non-contiguous dataspace; for a contiguous one the largest naturally aligned
        block around it that lies in the dataspace, is aligned in memory, and whose hot
        spot `spot` lines up with the offset (the kernel maps the part of it that fits
        the client's receive window)."""
        if not self.contiguous:
            return self.shift, await self.page(offset >> self.shift)
        base, limit, order = self.pages[0], self.page_count << self.shift, self.shift
        while order < MAX_MAP_ORDER:
            size = 1 << (order + 1)
            block = offset & ~(size - 1)
            if block + size > limit or (base + block) % size or (spot ^ offset) % size:
                break
            order += 1
        return order, base + (offset & ~((1 << order) - 1))

    async def info(self, req):
        flags = self.flags if req.rights & 1 else self.flags & ~DS_W
        return (0, Packer().u64(self.size).u64(flags & (DS_RIGHTS_MASK | DS_CACHE_MASK)).words(), ())

    def _range(self, offset, size):
        end = min(offset + size, self.page_count << self.shift)
        return offset, max(end - offset, 0)

    async def clear(self, req):
        if not req.rights & 1:
            raise RpcError(L4_EACCESS, "clear needs W")
        u = req.unpack()
        offset, size = self._range(u.u64(), u.u64())
        page = 1 << self.shift
        pos = offset
        while pos < offset + size:
            index, within = divmod(pos, page)
            n = min(page - within, offset + size - pos)
            if index in self.pages:                  # untouched pages are zero already
                await zero(self.pages[index] + within, n)
            pos += n
        return 0

    async def read(self, offset, size):
        """Bytes of the dataspace (moe-side; pages not yet backed read as zero)."""
        page, out = 1 << self.shift, bytearray()
        pos = offset
        while pos < offset + size:
            index, within = divmod(pos, page)
            n = min(page - within, offset + size - pos)
            pa = self.pages.get(index)
            out += await mem.read(pa + within, n) if pa is not None else bytes(n)
            pos += n
        return bytes(out)

    async def write(self, offset, data):
        page = 1 << self.shift
        pos, done = offset, 0
        while done < len(data):
            index, within = divmod(pos, page)
            n = min(page - within, len(data) - done)
            await mem.write(await self.page(index) + within, data[done:done + n])
            pos += n
            done += n

    async def copy_in(self, req):
        if not req.rights & 1:
            raise RpcError(L4_EACCESS, "copy_in needs W")
        u = req.unpack()
        dst, src_offs, size = u.u64(), u.u64(), u.u64()
        src, _ = req.local_object(0)
        if not isinstance(src, MoeDataspace):
            raise RpcError(L4_EINVAL, "the source is not a moe dataspace")
        if size == 0:
            return 0
        dst, size = self._range(dst, size)
        src_offs, size = src._range(src_offs, size)
        await self.write(dst, await src.read(src_offs, size))
        return 0

    async def allocate(self, req):
        u = req.unpack()
        offset, size = self._range(u.u64(), u.u64())
        page = 1 << self.shift
        for index in range(offset // page, -(-(offset + size) // page)):
            await self.page(index)
        return 0

    async def map_info(self, req):
        return (0, Packer().u64(0).u64(0).words(), ())

    def release(self):
        """Give the pages back (the dataspace is gone)."""
        for pa in self.pages.values():
            if self.owned:
                self.moe.pages.release(pa, 1 << self.shift)
        self.pages.clear()


def check_size(size):
    if size <= 0:
        raise RpcError(L4_ERANGE, "size 0")
