"""Region maps (user-level §4.3): the in-task loader's (each program's env.rm and pager) and moe's
(the loader stage's), attach/detach/find/areas, faults, and bad requests."""
import pyl4re
from pyl4re import mem
from pyl4re.l4re import Rm
from pyl4re.l4re.protocols import (
    PROTO_RM, RM_EAGER_MAP, RM_IN_AREA, RM_R, RM_RW,
    RM_SEARCH_ADDR, RM_UNMAPPED_RANGE,
)
from pyl4re.l4re.rpc import Packer, call
from pyl4re.l4sys import (
    L4_CAP_FPAGE_RO, L4_EADDRNOTAVAIL, L4_EBADPROTO, L4_EINVAL, L4_EMSGTOOSHORT, L4_ENOENT,
    L4_ENOSYS, L4_EPERM, L4_PROTO_PAGE_FAULT, l4_map_obj_control, l4_obj_fpage, l4_task_map,
)
from pyl4re.mem import PageFaultError

from l4re_util import raw, run_init

A = 0x30000000


async def code(coro):
    try:
        return await coro
    except pyl4re.L4Error as e:
        return -e.code


def test_attach_detach_find_and_areas(arch):
    out = {}

    async def main(env):
        rm = env.rm
        ds = await env.mem_alloc.alloc(1 << 16)
        out["at"] = await rm.attach(A, 1 << 16, RM_RW, ds)
        out["search"] = await rm.attach(A, 1 << 16, RM_RW | RM_SEARCH_ADDR, ds, align=20)
        await mem.store(A + 8, 77)
        r = await rm.find(A + 0x100)
        out["find"] = (r.start, r.size, r.flags & 0xF, r.ds_cap == ds.cap)
        out["detach"] = await rm.detach(A)
        out["after"] = await code(rm.find(A))
        again = await rm.attach(A, 1 << 16, RM_R | RM_EAGER_MAP, ds)
        out["kept"] = await mem.load(again + 8)       # the data stayed in the dataspace
        area = await rm.reserve_area(0x40000000, 1 << 20)
        out["in_area"] = await rm.attach(area + 0x10000, 0x1000, RM_R | RM_IN_AREA, ds)
        out["outside_area"] = await code(rm.attach(area, 0x1000, RM_R, ds))
        out["free_area"] = await rm.free_area(area)
        out["free_again"] = await code(rm.free_area(area))
        out["regions"] = len(await rm.get_regions(0)) >= 3
        return 0

    system, _ = run_init(arch, main)
    assert system.exits == {"t": 0}
    assert out["at"] == A and out["search"] % (1 << 20) == 0 and out["search"] != A
    assert out["find"] == (A, 1 << 16, RM_RW, True)
    assert out["detach"] & RM_UNMAPPED_RANGE          # the region map unmapped the pages
    assert out["after"] == -L4_ENOENT
    assert out["kept"] == 77
    assert out["outside_area"] == -L4_EADDRNOTAVAIL
    assert out["free_area"] == 0 and out["free_again"] == -L4_ENOENT
    assert out["regions"]


def test_bad_attach_detach_and_faults(arch):
    out = {}

    async def main(env):
        rm = env.rm
        ds = await env.mem_alloc.alloc(1 << 16)
        await rm.attach(A, 1 << 16, RM_RW, ds)
        out["overlap"] = await code(rm.attach(A + 0x1000, 0x1000, RM_R, ds))
        out["detach_none"] = await code(rm.detach(0x60000000))
        out["size0"] = await code(rm.attach(0x50000000, 0, RM_R, ds))
        out["flags"] = await code(rm.attach(0x50000000, 0x1000, RM_R | 1 << 30, ds))
        out["align"] = await code(rm.attach(0x50000000, 0x1000, RM_R | RM_SEARCH_ADDR, ds,
                                            align=3))
        out["no_ds"] = await raw(rm.cap, PROTO_RM, data=Packer().u32(0).u64(0x50000000)
                                 .u64(0x1000).u32(RM_R).u64(0).u8(12).u64(0).words())
        ro = env.cap_alloc.alloc()
        await l4_task_map(env.task, env.task, l4_obj_fpage(ds.cap, 0, L4_CAP_FPAGE_RO),
                          l4_map_obj_control(ro, 0))
        out["rw_of_ro"] = await code(rm.attach(0x50000000, 0x1000, RM_RW, ro))
        out["proto"] = await raw(rm.cap, 0x4000, [0])
        out["opcode"] = await raw(rm.cap, PROTO_RM, [99])
        out["short"] = await raw(rm.cap, PROTO_RM, [0, A])
        out["pf_short"] = await raw(rm.cap, L4_PROTO_PAGE_FAULT, [A])
        # Faults no region answers: outside every region, a write into a read-only one.
        try:
            await mem.load(0x70000000)
        except PageFaultError as e:
            out["outside"] = e.address
        await rm.attach(0x50000000, 0x1000, RM_R, ds)
        try:
            await mem.store(0x50000000, 1)
        except PageFaultError as e:
            out["ro_write"] = e.address
        out["still"] = (await rm.find(A)).start        # the region map serves on
        return 0

    system, _ = run_init(arch, main)
    assert system.exits == {"t": 0}
    assert out["overlap"] == -L4_EADDRNOTAVAIL
    assert out["detach_none"] == -L4_ENOENT
    assert out["size0"] == out["flags"] == out["align"] == -L4_EINVAL
    assert out["no_ds"] == -L4_ENOENT
    assert out["rw_of_ro"] == -L4_EPERM
    assert out["proto"] == -L4_EBADPROTO and out["opcode"] == -L4_ENOSYS
    assert out["short"] == -L4_EMSGTOOSHORT and out["pf_short"] == -L4_EMSGTOOSHORT
    assert out["outside"] == 0x70000000 and out["ro_write"] == 0x50000000
    assert out["still"] == A


def test_moes_region_maps(arch):
    out = {}

    async def main(env):
        rm = Rm(await env.mem_alloc.create_rm(), env.task)
        ds = await env.mem_alloc.alloc(8192)
        out["attach"] = await rm.attach(A, 8192, RM_RW, ds)
        out["overlap"] = await code(rm.attach(A, 4096, RM_R, ds))
        out["find"] = await code(rm.find(A))            # moe does not offer find
        out["foreign"] = await code(rm.attach(0x50000000, 4096, RM_R, env.log.cap))
        out["page0"] = await code(rm.attach(0, 4096, RM_R, ds))    # the null guard
        out["detach"] = await rm.detach(A)
        out["detach_again"] = await code(rm.detach(A))
        # Moe's region map of this very task (slot 0x10: the loader stage's pager).
        out["stage"] = len(await Rm(0x10000, env.task).get_regions(0))
        # A fault message to a region map outside every region: -ENOMEM, no map item.
        r = await call(rm.cap, L4_PROTO_PAGE_FAULT, Packer().u64(0x60000000).u64(0).words())
        out["fault_reply"] = (r.label, r.items)
        return 0

    system, _ = run_init(arch, main)
    assert system.exits == {"t": 0}
    assert out["attach"] == A and out["overlap"] == -L4_EADDRNOTAVAIL
    assert out["find"] == -L4_EPERM and out["foreign"] == -L4_ENOENT
    assert out["page0"] == -L4_EADDRNOTAVAIL
    assert out["detach"] >= 0 and out["detach_again"] == -L4_ENOENT
    assert out["stage"] == 1                              # the env/stack page
    assert out["fault_reply"] == (-12, [])


def test_faults_in_the_starters_regions_are_forwarded(arch):
    out = {}

    async def main(env):
        regions = await env.rm.get_regions(0)
        stage = [r for r in regions if r[2] & 0x400]                 # RM_PAGER
        out["stage"] = len(stage)
        start = stage[0][0]
        out["parent_field"] = await mem.load(start)                  # the loader stage's env
        return 0

    system, _ = run_init(arch, main, trace_size=1 << 16)
    assert out["stage"] == 1 and out["parent_field"] == 0x13000
    fwd = [r for r in system.trace if r.kind == "ipc" and r.name == "t.itas"
           and r.fields["to_name"] == "moe" and (r.fields["tag"] >> 16) == 0xFFFFFFFFFFFE]
    assert fwd                                                       # a page_fault RPC to moe


def test_eager_attach_and_page_in(arch):
    out = {}

    async def main(env):
        ds = await env.mem_alloc.alloc(1 << 16)
        addr = await env.rm.attach(A, 1 << 16, RM_RW | RM_EAGER_MAP, ds)
        out["addr"] = addr
        out["bad_range"] = await code(env.rm.page_in(A + 0x2000, A + 0x1000, RM_R))
        out["outside"] = await code(env.rm.page_in(0x70000000, 0x70000FFF, RM_R))
        await mem.store(A + 0xF000, 9)
        return 0

    system, _ = run_init(arch, main, trace_size=1 << 16)
    assert system.exits == {"t": 0}
    assert out["bad_range"] == -L4_EINVAL and out["outside"] == -12
    faults = [r for r in system.trace if r.kind == "page_fault" and r.name == "t"
              and A <= r.fields["address"] < A + (1 << 16)]
    assert faults == []                         # every page was there before the access
