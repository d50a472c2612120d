"""The in-task loader and region manager (l4re-core `l4re_itas`, "rom/l4re"): the second
stage of a program's start, running as the first thread of the program's own task.

It reads the environment its starter built (crt0), raises itself to priority 255, makes
its own region map (served on a gate of its own: the program's `env.rm` and its
threads' pager), finds the program's image through the `rom` name space, attaches it and
a stack dataspace from the memory allocator, writes the program's environment (a copy of
its own with `rm` and `main_thread` replaced) and initial stack, and starts the program's
thread at the image's entry point with priority 2. Then it serves: every page fault of
the program goes to it by IPC, and it resolves the fault with a Dataspace::map to the
dataspace's server (moe) for the faulting page of its own task, then answers with an
empty reply. Regions inherited from the starter's region map (the loader stage's own
stack page) are marked Pager: faults there are forwarded to that region map.

Its own accesses to the program's memory are paged the same way, before it touches it.
"""
from .. import mem
from ..errors import L4Error, check
from ..l4sys import (
    L4_BASE_TASK_CAP, L4_BASE_THREAD_CAP, L4_CAP_FPAGE_RWSD, L4_ENOENT,
    L4_EPERM, L4_FP_ALL_SPACES, L4_FPAGE_RWX, L4_PROTO_PAGE_FAULT,
    l4_debugger_set_object_name, l4_error, l4_factory_create_thread, l4_fpage, l4_obj_fpage,
    l4_sched_param, l4_scheduler_run_thread, l4_task_unmap, l4_thread_control_bind,
    l4_thread_control_commit, l4_thread_control_exc_handler, l4_thread_control_pager,
    l4_thread_control_start, l4_thread_ex_regs,
)
from ..arch_consts import running_consts
from . import rpc
from .cap_alloc import CapAlloc
from .crt0 import read_startup
from .dataspace import Dataspace
from .env_layout import pack_stack
from .mem_alloc import Mem_alloc
from .namespace import Namespace
from .protocols import (
    DS_W, RM_KERNEL, RM_PAGER, RM_R, RM_RW, RM_RX, RM_SEARCH_ADDR, RM_UNMAPPED_RANGE, RM_W,
)
from .region_map import Region, RegionMap
from .rm_server import RmServer
from .rom import entry_point

ITAS_CAPS = 1024                     # slots l4re_itas keeps for itself
APP_PRIO, ITAS_PRIO = 2, 255
STACK_SIZE = 8 * 0x40000             # sizeof(void*) * 0x40000: 2 MiB
STACK_SEARCH = 0x80000000
IMAGE_SEARCH = 0x400000


class ItasBackend:
    """How the in-task region map names dataspaces (capabilities in its own slots) and
    resolves faults (Dataspace::map into its own task)."""

    def __init__(self, shift, parent_rm):
        self.shift = shift
        self.parent_rm = parent_rm            # the starter's region map (Pager regions)
        self.mapped = {}                      # id(region) -> pages mapped

    async def take_ds(self, req, flags, offset, size):
        it = req.item(0)
        if it is None or it[0] not in ("cap", "same"):
            raise rpc.RpcError(L4_ENOENT, "attach without a dataspace")
        # From the program itself the capability is already in this task ("same");
        # from elsewhere it arrived in the receive slot and is kept.
        cap = req.take_cap() if it[0] == "cap" else it[1]
        try:
            _, ds_flags = await Dataspace(cap).info()
        except L4Error:
            ds_flags = None
        if ds_flags is None or flags & RM_W and not ds_flags & DS_W:
            if it[0] == "cap":
                await self._release(req.server, cap)
            if ds_flags is None:
                raise rpc.RpcError(L4_ENOENT, "not a dataspace")
            raise rpc.RpcError(L4_EPERM, "a writable region of a read-only dataspace")
        return cap

    async def _release(self, server, cap):
        await l4_task_unmap(L4_BASE_TASK_CAP, l4_obj_fpage(cap, 0, L4_CAP_FPAGE_RWSD),
                            L4_FP_ALL_SPACES)
        server.cap_alloc.free(cap)

    async def resolve(self, region, page, offset, rights):
        if region.flags & RM_PAGER:
            return await self._forward(page, rights)
        err = await self.map_page(region, page, offset, rights)
        return err if err < 0 else (0, b"", ())

    async def map_page(self, region, page, offset, rights):
        try:
            await Dataspace(region.ds).map(offset, rights, page)
        except L4Error as e:                   # the dataspace's server refused
            return -e.code
        self.mapped.setdefault(id(region), set()).add(page)
        return 0

    async def page_in(self, rmap, first, last, rights):
        page = first & ~((1 << self.shift) - 1)
        while page <= last:
            region, p, offset = rmap.fault(page, bool(rights & RM_W), bool(rights & 1))
            if page not in self.mapped.get(id(region), ()):
                answer = await self.resolve(region, p, offset, rights & (region.flags | RM_R))
                if isinstance(answer, int):
                    return answer
            page += 1 << self.shift
        return 0

    async def _forward(self, page, rights):
        """A fault in a region the starter's region map serves: its page_fault, with
        pc -3 as l4re_itas sends it, the page arriving in this task."""
        u = rpc.Packer().u64(page | (2 if rights & RM_W else 0)).u64((1 << 64) - 3)
        r = await rpc.call(self.parent_rm, L4_PROTO_PAGE_FAULT, u.words(),
                           rcv_window=l4_fpage(page, self.shift, L4_FPAGE_RWX).raw)
        return r.label if r.label < 0 else (0, b"", ())

    async def detached(self, regions):
        for r in regions:
            for page in sorted(self.mapped.pop(id(r), ())):
                await l4_task_unmap(L4_BASE_TASK_CAP, l4_fpage(page, self.shift, L4_FPAGE_RWX),
                                    L4_FP_ALL_SPACES)
        return RM_UNMAPPED_RANGE


async def touch(rm_server, addr, size, write=False):
    """Page in [addr, addr + size) for the loader's own access."""
    check(await rm_server.backend.page_in(rm_server.rmap, addr, addr + size - 1,
                                          RM_RW if write else RM_R), "paging in")


async def itas_main():
    """The first thread of every program (see module doc)."""
    env, args, aux = await read_startup()
    check(l4_error(await l4_scheduler_run_thread(env.scheduler, L4_BASE_THREAD_CAP,
                                                 l4_sched_param(ITAS_PRIO))), "raising itas")
    consts = running_consts()
    shift, utcb_size = consts.page_shift, consts.utcb_size
    own = CapAlloc(env.first_free_cap, env.first_free_cap + ITAS_CAPS)

    class _Env:                               # what the server needs of the env
        factory = env.factory
    server = rpc.Server(_Env, own, L4_BASE_THREAD_CAP)
    rmap = RegionMap(1 << shift, consts.user_max + 1, shift)
    rm_server = RmServer(rmap, ItasBackend(shift, env.rm), "itas")
    rm_sel = await server.register(rm_server)

    # What the starter's region map holds (the loader stage's stack page) and the UTCBs.
    from .rm import Rm
    for start, end, flags in await Rm(env.rm, L4_BASE_TASK_CAP).get_regions(0):
        rmap.regions.append(Region(start, end + 1, flags | RM_PAGER, None, 0, 0))
    area = env.utcb_area
    area_start, area_size = area & ~0xFFF, 1 << ((area >> 6) & 0x3F)
    rmap.regions.append(Region(area_start, area_start + area_size, RM_KERNEL | RM_RW, None, 0, 0))
    rmap.regions.sort(key=lambda r: r.start)

    # The program's image, through the rom name space ("rom/hello": cap "rom", "hello").
    ns_name, _, rest = args[0].partition("/")
    ns_cap = env.caps.get(ns_name)
    if ns_cap is None or not rest:
        raise LookupError(f"itas: cannot find {args[0]!r} (no capability {ns_name!r})")
    image_cap = await Namespace(ns_cap, own).query(rest)
    image_size, _ = await Dataspace(image_cap).info()
    image = rmap.attach(IMAGE_SEARCH, image_size, RM_RX | RM_SEARCH_ADDR, image_cap, 0, shift,
                        image_cap >> 12)
    await touch(rm_server, image.start, min(image_size, 64))
    ip = entry_point(await mem.read(image.start, min(image_size, 64)))
    if ip is None:
        raise ValueError(f"itas: {args[0]!r} is not a program image")

    # The program's stack, its environment and its thread.
    stack = await Mem_alloc(env.mem_alloc, own).alloc(STACK_SIZE)
    region = rmap.attach(STACK_SEARCH, STACK_SIZE, RM_RW | RM_SEARCH_ADDR, stack.cap, 0, shift,
                         stack.cap >> 12)
    app_thread = own.alloc()
    page = 1 << shift
    top = region.end - page
    env.rm = rm_sel
    env.main_thread = app_thread
    env.first_free_cap += ITAS_CAPS
    app_utcb = env.first_free_utcb
    env.first_free_utcb += utcb_size
    data, sp = pack_stack(top, page, env, args, page, aux.get(0xF2, 0))
    await touch(rm_server, top, page, write=True)
    await mem.write(top, data)

    check(l4_error(await l4_factory_create_thread(env.factory, app_thread)), "app thread")
    l4_thread_control_start()
    l4_thread_control_pager(rm_sel)
    l4_thread_control_exc_handler(rm_sel)
    l4_thread_control_bind(app_utcb, L4_BASE_TASK_CAP)
    check(l4_error(await l4_thread_control_commit(app_thread)), "binding the app thread")
    if "jdb" in env.caps:                     # the debugger names it, if there is one
        await l4_debugger_set_object_name(app_thread, args[0].rsplit("/", 1)[-1][:16])
    check(l4_error(await l4_thread_ex_regs(app_thread, ip, sp, 0)), "starting the program")
    check(l4_error(await l4_scheduler_run_thread(env.scheduler, app_thread,
                                                 l4_sched_param(APP_PRIO))), "running it")
    await server.serve()
