"""Memory map and unmap control plane (§5.2, §5.5, §13): l4_task_map / l4_task_unmap of
memory flexpages, and the mapping database as Python records (docs/mapdb.md).

The C core does the work (kernel_c/mapdb.c): placement, pieces, rights, overmapping,
grant, quotas, recursive unmap. These functions only pass values across and speak
l4sys: a non-negative result on success, a negative -L4_Exxx on failure, and a value C
refuses (-L4_EINVAL) changes nothing. What they must not do: keep state of their own or
second-guess C's checks (the page tables and the mapping database are the only truth).
Flexpages and control words are raw ints or l4sys objects with `.raw` (l4_fpage_t).
"""
from dataclasses import dataclass

from .. import _core
from ..types import PhysAddr, VirtAddr, expect

_lib = _core.abi()

NODE_BYTES = _lib.MAPDB_NODE_BYTES       # quota each mapping costs its receiving task
MAX_DEPTH = _lib.MAPDB_MAX_DEPTH         # deepest node (sigma0's roots are depth 0)
_U64 = (1 << 64) - 1


@dataclass(frozen=True)
class Mapping:
    """One node of the mapping database: `task_id`'s page at `va` maps the frames from
    `pa`, with `rights` (L4_FPAGE_{RO,W,X} | the kernel's U bit 8); it was mapped (or
    granted) from `parent_task_id`'s page at `parent_va`, or is a root (sigma0's page with
    va == pa, depth 0, parent_task_id 0)."""
    task_id: int
    va: VirtAddr
    pa: PhysAddr
    page_size: int
    rights: int
    depth: int
    parent_task_id: int
    parent_va: VirtAddr

    @property
    def is_root(self):
        return self.parent_task_id == 0


def _word(value, what):
    """A raw 64-bit word from an int or an l4sys object with `.raw`."""
    raw = getattr(value, "raw", value)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise TypeError(f"{what} must be an int or have .raw, not {type(value).__name__}")
    if not 0 <= raw <= _U64:
        raise ValueError(f"{what} {raw:#x} does not fit 64 bits")
    return raw


def map_mem(kernel, dst_task_id, src_task_id, fpage, ctl):
    """l4_task_map of a memory flexpage: src's `fpage` (memory, order >= 12, aligned) into
    dst's whole address space, placed by the hot spot `ctl & ~0xFFF` (l4_map_control:
    grant bit, cacheability). Returns the number of pages that arrived (>= 0), or
    -L4_ENOMEM (Fiasco's Map_failed: quota or memory ran out; what arrived before stays),
    or -L4_EINVAL (nothing done)."""
    fp, c = _word(fpage, "fpage"), _word(ctl, "control word")
    _word(dst_task_id, "destination task id"), _word(src_task_id, "source task id")
    out = kernel._ffi.new("uint32_t *")
    rc = kernel._lib.task_map_mem(kernel._k, [dst_task_id], [src_task_id], fp, c, out)
    return rc if rc < 0 else out[0]


def unmap_mem(kernel, task_id, fpage, mask):
    """l4_task_unmap of a memory flexpage (or l4_fpage_all()): R in its rights removes the
    mappings, otherwise W/X are revoked; from the pages derived from task's, and with
    L4_FP_ALL_SPACES in `mask` from task's own too. Returns the access flags
    (L4_FP_REFERENCED | L4_FP_DIRTY, >= 0) of what was touched, or -L4_EINVAL."""
    fp, m = _word(fpage, "fpage"), _word(mask, "map mask")
    _word(task_id, "task id")
    out = kernel._ffi.new("uint32_t *")
    rc = kernel._lib.task_unmap_mem(kernel._k, [task_id], fp, m, out)
    return rc if rc < 0 else out[0]


def _records(kernel, call):
    """Runs a walk twice (count, then fetch) and converts its entries."""
    ffi = kernel._ffi
    count = ffi.new("uint32_t *")
    rc = call(ffi.NULL, 0, count)
    if rc < 0:
        return rc
    n = count[0]
    out = ffi.new("struct mapdb_entry[]", max(n, 1))
    rc = call(out, n, count)
    if rc < 0:
        return rc
    return [Mapping(e.task.raw, VirtAddr(e.va.raw), PhysAddr(e.pa.raw), 1 << e.page_shift,
                    e.rights, e.depth, e.parent.raw, VirtAddr(e.parent_va.raw))
            for e in (out[i] for i in range(min(n, count[0])))]


def tree(kernel, pa):
    """Every mapping of the frame at PhysAddr `pa`, in tree order (the root first, each
    node before its children), as Mapping records; [] if nobody maps it. -L4_EINVAL if
    pa lies outside physical memory."""
    expect(pa, PhysAddr, "physical address")
    return _records(kernel, lambda out, n, count: kernel._lib.mapdb_walk(
        kernel._k, [pa.value], out, n, count))


def task_mappings(kernel, task_id):
    """The task's mappings in address order, or -L4_EINVAL for a task id that is none."""
    return _records(kernel, lambda out, n, count: kernel._lib.mapdb_task_walk(
        kernel._k, [task_id], out, n, count))


def node_count(kernel):
    """Mapping-database nodes in the whole kernel."""
    return kernel._lib.mapdb_nodes(kernel._k)


def check(kernel):
    """None if the trees, their index and every page table agree; else a description of
    the first problem found (for tests)."""
    out = kernel._ffi.new("struct mapdb_problem *")
    if kernel._lib.mapdb_check(kernel._k, out) == 0:
        return None
    what = kernel._ffi.string(out.what).decode()
    return f"{what}: task {out.task.raw:#x} va {out.va.raw:#x}"
