"""Thread operations beyond control and ex_regs (§8.2): modify_senders, the gate-deletion
IRQ (register_del_irq), ex_regs' triggered exceptions, and the arch thread registers
(amd64 FS/GS base, arm64 TPIDRURO), with their refusals."""
import pytest

from pyl4re.l4sys import (
    L4_EBUSY, L4_EINVAL, L4_EMSGTOOSHORT, L4_ENOSYS, L4_EPERM, L4_IPC_NEVER,
    L4_IPC_RECANCELED, L4_IPC_RETIMEOUT, L4_PROTO_EXCEPTION, L4_PROTO_THREAD,
    L4_THREAD_EX_REGS_CANCEL, L4_THREAD_EX_REGS_TRIGGER_EXCEPTION, L4_CAP_FPAGE_RO,
    fiasco_amd64_set_segment_base, l4_error, l4_factory_create_gate, l4_factory_create_irq,
    l4_factory_create_semaphore, l4_ipc_call, l4_ipc_error, l4_ipc_receive, l4_ipc_reply_and_wait,
    l4_ipc_sleep, l4_ipc_wait, l4_irq_receive, l4_map_obj_control, l4_msgtag, l4_msgtag_label,
    l4_msgtag_words, l4_obj_fpage, l4_rcv_ep_bind_thread, l4_semaphore_down,
    l4_task_delete_obj, l4_task_map, l4_thread_arm_set_tpidruro, l4_thread_control_commit,
    l4_thread_control_exc_handler, l4_thread_control_start, l4_thread_ex_regs,
    l4_thread_modify_sender_add, l4_thread_modify_sender_commit,
    l4_thread_modify_sender_start, l4_thread_register_del_irq, l4_timeout,
    l4_timeout_from_us, l4_utcb,
)

from kobj_util import invoke, new_thread, ok, sel, value

U64 = (1 << 64) - 1
GATE, T1, T2, IRQ, GATE2, SEM, WEAK = (sel(i) for i in range(7))
NEVER = L4_IPC_NEVER


def sleep(us):
    return l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(us)))


# ---- modify_senders (op 6)

async def call_gate():
    u = l4_utcb()
    await l4_ipc_call(GATE, u, l4_msgtag(0, 0, 0, 0), NEVER)
    return 0


def test_modify_senders_relabels_queued_senders(arch):
    async def main(env):
        ok(await l4_factory_create_gate(env.factory, GATE, env.thread, 0x40))
        await new_thread(env, T1, call_gate, utcb_slot=1)
        await new_thread(env, T2, call_gate, utcb_slot=2)
        await sleep(100)                                  # both are queued at us now
        tag = l4_thread_modify_sender_start()
        tag = l4_thread_modify_sender_add(~0x3 & U64, 0x80, 0, 0x1000, tag)   # no match
        tag = l4_thread_modify_sender_add(~0x3 & U64, 0x40, 0x40, 0x200, tag)
        tag = l4_thread_modify_sender_add(0, 0, 0, 0x4000, tag)             # not reached
        u = l4_utcb()
        r = l4_error(await l4_thread_modify_sender_commit(env.thread, tag), u)
        labels = []
        t, label = await l4_ipc_wait(u, NEVER)
        labels.append(label)
        t, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), NEVER)
        labels.append(label)
        return r, labels

    r, labels = value(arch, main)
    assert r == 0
    assert labels == [0x200 | 3, 0x200 | 3]              # W and S of the client's capability


def test_modify_senders_refusals_and_no_ops(arch):
    async def other():
        u = l4_utcb()
        tag = l4_thread_modify_sender_add(0, 0, 0, 1, l4_thread_modify_sender_start())
        return "other", l4_error(await l4_thread_modify_sender_commit(sel(10), tag), u)

    async def main(env):
        ok(await l4_factory_create_gate(env.factory, GATE, env.thread, 0x40))
        await new_thread(env, T1, call_gate, utcb_slot=1)
        await sleep(100)
        u = l4_utcb()
        # Fewer than 5 words, or a trailing incomplete rule: nothing happens.
        short = await invoke(env.thread, L4_PROTO_THREAD, [6, 0, 0, 0])
        partial = await invoke(env.thread, L4_PROTO_THREAD, [6, 0, 0, 0, 0x10, 0, 0, 0, 0x20])
        # Another thread may not walk our sender list (it gets -L4_EINVAL).
        ok(await l4_task_map(env.task, env.task, l4_obj_fpage(env.thread, 0, 0xF),
                             l4_map_obj_control(sel(10), 0)))
        await new_thread(env, T2, other, utcb_slot=2)
        await sleep(100)
        t, label = await l4_ipc_wait(u, NEVER)
        return short, partial, label

    from kobj_util import run_main
    k, h, res = run_main(arch, main)
    short, partial, label = res.exited["main"]
    assert short == 0 and partial == 0
    assert label == 0x40 | 0x10 | 3                     # only the complete rule applied
    assert ("other", -L4_EINVAL) in res.exited.values()


# ---- register_del_irq (op 5) and the gate-deletion IRQ

def test_deleting_a_gate_fires_the_deletion_irq(arch):
    async def main(env):
        u = l4_utcb()
        ok(await l4_factory_create_irq(env.factory, IRQ))
        ok(await l4_rcv_ep_bind_thread(IRQ, env.thread, 0x70))
        first = l4_error(await l4_thread_register_del_irq(env.thread, IRQ), u)
        again = l4_error(await l4_thread_register_del_irq(env.thread, IRQ), u)
        ok(await l4_factory_create_gate(env.factory, GATE, env.thread, 0x40))
        ok(await l4_factory_create_gate(env.factory, GATE2, env.thread, 0x80))
        before = l4_ipc_error(await l4_irq_receive(IRQ, l4_timeout(0, l4_timeout_from_us(10))), u)
        ok(await l4_task_delete_obj(env.task, GATE))
        t = await l4_irq_receive(IRQ, l4_timeout(0, l4_timeout_from_us(10)))
        got = l4_ipc_error(t, u)
        return first, again, before, got

    first, again, before, got = value(arch, main)
    assert first == 0 and again == -L4_EBUSY
    assert before == L4_IPC_RETIMEOUT                     # no gate died yet
    assert got == 0                                       # the deletion IRQ arrived


def test_deletion_irq_may_be_a_semaphore_and_refusals(arch):
    async def main(env):
        u = l4_utcb()
        ok(await l4_factory_create_semaphore(env.factory, SEM))
        ok(await l4_factory_create_gate(env.factory, GATE2, env.thread, 0x80))
        not_irq = l4_error(await l4_thread_register_del_irq(env.thread, GATE2), u)
        ok(await l4_task_map(env.task, env.task, l4_obj_fpage(SEM, 0, L4_CAP_FPAGE_RO),
                             l4_map_obj_control(WEAK, 0)))
        no_w = l4_error(await l4_thread_register_del_irq(env.thread, WEAK), u)
        no_item = await invoke(env.thread, L4_PROTO_THREAD, [5])
        ok(await l4_thread_register_del_irq(env.thread, SEM))
        ok(await l4_task_delete_obj(env.task, GATE2))
        down = l4_error(await l4_semaphore_down(SEM, l4_timeout(0, l4_timeout_from_us(10))), u)
        return not_irq, no_w, no_item, down

    assert value(arch, main) == (-L4_EINVAL, -L4_EPERM, -L4_EINVAL, 0)


# ---- ex_regs TRIGGER_EXCEPTION

TRAP = {"x86_64": (16, 0, 0xFF), "arm64": (33, 26, 0x3E), "mips64": (37, 0, 0x101)}
TRAP_MASK = {"x86_64": U64, "arm64": 0x3F, "mips64": 0x1FF}


def triggered(arch, flags, victim_us=1000, setup=None, tls_word=None):
    """main handles exceptions of T1 (its exception handler is GATE, bound to main); T1
    sleeps victim_us; main triggers an exception in it with ex_regs `flags`."""
    word, shift, expect = TRAP[arch]

    async def victim():
        u = l4_utcb()
        t = await sleep(victim_us)
        return "victim", l4_ipc_error(t, u)

    async def main(env):
        u = l4_utcb()
        ok(await l4_factory_create_gate(env.factory, GATE, env.thread, 0x40))
        await new_thread(env, T1, victim, prio=2, utcb_slot=1)
        l4_thread_control_start()
        l4_thread_control_exc_handler(GATE)
        ok(await l4_thread_control_commit(T1))
        extra = await setup(env) if setup else None
        ok(await l4_thread_ex_regs(T1, U64, U64, L4_THREAD_EX_REGS_TRIGGER_EXCEPTION | flags))
        tag, label = await l4_ipc_wait(u, l4_timeout(0, l4_timeout_from_us(5000)))
        exc = (l4_msgtag_label(tag), l4_msgtag_words(tag), label,
               (int(u.mr[word]) >> shift) & TRAP_MASK[arch],
               int(u.mr[tls_word]) if tls_word is not None else None)
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), l4_timeout(0, l4_timeout_from_us(3000)))
        return exc, extra

    from kobj_util import run_main
    k, h, res = run_main(arch, main)
    assert "main" in res.exited, res
    victims = [v for v in res.exited.values() if isinstance(v, tuple) and v[0] == "victim"]
    return res.exited["main"], victims


def test_trigger_exception_reaches_the_handler_after_the_ipc(arch):
    (exc, _), victims = triggered(arch, 0)
    label, words, glabel, trap, _ = exc
    assert label == L4_PROTO_EXCEPTION and glabel == 0x40 | 3
    assert trap == TRAP[arch][2]
    assert victims == [("victim", L4_IPC_RETIMEOUT)]     # its sleep ran out, result kept


def test_trigger_exception_with_cancel_ends_the_ipc_first(arch):
    (exc, _), victims = triggered(arch, L4_THREAD_EX_REGS_CANCEL, victim_us=1_000_000)
    assert exc[0] == L4_PROTO_EXCEPTION and exc[3] == TRAP[arch][2]
    assert victims == [("victim", L4_IPC_RECANCELED)]


def test_trigger_exception_without_a_handler_waits_for_ever(arch):
    async def victim():
        await sleep(100)
        return "victim went on"

    async def main(env):
        await new_thread(env, T1, victim, prio=2, utcb_slot=1)
        ok(await l4_thread_ex_regs(T1, U64, U64, L4_THREAD_EX_REGS_TRIGGER_EXCEPTION))
        await sleep(1000)
        return "main"

    from kobj_util import run_main
    k, h, res = run_main(arch, main, raise_errors=False)
    assert res.exited["main"] == "main"
    assert "victim went on" not in res.exited.values() and not res.failed
    assert any(w.startswith("receive from") for w in res.blocked.values()), res.blocked
    k.check_invariants()


# ---- arch thread registers

def test_arch_thread_registers(arch):
    async def setup(env):
        u = l4_utcb()
        if arch == "x86_64":
            r = (await fiasco_amd64_set_segment_base(T1, 0, 0x7000_1000),
                 await fiasco_amd64_set_segment_base(T1, 1, 0x7000_2000),
                 await fiasco_amd64_set_segment_base(T1, 2, 0),
                 await fiasco_amd64_set_segment_base(T1, 0, 0x0000_8000_0000_0000),
                 await invoke(T1, L4_PROTO_THREAD, [0x12]),
                 await invoke(T1, L4_PROTO_THREAD, [0x13]),
                 l4_error(await l4_thread_arm_set_tpidruro(T1, 5), u))
        else:
            r = (l4_error(await l4_thread_arm_set_tpidruro(T1, 0xABCD), u),
                 await invoke(T1, L4_PROTO_THREAD, [0x10]),
                 await invoke(T1, L4_PROTO_THREAD, [0x12, 0]))
        return r

    tls = {"x86_64": 23, "arm64": 38, "mips64": None}[arch]
    (exc, r), _ = triggered(arch, 0, setup=setup, tls_word=tls)
    if arch == "x86_64":
        # FS set (GS at word 24), bad segment, non-canonical, short, no segment info, and
        # 0x10 is the GDT operation here: neither has a meaning in the model.
        assert r == (0, 0, -L4_EINVAL, -L4_EINVAL, -L4_EMSGTOOSHORT, -L4_ENOSYS, -L4_ENOSYS)
        assert exc[4] == 0x7000_1000
    elif arch == "arm64":
        assert r == (0, -L4_EMSGTOOSHORT, -L4_ENOSYS)
        assert exc[4] == 0xABCD
    else:
        assert r == (-L4_ENOSYS, -L4_ENOSYS, -L4_ENOSYS)
