"""The region map's bookkeeping, shared by moe's region maps and the in-task loader's:
regions (what backs each address range) and areas (reserved ranges), with L4Re's
placement, overlap and fault rules (l4re-core `l4re/util/include/region_mapping`,
`region_mapping_svr`). Pure data: the servers do the IPC.

A refusal raises `RpcError` with the code L4Re's region map answers.
"""
import bisect
from dataclasses import dataclass

from ..l4sys import L4_EACCESS, L4_EADDRNOTAVAIL, L4_EINVAL, L4_ENODEV, L4_ENOENT, L4_ENOMEM
from .protocols import (
    RM_ANONYMOUS, RM_ATTACH_MASK, RM_DETACH_OVERLAP, RM_DETACHED_DS, RM_IN_AREA, RM_KERNEL,
    RM_REGION_MASK, RM_RESERVED, RM_SEARCH_ADDR, RM_SPLIT_DS, RM_W, RM_X,
)
from .rpc import RpcError


@dataclass
class Region:
    start: int
    end: int                   # exclusive
    flags: int
    ds: object                 # the server's handle on the dataspace (None: reserved)
    offset: int
    cap_idx: int               # the client's capability index of the dataspace


class RegionMap:
    """Regions and areas inside [lo, hi) of one address space, in pages of 2^shift."""

    def __init__(self, lo, hi, shift):
        self.lo, self.hi, self.shift = lo, hi, shift
        self.regions = []          # sorted by start
        self.areas = []            # (start, end, flags), sorted

    def _page_up(self, n):
        p = 1 << self.shift
        return -(-n // p) * p

    def _busy(self, start, end, in_area):
        for r in self.regions:
            if r.start < end and start < r.end:
                return True
        if not in_area:
            return any(a < end and start < b for a, b, _ in self.areas)
        return not any(a <= start and end <= b and not f & RM_RESERVED
                       for a, b, f in self.areas)

    def _place(self, start, size, flags, align):
        if flags & ~(RM_REGION_MASK | RM_ATTACH_MASK) or size <= 0:
            raise RpcError(L4_EINVAL, "unknown flags or size 0")
        size = self._page_up(size)
        in_area = bool(flags & RM_IN_AREA)
        if flags & RM_SEARCH_ADDR:
            if not self.shift <= align <= 63:
                raise RpcError(L4_EINVAL, "alignment out of range")
            step = 1 << align
            addr = max(start, self.lo)
            addr = -(-addr // step) * step
            while addr + size <= self.hi:
                if not self._busy(addr, addr + size, in_area):
                    return addr, size
                nxt = min([r.end for r in self.regions if r.end > addr and r.start < addr + size]
                          + [b for a, b, _ in self.areas
                             if not in_area and b > addr and a < addr + size]
                          + [addr + step])
                addr = -(-nxt // step) * step
            raise RpcError(L4_EADDRNOTAVAIL, "no room")
        start &= ~((1 << self.shift) - 1)
        if start + size > 1 << 64:
            raise RpcError(L4_EINVAL, "overflow")
        if start < self.lo or start + size > self.hi or self._busy(start, start + size, in_area):
            raise RpcError(L4_EADDRNOTAVAIL, "overlaps a region or an area")
        return start, size

    def attach(self, start, size, flags, ds, offset, align, cap_idx):
        """The address the region landed at."""
        addr, size = self._place(start, size, flags, align)
        region = Region(addr, addr + size, flags & RM_REGION_MASK, ds, offset, cap_idx)
        bisect.insort(self.regions, region, key=lambda r: r.start)
        return region

    def lookup(self, addr):
        for r in self.regions:
            if r.start <= addr < r.end:
                return r
        return None

    def detach(self, addr, size, flags):
        """(result bits, [regions removed]) for [addr, addr + size)."""
        end = addr + max(size, 1)
        hit = [r for r in self.regions if r.start < end and addr < r.end]
        if not flags & RM_DETACH_OVERLAP:
            hit = [r for r in hit if r.start <= addr < r.end][:1]
        if not hit:
            raise RpcError(L4_ENOENT, "nothing attached there")
        for r in hit:
            self.regions.remove(r)
        result = RM_DETACHED_DS if len(hit) == 1 and hit[0].start >= addr else RM_SPLIT_DS
        return result, hit

    def reserve_area(self, start, size, flags, align):
        if flags & ~(RM_SEARCH_ADDR | RM_KERNEL | RM_RESERVED):
            raise RpcError(L4_EINVAL, "flags not allowed for an area")
        addr, size = self._place(start, size, flags & RM_SEARCH_ADDR, align)
        bisect.insort(self.areas, (addr, addr + size, flags & (RM_KERNEL | RM_RESERVED)))
        return addr

    def free_area(self, addr):
        for a in self.areas:
            if a[0] <= addr < a[1]:
                self.areas.remove(a)
                return 0
        raise RpcError(L4_ENOENT, "no area there")

    def fault(self, addr, write, execute):
        """(region, page address, offset in the dataspace) of a page fault, or RpcError:
        -ENOMEM outside every region, -EACCESS for a write or fetch the region does not
        allow, -ENODEV for kernel and reserved regions."""
        r = self.lookup(addr)
        if r is None:
            raise RpcError(L4_ENOMEM, f"no region at {addr:#x}")
        if r.flags & (RM_KERNEL | RM_RESERVED) or r.ds is None and not r.flags & RM_ANONYMOUS:
            raise RpcError(L4_ENODEV, "kernel or reserved region")
        if write and not r.flags & RM_W or execute and not r.flags & RM_X:
            raise RpcError(L4_EACCESS, "access the region does not allow")
        page = addr & ~((1 << self.shift) - 1)
        return r, page, r.offset + (page - r.start)
