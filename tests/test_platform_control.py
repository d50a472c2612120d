"""Platform control (§8.8) on the ICU capability: suspend, shutdown ending the run with its
status, cpu_allow_shutdown, CPU disable/enable taking a CPU's threads off and on, the Arm
ASID operation, and every refusal."""
import pytest

from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_CAP_FPAGE_R, L4_CAP_FPAGE_RWS, L4_EBADPROTO, L4_EBUSY, L4_EINVAL,
    L4_EMSGTOOSHORT, L4_ENOSYS, L4_EPERM, L4_FPAGE_RW, L4_ITEM_MAP, L4_PLATFORM_CTL_CPU_ENABLE_OP,
    L4_PLATFORM_CTL_SET_TASK_ASID_OP, L4_PLATFORM_CTL_SYS_SHUTDOWN_OP, L4_PROTO_LOG,
    L4_PROTO_PLATFORM_CTL, l4_factory_create_task, l4_fpage, l4_ipc_sleep, l4_map_obj_control,
    l4_obj_fpage, l4_platform_ctl_cpu_allow_shutdown, l4_platform_ctl_cpu_disable,
    l4_platform_ctl_cpu_enable, l4_platform_ctl_system_shutdown, l4_platform_ctl_system_suspend,
    l4_sched_cpu_set, l4_scheduler_idle_time, l4_task_map, l4_timeout, l4_timeout_from_us, l4_utcb,
)
import pyl4re

from kobj_util import invoke, ok, run_main, sel, value

TASK, TASK_R = sel(0), sel(1)


def sleep_us(us):
    return l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(us)))


def err(tag):
    from pyl4re.l4sys import l4_error
    return l4_error(tag, l4_utcb())


# ---- suspend and shutdown

def test_suspend_without_a_wakeup_source_is_busy(arch):
    async def main(env):
        return err(await l4_platform_ctl_system_suspend(env.icu, 0))

    assert value(arch, main) == -L4_EBUSY


def test_suspend_stops_every_cpu_until_a_wakeup_irq(arch):
    from pyl4re.l4sys import (L4_IRQ_F_POS_EDGE, L4_IRQ_F_SET_WAKEUP, l4_factory_create_irq,
                              l4_icu_bind, l4_icu_set_mode, l4_rcv_ep_bind_thread)
    wake_ns = 5_000_000
    k = Kernel(arch=arch, cpus=2, memory=16 << 20)
    seen = {}

    async def sleeper(env):
        await sleep_us(1000)                       # its timeout falls into the suspend
        seen["sleeper"] = k.now_ns

    async def main(env):
        ok(await l4_factory_create_irq(env.factory, sel(0)))
        ok(await l4_rcv_ep_bind_thread(sel(0), env.thread, 0x30))
        ok(await l4_icu_bind(env.icu, 3, sel(0)))
        ok(await l4_icu_set_mode(env.icu, 3, L4_IRQ_F_POS_EDGE | L4_IRQ_F_SET_WAKEUP))
        before = k.now_ns
        rc = err(await l4_platform_ctl_system_suspend(env.icu, 0))
        return rc, before, k.now_ns

    k.start_task(sleeper, name="sleeper", cpu=1)
    k.start_task(main, name="main")
    k.hw.at(wake_ns, k.hw.irq_line(3).pulse)
    res = k.run()
    rc, before, after = res.exited["main"]
    assert rc == 0 and before < 1_000_000 and after >= wake_ns
    assert seen["sleeper"] >= wake_ns             # nothing ran while suspended
    assert not k._lib.kernel_suspended(k._k)


@pytest.mark.parametrize("is_reboot, how", [(0, "poweroff"), (1, "reboot")])
def test_shutdown_ends_the_run_with_its_status(arch, is_reboot, how):
    seen = []

    async def other(env):
        for i in range(100):
            seen.append(i)
            await sleep_us(10)

    async def main(env):
        await sleep_us(25)
        await l4_platform_ctl_system_shutdown(env.icu, is_reboot)
        seen.append("after shutdown")          # never runs: the machine is off

    k = Kernel(arch=arch, cpus=2, memory=16 << 20)
    k.start_task(other, name="other", cpu=1)
    k.start_task(main, name="main")
    res = k.run()
    assert res.reason == "shutdown" and res.shutdown == how
    assert "after shutdown" not in seen and 2 <= len(seen) <= 4
    assert res.exited == {} and res.failed == {}
    frozen = (len(seen), k.now_ns)
    again = k.run()                            # nothing runs again
    assert again.reason == "shutdown" and (len(seen), k.now_ns) == frozen


def test_shutdown_refusals(arch):
    async def main(env):
        return (await invoke(env.icu, L4_PROTO_PLATFORM_CTL, [L4_PLATFORM_CTL_SYS_SHUTDOWN_OP]),
                await invoke(env.icu, L4_PROTO_PLATFORM_CTL,
                             [L4_PLATFORM_CTL_SYS_SHUTDOWN_OP, 0, 0]),
                err(await l4_platform_ctl_system_shutdown(env.icu, 2)))

    k, h, res = run_main(arch, main)
    assert res.reason == "idle" and res.shutdown is None
    assert res.exited["main"] == (-L4_EINVAL, -L4_EINVAL, -L4_ENOSYS)


# ---- cpu_allow_shutdown

def test_cpu_allow_shutdown(arch):
    async def main(env):
        return (err(await l4_platform_ctl_cpu_allow_shutdown(env.icu, 1, 1)),
                err(await l4_platform_ctl_cpu_allow_shutdown(env.icu, 0, 0)),
                err(await l4_platform_ctl_cpu_allow_shutdown(env.icu, 2, 1)),
                await invoke(env.icu, L4_PROTO_PLATFORM_CTL, [2, 0]))

    k, h, res = run_main(arch, main, cpus=2)
    assert res.exited["main"] == (0, 0, -L4_EINVAL, -L4_EINVAL)
    assert k._control.platform["allow_shutdown"] == {1: True, 0: False}


# ---- CPU disable and enable

def test_a_disabled_cpu_runs_nothing_until_enabled(arch):
    ticks = []

    async def worker(env):
        while True:
            ticks.append(1)
            await pyl4re.compute(1000)

    async def main(env):
        await sleep_us(20)
        ok(await l4_platform_ctl_cpu_disable(env.icu, 1))
        at_disable = len(ticks)
        await sleep_us(100)
        while_off = len(ticks)
        # The scheduler sees it offline: idle_time of a set with only CPU 1 finds none.
        tag, _ = await l4_scheduler_idle_time(env.scheduler, l4_sched_cpu_set(1, 0, 1))
        online = err(tag)
        ok(await l4_platform_ctl_cpu_enable(env.icu, 1))
        await sleep_us(100)
        return at_disable, while_off, len(ticks), online

    k = Kernel(arch=arch, cpus=2, memory=16 << 20)
    k.start_task(worker, name="worker", cpu=1)
    k.start_task(main, name="main")
    res = k.run(until_ns=300_000)
    at_disable, while_off, after, online = res.exited["main"]
    assert at_disable >= 15
    assert while_off == at_disable                        # nothing ran while off
    assert after >= while_off + 90                        # ~100 µs of 1 µs bursts
    assert online == -L4_EINVAL
    clock1, _ = k.cpu_clock(1)
    assert clock1 >= 220_000                              # came back at the enabler's time


def test_a_cpu_disabling_itself_stops_until_another_enables_it(arch):
    order = []

    async def helper(env):
        await sleep_us(50)
        order.append("helper enables cpu 1")
        ok(await l4_platform_ctl_cpu_enable(env.icu, 1))

    async def main(env):
        order.append("main disables its own cpu")
        ok(await l4_platform_ctl_cpu_disable(env.icu, 1))
        order.append("main runs again")

    k = Kernel(arch=arch, cpus=2, memory=16 << 20)
    k.start_task(main, name="main", cpu=1)
    k.start_task(helper, name="helper")
    res = k.run()
    assert order == ["main disables its own cpu", "helper enables cpu 1", "main runs again"]
    assert set(res.exited) == {"main", "helper"}


def test_cpu_enable_disable_refusals(arch):
    async def main(env):
        return (err(await l4_platform_ctl_cpu_disable(env.icu, 0)),     # the last online CPU
                err(await l4_platform_ctl_cpu_disable(env.icu, 1)),     # no such CPU
                err(await l4_platform_ctl_cpu_enable(env.icu, 64)),
                err(await l4_platform_ctl_cpu_enable(env.icu, 0)),      # online already: 0
                await invoke(env.icu, L4_PROTO_PLATFORM_CTL, [L4_PLATFORM_CTL_CPU_ENABLE_OP]))

    assert value(arch, main) == (-L4_EBUSY, -L4_EINVAL, -L4_EINVAL, 0, -L4_EINVAL)


def test_a_blocked_thread_of_a_disabled_cpu_times_out_late(arch):
    """Its timeout waits with the CPU; enabled again, the CPU fires what is overdue."""
    woke = []

    async def sleeper(env):
        await sleep_us(10)
        woke.append("sleeper")

    async def main(env):
        ok(await l4_platform_ctl_cpu_disable(env.icu, 1))
        await sleep_us(50)
        woke.append("main")
        ok(await l4_platform_ctl_cpu_enable(env.icu, 1))

    k = Kernel(arch=arch, cpus=2, memory=16 << 20)
    k.start_task(main, name="main")
    k.start_task(sleeper, name="sleeper", cpu=1)
    res = k.run()
    assert woke == ["main", "sleeper"] and set(res.exited) == {"main", "sleeper"}


# ---- the Arm ASID operation, protocol and opcode refusals

def test_set_task_asid_is_arm_only(arch):
    async def main(env):
        area = l4_fpage((env.utcb_area.raw & ~0xFFF) + 0x100000, 14, L4_FPAGE_RW)
        ok(await l4_factory_create_task(env.factory, TASK, area))
        ok(await l4_task_map(env.task, env.task, l4_obj_fpage(TASK, 0, L4_CAP_FPAGE_R),
                             l4_map_obj_control(TASK_R, 0)))
        item = [L4_ITEM_MAP, l4_obj_fpage(TASK, 0, L4_CAP_FPAGE_RWS).raw]
        item_r = [L4_ITEM_MAP, l4_obj_fpage(TASK_R, 0, L4_CAP_FPAGE_RWS).raw]
        op = L4_PLATFORM_CTL_SET_TASK_ASID_OP
        return (await invoke(env.icu, L4_PROTO_PLATFORM_CTL, [op, 7] + item, items=1),
                await invoke(env.icu, L4_PROTO_PLATFORM_CTL, [op, 7, 0] + item, items=1),
                await invoke(env.icu, L4_PROTO_PLATFORM_CTL, [op, 7]),
                await invoke(env.icu, L4_PROTO_PLATFORM_CTL, [op, 7] + item_r, items=1))

    k, h, res = run_main(arch, main)
    if arch == "arm64":
        assert res.exited["main"] == (0, -L4_EINVAL, -L4_EINVAL, -L4_EPERM)
        assert list(k._control.platform["asid"].values()) == [7]
    else:
        assert res.exited["main"] == (-L4_ENOSYS,) * 4


def test_protocol_and_opcode_refusals(arch):
    async def main(env):
        return (await invoke(env.icu, L4_PROTO_PLATFORM_CTL, [5, 0]),
                await invoke(env.icu, L4_PROTO_PLATFORM_CTL, [1 << 32 | 1, 0]),  # whole MR0
                await invoke(env.icu, L4_PROTO_PLATFORM_CTL, []),
                await invoke(env.icu, L4_PROTO_LOG, [1, 0]))

    assert value(arch, main) == (-L4_ENOSYS, -L4_ENOSYS, -L4_EMSGTOOSHORT, -L4_EBADPROTO)
