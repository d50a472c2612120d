"""Page-table control plane (§5.5, §14): map, unmap, revoke and look up single pages of a
task's address space.

Kernel-internal: the mapping database (kernel_c/mapdb.c) decides what goes where and calls these;
tests may call them directly. They speak l4sys: 0 or a non-negative value on success, a
negative -L4_Exxx on failure, and a failure changes nothing. What they must not do: split
ranges into pages, follow mapping trees or decide about overmapping (the caller's job), or
keep any state of their own (the page table in physical memory is the only truth).
Addresses are typed (`VirtAddr`, `PhysAddr`); `.value` crosses into C, which checks every
value again.
"""
from dataclasses import dataclass

from .. import _core
from ..types import PhysAddr, VirtAddr, expect

_lib = _core.abi()

KIND_USER = _lib.VSPACE_KIND_USER            # a task: the CPU's stage-1 format
KIND_VM = _lib.VSPACE_KIND_VM                # a VM: guest-physical -> host-physical (stage 2)
KIND_DMA = _lib.VSPACE_KIND_DMA              # a DMA space: I/O virtual -> physical (IOMMU)
CACHE_NORMAL = _lib.VSPACE_CACHE_NORMAL      # = L4_FPAGE_CACHEABLE
CACHE_BUFFERED = _lib.VSPACE_CACHE_BUFFERED  # = L4_FPAGE_BUFFERABLE
CACHE_UNCACHED = _lib.VSPACE_CACHE_UNCACHED  # = L4_FPAGE_UNCACHEABLE
RIGHT_U = _lib.VSPACE_RIGHT_U                # Fiasco's internal "user" right (bit 3)
_U32_MAX = (1 << 32) - 1


@dataclass(frozen=True)
class PageInfo:
    """One leaf of a page table, as the entry holds it."""
    pa: PhysAddr        # translation of the address asked for
    page_size: int      # bytes
    level: int          # table level holding the leaf (0 = root)
    rights: int         # L4_FPAGE_{RO,W,X} | RIGHT_U
    cache: int          # CACHE_*
    flags: int          # L4_FP_REFERENCED | L4_FP_DIRTY (hardware A/D, amd64 only)


def _u32(value, what):
    """value as a C uint32_t argument, or None if it is an int out of range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    return value if 0 <= value <= _U32_MAX else None


def map_page(kernel, task, va, pa, page_shift, rights, cache=CACHE_NORMAL, *, kind=KIND_USER):
    """Map [va, va + 2**page_shift) of `task` to [pa, ...) with `rights` (L4_FPAGE_* RWX
    bits; U is added) and `cache`. The task's table (of `kind`) is made on first use.
    Returns 0, or -L4_EINVAL (bad value), -L4_ENOMEM (quota or kernel memory),
    -L4_EEXIST (a page of another size is in the way), -L4_ENOSYS (kind not offered)."""
    expect(va, VirtAddr, "virtual address")
    expect(pa, PhysAddr, "physical address")
    args = [_u32(x, n) for x, n in ((kind, "kind"), (page_shift, "page_shift"),
                                    (rights, "rights"), (cache, "cache"))]
    if None in args:
        return -_lib.L4_EINVAL
    kind, page_shift, rights, cache = args
    return kernel._lib.vspace_map_page(kernel._k, [task.id], kind, [va.value], [pa.value],
                                       page_shift, rights, cache)


def unmap_page(kernel, task, va, page_shift):
    """Remove the page of 2**page_shift bytes at va. Returns its access flags
    (L4_FP_REFERENCED | L4_FP_DIRTY, >= 0), or -L4_ENOENT (nothing mapped), -L4_EEXIST (a
    page of another size), -L4_EINVAL."""
    expect(va, VirtAddr, "virtual address")
    if _u32(page_shift, "page_shift") is None:
        return -_lib.L4_EINVAL
    flags = kernel._ffi.new("uint32_t *")
    rc = kernel._lib.vspace_unmap_page(kernel._k, [task.id], [va.value], page_shift, flags)
    return rc if rc < 0 else flags[0]


def revoke(kernel, task, va, page_shift, rights):
    """Take `rights` (subset of L4_FPAGE_W | L4_FPAGE_X) from the page at va; reads and
    clears its access flags, which it returns (>= 0), as unmap does. Same errors."""
    expect(va, VirtAddr, "virtual address")
    if _u32(page_shift, "page_shift") is None or _u32(rights, "rights") is None:
        return -_lib.L4_EINVAL
    flags = kernel._ffi.new("uint32_t *")
    rc = kernel._lib.vspace_revoke(kernel._k, [task.id], [va.value], page_shift, rights, flags)
    return rc if rc < 0 else flags[0]


def lookup(kernel, task, va):
    """The PageInfo of the leaf translating va, or a negative -L4_Exxx (-L4_ENOENT when
    nothing is mapped there)."""
    expect(va, VirtAddr, "virtual address")
    out = kernel._ffi.new("struct vspace_page *")
    rc = kernel._lib.vspace_translate(kernel._k, [task.id], [va.value], out)
    if rc < 0:
        return rc
    return PageInfo(PhysAddr(out.pa.raw), 1 << out.page_shift, out.level, out.rights,
                    out.cache, out.flags)


def root(kernel, task):
    """(PhysAddr of the root table, kind), or None before the task's first mapping."""
    ffi = kernel._ffi
    out, kind = ffi.new("phys_addr_t *"), ffi.new("uint32_t *")
    rc = kernel._lib.vspace_root(kernel._k, [task.id], out, kind)
    if rc == -_lib.L4_ENOENT:
        return None
    return rc if rc < 0 else (PhysAddr(out.raw), kind[0])


def page_shifts(kernel, kind=KIND_USER):
    """The leaf sizes (log2, ascending) a kind of table offers on this kernel's
    architecture; () if the kind is not offered."""
    out = kernel._ffi.new("struct vspace_format *")
    if kernel._lib.vspace_describe(kind, out) < 0:
        return ()
    return tuple(sorted(out.shift[i] for i in range(out.levels) if out.leaf_ok[i]))
