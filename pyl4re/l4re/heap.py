"""`Heap`: a malloc-like allocator for µApps on a dataspace attached to the program's
region map (L4Re's libc heap grows the same way: memory from `env.mem_alloc`, mapped
through `env.rm`). Blocks are 16-byte aligned, first fit, neighbours merged on free;
the memory itself is paged in by the region map on first use.
"""
from .protocols import RM_RW, RM_SEARCH_ADDR

ALIGN = 16
HEAP_SEARCH = 0x20000000


class Heap:
    """`await Heap.create(env, size)`; then `malloc(n)` -> address or None, `free(addr)`."""

    def __init__(self, base, size, ds):
        self.base, self.size, self.ds = base, size, ds
        self.free_list = [(base, size)]          # (address, length), sorted
        self.used = {}                           # address -> length

    @classmethod
    async def create(cls, env, size):
        ds = await env.mem_alloc.alloc(size)
        base = await env.rm.attach(HEAP_SEARCH, size, RM_RW | RM_SEARCH_ADDR, ds)
        return cls(base, size, ds)

    def malloc(self, n):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"malloc takes a byte count, not {n!r}")
        n = max(-(-n // ALIGN) * ALIGN, ALIGN)
        for i, (addr, length) in enumerate(self.free_list):
            if length >= n:
                if length == n:
                    del self.free_list[i]
                else:
                    self.free_list[i] = (addr + n, length - n)
                self.used[addr] = n
                return addr
        return None

    def free(self, addr):
        n = self.used.pop(addr, None)
        if n is None:
            raise ValueError(f"free of {addr:#x}, which malloc did not return")
        self.free_list.append((addr, n))
        self.free_list.sort()
        merged = []
        for a, length in self.free_list:
            if merged and merged[-1][0] + merged[-1][1] == a:
                merged[-1] = (merged[-1][0], merged[-1][1] + length)
            else:
                merged.append((a, length))
        self.free_list = merged
