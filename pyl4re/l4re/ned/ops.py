"""The L4 operations a ned script asks for (l4.lua yields them by name), each performed
from the ned µApp as real invocations through `pyl4re.l4re` and l4sys: factories,
name spaces, reading rom files, starting programs, and the task objects of started
programs. A refused operation raises OpError(message, -code), which becomes the Lua
error {msg, code}. `BLOCKING` are the requests that park the asking coroutine (sleeping,
waiting for a program) instead of answering at once.
"""
from dataclasses import dataclass, field

from ... import mem
from ...errors import L4Error
from ...l4sys import (
    L4_BASE_TASK_CAP, L4_INVALID_CAP, l4_error, l4_factory_create_gate, l4_task_cap_valid,
)
from .. import rpc
from ..dataspace import Dataspace
from ..loader import App
from ..mem_alloc import factory_create
from ..namespace import Namespace
from ..protocols import NS_UNLINK, NS_REGISTER, PROTO_NAMESPACE, RM_R, RM_SEARCH_ADDR

PROTO_IPC_GATE = 0
ENOENT = 2


class OpError(Exception):
    """A refused operation: Lua sees {msg = message, code = code}."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


@dataclass
class Task:
    """A program ned started, as its task object in Lua refers to it."""
    id: int
    app: App
    reaped: bool = False            # after wait() or kill(): the object is gone
    noticed: bool = False           # ned has seen its exit
    killed: bool = False
    handler: bool = False
    waiters: list = field(default_factory=list)


def _l4(e, what):
    return OpError(f"{what}: {e}", -getattr(e, "code", 22))


def _int(v, what):
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise OpError(f"{what} must be an integer, not {v!r}", -22)
    return v


async def op_print(ned, text):
    await ned.say(str(text))


async def op_read(ned, path):
    """The contents of a file named through ned's name spaces ("rom/x.cfg"), or None if
    there is none: Namespace.query, then the dataspace attached and read."""
    if not isinstance(path, str):
        raise OpError("a file name is a string", -22)
    first, _, rest = path.partition("/")
    ns = ned.env.get_cap(first)
    if ns == L4_INVALID_CAP or not rest:
        return None
    try:
        ds_sel = await Namespace(ns, ned.env.cap_alloc).query(rest, timeout_ms=0)
    except L4Error as e:
        if e.code == ENOENT:
            return None
        raise _l4(e, f"reading {path}")
    ds = Dataspace(ds_sel)
    size = await ds.size()
    addr = await ned.env.rm.attach(0, size, RM_R | RM_SEARCH_ADDR, ds)
    data = await mem.read(addr, size)
    await ned.env.rm.detach(addr)
    return data.split(b"\0", 1)[0].decode("utf-8", "replace")


async def op_create(ned, factory, proto, args):
    """factory:create(proto, args...): the new object's selector."""
    proto = _int(proto, "the protocol")
    values = []
    for i in range(1, int(args["n"] or 0) + 1):
        v = args[i]
        values.append(_int(v, f"argument {i}") if isinstance(v, (int, float)) else v)
    target = ned.env.cap_alloc.alloc()
    if target == L4_INVALID_CAP:
        raise OpError("ned has no free capability slot", -12)
    if proto == PROTO_IPC_GATE and not values:
        err = l4_error(await l4_factory_create_gate(factory, target, L4_INVALID_CAP, 0))
    else:
        try:
            err = await factory_create(factory, proto, target, *values)
        except (TypeError, ValueError) as e:
            raise OpError(str(e), -22)
    if err < 0:
        ned.env.cap_alloc.free(target)
        raise OpError(f"factory:create({proto:#x}) failed: {L4Error(-err)}", err)
    return target


async def op_query(ned, ns, name):
    """ns:query(name)(): the selector, or None if there is no such entry."""
    try:
        return await Namespace(ns, ned.env.cap_alloc).query(name, timeout_ms=0)
    except L4Error as e:
        if e.code == ENOENT:
            return None
        raise _l4(e, f"query of {name!r}")


async def op_register(ned, ns, name, cap, rights):
    """ns:register(name, cap): the entry's flags are the capability's rights."""
    msg = rpc.Packer().u32(NS_REGISTER).u32(rights & 7).array(name.encode())
    items = [] if cap is None else [rpc.cap_item(cap, rights & 0xF)]
    r = await rpc.call(ns, PROTO_NAMESPACE, msg.words(), items=items)
    if r.label < 0:
        raise OpError(f"register of {name!r} failed: {L4Error(-r.label)}", r.label)


async def op_unlink(ned, ns, name):
    msg = rpc.Packer().u32(NS_UNLINK).array(name.encode())
    r = await rpc.call(ns, PROTO_NAMESPACE, msg.words())
    if r.label < 0 and r.label != -ENOENT:
        raise OpError(f"unlink of {name!r} failed: {L4Error(-r.label)}", r.label)


async def op_cap_valid(ned, sel):
    return l4_error(await l4_task_cap_valid(L4_BASE_TASK_CAP, sel)) > 0


async def op_exec(ned, spec):
    """loader:start: check the program is in the rom, then start it through the loader
    (the starter in ned, the in-task loader in the new task); a task id."""
    prog = spec["prog"]
    if await _in_rom(ned, prog) is False:
        raise OpError(f"could not start '{prog}': there is no such file", -ENOENT)
    caps = {}
    lua = ned.lua
    for entry in lua.items(spec["caps"]):
        caps[entry["name"]] = (entry["sel"], entry["rights"])
    args = [a for a in lua.items(spec["args"])]
    try:
        app = await ned.launcher.start(prog, caps=caps, log=spec["log"], args=args,
                                       scheduler=spec["scheduler"], mem_alloc=spec["mem"])
    except (ValueError, TypeError) as e:
        raise OpError(f"could not start '{prog}': {e}", -22)
    except L4Error as e:
        raise _l4(e, f"could not start '{prog}'")
    task = Task(len(ned.tasks), app)
    ned.tasks.append(task)
    ned.state.programs.append(app)
    return task.id


async def _in_rom(ned, path):
    """Whether `path` ("rom/name") names an entry: a query of the name space."""
    first, _, rest = path.partition("/")
    ns = ned.env.get_cap(first)
    if ns == L4_INVALID_CAP or not rest:
        return False
    try:
        sel = await Namespace(ns, ned.env.cap_alloc).query(rest, timeout_ms=0)
    except L4Error:
        return False
    ned.env.cap_alloc.free(sel)
    return True


def _task(ned, tid):
    return ned.tasks[tid]


async def op_task_state(ned, tid):
    t = _task(ned, tid)
    if t.reaped:
        return None
    return "zombie" if t.app.exit_code is not None else "running"


async def op_task_exit_code(ned, tid):
    return _task(ned, tid).app.exit_code


async def op_task_kill(ned, tid):
    t = _task(ned, tid)
    if t.reaped:
        return None
    if t.app.exit_code is not None:
        t.reaped = True
        return t.app.exit_code
    await ned.launcher.kill(t.app)
    t.reaped = t.killed = True
    for co in t.waiters:
        ned.wake(co, None)
    t.waiters = []
    return "killed"


async def op_task_exit_handler(ned, tid):
    t = _task(ned, tid)
    if t.app.exit_code is not None or t.reaped:
        return True, t.app.exit_code
    t.handler = True
    return False, None


async def op_kip_str(ned):
    raw = await mem.read(ned.kip + 0x100, 0x100)
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


async def op_platform(ned):
    raw = await mem.read(ned.kip + 0x70, 16)
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


ARCH_NAMES = {"x86_64": "amd64", "arm64": "arm64", "mips64": "mips"}


async def op_arch(ned):
    return ARCH_NAMES.get(ned.arch, ned.arch)


async def op_mword_bits(ned):
    return 64


OPS = {"print": op_print, "read": op_read, "create": op_create, "query": op_query,
       "register": op_register, "unlink": op_unlink, "cap_valid": op_cap_valid,
       "exec": op_exec, "task_state": op_task_state, "task_exit_code": op_task_exit_code,
       "task_kill": op_task_kill, "task_exit_handler": op_task_exit_handler,
       "kip_str": op_kip_str, "platform": op_platform, "arch": op_arch,
       "mword_bits": op_mword_bits}


async def block_sleep(ned, co, ms):
    ms = max(_int(ms, "the time") if isinstance(ms, (int, float)) else 0, 0)
    ned.sleepers.append((await ned.now_us() + ms * 1000, co))


async def block_wait(ned, co, tid):
    t = _task(ned, tid)
    if t.reaped:
        ned.wake(co, None)
    elif t.app.exit_code is not None:
        t.reaped = True
        ned.wake(co, t.app.exit_code)
    else:
        t.waiters.append(co)


async def block_serve(ned, co):
    """L4.server_loop(): the script serves for ever (ned's loop serves its programs)."""


BLOCKING = {"sleep": block_sleep, "task_wait": block_wait, "serve": block_serve}
