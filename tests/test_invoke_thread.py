"""Thread invocations from µApps (§8.2): control (pager, exception handler, bind), ex_regs
(old values, cancel, arch flags), switch and stats_time, with their errors; and the whole
start of a second task and thread with l4sys calls alone."""
import pytest

import pyl4re
from pyl4re import CapIndex
from pyl4re.l4sys import (
    L4_BASE_THREAD_CAP, L4_CAP_FPAGE_RW, L4_CAP_FPAGE_RWS, L4_EINVAL, L4_EIPC_LO, L4_ENOSYS,
    L4_EPERM, L4_FPAGE_RW, L4_INVALID_CAP, L4_IPC_NEVER, L4_IPC_RECANCELED, L4_IPC_SEMSGCUT,
    L4_ITEM_MAP, L4_PROTO_THREAD, L4_THREAD_CONTROL_BIND_TASK, L4_THREAD_EX_REGS_CANCEL,
    L4_THREAD_EX_REGS_TRIGGER_EXCEPTION, l4_error, l4_factory_create_gate,
    l4_factory_create_task, l4_factory_create_thread, l4_fpage, l4_ipc_call, l4_ipc_error,
    l4_ipc_receive, l4_ipc_reply_and_wait, l4_ipc_sleep, l4_ipc_wait, l4_map_obj_control,
    l4_msgtag, l4_msgtag_has_error, l4_msgtag_words, l4_obj_fpage, l4_rcv_ep_bind_thread,
    l4_sched_cpu_set, l4_sched_param, l4_scheduler_run_thread, l4_task_map,
    l4_thread_control_alien, l4_thread_control_bind, l4_thread_control_commit,
    l4_thread_control_exc_handler, l4_thread_control_pager, l4_thread_control_start,
    l4_thread_ex_regs, l4_thread_ex_regs_ret, l4_thread_stats_time, l4_thread_switch,
    l4_timeout, l4_timeout_from_us, l4_utcb,
)

from kobj_util import SCRATCH, invoke, new_thread, ok, run_main, sel, utcb_area_base, value

THREAD, GATE, TASK = sel(0), sel(1), sel(2)
KEEP = (1 << 64) - 1
NEVER = L4_IPC_NEVER


def sleep_us(us):
    return l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(us)))


def thread_info(k, h, n=0):
    return k._thread_info(h.task.cap(CapIndex(SCRATCH + n)).object_id)


# ---- the whole sequence (the "done when" scenario)

async def child():
    """Runs in the new task: its only capability is the gate at slot 0x10."""
    u = l4_utcb()
    total = 0
    for i in range(5):
        u.mr[0], u.mr[1] = i, 100
        tag = await l4_ipc_call(0x10 << 12, u, l4_msgtag(0, 2, 0, 0), NEVER)
        assert not l4_msgtag_has_error(tag), l4_ipc_error(tag, u)
        total += int(u.mr[0])
    return total


async def parent(env):
    u = l4_utcb()
    area = (env.utcb_area.raw & ~0xFFF) + 0x100000    # any free range of the new task
    ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
    ok(await l4_rcv_ep_bind_thread(GATE, env.thread, 0x40))
    ok(await l4_factory_create_task(env.factory, TASK, l4_fpage(area, 14, L4_FPAGE_RW)))
    ok(await l4_factory_create_thread(env.factory, THREAD))
    l4_thread_control_start()
    l4_thread_control_pager(L4_INVALID_CAP)
    l4_thread_control_exc_handler(L4_INVALID_CAP)
    l4_thread_control_bind(area, TASK)
    ok(await l4_thread_control_commit(THREAD))
    ok(await l4_task_map(TASK, env.task, l4_obj_fpage(GATE, 0, L4_CAP_FPAGE_RW),
                         l4_map_obj_control(0x10 << 12, 0)))
    ok(await l4_thread_ex_regs(THREAD, pyl4re.entry(child), 0, 0))
    ok(await l4_scheduler_run_thread(env.scheduler, THREAD, l4_sched_param(1)))
    seen = []
    tag, label = await l4_ipc_wait(u, NEVER)
    for _ in range(5):
        seen.append((label, int(u.mr[0])))
        u.mr[0] = int(u.mr[0]) * int(u.mr[1])
        tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 1, 0, 0),
                                                 l4_timeout(0, l4_timeout_from_us(10_000)))
    return seen


@pytest.mark.parametrize("cpus", [1, 2])
def test_a_task_and_thread_made_with_l4sys_alone_talk_over_ipc(arch, cpus):
    k, h, res = run_main(arch, parent, cpus=cpus)
    # The gate's label arrives with the W right of the mapped (RW) capability.
    assert res.exited["main"] == [(0x41, i) for i in range(5)]
    child_name = next(n for n in res.exited if n != "main")
    assert res.exited[child_name] == sum(100 * i for i in range(5))
    info = thread_info(k, h)
    assert info.task.raw == h.task.cap(CapIndex(SCRATCH + 2)).object_id
    assert info.utcb_va.raw == (h.env.utcb_area.raw & ~0xFFF) + 0x100000
    new_task = k.object(info.task.raw)
    assert new_task.cap(CapIndex(0x10)).type == "gate"
    assert new_task.caps_used() == 1


# ---- control

def test_control_sets_pager_and_exception_handler_and_replies_the_old_ones(arch):
    async def main(env):
        u = l4_utcb()
        ok(await l4_factory_create_thread(env.factory, THREAD))
        replies = []
        for pager, exc in ((0x123000, 0x456000), (0x789000, 0xABC000)):
            l4_thread_control_start()
            l4_thread_control_pager(pager)
            l4_thread_control_exc_handler(exc)
            tag = await l4_thread_control_commit(THREAD)
            replies.append((l4_error(tag, u), l4_msgtag_words(tag), int(u.mr[1]),
                            int(u.mr[2])))
        return replies

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == [(0, 3, L4_INVALID_CAP, L4_INVALID_CAP),
                                  (0, 3, 0x123000, 0x456000)]
    info = thread_info(k, h)
    assert (info.pager, info.exc_handler, info.task.raw) == (0x789000, 0xABC000, 0)


def test_control_needs_s_on_the_thread_cap(arch):
    async def main(env):
        ok(await l4_factory_create_thread(env.factory, THREAD))
        ok(await l4_task_map(env.task, env.task, l4_obj_fpage(THREAD, 0, L4_CAP_FPAGE_RW),
                             l4_map_obj_control(sel(5), 0)))
        l4_thread_control_start()
        l4_thread_control_pager(0x123000)
        return l4_error(await l4_thread_control_commit(sel(5)), l4_utcb())

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == -L4_EPERM
    assert thread_info(k, h).pager == L4_INVALID_CAP


def test_control_shorter_than_six_words_is_einval(arch):
    async def main(env):
        ok(await l4_factory_create_thread(env.factory, THREAD))
        return await invoke(THREAD, L4_PROTO_THREAD, [0x10000, 0x123000, 0, 0, 0], words=5)

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == -L4_EINVAL
    assert thread_info(k, h).pager == L4_INVALID_CAP


BIND_CASES = ["ok", "task without S", "utcb outside ku-mem", "utcb misaligned",
              "bound already", "no item", "item is a gate", "item not an object"]


@pytest.mark.parametrize("case", BIND_CASES)
def test_bind(arch, case):
    async def main(env):
        u = l4_utcb()
        utcb = utcb_area_base(env)
        task = env.task
        ok(await l4_factory_create_thread(env.factory, THREAD))
        ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
        if case == "task without S":
            ok(await l4_task_map(env.task, env.task, l4_obj_fpage(env.task, 0, L4_CAP_FPAGE_RW),
                                 l4_map_obj_control(sel(5), 0)))
            task = sel(5)
        elif case == "utcb outside ku-mem":
            utcb += 0x100000
        elif case == "utcb misaligned":
            utcb += 4
        elif case == "bound already":
            l4_thread_control_start()
            l4_thread_control_bind(utcb_area_base(env, 2), env.task)
            ok(await l4_thread_control_commit(THREAD))
        flags = L4_THREAD_CONTROL_BIND_TASK | 0x10000      # and set the pager
        mrs = [flags, 0x123000, 0, 0, 0, utcb]
        if case == "no item":
            return await invoke(THREAD, L4_PROTO_THREAD, mrs)
        if case in ("item is a gate", "item not an object"):
            item = (l4_obj_fpage(GATE, 0, L4_CAP_FPAGE_RWS) if case == "item is a gate"
                    else l4_fpage(utcb & ~0xFFF, 12, L4_FPAGE_RW))
            return await invoke(THREAD, L4_PROTO_THREAD, mrs + [L4_ITEM_MAP, item.raw],
                                items=1)
        l4_thread_control_start()
        l4_thread_control_pager(0x123000)
        l4_thread_control_bind(utcb, task)
        return l4_error(await l4_thread_control_commit(THREAD), u)

    want = {"ok": 0, "task without S": -L4_EPERM,
            "item not an object": -(L4_EIPC_LO + L4_IPC_SEMSGCUT)}.get(case, -L4_EINVAL)
    k, h, res = run_main(arch, main)
    assert res.exited["main"] == want
    info = thread_info(k, h)
    if case == "ok":
        assert (info.task.raw, info.utcb_va.raw) == (h.task.id, utcb_area_base(h.env))
        assert info.pager == 0x123000
    elif case == "bound already":
        assert info.utcb_va.raw == utcb_area_base(h.env, 2)
    else:                                  # a refused control changed nothing
        assert (info.task.raw, info.pager) == (0, L4_INVALID_CAP)


def test_control_sets_alien_mode_with_the_rest(arch):
    # (what an alien does: tests/test_alien.py)
    async def main(env):
        ok(await l4_factory_create_thread(env.factory, THREAD))
        l4_thread_control_start()
        l4_thread_control_pager(0x123000)
        l4_thread_control_alien(1)
        return l4_error(await l4_thread_control_commit(THREAD), l4_utcb())

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == 0
    info = thread_info(k, h)
    assert info.pager == 0x123000 and info.alien == k._lib.THREAD_ALIEN


# ---- ex_regs

async def idle():
    await sleep_us(1_000_000)


def test_ex_regs_replies_the_old_registers(arch):
    async def main(env):
        ok(await l4_factory_create_thread(env.factory, THREAD))
        l4_thread_control_start()
        l4_thread_control_bind(utcb_area_base(env), env.task)
        ok(await l4_thread_control_commit(THREAD))
        ip = pyl4re.entry(idle)
        first = await l4_thread_ex_regs_ret(THREAD, ip, 0x1234, 0)
        second = await l4_thread_ex_regs_ret(THREAD, KEEP, 0x5678, 0)
        third = await l4_thread_ex_regs_ret(THREAD, KEEP, KEEP, 0)
        u = l4_utcb()
        return [(l4_error(t, u),) + tuple(rest) for t, *rest in (first, second, third)], ip

    k, h, res = run_main(arch, main)
    (first, second, third), ip = res.exited["main"]
    assert first == (0, 0, 0, 0)
    assert second == (0, ip, 0x1234, 0)
    assert third == (0, ip, 0x5678, 0)
    assert (thread_info(k, h).ip, thread_info(k, h).sp) == (ip, 0x5678)


@pytest.mark.parametrize("words", [2, 4])
def test_ex_regs_needs_exactly_three_words(arch, words):
    async def main(env):
        return await invoke(env.thread, L4_PROTO_THREAD, [1, KEEP, 0x99, 0], words=words)

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == -L4_EINVAL
    assert h.thread.sp != 0x99


def test_ex_regs_on_an_unbound_thread_is_einval(arch):
    async def main(env):
        ok(await l4_factory_create_thread(env.factory, THREAD))
        tag, ip, sp, flags = await l4_thread_ex_regs_ret(THREAD, 0x1000, 0x2000, 0)
        return l4_error(tag, l4_utcb()), ip, sp

    assert value(arch, main) == (-L4_EINVAL, 0x1000, 0x2000)   # in/out values untouched


def test_ex_regs_cancel_ends_a_blocked_ipc(arch):
    async def victim():
        u = l4_utcb()
        tag = await l4_ipc_receive(L4_BASE_THREAD_CAP, u, NEVER)
        return l4_ipc_error(tag, u)

    async def main(env):
        await new_thread(env, THREAD, victim)
        await sleep_us(100)                            # the victim blocks
        ok(await l4_thread_ex_regs(THREAD, KEEP, KEEP, L4_THREAD_EX_REGS_CANCEL))
        await sleep_us(100)

    k, h, res = run_main(arch, main)
    assert list(res.exited.values()).count(L4_IPC_RECANCELED) == 1
    assert not res.blocked


def test_ex_regs_arch_flags(arch):
    async def main(env):
        u = l4_utcb()
        out = []
        for flags in (0x01000000, 0x04000000):
            out.append(l4_error(await l4_thread_ex_regs(env.thread, KEEP, KEEP, flags), u))
        return out

    # arm64 takes bits 24..25 (target exception level); other arches take none.
    assert value(arch, main) == ([0, -L4_EINVAL] if arch == "arm64" else [-L4_EINVAL] * 2)


def test_ex_regs_trigger_exception_on_itself_is_raised_at_once(arch):
    # (no handler here: the thread waits for ever)
    async def main(env):
        await l4_thread_ex_regs(env.thread, KEEP, 0x99, L4_THREAD_EX_REGS_TRIGGER_EXCEPTION)
        return "went on"                 # never: it has no exception handler

    k, h, res = run_main(arch, main, raise_errors=False)
    assert "main" not in res.exited and not res.failed
    assert res.blocked["main"] == "receive from main"        # Fiasco: it calls itself
    assert h.thread.sp == 0x99           # the registers were set first (tests/test_thread_ops.py)


# ---- switch

@pytest.mark.parametrize("switch", [True, False])
def test_switch_gives_the_cpu_to_a_ready_thread(arch, switch):
    order = []

    async def other():
        order.append("other")

    async def main(env):
        await new_thread(env, THREAD, other)         # ready, same CPU and priority
        reply = None
        if switch:
            tag = await l4_thread_switch(THREAD)
            reply = (l4_error(tag, l4_utcb()), l4_msgtag_words(tag), int(l4_utcb().mr[0]))
        order.append("main")
        return reply

    k, h, res = run_main(arch, main)
    if switch:
        assert res.exited["main"] == (0, 1, 0)
        assert order == ["other", "main"]
    else:
        assert order == ["main", "other"]            # main's time slice is not used up


def test_switch_to_a_blocked_thread_reports_the_time_slice_left(arch):
    async def main(env):
        await new_thread(env, THREAD, idle)
        await sleep_us(10)                           # it blocks
        tag = await l4_thread_switch(THREAD)
        return l4_error(tag, l4_utcb()), l4_msgtag_words(tag), int(l4_utcb().mr[0])

    err, words, left_us = value(arch, main)
    assert (err, words) == (0, 1)
    assert 0 < left_us <= 10_000                     # of the default 10 ms quantum


def test_switch_to_self_or_another_cpu_replies_no_words(arch):
    async def main(env):
        u = l4_utcb()
        await new_thread(env, THREAD, idle, cpu_set=l4_sched_cpu_set(1, 0, 1))
        out = []
        for to in (env.thread, THREAD):
            tag = await l4_thread_switch(to)
            out.append((l4_error(tag, u), l4_msgtag_words(tag)))
        return out

    assert value(arch, main, cpus=2) == [(0, 0), (0, 0)]


# ---- stats_time

def test_stats_time_is_the_consumed_time_in_us(arch):
    async def worker():
        await pyl4re.compute(3_000_000)

    async def main(env):
        await new_thread(env, THREAD, worker)
        await sleep_us(20_000)
        tag, us = await l4_thread_stats_time(THREAD)
        mine = await l4_thread_stats_time(env.thread)
        return l4_error(tag, l4_utcb()), l4_msgtag_words(tag), us, mine[1]

    k, h, res = run_main(arch, main)
    err, words, us, mine = res.exited["main"]
    assert (err, words) == (0, 1)
    assert us == thread_info(k, h).consumed_ns // 1000
    assert 3000 <= us < 3100
    assert 0 < mine < 1000


# 5, 6 and the arch operations: tests/test_thread_ops.py; 7 | ext: tests/test_vm.py.
@pytest.mark.parametrize("op", [8, 9, 0x13, 0x55])
def test_other_thread_ops_are_enosys(arch, op):
    async def main(env):
        return await invoke(env.thread, L4_PROTO_THREAD, [op, 0])

    assert value(arch, main) == -L4_ENOSYS


@pytest.mark.parametrize("op", [4, 7])
def test_vcpu_ops_refuse_a_thread_that_is_no_vcpu(arch, op):
    # vcpu_resume on a thread without vCPU mode, vcpu_control with address 0: -L4_EINVAL
    # (tests/test_vcpu.py has the rest).
    async def main(env):
        return await invoke(env.thread, L4_PROTO_THREAD, [op, 0])

    assert value(arch, main) == -L4_EINVAL


def test_s_right_matters_only_for_control(arch):
    async def main(env):
        u = l4_utcb()
        await new_thread(env, THREAD, idle)
        ok(await l4_task_map(env.task, env.task, l4_obj_fpage(THREAD, 0, L4_CAP_FPAGE_RW),
                             l4_map_obj_control(sel(5), 0)))
        ex = l4_error(await l4_thread_ex_regs(sel(5), KEEP, 0x77, 0), u)
        st = l4_error((await l4_thread_stats_time(sel(5)))[0], u)
        l4_thread_control_start()
        ctl = l4_error(await l4_thread_control_commit(sel(5)), u)
        return ex, st, ctl

    assert value(arch, main) == (0, 0, -L4_EPERM)
