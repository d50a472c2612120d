"""The starter half of L4Re's two-stage program start (libloader's `remote_app_model`):
make the task and its first thread, give it its capabilities at the initial slots, build
its `l4re_env_t` and initial stack in its memory, and start the in-task loader
(`itas.py`, "rom/l4re") in it, which loads the program itself.

Slots in the new task (user-level §3.2): 1 the task, 2 the kernel factory, 3 the
first thread, 5 the log, 7 the scheduler, 0x10 the region map the starter made for it
(the first thread's pager), 0x11 the memory allocator, 0x13 the parent, 0x14 the KIP
dataspace, named capabilities from 0x16 on in the given order; `first_free_cap` is the
slot after them. The first thread runs at priority 2; the in-task loader raises itself
to 255 and runs the program's thread at 2 (user-level §6.4).

Where memory and region maps come from differs by starter: moe makes them itself, a
program asks its memory allocator by IPC. `AppModel` is what a starter provides;
`IpcAppModel` is a program's; `Launcher` starts programs from a program and is their
parent (as ned is).
"""
from dataclasses import dataclass

from ..code import entry
from ..errors import check
from ..l4sys import (
    L4_BASE_TASK_CAP, L4_CAP_FPAGE_RO, L4_CAP_FPAGE_RWS, L4_CAP_FPAGE_RWSD,
    L4_CAP_SHIFT, L4_FP_DELETE_OBJ, L4_FPAGE_RW, L4_INVALID_CAP, l4_debugger_set_object_name,
    l4_error, l4_factory_create_task, l4_factory_create_thread,
    l4_fpage, l4_map_obj_control, l4_obj_fpage, l4_sched_param, l4_scheduler_run_thread,
    l4_task_map, l4_task_unmap, l4_thread_control_bind, l4_thread_control_commit,
    l4_thread_control_exc_handler, l4_thread_control_pager, l4_thread_control_start,
    l4_thread_ex_regs,
)
from .. import mem
from ..arch_consts import running_consts
from .env_layout import EnvRecord, pack_stack, valid_cap_name
from .protocols import PARENT_SIGNAL, PROTO_PARENT, RM_RW, RM_SEARCH_ADDR
from .rpc import RpcError, Server

TASK, FACTORY, THREAD, LOG, SCHEDULER = 1, 2, 3, 5, 7
RM, MEM_ALLOC, NAMES, PARENT, KIP_DS, DBG_EVENTS = 0x10, 0x11, 0x12, 0x13, 0x14, 0x15
FIRST_NAMED = 0x16
ENV_STACK_SEARCH = 0xA0000000          # where the loader stage's stack page goes
LOADER_PRIO = 2


def sel(index):
    return index << L4_CAP_SHIFT


@dataclass
class App:
    """A started program as its starter knows it: its name and the starter's selectors
    of its task, first thread, region map and parent object."""
    name: str
    task: int
    thread: int
    rm: object
    parent: object = None
    exit_code: object = None


class AppModel:
    """What a starter provides (see module doc); each method is async:
    alloc_stack(size) -> a dataspace handle; write(handle, offset, data);
    new_rm() -> (region-map handle, its selector here);
    attach(rm, addr, size, flags, ds) -> the address in the new task."""


async def launch(env, cap_alloc, model, name, args, caps, log, parent, mem_alloc, scheduler=None,
                 kip_ds=None, prio=LOADER_PRIO):
    """Start program `args[0]` (e.g. "rom/hello") in a new task named `name` (see module
    doc). `env` gives the starter's own task, factory and scheduler, `cap_alloc` its free
    slots; `caps` is name -> (selector, rights). Returns an App."""
    for cname in caps:
        if not valid_cap_name(cname):
            raise ValueError(f"capability name {cname!r} must be 1..16 bytes")
    # L4Re's default UTCB area and the KIP's address are facts of the machine (the
    # architecture's ABI header), as they are compile-time constants of a C loader.
    consts = running_consts()
    shift, utcb_size = consts.page_shift, consts.utcb_size
    base, kip_va = consts.utcb_area, consts.kip_va
    area = l4_fpage(base, max((8 * utcb_size - 1).bit_length(), shift), L4_FPAGE_RW)
    alloc = cap_alloc
    task, thread = alloc.alloc(), alloc.alloc()
    check(l4_error(await l4_factory_create_task(env.factory, task, area)), "creating the task")
    check(l4_error(await l4_factory_create_thread(env.factory, thread)), "creating the thread")
    rm, rm_sel = await model.new_rm()
    scheduler = env.scheduler if scheduler is None else scheduler

    given = [(TASK, task, L4_CAP_FPAGE_RWS), (FACTORY, env.factory, L4_CAP_FPAGE_RWS),
             (THREAD, thread, L4_CAP_FPAGE_RWS), (SCHEDULER, scheduler, L4_CAP_FPAGE_RWS),
             (RM, rm_sel, L4_CAP_FPAGE_RWSD), (MEM_ALLOC, mem_alloc, L4_CAP_FPAGE_RWSD),
             (PARENT, parent, L4_CAP_FPAGE_RWS)]
    if log is not None:
        given.append((LOG, log, L4_CAP_FPAGE_RWS))
    if kip_ds is not None:
        given.append((KIP_DS, kip_ds, L4_CAP_FPAGE_RO))
    named, index = {}, FIRST_NAMED
    for cname, (cap, rights) in caps.items():
        dst = 10 if cname == "jdb" else index
        given.append((dst, cap, rights))
        named[cname] = sel(dst)
        if dst == index:
            index += 1
    for dst, cap, rights in given:
        # rights: the fpage rights (low nibble) and the map word's object-specific
        # flags (high nibble, e.g. 0x20 an IPC gate's server right), as ned maps them
        tag = await l4_task_map(task, L4_BASE_TASK_CAP, l4_obj_fpage(cap, 0, rights & 0xF),
                                l4_map_obj_control(sel(dst), 0) | (rights & 0xF0))
        check(l4_error(tag), f"mapping slot {dst:#x}")

    record = EnvRecord(parent=sel(PARENT), rm=sel(RM), mem_alloc=sel(MEM_ALLOC),
                       log=sel(LOG) if log is not None else L4_INVALID_CAP,
                       main_thread=sel(THREAD), factory=sel(FACTORY),
                       scheduler=sel(SCHEDULER), itas=L4_INVALID_CAP,
                       dbg_events=L4_INVALID_CAP, first_free_cap=index,
                       first_free_reply_cap=0, utcb_area=area.raw,
                       first_free_utcb=base + utcb_size, caps=named)
    page = 1 << shift
    stack = await model.alloc_stack(page)
    addr = await model.attach(rm, ENV_STACK_SEARCH, page, RM_RW | RM_SEARCH_ADDR, stack)
    image, sp = pack_stack(addr, page, record, list(args), page, kip_va)
    await model.write(stack, 0, image)

    from .itas import itas_main
    l4_thread_control_start()
    l4_thread_control_pager(sel(RM))
    l4_thread_control_exc_handler(sel(RM))
    l4_thread_control_bind(base, task)
    check(l4_error(await l4_thread_control_commit(thread)), "binding the first thread")
    if _has_debugger(env):
        await l4_debugger_set_object_name(thread, f"{name}.itas"[:16])
        await l4_debugger_set_object_name(task, name[:16])
    check(l4_error(await l4_thread_ex_regs(thread, entry(itas_main), sp, 0)), "ex_regs")
    check(l4_error(await l4_scheduler_run_thread(scheduler, thread, l4_sched_param(prio))),
          "running the first thread")
    return App(name, task, thread, rm)


def _has_debugger(env):
    """Whether the starter holds the kernel debugger (moe always; a program if it got
    the `jdb` capability), which names the new task and thread for traces."""
    return getattr(env, "debugger", None) is not None or "jdb" in getattr(env, "caps", {})


# ---- starting programs from a program (as ned does)

class IpcAppModel(AppModel):
    """A program's way: memory and region maps from its memory allocator by IPC, and the
    stack page written through its own region map."""

    def __init__(self, env):
        self.env = env

    async def alloc_stack(self, size):
        return await self.env.mem_alloc.alloc(size)

    async def new_rm(self):
        rm_sel = await self.env.mem_alloc.create_rm()
        from .rm import Rm
        return Rm(rm_sel, L4_INVALID_CAP), rm_sel

    async def attach(self, rm, addr, size, flags, ds):
        return await rm.attach(addr, size, flags, ds)

    async def write(self, ds, offset, data):
        local = await self.env.rm.attach(0, len(data) + offset, RM_RW | RM_SEARCH_ADDR, ds)
        await mem.write(local + offset, data)
        await self.env.rm.detach(local)


class _ParentObject:
    """The parent side of one started program (L4Re::Parent, ned's behaviour): exit
    records the code and deletes the program's task; other signals are answered 0."""
    INTERFACES = [(PROTO_PARENT, "L4Re::Parent")]

    def __init__(self, launcher, app):
        self.launcher, self.app = launcher, app

    def protocols(self):
        return {PROTO_PARENT: self.signal}

    async def signal(self, req):
        if req.opcode() != PARENT_SIGNAL:
            raise RpcError(38, "unknown Parent opcode")
        u = req.unpack()
        sig, val = u.u64(), u.u64()
        if sig != 0:
            return 0
        if self.app.exit_code is not None:
            raise RpcError(2, "the program has exited already")        # -L4_ENOENT
        self.app.exit_code = val - (1 << 64) if val >= 1 << 63 else val
        await self.launcher.kill(self.app)
        return 0


class Launcher:
    """Starts programs from a running program and is their parent: `await start(...)`,
    then `await wait()` serves their exits until every one has exited."""

    def __init__(self, env):
        self.env = env
        self.model = IpcAppModel(env)
        self.server = Server(env, env.cap_alloc, env.main_thread)
        self.apps = []

    async def start(self, binary, caps=None, log=None, name=None, args=(), scheduler=None,
                    mem_alloc=None):
        """Start `binary` ("rom/<name>"). `caps`: name -> selector (mapped RWS) or
        (selector, rights); `log`: a log selector (None: the starter's own);
        `mem_alloc`: the program's memory allocator (None: the starter's)."""
        name = name or binary.rsplit("/", 1)[-1]
        given = {}
        for cname, cap in (caps or {}).items():
            given[cname] = cap if isinstance(cap, tuple) else (cap, L4_CAP_FPAGE_RWS)
        if "rom" not in given and self.env.get_cap("rom") != L4_INVALID_CAP:
            given = {"rom": (self.env.get_cap("rom"), L4_CAP_FPAGE_RO), **given}
        app = App(name, 0, 0, None)
        parent = _ParentObject(self, app)
        parent_sel = await self.server.register(parent)
        started = await launch(self.env, self.env.cap_alloc, self.model, name, [binary, *args], given,
                               self.env.log.cap if log is None else log, parent_sel,
                               self.env.mem_alloc.cap if mem_alloc is None else mem_alloc,
                               scheduler)
        app.task, app.thread, app.rm, app.parent = (started.task, started.thread, started.rm,
                                                    parent)
        self.apps.append(app)
        return app

    async def kill(self, app):
        await l4_task_unmap(L4_BASE_TASK_CAP, l4_obj_fpage(app.task, 0, L4_CAP_FPAGE_RWSD),
                            L4_FP_DELETE_OBJ)

    async def wait(self, *apps):
        """Serve the programs' parent requests until `apps` (default: all started) have
        exited: name -> exit code."""
        apps = apps or tuple(self.apps)
        await self.server.serve(until=lambda: all(a.exit_code is not None for a in apps))
        return {a.name: a.exit_code for a in apps}
