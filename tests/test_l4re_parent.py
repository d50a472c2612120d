"""Program exit through the parent (user-level §4.6), moe as the init's parent and a program
(Launcher) as its children's, and L4::Meta (user-level §4.8) on moe's objects."""

from pyl4re.l4re import Launcher, Namespace, Parent
from pyl4re.l4re.protocols import PROTO_DATASPACE, PROTO_META, PROTO_NAMESPACE, PROTO_PARENT
from pyl4re.l4re.rpc import call
from pyl4re.l4sys import L4_INVALID_CAP, L4_IPC_NEVER, L4_ENOENT, L4_ENOSYS, l4_ipc_sleep, l4_timeout_from_us

from l4re_util import raw, run_init


def test_exit_codes_and_moes_message(arch):
    async def main(env):
        return 3

    system, result = run_init(arch, main)
    assert system.exits == {"t": 3}
    assert system.log_lines == ["MOE: task t exited with 3"]
    assert "t" in result.deleted and "t.itas" in result.deleted     # the task is gone


def test_exit_zero_is_silent_and_other_signals_are_answered(arch):
    out = {}

    async def main(env):
        out["sig"] = await env.parent.signal(5, 1)
        out["op"] = await raw(env.parent.cap, PROTO_PARENT, [1])
        return 0

    system, _ = run_init(arch, main)
    assert out == {"sig": 0, "op": -L4_ENOSYS}
    assert system.exits == {"t": 0} and system.log_lines == []


def test_a_second_exit_is_refused_and_moe_serves_on(arch):
    async def second(env):
        await l4_ipc_sleep(l4_timeout_from_us(10_000))      # init has exited by now
        names = env.namespace("names")
        init_parent = Parent(await names.query("p"))
        again = await init_parent.signal(0, 9)               # init exits a second time
        await env.log.printf("second exit: %d\n", again)
        ds = await env.mem_alloc.alloc(4096)                  # moe still serves
        await env.log.printf("still: %d\n", await ds.size())
        await l4_ipc_sleep(L4_IPC_NEVER)

    async def main(env):
        names = await env.mem_alloc.create_namespace()
        await Launcher(env).start("rom/second", caps={"names": names})
        await Namespace(names, env.cap_alloc).register_obj("p", env.parent.cap)
        return 0

    system, _ = run_init(arch, main, rom={"second": second})
    assert system.exits == {"t": 0}
    assert system.log_lines == [f"second exit: {-L4_ENOENT}", "still: 4096"]


def test_launcher_children_exit_to_their_parent(arch):
    out = {}

    async def child(env):
        return 7

    async def main(env):
        launcher = Launcher(env)
        a = await launcher.start("rom/child", name="c1")
        b = await launcher.start("rom/child", name="c2")
        out["codes"] = await launcher.wait()
        return 0

    system, _ = run_init(arch, main, rom={"child": child})
    assert out["codes"] == {"c1": 7, "c2": 7}
    assert system.exits == {"t": 0}


def test_meta_protocol(arch):
    out = {}

    async def main(env):
        ds = await env.mem_alloc.alloc(4096)
        out["n"] = await raw(ds.cap, PROTO_META, [0])
        r = await call(ds.cap, PROTO_META, (1).to_bytes(8, "little") + (0).to_bytes(8, "little"))
        u = r.unpack()
        out["iface"] = (r.label, u.u64(), u.string())
        out["past"] = await raw(ds.cap, PROTO_META, [1, 4])
        out["yes"] = await raw(ds.cap, PROTO_META, [2, PROTO_DATASPACE])
        out["no"] = await raw(ds.cap, PROTO_META, [2, PROTO_NAMESPACE])
        out["fab"] = await raw(env.mem_alloc.cap, PROTO_META, [0])
        out["bad"] = await raw(ds.cap, PROTO_META, [9])
        return 0

    system, _ = run_init(arch, main)
    assert out["n"] == 1 and out["fab"] == 2
    assert out["iface"] == (0, PROTO_DATASPACE, b"L4Re::Dataspace")
    assert out["past"] == -34 and out["yes"] == 1 and out["no"] == 0
    assert out["bad"] == -L4_ENOSYS


def test_parent_bad_requests_and_long_cap_names(arch):
    out = {}

    async def child(env):
        return 0

    async def main(env):
        out["proto"] = await raw(env.parent.cap, 0x4000, [0, 0, 0])
        out["short"] = await raw(env.parent.cap, PROTO_PARENT, [0, 0])
        launcher = Launcher(env)
        try:
            await launcher.start("rom/child", caps={"a" * 17: env.log.cap})
        except ValueError as e:
            out["long"] = str(e)
        out["get_long"] = env.get_cap("a" * 17)
        app = await launcher.start("rom/child", caps={"a" * 16: env.log.cap})
        out["codes"] = await launcher.wait(app)
        return 0

    system, _ = run_init(arch, main, rom={"child": child})
    assert out["proto"] == -39 and out["short"] == -1001
    assert "1..16 bytes" in out["long"]
    assert out["get_long"] == L4_INVALID_CAP
    assert out["codes"] == {"child": 0} and system.exits == {"t": 0}
