"""moe's name spaces (user-level §4.4): register, query (with '/' resolved part by part), unlink,
placeholders, the rights rules, and bad requests."""
import pyl4re
from pyl4re.l4re import Namespace
from pyl4re.l4re.protocols import NS_OVERWRITE, NS_RO, NS_RW, PROTO_NAMESPACE
from pyl4re.l4re.rpc import Packer
from pyl4re.l4sys import (
    L4_CAP_FPAGE_RO, L4_EACCESS, L4_EAGAIN, L4_EEXIST, L4_EINVAL, L4_EMSGTOOSHORT,
    L4_ENOENT, L4_ENOSYS, L4_EPERM, l4_factory_create_gate, l4_map_obj_control,
    l4_obj_fpage, l4_task_map,
)

from l4re_util import raw, run_init


async def code(coro):
    try:
        await coro
        return 0
    except pyl4re.L4Error as e:
        return -e.code


def test_register_query_unlink_and_paths(arch):
    out = {}

    async def main(env):
        ns_sel = await env.mem_alloc.create_namespace()
        ns = Namespace(ns_sel, env.cap_alloc)
        sub_sel = await env.mem_alloc.create_namespace()
        sub = Namespace(sub_sel, env.cap_alloc)
        gate = env.cap_alloc.alloc()
        await l4_factory_create_gate(env.factory, gate, env.main_thread, 0x40)
        await ns.register_obj("dir", sub_sel, NS_RW)
        await sub.register_obj("gate", gate, NS_RW)
        found = await ns.query("dir/gate")             # two queries: "dir", then "gate"
        out["same"] = found != gate
        out["rom_hello"] = await env.namespace("rom").query("hello") > 0
        out["exists"] = await code(ns.register_obj("dir", gate))
        out["overwrite"] = await code(ns.register_obj("dir", gate, NS_RW | NS_OVERWRITE))
        out["unlink"] = await code(ns.unlink("dir"))
        out["gone"] = await code(ns.query("dir", timeout_ms=0))
        out["unlink_gone"] = await code(ns.unlink("dir"))
        out["static"] = await code(env.namespace("rom").unlink("hello"))
        out["static_reg"] = await code(env.namespace("rom").register_obj("hello", gate))
        return 0

    system, _ = run_init(arch, main)
    assert system.exits == {"t": 0}
    assert out["same"] and out["rom_hello"]
    assert out["exists"] == -L4_EEXIST and out["overwrite"] == 0 and out["unlink"] == 0
    assert out["gone"] == out["unlink_gone"] == -L4_ENOENT
    assert out["static"] == -L4_EACCESS
    assert out["static_reg"] == -L4_EEXIST               # boot-time entries stay


def test_placeholders_answer_eagain_until_filled(arch):
    out = {}

    async def main(env):
        ns = Namespace(await env.mem_alloc.create_namespace(), env.cap_alloc)
        await ns.register_obj("later", None)
        out["nonblocking"] = await code(ns.query("later", timeout_ms=0))
        t0 = pyl4re.traps.running().kernel.now_ns
        out["timeout"] = await code(ns.query("later", timeout_ms=100))
        out["waited_ms"] = (pyl4re.traps.running().kernel.now_ns - t0) // 1_000_000
        return 0

    system, _ = run_init(arch, main)
    assert out["nonblocking"] == out["timeout"] == -L4_EAGAIN
    assert out["waited_ms"] >= 100                         # 10 + 20 + 40 + 80 ms of sleep


def test_rights_of_entries(arch):
    out = {}

    async def main(env):
        ns = Namespace(await env.mem_alloc.create_namespace(), env.cap_alloc)
        ds = await env.mem_alloc.alloc(4096)
        await ns.register_obj("ro", ds.cap, NS_RO)
        await ns.register_obj("rw", ds.cap, NS_RW)
        ro = pyl4re.l4re.Dataspace(await ns.query("ro"))
        rw = pyl4re.l4re.Dataspace(await ns.query("rw"))
        out["ro"], out["rw"] = (await ro.info())[1], (await rw.info())[1]
        # Through a read-only capability to the name space: no register, no unlink.
        ro_ns = env.cap_alloc.alloc()
        await l4_task_map(env.task, env.task, l4_obj_fpage(ns.cap, 0, L4_CAP_FPAGE_RO),
                          l4_map_obj_control(ro_ns, 0))
        weak = Namespace(ro_ns, env.cap_alloc)
        out["weak_reg"] = await code(weak.register_obj("x", ds.cap))
        out["weak_unlink"] = await code(weak.unlink("rw"))
        out["weak_query"] = await weak.query("rw") > 0
        return 0

    system, _ = run_init(arch, main)
    assert out["ro"] & 2 == 0 and out["rw"] & 2 == 2       # W only for an Rw entry
    assert out["weak_reg"] == out["weak_unlink"] == -L4_EPERM
    assert out["weak_query"]


def test_bad_requests(arch):
    out = {}

    async def main(env):
        ns = Namespace(await env.mem_alloc.create_namespace(), env.cap_alloc)
        c = ns.cap
        t = env.cap_alloc.alloc()
        ds = await env.mem_alloc.alloc(4096)
        out["wrong_proto"] = await raw(c, 0x4000, [2])
        out["no_opcode"] = await raw(c, PROTO_NAMESPACE, [])
        out["opcode"] = await raw(c, PROTO_NAMESPACE, [2])             # "link": gone
        out["no_len"] = await raw(c, PROTO_NAMESPACE, [0], rcv_cap=t)
        out["oversized"] = await raw(c, PROTO_NAMESPACE, [0, 5000, 0x41], rcv_cap=t)
        out["empty"] = await code(ns.register_obj("", ds.cap))
        out["slash"] = await code(ns.register_obj("a/b", ds.cap))
        out["missing"] = await code(ns.query("nothing", timeout_ms=0))
        out["long_ok"] = await code(ns.register_obj("a" * 40, ds.cap))  # moe keeps long names
        out["long_query"] = await ns.query("a" * 40) > 0
        out["too_long"] = await raw(c, PROTO_NAMESPACE,
                                    data=Packer().u32(1).u32(NS_RW).array(b"x" * 300).words())
        out["still"] = await ns.query("a" * 40) > 0
        return 0

    system, _ = run_init(arch, main)
    assert system.exits == {"t": 0}
    assert out["wrong_proto"] == -39 and out["no_opcode"] == -L4_EMSGTOOSHORT
    assert out["opcode"] == -L4_ENOSYS
    assert out["no_len"] == out["oversized"] == -L4_EMSGTOOSHORT
    assert out["empty"] == out["slash"] == -L4_EINVAL
    assert out["missing"] == -L4_ENOENT
    assert out["long_ok"] == 0 and out["long_query"]
    assert out["too_long"] == -L4_EMSGTOOSHORT
    assert out["still"]
