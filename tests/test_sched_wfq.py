"""The WFQ scheduler build (PYL4RE_SCHED, `Kernel(sched="wfq")`, §8.7 class -2, §12):
CPU time in proportion to the weights, measured over 10 000 quanta; run_thread's class
checks in both builds. Runs on every architecture whose WFQ build was made (the default
build makes both schedulers, so CI tests both)."""
import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_EINVAL, L4_ERANGE, L4_SCHEDULER_CLASS_FIXED_PRIO, L4_SCHEDULER_CLASS_WFQ, l4_error,
    l4_factory_create_thread, l4_ipc_sleep, l4_sched_param, l4_sched_param_wfq,
    l4_scheduler_info_with_classes, l4_scheduler_run_thread, l4_thread_control_bind,
    l4_thread_control_commit, l4_thread_control_start, l4_thread_ex_regs,
    l4_thread_stats_time, l4_timeout, l4_timeout_from_us, l4_utcb,
)

from kobj_util import ok, sel, utcb_area_base

QUANTUM_US = 1000
QUANTA = 10_000
FOREVER_NS = 10 ** 15


async def spin():
    await pyl4re.compute(FOREVER_NS)


async def wfq_thread(env, cap, sp, slot):
    """A thread of the caller's task at `cap` running spin(), scheduled with `sp`; the
    run_thread result."""
    ok(await l4_factory_create_thread(env.factory, cap))
    l4_thread_control_start()
    l4_thread_control_bind(utcb_area_base(env, slot), env.task)
    ok(await l4_thread_control_commit(cap))
    ok(await l4_thread_ex_regs(cap, pyl4re.entry(spin), 0, 0))
    return l4_error(await l4_scheduler_run_thread(env.scheduler, cap, sp), l4_utcb())


@pytest.mark.parametrize("weights", [(1, 2, 3), (1, 1), (5, 1, 1, 1)])
def test_cpu_shares_follow_the_weights(wfq_arch, weights):
    k = Kernel(arch=wfq_arch, sched="wfq", memory=16 << 20)

    async def main(env):
        for i, w in enumerate(weights):
            assert await wfq_thread(env, sel(i), l4_sched_param_wfq(w, QUANTUM_US), i + 1) == 0
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(QUANTA * QUANTUM_US)))
        used = []
        for i in range(len(weights)):
            tag, us = await l4_thread_stats_time(sel(i))
            used.append(us)
        return used

    k.start_task(main, name="main")
    used = k.run(until_ns=QUANTA * QUANTUM_US * 1000 * 2).exited["main"]
    k.check_invariants()                                 # the deadline-sorted queues held
    total = sum(used)
    assert total >= 0.98 * QUANTA * QUANTUM_US          # the spinners had the CPU throughout
    for w, us in zip(weights, used):
        want = w / sum(weights)
        assert abs(us / total - want) <= 0.02 * want, (weights, used)


def test_a_woken_thread_banks_no_credit(wfq_arch):
    """A thread that slept does not get the CPU for its whole absence when it wakes: its
    deadline catches up with the running one's (Fiasco's deblock_refill)."""
    k = Kernel(arch=wfq_arch, sched="wfq", memory=16 << 20)

    async def sleeper():
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(500 * QUANTUM_US)))
        await pyl4re.compute(FOREVER_NS)

    async def main(env):
        assert await wfq_thread(env, sel(0), l4_sched_param_wfq(1, QUANTUM_US), 1) == 0
        ok(await l4_factory_create_thread(env.factory, sel(1)))
        l4_thread_control_start()
        l4_thread_control_bind(utcb_area_base(env, 2), env.task)
        ok(await l4_thread_control_commit(sel(1)))
        ok(await l4_thread_ex_regs(sel(1), pyl4re.entry(sleeper), 0, 0))
        ok(await l4_scheduler_run_thread(env.scheduler, sel(1), l4_sched_param_wfq(1, QUANTUM_US)))
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(1000 * QUANTUM_US)))
        return [(await l4_thread_stats_time(sel(i)))[1] for i in range(2)]

    k.start_task(main, name="main")
    spinner, sleeper_us = k.run(until_ns=2000 * QUANTUM_US * 1000).exited["main"]
    # From the wake-up on they share equally: the sleeper is not paid for its absence.
    assert abs(sleeper_us - 250 * QUANTUM_US) <= 2 * QUANTUM_US
    assert abs(spinner - 750 * QUANTUM_US) <= 2 * QUANTUM_US


def test_wfq_parameters_and_their_refusals(wfq_arch):
    k = Kernel(arch=wfq_arch, sched="wfq", memory=16 << 20)

    async def main(env):
        u = l4_utcb()
        tag, _, _, classes = await l4_scheduler_info_with_classes(env.scheduler)
        r = [classes]
        for sp in (l4_sched_param(5), l4_sched_param_wfq(0), l4_sched_param_wfq(1, 0),
                   l4_sched_param_wfq(1 << 32), l4_sched_param_wfq((1 << 32) - 1)):
            ok(await l4_factory_create_thread(env.factory, sel(len(r))))
            l4_thread_control_start()
            l4_thread_control_bind(utcb_area_base(env, len(r)), env.task)
            ok(await l4_thread_control_commit(sel(len(r))))
            r.append(l4_error(await l4_scheduler_run_thread(env.scheduler, sel(len(r)), sp), u))
        return r

    k.start_task(main, name="main")
    classes, legacy, zero_w, zero_q, huge_w, max_w = k.run().exited["main"]
    assert classes == L4_SCHEDULER_CLASS_WFQ
    assert legacy == -L4_ERANGE                   # a fixed priority means nothing here
    assert zero_w == zero_q == huge_w == -L4_EINVAL
    assert max_w == 0


def test_the_fixed_priority_build_refuses_wfq(arch):
    async def main(env):
        u = l4_utcb()
        tag, _, _, classes = await l4_scheduler_info_with_classes(env.scheduler)
        ok(await l4_factory_create_thread(env.factory, sel(0)))
        rc = l4_error(await l4_scheduler_run_thread(env.scheduler, sel(0),
                                                    l4_sched_param_wfq(2)), u)
        return classes, rc

    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="main")
    assert k.run().exited["main"] == (L4_SCHEDULER_CLASS_FIXED_PRIO, -L4_ERANGE)
    assert k.sched == "fp"


def test_ipc_and_invariants_in_the_wfq_build(wfq_arch):
    """The rest of the kernel does not care which scheduler it has: a call and its reply
    between two µApps, with the queues checked while the server waits."""
    from pyl4re.l4sys import (L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait,
                              l4_ipc_wait, l4_msgtag)
    k = Kernel(arch=wfq_arch, sched="wfq", memory=16 << 20)
    gate = k.create_gate(0x40)

    async def server(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        u.mr[0] = int(u.mr[0]) + 1
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, 1, 0, 0), l4_timeout(0, l4_timeout_from_us(10)))
        return label

    async def client(env):
        u = l4_utcb()
        u.mr[0] = 41
        await l4_ipc_call(env.get_cap("svc"), u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
        return int(u.mr[0])

    s = k.start_task(server, name="server", caps={"svc": gate.svr()})
    gate.bind(s, 0x40)
    k.start_task(client, name="client", caps={"svc": gate})
    res = k.run()
    k.check_invariants()
    assert res.exited == {"server": 0x40 | 1, "client": 42}
