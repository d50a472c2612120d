"""Page tables: the generic walk through the boundary (kernel_c/vspace.c, ptab.c) on every
architecture: map, translate, unmap, revoke, page sizes, shapes in the way, quota charged
and refunded exactly, exhaustion midway, bad input, and the MIPS64 software TLB model.

Expectations come from a small reference model of the tree written here (which tables a
set of mappings needs), never from the C walk itself.
"""
import glob
import hashlib
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import ptdecode
from pyl4re import (CapIndex, Kernel, L4InvalidArgumentError, PhysAddr,
                    VirtAddr, _core)
from pyl4re.control import vspace

R, W, X = 4, 2, 1
RWX = R | W | X
USER, VM, DMA = vspace.KIND_USER, vspace.KIND_VM, vspace.KIND_DMA
NORMAL = vspace.CACHE_NORMAL
BUILT = _core.available_arches()
L4_EINVAL, L4_ENOMEM, L4_ENOENT, L4_EEXIST, L4_ENOSYS, L4_EFAULT = 22, 12, 2, 17, 38, 14

LEVEL_SHIFTS = {"x86_64": (39, 30, 21, 12), "arm64": (39, 30, 21, 12)}
PAGE_SIZES = {"x86_64": {USER: (12, 21, 30), VM: (12, 21, 30), DMA: (12,)},   # VM: EPT; VT-d: 4 KiB
              "arm64": {USER: (12, 21, 30), VM: (12, 21, 30), DMA: (12, 21, 30)},  # stage 2
              "mips64": {USER: None, VM: None, DMA: None}}  # None: the build's page size only
USER_MAX = {"x86_64": 0x00007FFFFFFFFFFF, "arm64": 0x0000FF7FFFFFFFFF, "mips64": 0xFFFFFFFF}


def level_shifts(k):
    if k.arch == "mips64":
        return (39, 30, 21, k.arch_info["page_shift"])
    return LEVEL_SHIFTS[k.arch]


def offered(k, kind=USER):
    sizes = PAGE_SIZES[k.arch][kind]
    return (k.arch_info["page_shift"],) if sizes is None else sizes


def new_task(k, index=20, factory=None):
    return (factory or k.root_factory).create_task(k.root_task, CapIndex(index))


def stats(k, task):
    out = k._ffi.new("struct vspace_stats *")
    assert k._lib.vspace_stats(k._k, [task.id], out) == 0
    return out.tables, out.leaves


def free_frames(k):
    return k.frames.stats()["kernel_free_frames"]


def snapshot(k, task, factory=None):
    """Everything a failing call must leave alone."""
    q = (factory or k.root_factory).quota
    return (stats(k, task), task.pt_root, q.used, free_frames(k),
            hashlib.sha1(bytes(k.physmem[:k.kernel_memory])).hexdigest())


def big_kernel(arch, **kw):
    """Large enough for 1 GiB pages (physical memory is allocated lazily)."""
    return Kernel(arch=arch, memory=1 << 30, kernel_memory=4 << 20, **kw)


# ---- a reference model of the tree (levels only; entries are the golden test's job)

class Model:
    """Which tables and leaves a sequence of map/unmap calls leaves, per the rules in
    vspace_api.h: leaves replace leaves of their size; a larger leaf on the way or a table
    where the leaf goes refuses (EEXIST); tables stay until the tree goes."""

    def __init__(self, shifts):
        self.shifts = shifts
        self.tables = set()          # (level, va >> shift of the level above); root = (0, 0)
        self.leaves = {}             # (level, va >> shift) -> (pa, rights)

    def leaf_covering(self, va):
        for level, s in enumerate(self.shifts):
            if (level, va >> s) in self.leaves:
                return level
        return None

    def map(self, va, pa, shift, rights):
        target = self.shifts.index(shift)
        for level in range(target):
            if (level, va >> self.shifts[level]) in self.leaves:
                return -L4_EEXIST
        if target + 1 < len(self.shifts) and (target + 1, va >> shift) in self.tables:
            return -L4_EEXIST
        self.tables.add((0, 0))
        for level in range(1, target + 1):
            self.tables.add((level, va >> self.shifts[level - 1]))
        self.leaves[(target, va >> shift)] = (pa, rights)
        return 0

    def unmap(self, va, shift):
        level = self.leaf_covering(va)
        if level is None:
            return -L4_ENOENT
        if self.shifts[level] != shift:
            return -L4_EEXIST
        del self.leaves[(level, va >> shift)]
        return 0

    def translate(self, va):
        level = self.leaf_covering(va)
        if level is None:
            return None
        s = self.shifts[level]
        pa, rights = self.leaves[(level, va >> s)]
        return pa + (va & ((1 << s) - 1)), 1 << s, rights


# ---- basics

def test_page_sizes_offered(kernel):
    for kind in (USER, VM, DMA):
        assert vspace.page_shifts(kernel, kind) == tuple(offered(kernel, kind))
    fmt = kernel._ffi.new("struct vspace_format *")
    assert kernel._lib.vspace_describe(3, fmt) == -L4_EINVAL
    assert kernel._lib.vspace_describe(USER, fmt) == 0
    assert fmt.levels == 4 and tuple(fmt.shift) == level_shifts(kernel)
    assert fmt.va_max == USER_MAX[kernel.arch] == kernel.arch_info["user_max"]


def test_a_task_has_no_table_until_its_first_mapping(kernel):
    t = new_task(kernel)
    assert t.pt_root is None and stats(kernel, t) == (0, 0)
    assert t.translate(VirtAddr(0x400000)) is None
    ps = offered(kernel)[0]
    assert vspace.unmap_page(kernel, t, VirtAddr(0x400000), ps) == -L4_ENOENT
    assert vspace.revoke(kernel, t, VirtAddr(0x400000), ps, W) == -L4_ENOENT
    assert vspace.root(kernel, t) is None


@pytest.mark.parametrize("arch", BUILT)
def test_map_translate_unmap_every_page_size(arch):
    k = big_kernel(arch)
    t = new_task(k)
    for n, shift in enumerate(offered(k)):
        size = 1 << shift
        va, pa = (n + 1) << 31 if arch != "mips64" else 0x40000000 + n * size, 0
        assert vspace.map_page(k, t, VirtAddr(va), PhysAddr(pa), shift, R | W) == 0
        for off in (0, 8, size // 2, size - 1):
            assert t.translate(VirtAddr(va + off)) == (PhysAddr(pa + off), size, R | W)
        assert t.translate(VirtAddr(va + size)) is None
        assert vspace.unmap_page(k, t, VirtAddr(va), shift) == 0
        assert t.translate(VirtAddr(va)) is None
        assert vspace.unmap_page(k, t, VirtAddr(va), shift) == -L4_ENOENT


def test_root_is_a_kernel_frame_and_user_mappings_carry_u(kernel):
    t = new_task(kernel)
    ps = offered(kernel)[0]
    assert vspace.map_page(kernel, t, VirtAddr(0x400000), PhysAddr(0x800000), ps, R) == 0
    root = t.pt_root
    assert isinstance(root, PhysAddr) and root.value % 4096 == 0
    assert kernel.frames.owner(root.pfn()) == "kernel"
    assert vspace.root(kernel, t) == (root, USER)
    page = vspace.lookup(kernel, t, VirtAddr(0x400000))
    assert page.rights & vspace.RIGHT_U and page.flags == 0
    assert page.level == 3


def test_an_existing_leaf_is_replaced(kernel):
    t = new_task(kernel)
    ps = offered(kernel)[0]
    va = VirtAddr(0x400000)
    assert vspace.map_page(kernel, t, va, PhysAddr(0x800000), ps, R) == 0
    before = stats(kernel, t)
    assert vspace.map_page(kernel, t, va, PhysAddr(0xA00000), ps, RWX,
                           vspace.CACHE_UNCACHED) == 0
    assert t.translate(va) == (PhysAddr(0xA00000), 1 << ps, RWX)
    assert vspace.lookup(kernel, t, va).cache == vspace.CACHE_UNCACHED
    assert stats(kernel, t) == before


@pytest.mark.parametrize("arch", [a for a in BUILT if a != "mips64"])
def test_shapes_in_the_way_are_refused_and_change_nothing(arch):
    k = big_kernel(arch)
    t = new_task(k)
    assert vspace.map_page(k, t, VirtAddr(0x40000000), PhysAddr(0x200000), 21, R) == 0
    assert vspace.map_page(k, t, VirtAddr(0x80000000), PhysAddr(0x1000), 12, R) == 0
    snap = snapshot(k, t)
    # a 2 MiB leaf where a 4 KiB page needs a table; a table where a 2 MiB leaf must go
    assert vspace.map_page(k, t, VirtAddr(0x40001000), PhysAddr(0x1000), 12, R) == -L4_EEXIST
    assert vspace.map_page(k, t, VirtAddr(0x80000000), PhysAddr(0x200000), 21, R) == -L4_EEXIST
    # a 1 GiB leaf over both
    assert vspace.map_page(k, t, VirtAddr(0x40000000), PhysAddr(0), 30, R) == -L4_EEXIST
    # unmap and revoke name the size of the leaf that is there
    assert vspace.unmap_page(k, t, VirtAddr(0x40000000), 12) == -L4_EEXIST
    assert vspace.unmap_page(k, t, VirtAddr(0x80000000), 21) == -L4_EEXIST
    assert vspace.revoke(k, t, VirtAddr(0x40000000), 30, W) == -L4_EEXIST
    assert snapshot(k, t) == snap


def test_revoke_takes_w_and_x_only(kernel):
    t = new_task(kernel)
    ps = offered(kernel)[0]
    va = VirtAddr(0x400000)
    assert vspace.map_page(kernel, t, va, PhysAddr(0x800000), ps, RWX) == 0
    assert vspace.revoke(kernel, t, va, ps, W) == 0
    assert t.translate(va)[2] == R | X
    assert vspace.revoke(kernel, t, va, ps, X) == 0
    assert t.translate(va)[2] == R
    assert vspace.revoke(kernel, t, va, ps, W | X) == 0          # nothing left to take
    assert t.translate(va)[2] == R
    snap = snapshot(kernel, t)
    assert vspace.revoke(kernel, t, va, ps, R) == -L4_EINVAL      # R means unmap
    assert vspace.revoke(kernel, t, va, ps, 8) == -L4_EINVAL
    assert snapshot(kernel, t) == snap


# ---- the reference model, at random

@pytest.mark.parametrize("arch", BUILT)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_maps_and_unmaps_agree_with_the_model(arch, data):
    k = big_kernel(arch)
    child = k.root_factory.create_factory(k.root_task, CapIndex(19), limit=4 << 20)
    t = new_task(k, 20, child)
    shifts, sizes = level_shifts(k), offered(k)
    model = Model(shifts)
    frames0 = free_frames(k)
    # A few 1 GiB regions, so that tables are shared as well as separate.
    regions = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True))
    for _ in range(data.draw(st.integers(1, 25))):
        shift = data.draw(st.sampled_from(sizes))
        region = data.draw(st.sampled_from(regions)) << 30
        va = region + (data.draw(st.integers(0, (1 << 30 >> shift) - 1)) << shift)
        if data.draw(st.integers(0, 3)) == 0:
            assert vspace.unmap_page(k, t, VirtAddr(va), shift) == model.unmap(va, shift)
        else:
            pa = data.draw(st.integers(0, (k.memory >> shift) - 1)) << shift
            rights = data.draw(st.sampled_from([R, R | W, R | X, RWX]))
            want = model.map(va, pa, shift, rights)
            assert vspace.map_page(k, t, VirtAddr(va), PhysAddr(pa), shift, rights) == want
        probe = region + data.draw(st.integers(0, (1 << 30) - 1))
        assert t.translate(VirtAddr(probe)) == (
            None if model.translate(probe) is None
            else (PhysAddr(model.translate(probe)[0]),) + model.translate(probe)[1:])
        tables, leaves = stats(k, t)
        assert (tables, leaves) == (len(model.tables), len(model.leaves))
        assert child.quota.used == k._lib.KOBJ_SIZE_TASK + 4096 * tables
        assert free_frames(k) == frames0 - tables
    k.root_task.delete(CapIndex(20))
    assert child.quota.used == 0 and free_frames(k) == frames0


# ---- quotas

def test_tables_are_charged_to_the_tasks_factory_and_refunded(kernel):
    child = kernel.root_factory.create_factory(kernel.root_task, CapIndex(19), limit=1 << 20)
    t = new_task(kernel, 20, child)
    task_size = kernel._lib.KOBJ_SIZE_TASK
    assert child.quota.used == task_size
    ps = offered(kernel)[0]
    assert vspace.map_page(kernel, t, VirtAddr(0x400000), PhysAddr(0x800000), ps, R) == 0
    assert child.quota.used == task_size + 4 * 4096                      # root + 3 tables
    assert vspace.map_page(kernel, t, VirtAddr(0x400000 + (1 << ps)), PhysAddr(0x800000),
                           ps, R) == 0
    assert child.quota.used == task_size + 4 * 4096                      # same tables
    assert vspace.map_page(kernel, t, VirtAddr(0x80000000), PhysAddr(0x800000), ps, R) == 0
    assert child.quota.used == task_size + 6 * 4096                      # + 2 below level 0
    assert vspace.unmap_page(kernel, t, VirtAddr(0x80000000), ps) == 0
    assert child.quota.used == task_size + 6 * 4096                      # tables stay
    kernel.root_task.delete(CapIndex(20))
    assert child.quota.used == 0


def test_boot_tasks_tables_are_uncharged(kernel):
    used = kernel.root_factory.quota.used
    frames = free_frames(kernel)
    ps = offered(kernel)[0]
    assert vspace.map_page(kernel, kernel.root_task, VirtAddr(0x400000), PhysAddr(0x800000),
                           ps, RWX) == 0
    assert kernel.root_factory.quota.used == used
    assert free_frames(kernel) == frames - 4
    assert kernel.root_task.translate(VirtAddr(0x400000))[0] == PhysAddr(0x800000)


@pytest.mark.parametrize("room", [0, 1, 2, 3])
def test_quota_exhaustion_midway_leaves_nothing_behind(kernel, room):
    """The limit leaves room for `room` of the 4 tables a first mapping needs; then, with
    the first mapping made, for `room % 2` of the 2 a second 1 GiB region needs."""
    task_size = kernel._lib.KOBJ_SIZE_TASK
    ps = offered(kernel)[0]
    child = kernel.root_factory.create_factory(kernel.root_task, CapIndex(19),
                                               limit=task_size + room * 4096)
    t = new_task(kernel, 20, child)
    snap = snapshot(kernel, t, child)
    assert vspace.map_page(kernel, t, VirtAddr(0x400000), PhysAddr(0x800000), ps, R) \
        == -L4_ENOMEM
    assert snapshot(kernel, t, child) == snap and t.pt_root is None

    big = kernel.root_factory.create_factory(kernel.root_task, CapIndex(21),
                                             limit=task_size + (4 + room % 2) * 4096)
    t2 = new_task(kernel, 22, big)
    assert vspace.map_page(kernel, t2, VirtAddr(0x400000), PhysAddr(0x800000), ps, R) == 0
    snap = snapshot(kernel, t2, big)
    assert vspace.map_page(kernel, t2, VirtAddr(0x80000000), PhysAddr(0x800000), ps, R) \
        == -L4_ENOMEM
    assert snapshot(kernel, t2, big) == snap
    assert t2.translate(VirtAddr(0x80000000)) is None


def test_frame_exhaustion_midway_refunds_the_charge(arch):
    k = Kernel(arch=arch, memory=16 << 20, kernel_memory=k_min(arch))
    child = k.root_factory.create_factory(k.root_task, CapIndex(19), limit=1 << 20)
    t = new_task(k, 20, child)
    taken = []
    while free_frames(k) > 2:
        taken.append(k.frames.alloc(0))
    snap = snapshot(k, t, child)
    ps = offered(k)[0]
    assert vspace.map_page(k, t, VirtAddr(0x400000), PhysAddr(0x800000), ps, R) == -L4_ENOMEM
    assert snapshot(k, t, child) == snap
    for f in taken:
        k.frames.free(f)
    assert vspace.map_page(k, t, VirtAddr(0x400000), PhysAddr(0x800000), ps, R) == 0


def k_min(arch):
    return _core.load(arch)[1].KERNEL_MIN_KMEM


def test_a_dying_task_gives_its_tables_back(kernel):
    frames = free_frames(kernel)
    used = kernel.root_factory.quota.used
    t = new_task(kernel)
    model = Model(level_shifts(kernel))
    ps = offered(kernel)[0]
    for i in range(5):
        assert vspace.map_page(kernel, t, VirtAddr(i << 29), PhysAddr(0x800000), ps, R) == 0
        model.map(i << 29, 0x800000, ps, R)
    assert stats(kernel, t) == (len(model.tables), 5) == (10, 5)
    kernel.root_task.delete(CapIndex(20))
    assert free_frames(kernel) == frames and kernel.root_factory.quota.used == used


# ---- kinds

# Highest guest-physical address of the VM kind: 48-bit EPT and stage 2; MIPS VZ keeps
# guest-physical space in the task table format (docs/vm.md).
VM_MAX = {"x86_64": 0xFFFFFFFFFFFF, "arm64": 0xFFFFFFFFFFFF, "mips64": 0xFFFFFFFF}


def test_every_arch_offers_a_vm_kind_fixed_per_table(arch):
    k = big_kernel(arch)
    ps = offered(k, VM)[0]
    t, vm = new_task(k, 20), new_task(k, 21)
    assert vspace.map_page(k, t, VirtAddr(0x400000), PhysAddr(0x800000), ps, R) == 0
    assert vspace.map_page(k, t, VirtAddr(0x400000 + (1 << ps)), PhysAddr(0x800000), ps, R,
                           kind=VM) == -L4_EINVAL
    top = VirtAddr(VM_MAX[arch] + 1 - (1 << ps))
    if VM_MAX[arch] > USER_MAX[arch]:       # guest-physical space reaches beyond stage 1
        assert vspace.map_page(k, t, top, PhysAddr(0x800000), ps, R) == -L4_EINVAL
    assert vspace.map_page(k, vm, top, PhysAddr(0x800000), ps, R | W, kind=VM) == 0
    assert vspace.map_page(k, vm, VirtAddr(VM_MAX[arch] + 1), PhysAddr(0x800000), ps, R,
                           kind=VM) == -L4_EINVAL
    assert vspace.root(k, vm)[1] == VM
    assert vm.translate(top) == (PhysAddr(0x800000), 1 << ps, R | W)
    assert vspace.map_page(k, vm, VirtAddr(0x1000), PhysAddr(0), ps, R) == -L4_EINVAL


# ---- bad input

def bad_map_args(k):
    """(why, kind, va, pa, shift, rights, cache) each refused with -L4_EINVAL."""
    ps = offered(k)[0]
    size = 1 << ps
    top = USER_MAX[k.arch]
    m = k.memory
    args = [
        ("kind out of range", 2, 0x400000, 0x800000, ps, R, NORMAL),
        ("kind far out of range", 0xFFFFFFFF, 0x400000, 0x800000, ps, R, NORMAL),
        ("va misaligned", USER, 0x400000 + 8, 0x800000, ps, R, NORMAL),
        ("va above user space", USER, top + 1, 0x800000, ps, R, NORMAL),
        ("va non-canonical / kernel half", USER, 0xFFFF800000000000, 0x800000, ps, R, NORMAL),
        ("va wraps", USER, (1 << 64) - size, 0x800000, ps, R, NORMAL),
        ("pa misaligned", USER, 0x400000, 0x800000 + 8, ps, R, NORMAL),
        ("pa beyond memory", USER, 0x400000, m, ps, R, NORMAL),
        ("pa wraps", USER, 0x400000, (1 << 64) - size, ps, R, NORMAL),
        ("page size 0", USER, 0x400000, 0x800000, 0, R, NORMAL),
        ("page size 13", USER, 0x400000, 0x800000, 13, R, NORMAL),
        ("page size 39 (no 512 GiB leaves)", USER, 0, 0, 39, R, NORMAL),
        ("page size 64", USER, 0x400000, 0x800000, 64, R, NORMAL),
        ("page size huge", USER, 0x400000, 0x800000, 0xFFFFFFFF, R, NORMAL),
        ("no rights", USER, 0x400000, 0x800000, ps, 0, NORMAL),
        ("U only", USER, 0x400000, 0x800000, ps, 8, NORMAL),
        ("unknown rights bit", USER, 0x400000, 0x800000, ps, 0x10 | R, NORMAL),
        ("cache 0", USER, 0x400000, 0x800000, ps, R, 0),
        ("cache 2", USER, 0x400000, 0x800000, ps, R, 2),
        ("cache 7", USER, 0x400000, 0x800000, ps, R, 7),
    ]
    if k.arch == "mips64":
        args.append(("no superpages on MIPS", USER, 0, 0, 21, R, NORMAL))
    return args


def test_bad_values_are_refused_and_change_nothing(kernel):
    lib, kk = kernel._lib, kernel._k
    t = new_task(kernel)
    ps = offered(kernel)[0]
    assert vspace.map_page(kernel, t, VirtAddr(0x400000), PhysAddr(0x800000), ps, R) == 0
    snap = snapshot(kernel, t)
    for why, kind, va, pa, shift, rights, cache in bad_map_args(kernel):
        rc = lib.vspace_map_page(kk, [t.id], kind, [va], [pa], shift, rights, cache)
        assert rc == -L4_EINVAL, why
        assert snapshot(kernel, t) == snap, why
    # not a task, no object, a dead task
    for obj in (0, kernel.root_factory.id, t.id + 12345):
        assert lib.vspace_map_page(kk, [obj], USER, [0x400000], [0], ps, R, NORMAL) == -L4_EINVAL
    flags = kernel._ffi.new("uint32_t *")
    out = kernel._ffi.new("struct vspace_page *")
    for va, shift in ((0x400008, ps), (0x400000, 13), (0x400000, 64), (USER_MAX[kernel.arch] + 1, ps)):
        assert lib.vspace_unmap_page(kk, [t.id], [va], shift, flags) == -L4_EINVAL
        assert lib.vspace_revoke(kk, [t.id], [va], shift, W, flags) == -L4_EINVAL
    assert lib.vspace_translate(kk, [t.id], [USER_MAX[kernel.arch] + 1], out) == -L4_EINVAL
    assert lib.vspace_translate(kk, [kernel.root_factory.id], [0], out) == -L4_EINVAL
    assert snapshot(kernel, t) == snap
    dead = new_task(kernel, 21)
    dead_id = dead.id
    kernel.root_task.delete(CapIndex(21))
    assert lib.vspace_map_page(kk, [dead_id], USER, [0x400000], [0], ps, R, NORMAL) == -L4_EINVAL


def test_python_layer_wants_typed_addresses(kernel):
    t = new_task(kernel)
    ps = offered(kernel)[0]
    with pytest.raises(TypeError):
        vspace.map_page(kernel, t, 0x400000, PhysAddr(0), ps, R)
    with pytest.raises(TypeError):
        vspace.map_page(kernel, t, VirtAddr(0x400000), VirtAddr(0), ps, R)
    with pytest.raises(TypeError):
        vspace.map_page(kernel, t, VirtAddr(0x400000), PhysAddr(0), True, R)
    assert t.translate(0x400000) is None                 # the harness surface takes an int
    with pytest.raises(TypeError):
        t.translate(PhysAddr(0x400000))
    assert vspace.map_page(kernel, t, VirtAddr(0x400000), PhysAddr(0), -1, R) == -L4_EINVAL
    assert vspace.map_page(kernel, t, VirtAddr(0x400000), PhysAddr(0), ps, 1 << 40) == -L4_EINVAL
    assert vspace.unmap_page(kernel, t, VirtAddr(0x400000), -3) == -L4_EINVAL
    assert t.translate(VirtAddr(USER_MAX[kernel.arch] + 1)) is None      # no table yet
    assert vspace.map_page(kernel, t, VirtAddr(0x400000), PhysAddr(0), ps, R) == 0
    with pytest.raises(L4InvalidArgumentError):
        t.translate(VirtAddr(USER_MAX[kernel.arch] + 1))


def test_a_corrupted_table_pointer_is_refused_not_followed(kernel):
    t = new_task(kernel)
    ps = offered(kernel)[0]
    assert vspace.map_page(kernel, t, VirtAddr(0x400000), PhysAddr(0x800000), ps, R) == 0
    root = t.pt_root.value
    mem = kernel.physmem
    entry = ptdecode.entry_at(mem, root, 0)
    bad = (entry & 0xFFF) | (kernel.memory + (1 << 20)) if kernel.arch != "mips64" \
        else kernel.memory + (1 << 20)
    mem[root:root + 8] = list(bad.to_bytes(8, "little"))
    assert vspace.lookup(kernel, t, VirtAddr(0x400000)) == -L4_EFAULT
    assert vspace.map_page(kernel, t, VirtAddr(0x404000), PhysAddr(0), ps, R) == -L4_EFAULT
    used, frames = kernel.root_factory.quota.used, free_frames(kernel)
    kernel.root_task.delete(CapIndex(20))          # frees the root, skips what it cannot own
    assert kernel.root_factory.quota.used == used - kernel._lib.KOBJ_SIZE_TASK - 4096
    assert free_frames(kernel) == frames + 1


# ---- the MIPS64 software TLB

mips_only = pytest.mark.skipif("mips64" not in BUILT, reason="mips64 not built")
LOAD, STORE, FETCH = 0, 1, 2
HIT, REFILLED, FAULT = 0, 1, 2
EXC_MOD, EXC_TLBL, EXC_TLBS, EXC_TLBRI, EXC_TLBXI = 1, 2, 3, 19, 20


def access(k, task, va, kind, cpu=0):
    out = k._ffi.new("struct mips_tlb_result *")
    assert k._lib.mips_tlb_access(k._k, [task.id], [cpu], [va], kind, out) == 0
    return out


def probe(k, task, va, cpu=0):
    out = k._ffi.new("int32_t *")
    assert k._lib.mips_tlb_probe(k._k, [task.id], [cpu], [va], out) == 0
    return out[0]


def tlb_entry(k, index, cpu=0):
    out = k._ffi.new("struct mips_tlb_entry *")
    assert k._lib.mips_tlb_read(k._k, [cpu], index, out) == 0
    return out


@pytest.fixture
def mips(request):
    k = Kernel(arch="mips64", memory=64 << 20, cpus=2)
    return k, new_task(k), 1 << k.arch_info["page_shift"]


@mips_only
def test_mips_refill_then_hit(mips):
    k, t, page = mips
    va = 0x400000
    r = access(k, t, va, LOAD)
    assert (r.outcome, r.exc_code, r.refill, r.fault_code) == (FAULT, EXC_TLBL, 1, EXC_TLBL)
    assert probe(k, t, va) == -1                         # a fault writes nothing
    assert vspace.map_page(k, t, VirtAddr(va), PhysAddr(0x2000000), page.bit_length() - 1,
                           R | W) == 0
    r = access(k, t, va + 0x10, LOAD)
    assert (r.outcome, r.exc_code, r.refill, r.pa.raw) == (REFILLED, EXC_TLBL, 1, 0x2000010)
    assert r.index == probe(k, t, va) == 63              # tlbwr's first victim: the top
    r = access(k, t, va + 0x18, STORE)
    assert (r.outcome, r.exc_code, r.pa.raw, r.index) == (HIT, 0, 0x2000018, 63)
    e = tlb_entry(k, 63)
    assert e.entry_hi & ~0xFF == va and e.entry_hi & 0xFF != 0
    assert e.page_mask == (0x6000 if page == 0x4000 else 0)


@mips_only
def test_mips_store_to_read_only_and_modified_exception(mips):
    k, t, page = mips
    shift = page.bit_length() - 1
    va = 0x400000
    assert vspace.map_page(k, t, VirtAddr(va), PhysAddr(0x2000000), shift, R) == 0
    r = access(k, t, va, STORE)                          # miss; handler refuses: no D
    assert (r.outcome, r.exc_code, r.refill, r.fault_code) == (FAULT, EXC_TLBS, 1, EXC_TLBS)
    assert access(k, t, va, LOAD).outcome == REFILLED
    r = access(k, t, va, STORE)                          # hit, clean: Mod, still refused
    assert (r.outcome, r.exc_code, r.refill, r.fault_code) == (FAULT, EXC_MOD, 0, EXC_MOD)
    # the pager upgrades the mapping: the old entry goes, the store refills
    assert vspace.map_page(k, t, VirtAddr(va), PhysAddr(0x2000000), shift, R | W) == 0
    assert probe(k, t, va) == -1
    r = access(k, t, va, STORE)
    assert (r.outcome, r.exc_code, r.refill) == (REFILLED, EXC_TLBS, 1)


@mips_only
def test_mips_invalid_half_is_rewritten_in_place(mips):
    k, t, page = mips
    shift = page.bit_length() - 1
    va = 0x400000
    assert vspace.map_page(k, t, VirtAddr(va), PhysAddr(0x2000000), shift, R) == 0
    assert access(k, t, va, LOAD).outcome == REFILLED
    index = probe(k, t, va + page)                       # the odd half: same entry, V = 0
    assert index >= 0 and tlb_entry(k, index).entry_lo1 == 0
    r = access(k, t, va + page, LOAD)
    assert (r.outcome, r.exc_code, r.refill) == (FAULT, EXC_TLBL, 0)
    assert vspace.map_page(k, t, VirtAddr(va + page), PhysAddr(0x2100000), shift, R) == 0
    r = access(k, t, va + page, LOAD)
    assert (r.outcome, r.exc_code, r.refill, r.index, r.pa.raw) == (
        REFILLED, EXC_TLBL, 0, index, 0x2100000)         # tlbwi at the probed index


@mips_only
def test_mips_read_and_execute_inhibit(mips):
    k, t, page = mips
    shift = page.bit_length() - 1
    assert vspace.map_page(k, t, VirtAddr(0x400000), PhysAddr(0x2000000), shift, W) == 0
    r = access(k, t, 0x400000, LOAD)                     # refill succeeds, the retry hits RI
    assert (r.outcome, r.exc_code, r.fault_code) == (FAULT, EXC_TLBL, EXC_TLBRI)
    assert access(k, t, 0x400000, STORE).outcome == HIT
    r = access(k, t, 0x400000, FETCH)
    assert (r.outcome, r.exc_code, r.fault_code) == (FAULT, EXC_TLBXI, EXC_TLBXI)
    assert vspace.map_page(k, t, VirtAddr(0x500000), PhysAddr(0x2100000), shift, R | X) == 0
    assert access(k, t, 0x500000, FETCH).outcome == REFILLED
    assert access(k, t, 0x500000, LOAD).outcome == HIT


@mips_only
def test_mips_unmap_and_revoke_flush_every_cpu(mips):
    k, t, page = mips
    shift = page.bit_length() - 1
    va = 0x400000
    assert vspace.map_page(k, t, VirtAddr(va), PhysAddr(0x2000000), shift, R | W) == 0
    for cpu in (0, 1):
        assert access(k, t, va, STORE, cpu).outcome == REFILLED
        assert probe(k, t, va, cpu) >= 0
    assert vspace.revoke(k, t, VirtAddr(va), shift, W) == 0
    for cpu in (0, 1):
        assert probe(k, t, va, cpu) == -1
        assert access(k, t, va, STORE, cpu).fault_code == EXC_TLBS
        assert access(k, t, va, LOAD, cpu).outcome == REFILLED
    assert vspace.unmap_page(k, t, VirtAddr(va), shift) == 0
    for cpu in (0, 1):
        assert probe(k, t, va, cpu) == -1
        assert access(k, t, va, LOAD, cpu).outcome == FAULT


@mips_only
def test_mips_replacement_is_a_fixed_countdown(mips):
    k, t, page = mips
    shift = page.bit_length() - 1
    n = k._lib.MIPS_TLB_ENTRIES
    pairs = [0x400000 + 2 * page * i for i in range(n + 2)]
    for va in pairs:
        assert vspace.map_page(k, t, VirtAddr(va), PhysAddr(0x2000000), shift, R) == 0
    indices = [access(k, t, va, LOAD).index for va in pairs]
    assert indices == list(range(n - 1, -1, -1)) + [n - 1, n - 2]
    assert access(k, t, pairs[0], LOAD).outcome == REFILLED     # was replaced
    assert access(k, t, pairs[-1], LOAD).outcome == HIT


@mips_only
def test_mips_asids_separate_spaces_and_are_reused_round_robin(mips):
    k, t, page = mips
    shift = page.bit_length() - 1
    tasks = [t] + [new_task(k, 100 + i) for i in range(299)]
    for i, task in enumerate(tasks):
        assert vspace.map_page(k, task, VirtAddr(0x400000), PhysAddr(0x2000000 + i * page),
                               shift, R) == 0
    for _ in range(2):
        for i, task in enumerate(tasks):
            r = access(k, task, 0x400000, LOAD)
            assert r.outcome in (HIT, REFILLED) and r.pa.raw == 0x2000000 + i * page
    asids = set()
    for index in range(k._lib.MIPS_TLB_ENTRIES):
        hi = tlb_entry(k, index).entry_hi
        if hi < 0x80000000:
            asids.add(hi & 0xFF)
    assert 0 not in asids and len(asids) == k._lib.MIPS_TLB_ENTRIES   # one pair per space
    # a dying space takes its entries and ASID with it
    assert access(k, tasks[-1], 0x400000, LOAD).outcome == HIT
    hi = tlb_entry(k, probe(k, tasks[-1], 0x400000)).entry_hi
    k.root_task.delete(CapIndex(100 + 298))
    assert all(tlb_entry(k, i).entry_hi != hi for i in range(k._lib.MIPS_TLB_ENTRIES))


@mips_only
def test_mips_tlb_bad_input(mips):
    k, t, page = mips
    lib, kk, ffi = k._lib, k._k, k._ffi
    shift = page.bit_length() - 1
    assert vspace.map_page(k, t, VirtAddr(0x400000), PhysAddr(0x2000000), shift, R) == 0
    out = ffi.new("struct mips_tlb_result *")
    e = ffi.new("struct mips_tlb_entry *")
    assert lib.mips_tlb_access(kk, [t.id], [2], [0x400000], LOAD, out) == -L4_EINVAL   # cpu
    assert lib.mips_tlb_access(kk, [t.id], [0], [0x400000], 3, out) == -L4_EINVAL
    assert lib.mips_tlb_access(kk, [t.id], [0], [1 << 32], LOAD, out) == -L4_EINVAL
    assert lib.mips_tlb_access(kk, [k.root_factory.id], [0], [0], LOAD, out) == -L4_EINVAL
    assert lib.mips_tlb_pair(kk, [t.id], [0], [0x800000], e) == -L4_ENOENT
    assert lib.mips_tlb_read(kk, [0], lib.MIPS_TLB_ENTRIES, e) == -L4_EINVAL
    assert lib.mips_tlb_read(kk, [5], 0, e) == -L4_EINVAL
    assert lib.mips_tlb_flush(kk, [2]) == -L4_EINVAL
    t2 = new_task(k, 21)
    assert lib.mips_tlb_pair(kk, [t2.id], [0], [0], e) == -L4_ENOENT       # no table
    assert access(k, t2, 0, STORE).fault_code == EXC_TLBS                  # faults
    assert lib.mips_tlb_access(kk, [t2.id], [2], [0], LOAD, out) == -L4_EINVAL
    assert lib.mips_tlb_access(kk, [t2.id], [0], [1 << 32], LOAD, out) == -L4_EINVAL
    assert lib.mips_tlb_flush(kk, [0]) == 0
    assert access(k, t, 0x400000, LOAD).outcome == REFILLED


# ---- the MIPS 4 KiB build option

RUN_WITH_BUILD = """
import importlib.machinery, importlib.util, sys
loader = importlib.machinery.ExtensionFileLoader("pyl4re._core_mips64", sys.argv[1])
spec = importlib.util.spec_from_file_location("pyl4re._core_mips64", sys.argv[1], loader=loader)
module = importlib.util.module_from_spec(spec)
loader.exec_module(module)
sys.modules["pyl4re._core_mips64"] = module
assert module.lib.arch_describe().page_shift == 12, "not the 4 KiB build"
import pytest
sys.exit(pytest.main(sys.argv[2:]))
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_mips_4k_page_build_passes_the_mips_page_table_tests(tmp_path):
    """PYL4RE_MIPS_PAGE_SIZE=4K: page shift 12, fields 39/30/21/12, PageMask 0; the MIPS
    page-table, golden (ptab_mips64_4k.json) and emulator tests all hold for it too."""
    import pyl4re
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # Built like the running extensions (sanitized or not), by a compiler that does not
    # inherit a sanitizer run's preloaded runtimes; run with this run's pyl4re package.
    build_env = {k: v for k, v in os.environ.items()
                 if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    build_env.update(PYL4RE_ARCHES="mips64", PYL4RE_MIPS_PAGE_SIZE="4K", PYL4RE_SCHED="fp")
    run_env = dict(os.environ,
                   PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(pyl4re.__file__))))
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib",
                        str(tmp_path / "lib"), "--build-temp", str(tmp_path / "tmp")],
                       cwd=root, env=build_env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (so,) = glob.glob(str(tmp_path / "lib" / "pyl4re" / "_core_mips64*.so"))
    here = os.path.dirname(os.path.abspath(__file__))
    tests = [os.path.join(here, f) for f in
             ("test_ptab.py", "test_ptab_golden.py", "test_mmu_emulator.py")]
    r = subprocess.run([sys.executable, "-P", "-c", RUN_WITH_BUILD, so, *tests, "-q", "-x",
                        "-p", "no:cacheprovider", "-k", "mips and not 4k_page_build"],
                       cwd=str(tmp_path), env=run_env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout
