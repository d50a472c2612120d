"""The mapping database for memory and map/unmap on it (§5.2, §5.5, §13; Fiasco's
map_util and its unit tests src/test/utest/mapdb/): sigma0's roots, recursive unmap,
revocation, superpages and partial unmap, overmapping and upgrades, grant and its demotion,
placement, skipped pages, cacheability, access flags, quotas, task death, the depth limit,
the checked boundary, and a memory map item sent by IPC between µApps."""
import pytest

import pyl4re
from pyl4re import CapIndex, Kernel
from pyl4re.control import mem
from pyl4re.control import vspace as vspace_ctl
from pyl4re.l4sys import (
    L4_EINVAL, L4_ENOMEM, L4_FP_ALL_SPACES, L4_FP_DIRTY, L4_FP_REFERENCED,
    L4_FPAGE_BUFFERABLE, L4_FPAGE_CACHEABLE, L4_FPAGE_RO, L4_FPAGE_RW, L4_FPAGE_RWX,
    L4_FPAGE_RX, L4_FPAGE_UNCACHEABLE, L4_FPAGE_W, L4_FPAGE_X, L4_IPC_NEVER,
    L4_IPC_REMAPFAILED, L4_IPC_SEMAPFAILED, L4_ITEM_MAP, L4_MAP_ITEM_GRANT, l4_fpage,
    l4_fpage_all, l4_ipc_call, l4_ipc_error, l4_ipc_reply_and_wait, l4_ipc_wait,
    l4_map_control, l4_msgtag, l4_obj_fpage, l4_utcb,
)
from pyl4re.mem import PageFaultError
from pyl4re.objects import Task
from pyl4re.types import PhysAddr, VirtAddr

R, RW, RX, RWX = L4_FPAGE_RO, L4_FPAGE_RW, L4_FPAGE_RX, L4_FPAGE_RWX
SUPER = 1 << 21
ENOMEM, EINVAL = -L4_ENOMEM, -L4_EINVAL


class World:
    """A kernel with sigma0 and tasks made by the root factory (or a factory of a test's
    choosing), and short names for map, unmap and translate."""

    def __init__(self, arch, **kw):
        self.k = k = Kernel(arch=arch, memory=16 << 20, **kw)
        self.s0 = Task(k, k._lib.kernel_sigma0(k._k).raw)
        shifts = vspace_ctl.page_shifts(k)
        self.pshift = shifts[0]
        self.P = 1 << shifts[0]
        self.superpages = 21 in shifts
        first = k.frames.stats()["sigma0_first_pfn"] << 12
        self.phys = (first + SUPER - 1) & ~(SUPER - 1)     # a 2 MiB block sigma0 owns
        self.slot = 0x1000                                 # clear of the harness's slots

    def task(self, factory=None):
        self.slot += 1
        return (factory or self.k.root_factory).create_task(self.k.root_task,
                                                             CapIndex(self.slot))

    def map(self, dst, src, addr, order, rights, to, cache=0, grant=False):
        return mem.map_mem(self.k, dst.id, src.id, l4_fpage(addr, order, rights),
                           l4_map_control(to, cache, L4_MAP_ITEM_GRANT if grant else 0))

    def unmap(self, task, addr, order, rights, all_spaces=False):
        return mem.unmap_mem(self.k, task.id, l4_fpage(addr, order, rights),
                             L4_FP_ALL_SPACES if all_spaces else 0)

    def at(self, task, va):
        """(pa, page size, rights) or None."""
        t = task.translate(VirtAddr(va))
        return None if t is None else (t[0].value, t[1], t[2])

    def tree(self, pa):
        return [(m.task_id, m.va.value, m.page_size, m.rights & RWX, m.depth)
                for m in mem.tree(self.k, PhysAddr(pa))]

    def consistent(self):
        problem = mem.check(self.k)
        assert problem is None, problem
        return True

    def chain(self, rights=RWX):
        """sigma0 -> A -> B -> C of one page: A at 0x400000, B at 0x800000, C at 0xC00000."""
        a, b, c = self.task(), self.task(), self.task()
        assert self.map(a, self.s0, self.phys, self.pshift, rights, 0x400000) == 1
        assert self.map(b, a, 0x400000, self.pshift, rights, 0x800000) == 1
        assert self.map(c, b, 0x800000, self.pshift, rights, 0xC00000) == 1
        return a, b, c


@pytest.fixture
def w(arch):
    return World(arch)


# ---- sigma0's roots


def test_sigma0_roots_take_the_largest_page_it_owns(arch):
    # The kernel pool ends at 1.5 MiB: frames there have small roots, from 2 MiB on large.
    w = World(arch, kernel_memory=0x180000)
    a = w.task()
    assert w.map(a, w.s0, 0x180000, w.pshift, RWX, 0x10000000) == 1
    root = mem.tree(w.k, PhysAddr(0x180000))[0]
    assert (root.task_id, root.va.value, root.pa.value, root.page_size, root.depth) == \
        (w.s0.id, 0x180000, 0x180000, w.P, 0)
    assert root.is_root and root.rights & RWX == RWX
    pieces = w.map(a, w.s0, 0x400000, 21, RWX, 0x10400000)
    if w.superpages:
        assert pieces == 1 and w.at(a, 0x10400000) == (0x400000, SUPER, RWX)
        assert mem.tree(w.k, PhysAddr(0x5FF000))[0].page_size == SUPER
    else:                                   # MIPS64: 16 KiB pages only
        assert pieces == SUPER // w.P and w.at(a, 0x10400000)[1] == w.P
    # Kernel frames are not sigma0's to give: they are skipped like missing pages.
    assert w.map(a, w.s0, 0x100000, w.pshift, RWX, 0x20000000) == 0
    assert w.map(a, w.s0, 0, 21, RWX, 0x20000000) == (SUPER - 0x180000) // w.P
    assert w.at(a, 0x20000000) is None and w.at(a, 0x20180000) == (0x180000, w.P, RWX)
    assert mem.tree(w.k, PhysAddr(0x100000)) == []
    assert w.consistent()


def test_sigma0_may_unmap_its_own_roots_and_gets_them_back(w):
    a = w.task()
    assert w.map(a, w.s0, w.phys, w.pshift, RWX, 0x400000) == 1
    w.unmap(w.s0, w.phys, w.pshift, RWX, all_spaces=True)
    assert w.at(a, 0x400000) is None and w.at(w.s0, w.phys) is None
    assert mem.node_count(w.k) == 0
    assert w.map(a, w.s0, w.phys, w.pshift, RWX, 0x400000) == 1
    assert w.at(w.s0, w.phys)[0] == w.phys and w.consistent()


# ---- unmap


def test_unmap_reaches_every_derived_mapping(w):
    a, b, c = w.chain()
    assert [d for *_, d in w.tree(w.phys)] == [0, 1, 2, 3]
    assert w.unmap(a, 0x400000, w.pshift, RWX) == 0
    assert w.at(b, 0x800000) is None and w.at(c, 0xC00000) is None
    assert w.at(a, 0x400000) == (w.phys, w.P, RWX)         # its own stays ...
    assert w.unmap(a, 0x400000, w.pshift, RWX, all_spaces=True) == 0
    assert w.at(a, 0x400000) is None                       # ... unless ALL_SPACES
    assert [t for t, *_ in w.tree(w.phys)] == [w.s0.id]
    assert mem.node_count(w.k) == 1 and w.consistent()


def test_unmap_of_a_range_covers_every_page_in_it(w):
    a, b = w.task(), w.task()
    assert w.map(a, w.s0, w.phys, w.pshift + 2, RWX, 0x400000) == 4
    assert w.map(b, a, 0x400000, w.pshift + 2, RWX, 0x800000) == 4
    w.unmap(a, 0x400000 + 2 * w.P, w.pshift + 1, RWX)       # A's pages 2 and 3
    assert [w.at(b, 0x800000 + i * w.P) is None for i in range(4)] == [False, False, True, True]
    assert w.consistent()


def test_revoking_w_leaves_read_access(w):
    a, b, c = w.chain()
    assert w.unmap(a, 0x400000, w.pshift, L4_FPAGE_W) == 0
    assert w.at(a, 0x400000)[2] == RWX
    assert w.at(b, 0x800000)[2] == RX and w.at(c, 0xC00000)[2] == RX
    assert w.unmap(a, 0x400000, w.pshift, L4_FPAGE_W | L4_FPAGE_X, all_spaces=True) == 0
    assert [w.at(t, va)[2] for t, va in ((a, 0x400000), (b, 0x800000), (c, 0xC00000))] == [R] * 3
    assert [r for _, _, _, r, _ in w.tree(w.phys)] == [RWX, R, R, R]
    assert w.consistent()


def test_an_unmap_without_rights_changes_nothing(w):
    a, b, c = w.chain()
    assert w.unmap(a, 0x400000, w.pshift, 0, all_spaces=True) == 0
    assert [w.at(t, va)[2] for t, va in ((a, 0x400000), (b, 0x800000), (c, 0xC00000))] == [RWX] * 3


def test_unmapping_the_whole_space(w):
    a, b, c = w.chain()
    # l4_fpage_all() carries no rights: like any rights-0 unmap it only reads access flags.
    assert mem.unmap_mem(w.k, b.id, l4_fpage_all(), L4_FP_ALL_SPACES) == 0
    assert w.at(b, 0x800000) is not None
    assert mem.unmap_mem(w.k, b.id, l4_fpage_all().raw | RWX, L4_FP_ALL_SPACES) == 0
    assert w.at(b, 0x800000) is None and w.at(c, 0xC00000) is None
    assert w.at(a, 0x400000) is not None and w.consistent()


# ---- superpages


def test_a_superpage_into_a_small_table_arrives_as_pages(w):
    a, fresh = w.task(), w.task()
    # A has a last-level table at 0x400000 (one page of another frame at 0x400000 + P).
    other = w.phys + SUPER
    assert w.map(a, w.s0, other, w.pshift, RWX, 0x400000 + w.P) == 1
    assert w.map(a, w.s0, w.phys, 21, RX, 0x400000) == SUPER // w.P
    assert w.at(a, 0x400000) == (w.phys, w.P, RX)
    assert w.at(a, 0x400000 + w.P) == (w.phys + w.P, w.P, RX)   # overmapped
    assert [t for t, *_ in w.tree(other)] == [w.s0.id]
    # Into an empty space it is one superpage (where the format has them).
    expected = 1 if w.superpages else SUPER // w.P
    assert w.map(fresh, w.s0, w.phys, 21, RWX, 0x400000) == expected
    assert w.consistent()


def test_a_partial_unmap_removes_a_superpage_whole(w):
    if not w.superpages:
        pytest.skip("MIPS64 has no superpages for user mappings")
    a, b, c = w.task(), w.task(), w.task()
    assert w.map(a, w.s0, w.phys, 21, RWX, 0x400000) == 1
    assert w.map(b, a, 0x400000, 21, RWX, 0x800000) == 1
    assert w.map(c, b, 0x800000 + w.P, w.pshift, RW, 0x1000) == 1
    w.unmap(a, 0x400000 + 5 * w.P, w.pshift, RWX)         # one page of A's superpage
    assert w.at(b, 0x800000 + 0x100000) is None and w.at(c, 0x1000) is None
    assert w.at(a, 0x400000 + 0x100000) == (w.phys + 0x100000, SUPER, RWX)
    w.unmap(a, 0x400000 + 5 * w.P, w.pshift, RWX, all_spaces=True)
    assert w.at(a, 0x400000) is None and w.at(a, 0x5FF000) is None
    assert w.consistent()


def test_a_partial_unmap_of_a_parent_superpage_takes_only_the_pages_in_range(w):
    """Fiasco's test_map_util step 4: sigma0's superpage went to the server as pages;
    unmapping [512K, 768K) of it (not sigma0's own) removes just those pages."""
    a = w.task()
    assert w.map(a, w.s0, w.phys + SUPER, w.pshift, RWX, 0x10000) == 1   # a small table
    assert w.map(a, w.s0, w.phys, 21, RX, 0) == SUPER // w.P
    w.unmap(w.s0, w.phys + 0x80000, 18, RWX)
    gone = [va for va in range(0, SUPER, w.P) if w.at(a, va) is None]
    assert gone == list(range(0x80000, 0xC0000, w.P))
    assert w.at(w.s0, w.phys)[1] == (SUPER if w.superpages else w.P) and w.consistent()


# ---- overmapping and upgrades


def test_overmapping_removes_the_old_mapping_and_its_subtree(w):
    a, b, c = w.task(), w.task(), w.task()
    f1, f2 = w.phys, w.phys + 4 * w.P
    assert w.map(a, w.s0, f1, w.pshift, RWX, 0x400000) == 1
    assert w.map(a, w.s0, f2, w.pshift, RWX, 0x500000) == 1
    assert w.map(b, a, 0x400000, w.pshift, RWX, 0x800000) == 1
    assert w.map(c, b, 0x800000, w.pshift, RWX, 0xC00000) == 1
    assert w.map(b, a, 0x500000, w.pshift, RW, 0x800000) == 1
    assert w.at(b, 0x800000) == (f2, w.P, RW)
    assert w.at(c, 0xC00000) is None
    assert [t for t, *_ in w.tree(f1)] == [w.s0.id, a.id]
    assert w.consistent()


def test_a_remap_by_the_same_parent_only_adds_rights(w):
    a, b, c = w.task(), w.task(), w.task()
    assert w.map(a, w.s0, w.phys, w.pshift, RWX, 0x400000) == 1
    assert w.map(b, a, 0x400000, w.pshift, R, 0x800000) == 1
    assert w.map(c, b, 0x800000, w.pshift, R, 0xC00000) == 1
    nodes = mem.node_count(w.k)
    assert w.map(b, a, 0x400000, w.pshift, RW, 0x800000) == 1
    assert w.at(b, 0x800000)[2] == RW and w.at(c, 0xC00000) is not None   # the child stays
    # Fiasco's test_map_util step 7: overmapping with RX does not take W away.
    assert w.map(b, a, 0x400000, w.pshift, RX, 0x800000) == 1
    assert w.at(b, 0x800000)[2] == RWX
    assert mem.node_count(w.k) == nodes and w.consistent()


def test_the_same_frame_from_another_parent_is_overmapped(w):
    a, b, c = w.chain()
    assert w.map(b, w.s0, w.phys, w.pshift, R, 0x800000) == 1
    assert w.at(c, 0xC00000) is None
    assert [(t, d) for t, _, _, _, d in w.tree(w.phys)] == [(w.s0.id, 0), (b.id, 1), (a.id, 1)]
    assert w.consistent()


def test_mapping_a_page_onto_itself_unmaps_it(w):
    """Fiasco's lookup_src_dst case 2: the destination is the source (or its ancestor),
    so it is unmapped and nothing is mapped."""
    a, b, _ = w.chain()
    assert w.map(a, a, 0x400000, w.pshift, RWX, 0x400000) == 0
    assert w.at(a, 0x400000) is None and w.at(b, 0x800000) is None and w.consistent()


# ---- grant


def test_grant_moves_the_mapping_with_its_children(w):
    fa, fb = (w.k.root_factory.create_factory(w.k.root_task, CapIndex(0x80 + i), 1 << 20)
              for i in range(2))
    a, b, c = w.task(fa), w.task(fb), w.task()
    assert w.map(a, w.s0, w.phys, w.pshift, RWX, 0x400000) == 1
    assert w.map(c, a, 0x400000, w.pshift, RW, 0xC00000) == 1
    used_a, used_b = fa.quota.used, fb.quota.used
    assert w.map(b, a, 0x400000, w.pshift, RWX, 0x800000, grant=True) == 1
    assert w.at(a, 0x400000) is None and w.at(b, 0x800000) == (w.phys, w.P, RWX)
    assert w.tree(w.phys)[1:] == [(b.id, 0x800000, w.P, RWX, 1), (c.id, 0xC00000, w.P, RW, 2)]
    assert fa.quota.used == used_a - mem.NODE_BYTES
    assert fb.quota.used - used_b == mem.NODE_BYTES + _levels(w) * 4096   # node, b's tables
    assert w.consistent()


def test_grant_of_a_part_of_a_superpage_is_a_map(w):
    if not w.superpages:
        pytest.skip("MIPS64 has no superpages for user mappings")
    a, b = w.task(), w.task()
    assert w.map(a, w.s0, w.phys, 21, RWX, 0x400000) == 1
    assert w.map(b, a, 0x400000 + w.P, w.pshift, RWX, 0x800000, grant=True) == 1
    assert w.at(a, 0x400000)[1] == SUPER                    # A keeps its superpage
    assert [(t, d) for t, _, _, _, d in w.tree(w.phys + w.P)] == \
        [(w.s0.id, 0), (a.id, 1), (b.id, 2)]
    assert w.consistent()


def test_grant_from_sigma0_is_a_map(w):
    a = w.task()
    assert w.map(a, w.s0, w.phys, w.pshift, RWX, 0x400000, grant=True) == 1
    assert w.at(w.s0, w.phys) is not None and w.tree(w.phys)[0][0] == w.s0.id


# ---- placement, missing pages, cacheability


def test_placement_follows_the_hot_spot(w):
    a, b = w.task(), w.task()
    assert w.map(a, w.s0, w.phys, w.pshift + 2, RWX, 0x12345678) == 4
    # The whole destination space is the window: hot spot rounded down to the fpage size.
    dst = 0x12345678 & ~(4 * w.P - 1)
    assert [w.at(a, dst + i * w.P)[0] for i in range(4)] == [w.phys + i * w.P for i in range(4)]
    assert w.map(b, a, dst, w.pshift + 2, RWX, 0x76543000) == 4
    dst_b = (0x76543000) & ~(4 * w.P - 1)
    assert w.at(b, dst_b + 3 * w.P)[0] == w.phys + 3 * w.P
    assert w.consistent()


def test_pages_the_sender_lacks_are_skipped(w):
    a, b = w.task(), w.task()
    assert w.map(a, w.s0, w.phys, w.pshift, RWX, 0x400000) == 1
    assert w.map(a, w.s0, w.phys + 2 * w.P, w.pshift, RWX, 0x400000 + 2 * w.P) == 1
    assert w.map(b, a, 0x400000, w.pshift + 2, RWX, 0x800000) == 2
    assert [w.at(b, 0x800000 + i * w.P) is not None for i in range(4)] == [True, False, True, False]
    assert w.map(b, a, 0x600000, w.pshift + 2, RWX, 0x900000) == 0   # nothing there
    # Rights the sender lacks are not given: R from an R page stays R.
    assert w.unmap(a, 0x400000, w.pshift, L4_FPAGE_W | L4_FPAGE_X, all_spaces=True) == 0
    assert w.map(b, a, 0x400000, w.pshift, RWX, 0xA00000) == 1
    assert w.at(b, 0xA00000)[2] == R and w.consistent()


def test_cacheability_is_copied_unless_the_item_sets_it(w):
    a, b, c = w.task(), w.task(), w.task()
    assert w.map(a, w.s0, w.phys, w.pshift, RWX, 0x400000, cache=L4_FPAGE_UNCACHEABLE) == 1
    assert w.map(b, a, 0x400000, w.pshift, RWX, 0x800000) == 1
    assert w.map(c, a, 0x400000, w.pshift, RWX, 0xC00000, cache=L4_FPAGE_BUFFERABLE) == 1
    cache = [vspace_ctl.lookup(w.k, t, VirtAddr(va)).cache
             for t, va in ((a, 0x400000), (b, 0x800000), (c, 0xC00000))]
    # MIPS has no buffered type: it falls back to uncached (§14.3).
    buffered = vspace_ctl.CACHE_UNCACHED if w.k.arch == "mips64" else vspace_ctl.CACHE_BUFFERED
    assert cache == [vspace_ctl.CACHE_UNCACHED, vspace_ctl.CACHE_UNCACHED, buffered]
    assert w.map(c, a, 0x400000, w.pshift, RWX, 0xD00000, cache=L4_FPAGE_CACHEABLE) == 1
    assert vspace_ctl.lookup(w.k, c, VirtAddr(0xD00000)).cache == vspace_ctl.CACHE_NORMAL


# ---- access flags


def _x86_leaf_entry(w, task, va):
    """Physical address of the amd64 leaf entry translating va (Intel SDM 4.5)."""
    table = task.pt_root.value
    for shift in (39, 30, 21, 12):
        addr = table + 8 * ((va >> shift) & 0x1FF)
        e = int.from_bytes(bytes(w.k.physmem[addr:addr + 8]), "little")
        if shift == 12 or e & 0x80:
            return addr
        table = e & 0x000FFFFFFFFFF000
    raise AssertionError("no leaf")


def _touch(w, task, va, bits):
    addr = _x86_leaf_entry(w, task, va)
    w.k.physmem[addr] |= bits


def test_unmap_reports_the_access_flags_of_what_it_flushed(w):
    a, b, c = w.chain()
    if w.k.arch != "x86_64":            # arm and mips page tables report none (§5.5)
        assert w.unmap(a, 0x400000, w.pshift, RWX, all_spaces=True) == 0
        return
    _touch(w, c, 0xC00000, 0x20 | 0x40)                    # Accessed | Dirty
    _touch(w, b, 0x800000, 0x20)
    assert vspace_ctl.lookup(w.k, c, VirtAddr(0xC00000)).flags == L4_FP_REFERENCED | L4_FP_DIRTY
    # A revocation reads and clears them, too.
    assert w.unmap(a, 0x400000, w.pshift, L4_FPAGE_W) == L4_FP_REFERENCED | L4_FP_DIRTY
    assert vspace_ctl.lookup(w.k, c, VirtAddr(0xC00000)).flags == 0
    _touch(w, c, 0xC00000, 0x20 | 0x40)
    assert w.unmap(a, 0x400000, w.pshift, RWX) == L4_FP_DIRTY | L4_FP_REFERENCED
    # Flushed children's flags stay with A's page (Fiasco's v_set_access_flags on amd64).
    assert w.unmap(a, 0x400000, w.pshift, RWX, all_spaces=True) == \
        L4_FP_REFERENCED | L4_FP_DIRTY
    assert w.consistent()


def test_an_upgrade_keeps_the_access_flags(w):
    if w.k.arch != "x86_64":
        pytest.skip("only amd64 page tables report access flags")
    a, b = w.task(), w.task()
    assert w.map(a, w.s0, w.phys, w.pshift, RWX, 0x400000) == 1
    assert w.map(b, a, 0x400000, w.pshift, R, 0x800000) == 1
    _touch(w, b, 0x800000, 0x20)
    assert w.map(b, a, 0x400000, w.pshift, RW, 0x800000) == 1
    assert w.unmap(a, 0x400000, w.pshift, RWX) == L4_FP_REFERENCED


# ---- quotas and task death


def _levels(w):
    out = w.k._ffi.new("struct vspace_format *")
    assert w.k._lib.vspace_describe(vspace_ctl.KIND_USER, out) == 0
    return out.levels


def test_quota_running_out_midway_leaves_whole_pages_and_exact_refunds(w):
    tables = _levels(w) * 4096                          # one table per level at 0x400000
    limit = w.k._lib.KOBJ_SIZE_TASK + tables + 5 * mem.NODE_BYTES
    f = w.k.root_factory.create_factory(w.k.root_task, CapIndex(0x80), limit)
    d = w.task(f)
    d_slot = w.slot
    assert w.map(d, w.s0, w.phys, w.pshift + 3, RWX, 0x400000) == ENOMEM
    assert [w.at(d, 0x400000 + i * w.P) is not None for i in range(8)] == [True] * 5 + [False] * 3
    assert len(d.mappings()) == 5 and f.quota.used == limit
    assert w.consistent()
    # A page whose tables cannot be charged does not arrive either (nothing half-done).
    e = w.task(w.k.root_factory.create_factory(w.k.root_task, CapIndex(0x81),
                                               w.k._lib.KOBJ_SIZE_TASK + 4096))
    assert w.map(e, w.s0, w.phys, w.pshift, RWX, 0x400000) == ENOMEM
    assert e.mappings() == [] and w.at(e, 0x400000) is None
    w.k.root_task.delete(CapIndex(d_slot))              # d dies: every byte comes back
    assert f.quota.used == 0
    assert [m.task_id for m in mem.tree(w.k, PhysAddr(w.phys))] == [w.s0.id]
    assert w.consistent()


def test_destroying_a_task_unmaps_everything_derived_and_refunds(w):
    fc = w.k.root_factory.create_factory(w.k.root_task, CapIndex(0x80), 1 << 20)
    a, b = w.task(), w.task()
    b_slot = w.slot
    c = w.task(fc)
    assert w.map(a, w.s0, w.phys, w.pshift + 1, RWX, 0x400000) == 2
    assert w.map(b, a, 0x400000, w.pshift + 1, RWX, 0x800000) == 2
    assert w.map(c, b, 0x800000, w.pshift + 1, RW, 0xC00000) == 2
    before = fc.quota.used
    w.k.root_task.delete(CapIndex(b_slot))
    assert not b.alive
    assert w.at(c, 0xC00000) is None and w.at(c, 0xC00000 + w.P) is None
    assert fc.quota.used == before - 2 * mem.NODE_BYTES    # c's tables stay until it dies
    assert len(a.mappings()) == 2 and w.consistent()
    w.k.root_task.delete(CapIndex(w.slot))
    assert fc.quota.used == 0


def test_mapping_depth_is_limited(arch):
    w = World(arch, kernel_memory=8 << 20)               # 257 tasks' page tables
    tasks = [w.task() for _ in range(mem.MAX_DEPTH + 1)]
    assert w.map(tasks[0], w.s0, w.phys, w.pshift, RWX, 0x400000) == 1
    for src, dst in zip(tasks, tasks[1:-1]):
        assert w.map(dst, src, 0x400000, w.pshift, RWX, 0x400000) == 1
    deepest = tasks[-2].mappings()[0]
    assert deepest.depth == mem.MAX_DEPTH
    assert w.map(tasks[-1], tasks[-2], 0x400000, w.pshift, RWX, 0x400000) == ENOMEM
    assert w.at(tasks[-1], 0x400000) is None and w.consistent()


# ---- the boundary


def test_every_value_is_checked_and_a_refusal_changes_nothing(w):
    a, b, c = w.chain()
    nodes = mem.node_count(w.k)
    gate = w.k.root_factory.create_gate(w.k.root_task, CapIndex(0x90))
    va_max = w.k.arch_info["user_max"]
    bad_maps = [
        (gate.id, a.id, l4_fpage(0x400000, w.pshift, RWX).raw, 0),        # not a task
        (b.id, 0xDEAD << 32 | 5, l4_fpage(0x400000, w.pshift, RWX).raw, 0),  # no object
        (b.id, a.id, l4_obj_fpage(0, 0, 7).raw, 0),                       # not memory
        (b.id, a.id, l4_fpage(0x400000, 11, RWX).raw, 0),                 # order < 12
        (b.id, a.id, l4_fpage(0x401000, 13, RWX).raw, 0),                 # misaligned
        (b.id, a.id, l4_fpage((va_max + 1) & ~0xFFF, 12, RWX).raw, 0),   # above user space
        (b.id, a.id, l4_fpage(0x400000, w.pshift, RWX).raw, 0x70 | 8),    # no such cache type
    ]
    for dst, src, fp, ctl in bad_maps:
        assert mem.map_mem(w.k, dst, src, fp, ctl) == EINVAL
    bad_unmaps = [
        (gate.id, l4_fpage(0x400000, w.pshift, RWX).raw),
        (a.id, l4_obj_fpage(0, 0, 7).raw),
        (a.id, 0),                                                        # invalid fpage
        (a.id, l4_fpage(0x400000, 11, RWX).raw),
        (a.id, l4_fpage(0x401000, 13, RWX).raw),
    ]
    for task, fp in bad_unmaps:
        assert mem.unmap_mem(w.k, task, fp, L4_FP_ALL_SPACES) == EINVAL
    assert mem.node_count(w.k) == nodes and w.at(c, 0xC00000) is not None
    with pytest.raises(TypeError):
        mem.map_mem(w.k, b.id, a.id, "fpage", 0)
    assert mem.tree(w.k, PhysAddr(w.k.memory)) == EINVAL
    assert w.consistent()


def test_mappings_and_trees_as_records(w):
    a, b, c = w.chain(rights=RW)
    (mb,) = b.mappings()
    assert (mb.task_id, mb.va, mb.pa, mb.page_size, mb.rights & RWX, mb.depth) == \
        (b.id, VirtAddr(0x800000), PhysAddr(w.phys), w.P, RW, 2)
    assert (mb.parent_task_id, mb.parent_va) == (a.id, VirtAddr(0x400000))
    assert mb.rights & vspace_ctl.RIGHT_U and not mb.is_root
    assert [m.task_id for m in mem.tree(w.k, PhysAddr(w.phys))] == [w.s0.id, a.id, b.id, c.id]


# ---- a memory map item in IPC


def _ipc_world(arch, server, client, page_va, rights=RW, **kw):
    w = World(arch, **kw)
    k = w.k
    gate = k.create_gate(0x10)
    srv = k.start_task(server, name="srv", caps={"svc": gate.svr()})
    assert k._lib.gate_bind(k._k, [gate.object.id], [srv.thread_id], 0x10) == 0
    cl = k.start_task(client, name="c", caps={"svc": gate})
    # The harness gives the client one page from sigma0 (as a loader would).
    assert w.map(cl.task, w.s0, w.phys, w.pshift, rights, page_va) == 1
    return k, w, srv, cl


def _server(window, out):
    async def server(env):
        u = l4_utcb()
        u.bdr = 0
        u.br[0], u.br[1], u.br[2] = L4_ITEM_MAP, window, 0
        tag, _ = await l4_ipc_wait(u, L4_IPC_NEVER)
        out["error"] = l4_ipc_error(tag, u)
        out["words"] = [int(u.mr[i]) for i in range(3)]
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), 0x04000400)
    return server


def _client(ctl, fp):
    async def client(env):
        u = l4_utcb()
        u.mr[0], u.mr[1], u.mr[2] = 42, ctl, fp
        tag = await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 1, 1, 0), L4_IPC_NEVER)
        return l4_ipc_error(tag, u)
    return client


def test_a_memory_map_item_arrives_in_the_receive_window(arch):
    out = {}
    shift = World(arch).pshift
    window = l4_fpage(0x20000000, 21, 0).raw
    hot = 0x12345000                                     # (hot mod 2 MiB) rounded to a page
    k, w, srv, cl = _ipc_world(arch, _server(window, out),
                               _client(l4_map_control(hot, 0, 0),
                                       l4_fpage(0x10000000, shift, R).raw), 0x10000000)
    assert k.run().exited["c"] == 0 and out["error"] == 0
    dst = 0x20000000 + ((hot % SUPER) & ~((1 << shift) - 1))
    assert w.at(srv.task, dst) == (w.phys, 1 << shift, R)      # reduced to R
    word = out["words"][1]
    assert word & 0x3E == 0x18 and (word >> 6) & 0x3F == shift     # memory, something mapped
    assert [(m.task_id, m.depth) for m in mem.tree(k, PhysAddr(w.phys))][1:] == \
        [(cl.task.id, 1), (srv.task.id, 2)]
    assert w.consistent()


def test_a_window_smaller_than_the_fpage_takes_the_part_at_the_hot_spot(arch):
    out = {}
    shift = World(arch).pshift
    page = 1 << shift
    window = l4_fpage(0x20000000, shift, 0).raw
    # The client holds one page at 0x10000000 + 2 pages; it sends 4 pages with the hot
    # spot on the third: (hot mod 4 pages) rounded to the window = page 2.
    k, w, srv, _ = _ipc_world(arch, _server(window, out),
                              _client(l4_map_control(2 * page, 0, 0),
                                      l4_fpage(0x10000000, shift + 2, RWX).raw),
                              0x10000000 + 2 * page)
    assert k.run().exited["c"] == 0
    assert w.at(srv.task, 0x20000000) == (w.phys, page, RW)


def test_a_memory_item_for_a_page_the_sender_lacks_maps_nothing(arch):
    out = {}
    shift = World(arch).pshift
    k, w, srv, _ = _ipc_world(arch, _server(l4_fpage_all().raw, out),
                              _client(l4_map_control(0x30000000, 0, 0),
                                      l4_fpage(0x50000000, shift, RW).raw), 0x10000000)
    assert k.run().exited["c"] == 0 and out["words"][1] & 0x3E == 0x1A    # Rcv_map_nothing
    assert w.at(srv.task, 0x30000000) is None


def test_map_failed_in_ipc(arch):
    """A page at the deepest level cannot be mapped on: Map_failed on both sides."""
    out = {}
    shift = World(arch).pshift
    k, w, srv, cl = _ipc_world(arch, _server(l4_fpage_all().raw, out),
                               _client(l4_map_control(0x30000000, 0, 0),
                                       l4_fpage(0x10000000, shift, RW).raw), 0x60000000,
                               kernel_memory=8 << 20)
    # Re-home the client's page at depth MAX_DEPTH through a chain of helper tasks.
    src = w.s0
    for _ in range(mem.MAX_DEPTH - 1):
        t = w.task()
        assert w.map(t, src, w.phys if src is w.s0 else 0x70000000, shift, RW, 0x70000000) == 1
        src = t
    assert w.map(cl.task, src, 0x70000000, shift, RW, 0x10000000) == 1
    assert cl.task.mappings()[0].depth == mem.MAX_DEPTH
    res = k.run()
    assert res.exited["c"] == L4_IPC_SEMAPFAILED and out["error"] == L4_IPC_REMAPFAILED
    assert w.at(srv.task, 0x30000000) is None and w.consistent()


# ---- the software TLBs


def test_software_tlbs_see_a_revocation(arch):
    """A µApp's TLB entry made before a revocation must not let it write afterwards:
    every unmap or revocation moves k->tlb_epoch on."""
    w = World(arch)

    async def main(env):
        await pyl4re.mem.store(0x10000000, 1)
        await pyl4re.compute(10_000)
        try:
            await pyl4re.mem.store(0x10000000, 2)
        except PageFaultError:
            return "fault"
        return "stored"

    t = w.k.start_task(main, name="t")
    assert w.map(t.task, w.s0, w.phys, w.pshift, RW, 0x10000000) == 1
    w.k.run(until_ns=5_000)
    assert w.k.physmem[w.phys] == 1
    w.unmap(t.task, 0x10000000, w.pshift, L4_FPAGE_W, all_spaces=True)
    assert w.k.run().exited["t"] == "fault"
    assert w.k.physmem[w.phys] == 1
