"""moe's dataspaces over L4Re::Dataspace (0x4000): map, info, clear, copy_in, allocate,
and the answers to bad requests (user-level §4.1); moe keeps serving after each."""
import pyl4re
from pyl4re import mem
from pyl4re.l4re import Dataspace
from pyl4re.l4re.protocols import (
    DS_R, DS_RW, DS_W, DS_X, MEM_CONTINUOUS, MEM_SUPER_PAGES, PROTO_DATASPACE, RM_R, RM_RW,
    RM_SEARCH_ADDR,
)
from pyl4re.l4sys import (
    L4_CAP_FPAGE_RO, L4_EACCESS, L4_EBADPROTO, L4_EINVAL, L4_EMSGTOOSHORT, L4_ENOSYS,
    L4_EPERM, L4_ERANGE, l4_obj_fpage, l4_map_obj_control, l4_task_map,
)

from l4re_util import raw, run_init


def test_map_info_clear_copy_in_allocate(arch):
    out = {}

    async def main(env):
        a = await env.mem_alloc.alloc(10000)
        b = await env.mem_alloc.alloc(8192)
        out["info"] = await a.info()
        base = await env.rm.attach(0x10000000, 10000, RM_RW | RM_SEARCH_ADDR, a)
        await mem.write(base + 100, b"hello dataspace")
        await b.copy_in(0, a, 100, 15)                 # moe copies between its dataspaces
        bb = await env.rm.attach(0x10000000, 8192, RM_R | RM_SEARCH_ADDR, b)
        out["copied"] = await mem.read(bb, 15)
        await a.clear(100, 5)
        out["cleared"] = await mem.read(base + 100, 15)
        await a.allocate(0, 10000)
        out["map_info"] = await a.map_info()
        out["tail"] = await mem.read(base + 9999, 1)   # the last page's padding is usable
        return 0

    system, _ = run_init(arch, main)
    assert system.exits == {"t": 0}
    assert out["info"] == (10000, 7)                   # size as created, RWX
    assert out["copied"] == b"hello dataspace"
    assert out["cleared"] == b"\0" * 5 + b" dataspace"
    assert out["map_info"] == (0, 0)


def test_bad_requests_get_the_real_error_codes(arch):
    out = {}

    async def main(env):
        ds = await env.mem_alloc.alloc(8192)
        page = 1 << pyl4re.l4re.rpc.running_page_shift()
        c = ds.cap
        out["wrong_proto"] = await raw(c, 0x4001, [0])
        out["no_opcode"] = await raw(c, PROTO_DATASPACE, [])
        out["bad_opcode"] = await raw(c, PROTO_DATASPACE, [77])
        out["short_map"] = await raw(c, PROTO_DATASPACE, [0, 0])
        try:
            await ds.map(-(-8192 // page) * page, DS_R, 0x50000000)
        except pyl4re.L4Error as e:
            out["outside"] = e.code
        try:
            await ds.map(0, DS_R | DS_X, 0x50000000)     # X is fine: moe's are RWX
            out["x_ok"] = True
        except pyl4re.L4Error:
            out["x_ok"] = False
        # A read-only copy of the capability: no write mapping, no clear, no copy_in.
        ro = env.cap_alloc.alloc()
        await l4_task_map(env.task, env.task, l4_obj_fpage(c, 0, L4_CAP_FPAGE_RO),
                          l4_map_obj_control(ro, 0))
        rods = Dataspace(ro)
        for what, call in (("ro_map_w", rods.map(0, DS_RW, 0x50000000)),
                           ("ro_clear", rods.clear(0, 10)),
                           ("ro_copy", rods.copy_in(0, ds, 0, 10))):
            try:
                await call
            except pyl4re.L4Error as e:
                out[what] = e.code
        out["ro_info"] = await rods.info()
        try:
            await ds.copy_in(0, env.log.cap, 0, 10)      # not a moe dataspace
        except pyl4re.L4Error as e:
            out["foreign_src"] = e.code
        try:
            await ds.copy_in(0, None or 0xFFFFF000, 0, 10)   # nothing in that slot
        except pyl4re.L4Error as e:
            out["missing_src"] = e.code
        out["no_item"] = await raw(c, PROTO_DATASPACE, [3, 0, 0, 10])   # copy_in, no item
        out["still"] = await ds.size()                   # moe still serves this client
        return 0

    system, _ = run_init(arch, main)
    assert system.exits == {"t": 0}
    assert out["wrong_proto"] == -L4_EBADPROTO
    assert out["no_opcode"] == -L4_EMSGTOOSHORT
    assert out["bad_opcode"] == -L4_ENOSYS
    assert out["short_map"] == -L4_EMSGTOOSHORT
    assert out["outside"] == L4_ERANGE
    assert out["x_ok"]
    assert out["ro_map_w"] == L4_EPERM
    assert out["ro_clear"] == L4_EACCESS and out["ro_copy"] == L4_EACCESS
    assert out["ro_info"] == (8192, 7 & ~DS_W)
    assert out["foreign_src"] == L4_EINVAL and out["missing_src"] == L4_EINVAL
    assert out["no_item"] == -L4_EINVAL
    assert out["still"] == 8192
    assert any("ds access out of bounds" in line for line in system.log_lines)


def test_rom_dataspaces_are_read_only(arch):
    out = {}

    async def main(env):
        rom = env.namespace("rom")
        data = Dataspace(await rom.query("data"))
        out["info"] = await data.info()
        try:
            await data.map(0, DS_RW, 0x50000000)
        except pyl4re.L4Error as e:
            out["w"] = e.code
        base = await env.rm.attach(0x10000000, 5, RM_R | RM_SEARCH_ADDR, data)
        out["bytes"] = await mem.read(base, 5)
        return 0

    system, _ = run_init(arch, main, rom={"data": b"12345"})
    assert out["info"][0] == 5 and not out["info"][1] & DS_W
    assert out["w"] == L4_EPERM
    assert out["bytes"] == b"12345"


def test_contiguous_dataspaces_answer_with_large_flexpages(arch):
    out = {}
    A = 0x40000000

    async def main(env):
        ds = await env.mem_alloc.alloc(4 << 20, MEM_CONTINUOUS | MEM_SUPER_PAGES, 21)
        await ds.map(0x200000 + 0x3000, DS_RW, A + 0x203000, A, A + (4 << 20))
        await mem.store(A + 0x3FF000, 0x55, 1)       # in the 2 MiB the answer brought
        out["value"] = await mem.load(A + 0x3FF000, 1)
        await ds.map(0, DS_R, 0x50000000)             # a one-page window: one page
        out["small"] = await mem.load(0x50000000, 1)
        return 0

    system, _ = run_init(arch, main, trace_size=1 << 16, memory=32 << 20)
    assert out == {"value": 0x55, "small": 0}
    maps = [(r.fields["va"], r.fields["page_shift"]) for r in system.trace
            if r.kind == "map" and r.name == "moe" and r.fields["va"] >= A]   # moe -> t
    big = [m for m in maps if A + 0x200000 <= m[0] < A + 0x400000]
    assert big and (big[0] == (A + 0x200000, 21) or arch == "mips64")
    assert sum(1 << s for v, s in big) == 0x200000            # the whole 2 MiB, at once
    assert (0x50000000, system.kernel.arch_info["page_shift"]) in maps
