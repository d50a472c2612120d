"""moe's factory / memory allocator (user-level §4.2, §4.7): what it creates, quotas,
sub-factories, scheduler proxies, and its answers to malformed create requests."""
import struct

import pyl4re
from pyl4re.l4re.mem_alloc import factory_create
from pyl4re.l4re.protocols import (
    MEM_CONTINUOUS, MEM_FIXED_PADDR, PROTO_DATASPACE, PROTO_FACTORY, PROTO_LOG,
    PROTO_SCHEDULER,
)
from pyl4re.l4sys import (
    L4_EINVAL, L4_EMSGTOOSHORT, L4_ENODEV, L4_ENOMEM, L4_ERANGE, L4_IPC_NEVER,
    L4_PROTO_THREAD, l4_error, l4_factory_create_thread, l4_ipc_sleep, l4_sched_param,
    l4_scheduler_run_thread, l4_thread_control_bind, l4_thread_control_commit,
    l4_thread_control_start, l4_thread_ex_regs, l4_task_release_cap,
)

from pyl4re import traps
from pyl4re.l4sys import l4_debugger_set_object_name

from l4re_util import raw, run_init


def test_creates_every_kind_and_reports_stats(arch):
    out = {}

    async def main(env):
        ma = env.mem_alloc
        out["ns"] = await ma.create_namespace() > 0
        out["rm"] = await ma.create_rm() > 0
        out["log"] = await ma.create_log("x") > 0
        ds = await ma.alloc(3 * 4096, MEM_CONTINUOUS)
        out["cont"] = await ds.size()
        out["stats"] = await ma.info()
        return 0

    system, _ = run_init(arch, main)
    assert system.exits == {"t": 0}
    assert out["ns"] and out["rm"] and out["log"] and out["cont"] == 3 * 4096
    quota, used, limit, mem_used, mem_free = out["stats"]
    assert used >= 3 * 4096 and mem_used + mem_free == limit


def test_quota_exhaustion_in_a_sub_factory(arch):
    out = {}

    async def main(env):
        sub = await env.mem_alloc.create_factory(64 << 10)
        a = await sub.alloc(32 << 10)
        try:
            await sub.alloc(48 << 10)
        except pyl4re.L4Error as e:
            out["second"] = e.code
        out["third"] = await (await sub.alloc(32 << 10)).size()       # what is left
        try:
            await sub.create_factory(1 << 20)                          # more than it has
        except pyl4re.L4Error as e:
            out["big_sub"] = e.code
        out["stats"] = await sub.info()
        out["a"] = await a.size()
        return 0

    system, _ = run_init(arch, main)
    assert system.exits == {"t": 0}
    assert out["second"] == L4_ENOMEM and out["big_sub"] == L4_ENOMEM
    assert out["third"] == 32 << 10 and out["a"] == 32 << 10
    assert out["stats"][:2] == (64 << 10, 64 << 10)


def test_malformed_create_requests(arch):
    out = {}

    async def main(env):
        ma = env.mem_alloc.cap
        t = env.cap_alloc.alloc()
        out["type"] = await factory_create(ma, 0x4444, t)
        out["thread"] = await factory_create(ma, L4_PROTO_THREAD, t)
        out["ds0"] = await factory_create(ma, PROTO_DATASPACE, t, 0)
        out["ds_neg"] = await factory_create(ma, PROTO_DATASPACE, t, -5)
        out["ds_none"] = await factory_create(ma, PROTO_DATASPACE, t)
        out["ds_str"] = await factory_create(ma, PROTO_DATASPACE, t, "big")
        out["ds_fixed"] = await factory_create(ma, PROTO_DATASPACE, t, 4096,
                                               ("u", MEM_FIXED_PADDR))
        out["ds_huge"] = await factory_create(ma, PROTO_DATASPACE, t, 1 << 40)
        out["log_int"] = await factory_create(ma, PROTO_LOG, t, 5)
        out["log_none"] = await factory_create(ma, PROTO_LOG, t)
        out["log_color"] = await factory_create(ma, PROTO_LOG, t, "x", 99)
        out["fab0"] = await factory_create(ma, PROTO_FACTORY, t, 0)
        out["sched_range"] = await factory_create(ma, PROTO_SCHEDULER, t, 300, 0)
        out["sched_order"] = await factory_create(ma, PROTO_SCHEDULER, t, 10, 20)
        out["sched_str"] = await factory_create(ma, PROTO_SCHEDULER, t, "a", 1)
        # A varg header that promises more than the message holds.
        data = struct.pack("<qQ", PROTO_LOG, 0x02 | 200 << 16) + b"abc\0\0\0\0\0"
        out["cut"] = await raw(ma, PROTO_FACTORY, data=data, rcv_cap=t)
        out["empty"] = await raw(ma, PROTO_FACTORY, [], rcv_cap=t)
        out["meminfo_bad"] = await raw(ma, 0x400B, [9])
        sub = await env.mem_alloc.create_factory(1 << 20)
        out["sub_sched"] = await factory_create(sub.cap, PROTO_SCHEDULER, t, 10, 1)
        out["ok_after"] = await (await env.mem_alloc.alloc(100)).size()
        return 0

    system, _ = run_init(arch, main)
    assert system.exits == {"t": 0}
    assert out["type"] == out["thread"] == -L4_ENODEV
    assert out["ds0"] == out["ds_neg"] == -L4_ERANGE
    assert out["ds_none"] == out["ds_str"] == out["ds_fixed"] == -L4_EINVAL
    assert out["ds_huge"] == -L4_ENOMEM
    assert out["log_int"] == out["log_none"] == out["log_color"] == -L4_EINVAL
    assert out["fab0"] == -L4_EINVAL
    assert out["sched_range"] == -L4_ERANGE
    assert out["sched_order"] == out["sched_str"] == -L4_EINVAL
    assert out["cut"] == -L4_EINVAL
    assert out["empty"] == -L4_EMSGTOOSHORT
    assert out["meminfo_bad"] == -38
    assert out["sub_sched"] == -L4_ENODEV
    assert out["ok_after"] == 100


def test_scheduler_proxy_offsets_and_limits_priorities(arch):
    out = {}

    async def worker():
        while True:
            await l4_ipc_sleep(L4_IPC_NEVER)

    async def main(env):
        proxy = await env.mem_alloc.create_scheduler(20, 10)
        size = traps.running().kernel.arch_info["utcb_size"]
        replies = []
        for n, asked in enumerate((2, 50)):
            th = env.cap_alloc.alloc()
            assert l4_error(await l4_factory_create_thread(env.factory, th)) == 0
            l4_thread_control_start()
            l4_thread_control_bind(env.first_free_utcb + n * size, env.task)
            assert l4_error(await l4_thread_control_commit(th)) == 0
            await l4_debugger_set_object_name(th, f"w{asked}")
            await l4_thread_ex_regs(th, pyl4re.entry(worker), 0, 0)
            replies.append(l4_error(await l4_scheduler_run_thread(proxy, th,
                                                                  l4_sched_param(asked))))
        out["replies"] = replies
        out["no_thread"] = await raw(proxy, -14, [1, 0, 1, 5, 0])    # run_thread, no item
        out["idle"] = await raw(proxy, -14, [2, 0])
        await l4_ipc_sleep(L4_IPC_NEVER)             # keep the task (and the workers)

    system, _ = run_init(arch, main)
    assert out["replies"] == [0, 0]
    assert out["no_thread"] == -L4_EINVAL and out["idle"] == -38
    k = system.kernel
    prio = {rec.name: k._thread_info(rec.id).prio for rec in k._loop.threads.values()
            if rec.name in ("w2", "w50")}
    assert prio == {"w2": 12, "w50": 20}          # min(asked + offset, limit)


def test_objects_nobody_holds_are_collected(arch):
    """Programs that each take 3 MiB, one after another, from a moe with 8 MiB: the memory
    of the exited ones comes back (moe collects objects whose gates only it holds)."""
    out = {}

    async def child(env):
        ds = await env.mem_alloc.alloc(3 << 20, MEM_CONTINUOUS)
        return 0 if await ds.size() == 3 << 20 else 1

    async def main(env):
        from pyl4re.l4re import Launcher
        launcher = Launcher(env)
        codes = []
        for i in range(6):
            app = await launcher.start("rom/child", name=f"c{i}")
            codes.append((await launcher.wait(app))[f"c{i}"])
        out["codes"] = codes
        # A dataspace whose only client capability goes: collected when memory runs out
        # (moe's only block of 3 MiB is the 4 MiB chunk it got from sigma0).
        ds = await env.mem_alloc.alloc(3 << 20, MEM_CONTINUOUS)
        await l4_task_release_cap(env.task, ds.cap)
        out["again"] = await (await env.mem_alloc.alloc(3 << 20, MEM_CONTINUOUS)).size()
        return 0

    system, _ = run_init(arch, main, rom={"child": child}, moe_memory=8 << 20)
    assert out["codes"] == [0] * 6 and out["again"] == 3 << 20
    assert system.exits == {"t": 0}
    moe = system.moe_state
    assert len(moe.server.objects) < 40                  # not six programs' worth


def test_scheduler_proxy_narrows_the_cpus(arch):
    async def worker():
        while True:
            await l4_ipc_sleep(L4_IPC_NEVER)

    async def main(env):
        proxy = await env.mem_alloc.create_scheduler(20, 0, 0b10)     # CPU 1 only
        th = env.cap_alloc.alloc()
        await l4_factory_create_thread(env.factory, th)
        l4_thread_control_start()
        l4_thread_control_bind(env.first_free_utcb, env.task)
        await l4_thread_control_commit(th)
        await l4_debugger_set_object_name(th, "w")
        await l4_thread_ex_regs(th, pyl4re.entry(worker), 0, 0)
        assert l4_error(await l4_scheduler_run_thread(proxy, th, l4_sched_param(5))) == 0
        await l4_ipc_sleep(L4_IPC_NEVER)

    system = pyl4re.boot(arch=arch, init="rom/t", rom={"t": main}, memory=16 << 20, cpus=2)
    system.run(until_ns=50_000_000)
    k = system.kernel
    (rec,) = [r for r in k._loop.threads.values() if r.name == "w"]
    info = k._thread_info(rec.id)
    assert (info.cpu, info.prio) == (1, 5)
