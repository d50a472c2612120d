"""moe's physical memory: what it takes from sigma0 at boot and its page allocator.

At boot moe asks sigma0 for any free RAM, largest chunks first (order 30 down to the page
size, each order until sigma0 says no), with a receive window of the whole address space,
so every chunk lands 1:1 (virtual = physical) in moe's own address space (user-level
§1.5). The allocator hands out naturally aligned blocks first fit from those chunks; moe
reads and writes its pages at their physical address through `pyl4re.mem`.
"""
from ... import mem
from ...l4sys import (
    L4_BASE_PAGER_CAP, L4_IPC_NEVER, L4_ITEM_MAP, l4_error, l4_fpage, l4_fpage_all,
    l4_ipc_call, l4_msgtag, l4_utcb,
)

SIGMA0_MAGIC = 0xFFFFFFFFFFFFFF00
SIGMA0_REQ_ANY, SIGMA0_REQ_KIP = 0x90, 0xA0
L4_PROTO_SIGMA0 = -6


async def sigma0_request(kind, fpage=0):
    """One sigma0 request through moe's pager gate; (error, base of the item)."""
    u = l4_utcb()
    u.mr[0] = SIGMA0_MAGIC + kind
    u.mr[1] = fpage
    u.bdr, u.br[0], u.br[1] = 0, L4_ITEM_MAP, l4_fpage_all().raw
    tag = await l4_ipc_call(L4_BASE_PAGER_CAP, u, l4_msgtag(L4_PROTO_SIGMA0, 2, 0, 0),
                            L4_IPC_NEVER)
    err = l4_error(tag, u)
    if err < 0 or tag.items < 1:
        return err or -1, 0
    return 0, int(u.mr[0]) & ~0xFFF


class PageAlloc:
    """Free memory as sorted [start, end) ranges; first fit, naturally aligned."""

    def __init__(self, shift):
        self.shift = shift
        self.free = []
        self.total = 0

    def add(self, start, size):
        self.free.append([start, start + size])
        self.free.sort()
        self.total += size
        self._merge()

    def _merge(self):
        out = []
        for s, e in sorted(self.free):
            if out and out[-1][1] == s:
                out[-1][1] = e
            else:
                out.append([s, e])
        self.free = out

    @property
    def available(self):
        return sum(e - s for s, e in self.free)

    def alloc(self, size, align_shift=None):
        """The address of a free block of `size` bytes (rounded up to pages), aligned to
        2^align_shift (at least a page); None if there is none."""
        page = 1 << self.shift
        size = -(-size // page) * page
        step = 1 << max(align_shift or 0, self.shift)
        for rng in self.free:
            s, e = rng
            a = -(-s // step) * step
            if a + size <= e:
                if a > s:
                    self.free.append([s, a])
                if a + size < e:
                    self.free.append([a + size, e])
                self.free.remove(rng)
                self.free.sort()
                return a
        return None

    def release(self, addr, size):
        page = 1 << self.shift
        self.free.append([addr, addr + -(-size // page) * page])
        self._merge()


async def take_sigma0_memory(alloc, limit=None):
    """Fill `alloc` with RAM from sigma0 (at most `limit` bytes, None: all of it)."""
    for order in range(30, alloc.shift - 1, -1):
        while limit is None or alloc.total + (1 << order) <= limit:
            err, base = await sigma0_request(SIGMA0_REQ_ANY, l4_fpage(0, order, 0).raw)
            if err < 0:
                break
            if base == 0:                       # a chunk at physical 0 loses its first page
                base, size = 1 << alloc.shift, (1 << order) - (1 << alloc.shift)
            else:
                size = 1 << order
            alloc.add(base, size)


async def map_kip():
    """The KIP, mapped 1:1 by sigma0: its address."""
    err, base = await sigma0_request(SIGMA0_REQ_KIP)
    return base if err == 0 else None


async def zero(addr, size):
    await mem.write(addr, bytes(size))
