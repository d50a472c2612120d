"""Scheduler invocations from µApps (§8.7, §12): info over CPU-set windows, run_thread in
the legacy and the class form (priority clamping, quantum, the target-CPU rule, moving
oneself), idle_time, with their errors."""
import pytest

import pyl4re
from pyl4re import CapIndex
from pyl4re.l4sys import (
    L4_CAP_FPAGE_RWS, L4_EBADPROTO, L4_EINVAL, L4_EIPC_LO, L4_EMSGTOOSHORT, L4_ENOSYS,
    L4_ERANGE, L4_FPAGE_RW, L4_INVALID_CAP, L4_IPC_SEMSGCUT, L4_ITEM_MAP, L4_PROTO_IRQ,
    L4_PROTO_SCHEDULER, L4_PROTO_THREAD, L4_SCHEDULER_CLASS_FIXED_PRIO, l4_error,
    l4_factory_create_gate, l4_factory_create_thread, l4_fpage, l4_ipc_sleep, l4_msgtag_words,
    l4_obj_fpage, l4_sched_cpu_set, l4_sched_cpu_set_t, l4_sched_param, l4_scheduler_idle_time,
    l4_scheduler_info, l4_scheduler_info_with_classes, l4_scheduler_is_online,
    l4_scheduler_run_thread, l4_thread_control_bind, l4_thread_control_commit,
    l4_thread_control_start, l4_thread_ex_regs, l4_timeout, l4_timeout_from_us, l4_utcb,
)

from kobj_util import SCRATCH, invoke, new_thread, ok, run_main, sel, utcb_area_base, value

THREAD = sel(0)
ITEM = [L4_ITEM_MAP, l4_obj_fpage(THREAD, 0, L4_CAP_FPAGE_RWS).raw]
ALL = l4_sched_cpu_set(0, 0xFF, 1)
NO_CPU = 0xFFFFFFFF


def sleep_us(us):
    return l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(us)))


def info_of(k, h, n=0):
    return k._thread_info(h.task.cap(CapIndex(SCRATCH + n)).object_id)


async def bound_thread(env, fn=None):
    """A thread bound to the caller's task, started at fn (if given) but on no CPU yet."""
    ok(await l4_factory_create_thread(env.factory, THREAD))
    l4_thread_control_start()
    l4_thread_control_bind(utcb_area_base(env), env.task)
    ok(await l4_thread_control_commit(THREAD))
    if fn is not None:
        ok(await l4_thread_ex_regs(THREAD, pyl4re.entry(fn), 0, 0))


async def idle():
    await sleep_us(1_000_000)


# ---- info

@pytest.mark.parametrize("cpus, gran_offset, want_map", [
    (1, 0, 0b1),
    (4, 0, 0b1111),
    (4, 1 << 24, 0b11),                 # granularity 1: a bit per two CPUs
    (4, 2, 0b11),                       # from CPU 2 on
    (3, (1 << 24) | 3, 0b1),            # offset rounded down to 2: CPUs 2, 3 in bit 0
    (4, 0xFF << 24, 0b1),               # granularity clamped to 24: all in bit 0
    (4, 63, 0),
])
def test_info_maps_the_present_cpus_of_a_window(arch, cpus, gran_offset, want_map):
    async def main(env):
        s = l4_sched_cpu_set_t(gran_offset, 0)
        tag, cpu_max, s2, classes = await l4_scheduler_info_with_classes(env.scheduler, s)
        assert s2 is s
        return l4_error(tag, l4_utcb()), l4_msgtag_words(tag), s.map, cpu_max, classes

    assert value(arch, main, cpus=cpus) == (0, 3, want_map, 64,
                                            L4_SCHEDULER_CLASS_FIXED_PRIO)


def test_info_beyond_the_maximum_is_erange(arch):
    async def main(env):
        tag, cpu_max, s = await l4_scheduler_info(env.scheduler, l4_sched_cpu_set_t(64, 7))
        return l4_error(tag, l4_utcb()), l4_msgtag_words(tag)

    assert value(arch, main) == (-L4_ERANGE, 0)


def test_is_online(arch):
    async def main(env):
        return [await l4_scheduler_is_online(env.scheduler, c) for c in (0, 2, 3, 64)]

    assert value(arch, main, cpus=3) == [True, True, False, False]


# ---- run_thread

def test_run_thread_applies_priority_and_quantum(arch):
    async def main(env):
        await bound_thread(env)
        tag = await l4_scheduler_run_thread(env.scheduler, THREAD, l4_sched_param(7, 2000))
        return l4_error(tag, l4_utcb()), l4_msgtag_words(tag)

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == (0, 0)
    info = info_of(k, h)
    assert (info.prio, info.quantum_ns, info.cpu) == (7, 2_000_000, 0)


@pytest.mark.parametrize("prio, quantum, want", [
    (300, 0, (0, 255, 10_000_000)),     # clamped; quantum 0 is the default 10 ms
    (255, 1, (0, 255, 1000)),
    (0, 0, (-L4_EINVAL, 1, None)),      # priority 0 belongs to the kernel
    (1 << 63, 0, (-L4_ERANGE, 1, None)),  # a negative word selects a class: unknown
])
def test_run_thread_legacy_priority_rules(arch, prio, quantum, want):
    async def main(env):
        await bound_thread(env)
        sp = l4_sched_param(1)
        sp.prio, sp.quantum = prio, quantum
        return l4_error(await l4_scheduler_run_thread(env.scheduler, THREAD, sp), l4_utcb())

    k, h, res = run_main(arch, main)
    info = info_of(k, h)
    err, prio_now, quantum_now = want
    assert res.exited["main"] == err
    assert info.prio == prio_now
    if err:
        assert info.cpu == NO_CPU                     # refused: nothing moved
    else:
        assert info.quantum_ns == quantum_now


CLASS_CASES = {
    "fixed prio": ([-1, 48, 3000, 9], None, (0, 9, 3_000_000)),
    "fixed prio clamped": ([-1, 48, 0, 0x1FF], None, (0, 255, 10_000_000)),
    "fixed prio 0": ([-1, 48, 3000, 0], None, (-L4_EINVAL, 1, None)),
    "length too small": ([-1, 40, 3000, 9], None, (-L4_EINVAL, 1, None)),
    "length beyond the message": ([-1, 56, 3000, 9], None, (-L4_EINVAL, 1, None)),
    "wfq": ([-2, 48, 3000, 9], None, (-L4_ERANGE, 1, None)),
    "unknown class": ([-9, 32, 0, 0], None, (-L4_ERANGE, 1, None)),
    "four words": ([1, 0], 4, (-L4_EINVAL, 1, None)),
}


@pytest.mark.parametrize("case", sorted(CLASS_CASES))
def test_run_thread_class_form(arch, case):
    params, words, want = CLASS_CASES[case]

    async def main(env):
        await bound_thread(env)
        mrs = [1, ALL.gran_offset, ALL.map] + params
        return await invoke(env.scheduler, L4_PROTO_SCHEDULER, mrs + ITEM, items=1,
                            words=words if words is not None else len(mrs))

    k, h, res = run_main(arch, main)
    err, prio, quantum_ns = want
    assert res.exited["main"] == err
    info = info_of(k, h)
    assert info.prio == prio
    if quantum_ns is not None:
        assert (info.quantum_ns, info.cpu) == (quantum_ns, 0)


@pytest.mark.parametrize("case, want", [
    ("no item", -L4_EINVAL),
    ("item is a gate", -L4_EINVAL),
    ("item not an object", -(L4_EIPC_LO + L4_IPC_SEMSGCUT)),
])
def test_run_thread_with_a_bad_thread_item(arch, case, want):
    async def main(env):
        await bound_thread(env)
        ok(await l4_factory_create_gate(env.factory, sel(5), L4_INVALID_CAP, 0))
        mrs = [1, ALL.gran_offset, ALL.map, 5, 0]
        item = {"no item": [],
                "item is a gate": [L4_ITEM_MAP, l4_obj_fpage(sel(5), 0, 7).raw],
                "item not an object": [L4_ITEM_MAP, l4_fpage(0x10000, 12, L4_FPAGE_RW).raw]}
        return await invoke(env.scheduler, L4_PROTO_SCHEDULER, mrs + item[case],
                            items=0 if case == "no item" else 1, words=5)

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == want
    assert info_of(k, h).cpu == NO_CPU


def cpu_set(*cpus):
    return l4_sched_cpu_set(0, 0, sum(1 << c for c in cpus))


@pytest.mark.parametrize("caller_cpu, first, then, want", [
    (0, None, cpu_set(0, 1, 2), 0),     # on no CPU yet: the caller's
    (2, None, cpu_set(1, 2), 2),        # the caller's comes before the set's first
    (1, None, cpu_set(0, 2), 0),        # caller's not in the set: the set's first
    (0, cpu_set(2), cpu_set(1, 2), 2),  # its own CPU, if in the set
    (0, cpu_set(2), cpu_set(1), 1),
    (0, None, l4_sched_cpu_set(2, 1, 1), 2),   # granularity 1 from CPU 2: CPUs 2 and 3
])
def test_run_thread_picks_the_target_cpu(arch, caller_cpu, first, then, want):
    async def main(env):
        await bound_thread(env, idle)
        for s in (first, then):
            if s is not None:
                sp = l4_sched_param(2)
                sp.affinity = s
                ok(await l4_scheduler_run_thread(env.scheduler, THREAD, sp))

    k = pyl4re.Kernel(arch=arch, cpus=4, memory=16 << 20)
    h = k.start_task(main, name="main", cpu=caller_cpu)
    k.run()
    assert info_of(k, h).cpu == want


def test_run_thread_to_cpus_that_are_not_there_moves_nothing(arch):
    async def main(env):
        await bound_thread(env, idle)
        sp = l4_sched_param(2)
        sp.affinity = l4_sched_cpu_set(8, 0, 1)
        return l4_error(await l4_scheduler_run_thread(env.scheduler, THREAD, sp), l4_utcb())

    k, h, res = run_main(arch, main, cpus=2)
    assert res.exited["main"] == 0
    assert info_of(k, h).cpu == NO_CPU


def test_run_thread_on_oneself_changes_priority_and_cpu(arch):
    async def main(env):
        sp = l4_sched_param(9)
        sp.affinity = cpu_set(1)
        tag = await l4_scheduler_run_thread(env.scheduler, env.thread, sp)
        return l4_error(tag, l4_utcb())               # runs on, now on CPU 1

    k = pyl4re.Kernel(arch=arch, cpus=2, memory=16 << 20, log_schedule=True)
    h = k.start_task(main, name="main")
    res = k.run()
    assert res.exited == {"main": 0}
    assert (h.thread.prio, h.thread.cpu) == (9, 1)
    assert [cpu for cpu, _, _ in k.schedule_log] == [0, 1]


# ---- idle_time

def test_idle_time_of_the_first_online_cpu_in_the_set(arch):
    async def sleeper():
        await sleep_us(5000)

    async def main(env):
        await new_thread(env, THREAD, sleeper, cpu_set=cpu_set(1))
        await sleep_us(20_000)
        u = l4_utcb()
        out = []
        for s in (cpu_set(1), cpu_set(1, 0), l4_sched_cpu_set(1, 0, 0b101)):
            tag, us = await l4_scheduler_idle_time(env.scheduler, s)
            out.append((l4_error(tag, u), l4_msgtag_words(tag), us))
        return out

    k, h, res = run_main(arch, main, cpus=2)
    one, zero, from_one = res.exited["main"]
    idle1, idle0 = k.cpu_clock(1)[1] // 1000, k.cpu_clock(0)[1] // 1000
    assert one == (0, 1, idle1) and 4900 <= idle1 <= 5100
    assert zero == (0, 1, idle0) and idle0 >= 19_000
    assert from_one == one                            # CPU 1 (and CPU 3, not there)


@pytest.mark.parametrize("s", [l4_sched_cpu_set(0, 0, 0), l4_sched_cpu_set(2, 0, 1)],
                         ids=["empty", "absent"])
def test_idle_time_without_an_online_cpu_is_einval(arch, s):
    async def main(env):
        tag, us = await l4_scheduler_idle_time(env.scheduler, s)
        return l4_error(tag, l4_utcb()), l4_msgtag_words(tag)

    assert value(arch, main, cpus=2) == (-L4_EINVAL, 0)


# ---- protocol

@pytest.mark.parametrize("label, mrs, words, want", [
    (0, [0, 0], 2, -L4_EBADPROTO),
    (L4_PROTO_THREAD, [0, 0], 2, -L4_EBADPROTO),
    (L4_PROTO_IRQ, [2], 1, -L4_ENOSYS),          # the scheduler's ICU: later work
    (L4_PROTO_SCHEDULER, [3], 1, -L4_ENOSYS),
    (L4_PROTO_SCHEDULER, [0], 0, -L4_EMSGTOOSHORT),
    (L4_PROTO_SCHEDULER, [0], 1, -L4_EMSGTOOSHORT),      # info without its set
    (L4_PROTO_SCHEDULER, [2, 0], 2, -L4_EMSGTOOSHORT),   # idle_time without the map
])
def test_scheduler_protocol_errors(arch, label, mrs, words, want):
    async def main(env):
        return await invoke(env.scheduler, label, mrs, words=words)

    assert value(arch, main) == want


def test_sched_param_and_cpu_set_are_built_as_l4sys_builds_them():
    sp = l4_sched_param(5)
    assert (sp.prio, sp.quantum) == (5, 0)
    assert (sp.affinity.gran_offset, sp.affinity.map) == (0xFF << 24, 1)
    s = l4_sched_cpu_set(4, 2, 0b101)
    assert (s.gran_offset, s.map, s.offset(), s.granularity()) == ((2 << 24) | 4, 5, 4, 2)
    with pytest.raises(ValueError):
        l4_sched_cpu_set(1 << 24, 0)           # would spill into the granularity
    with pytest.raises(ValueError):
        l4_sched_cpu_set(0, 256)
