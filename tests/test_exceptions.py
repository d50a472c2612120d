"""Exceptions (§10.2, §10.3): a trapping thread calls its exception handler with the
architecture's register layout; the handler's reply can move it to another ip."""
import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_ENOMEM, L4_IPC_NEVER, L4_IPC_SEND_TIMEOUT_0, L4_MSGTAG_TRANSFER_FPU,
    L4_PROTO_EXCEPTION, l4_ipc_reply_and_wait, l4_ipc_sleep, l4_ipc_wait, l4_msgtag,
    l4_msgtag_flags,
    l4_msgtag_label, l4_msgtag_words, l4_thread_ex_regs, l4_timeout, l4_timeout_from_us,
    l4_utcb,
)
from pyl4re.mem import PageFaultError
from pyl4re.runloop import MicroAppError
from pyl4re.types import VirtAddr

# word indices of l4_exc_regs_t (§10.3): (words, ip, sp, trap word, trap shift)
LAYOUT = {"x86_64": (26, 18, 21, 16, 0), "arm64": (40, 36, 35, 33, 26),
          "mips64": (41, 39, 31, 37, 2)}


def setup(arch, faulty, move_to=None, log=None):
    """A handler µApp (recording each exception message) and a faulty thread whose
    exception handler it is. The handler moves the thread to `move_to` if given."""
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x50)
    words, ip_i, sp_i, trap_i, shift = LAYOUT[arch]

    async def handler(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            log.append((l4_msgtag_label(tag), l4_msgtag_words(tag), l4_msgtag_flags(tag),
                        label, int(u.mr[ip_i]), int(u.mr[trap_i]) >> shift))
            if move_to is not None:
                u.mr[ip_i] = pyl4re.entry(move_to)
                reply = l4_msgtag(0, words, 0, 0)
            else:
                reply = l4_msgtag(0, 0, 0, 0)          # registers unchanged
            tag, label = await l4_ipc_reply_and_wait(u, reply, L4_IPC_SEND_TIMEOUT_0)

    h = k.start_task(handler, name="handler", caps={"svc": gate.svr()}, prio=10)
    assert k._lib.gate_bind(k._k, [gate.object.id], [h.thread_id], 0x50) == 0
    f = k.start_task(faulty, name="faulty", caps={"exc": gate})
    ctl = k._ffi.new("struct thread_ctl *", {
        "flags": k._lib.L4_THREAD_CONTROL_SET_EXC_HANDLER, "exc_handler": 0x16000})
    assert k._lib.thread_control(k._k, [f.thread_id], ctl) == 0
    return k, f


def test_a_trap_reaches_the_handler_with_the_arch_layout(arch):
    log = []

    async def faulty(env):
        await pyl4re.trap(13, 0)
        return "went on"

    k, f = setup(arch, faulty, log=log)
    res = k.run()
    assert res.exited["faulty"] == "went on"
    label, words, flags, glabel, ip, trap = log[0]
    assert label == L4_PROTO_EXCEPTION and words == LAYOUT[arch][0]
    assert flags & L4_MSGTAG_TRANSFER_FPU and glabel == 0x50 | 1
    assert ip == f.thread.ip and trap == 13


def test_the_thread_finds_its_message_registers_as_it_left_them(arch):
    # Fiasco sends the exception frame from the trap state and writes the handler's
    # reply back into it: the trapping thread's UTCB is not the message buffer.
    log = []
    words = LAYOUT[arch][0]

    async def faulty(env):
        u = l4_utcb()
        for i in range(words + 2):
            u.mr[i] = 0x1000 + i
        await pyl4re.trap(13, 0)
        return [int(u.mr[i]) for i in range(words + 2)]

    k, f = setup(arch, faulty, log=log)
    res = k.run()
    assert len(log) == 1
    assert res.exited["faulty"] == [0x1000 + i for i in range(words + 2)]


def test_the_handler_moves_the_thread(arch):
    log = []

    async def elsewhere():
        return "resumed elsewhere"

    async def faulty(env):
        await pyl4re.trap(6)
        return "not here"

    k, f = setup(arch, faulty, move_to=elsewhere, log=log)
    res = k.run()
    assert res.exited["faulty"] == "resumed elsewhere"
    assert f.thread.ip == pyl4re.entry(elsewhere)


def test_an_escaping_python_exception_is_an_exception_ipc(arch):
    log = []

    async def recovered():
        return "recovered"

    async def faulty(env):
        raise ValueError("boom")

    k, f = setup(arch, faulty, move_to=recovered, log=log)
    res = k.run()
    assert res.exited["faulty"] == "recovered"
    assert log[0][5] == k._lib.arch_illegal_trapno()


def test_a_handler_that_does_not_move_it_leaves_it_failed(arch):
    log = []

    async def faulty(env):
        raise ValueError("boom")

    k, f = setup(arch, faulty, log=log)
    with pytest.raises(MicroAppError, match="boom"):
        k.run()
    assert len(log) == 1


def test_no_handler(arch):
    k = Kernel(arch=arch, memory=16 << 20)

    async def faulty(env):
        try:
            await pyl4re.trap(3)
        except pyl4re.traps.UnhandledTrap as exc:
            return str(exc)

    k.start_task(faulty, name="f")
    assert "no exception handler" in k.run().exited["f"]


def test_trap_refusals(arch):
    k = Kernel(arch=arch, memory=16 << 20)

    async def main(env):
        errors = []
        for bad in (-1, 1 << 32, 1.0, True):
            try:
                await pyl4re.trap(bad)
            except ValueError:
                errors.append("ValueError")
        return errors

    k.start_task(main, name="m")
    assert k.run().exited["m"] == ["ValueError"] * 4


def test_a_handler_that_replies_garbage(arch):
    """A full register block whose ip names no code: the thread goes there and faults as a
    CPU would (an instruction fetch the pager cannot resolve), and that page-fault
    exception reaches the handler too (§10.1); answered with the same ip, the fetch is
    tried again and faults again, as on hardware; a handler that stops answering leaves
    the thread waiting for it."""
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x50)
    words, ip_i = LAYOUT[arch][0], LAYOUT[arch][1]
    pfa_i = PF[arch][2]
    seen = []

    async def handler(env):
        u = l4_utcb()
        await l4_ipc_wait(u, L4_IPC_NEVER)
        for i in range(words):
            u.mr[i] = 0xDEAD000 + i
        u.mr[ip_i] = 0xDEAD000
        for _ in range(2):                         # the fetch faults, again and again
            await l4_ipc_reply_and_wait(u, l4_msgtag(0, words, 0, 0), L4_IPC_NEVER)
            seen.append((int(u.mr[ip_i]), int(u.mr[pfa_i])))
            u.mr[ip_i] = 0xDEAD000

    async def faulty(env):
        await pyl4re.trap(1)

    h = k.start_task(handler, name="handler", caps={"svc": gate.svr()})
    assert k._lib.gate_bind(k._k, [gate.object.id], [h.thread_id], 0x50) == 0
    f = k.start_task(faulty, name="faulty", caps={"exc": gate})
    ctl = k._ffi.new("struct thread_ctl *", {
        "flags": k._lib.L4_THREAD_CONTROL_SET_EXC_HANDLER, "exc_handler": 0x16000})
    assert k._lib.thread_control(k._k, [f.thread_id], ctl) == 0
    res = k.run(raise_errors=False)
    assert seen == [(0xDEAD000, 0xDEAD000)] * 2
    assert res.blocked["faulty"] == "receive from handler"
    k.check_invariants()


def test_no_code_at_ip_is_a_fetch_then_an_illegal_instruction(arch):
    """ex_regs to a mapped address with no code: the fetch faults the page in through
    the pager, then the CPU finds nothing to execute (an illegal instruction)."""
    k = Kernel(arch=arch, memory=16 << 20)

    async def main(env):
        await l4_thread_ex_regs(env.thread, 0x800000, 0, 0)
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(10)))
        return "not reached"
    t = k.start_task(main, name="main")
    res = k.run(raise_errors=False)
    err = res.failed["main"]
    assert isinstance(err, pyl4re.code.IllegalInstruction) and "0x800000" in str(err)
    assert t.translate(VirtAddr(0x800000)) is not None       # the fetch faulted it in
    assert any(r.kind == "page_fault" for r in k.trace)
    k.check_invariants()


def test_a_handler_that_fails_itself(arch):
    """The handler raises while handling: it ends; the faulting thread keeps waiting for
    a reply that will not come (as on a real kernel), and nothing else breaks."""
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x50)

    async def handler(env):
        await l4_ipc_wait(l4_utcb(), L4_IPC_NEVER)
        raise RuntimeError("the handler itself fails")

    async def faulty(env):
        raise KeyError("first")

    h = k.start_task(handler, name="handler", caps={"svc": gate.svr()})
    assert k._lib.gate_bind(k._k, [gate.object.id], [h.thread_id], 0x50) == 0
    f = k.start_task(faulty, name="faulty", caps={"exc": gate})
    ctl = k._ffi.new("struct thread_ctl *", {
        "flags": k._lib.L4_THREAD_CONTROL_SET_EXC_HANDLER, "exc_handler": 0x16000})
    assert k._lib.thread_control(k._k, [f.thread_id], ctl) == 0
    res = k.run(raise_errors=False)
    assert isinstance(res.failed["handler"], RuntimeError)
    assert res.blocked["faulty"].startswith("receive from handler")
    k.check_invariants()


# ---- unresolved page faults become page-fault exceptions (§10.1)

# (trap word, shift, pfa word) and what a write fault to an unmapped page raises:
# amd64 trap 14 with error code W|U; arm64 EC 0x24 with WnR and a translation fault;
# MIPS TLBS (3).
PF = {"x86_64": (16, 0, 11, 14, 0x6), "arm64": (33, 26, 34, 0x24, 0x2000047),
      "mips64": (37, 2, 36, 3, 0)}


def page_fault_setup(arch, faulty, after, refusing_pager=False):
    """A handler moving the faulty thread to `after`; with refusing_pager, the faulty
    thread's pager answers every fault with a negative label (-L4_ENOMEM)."""
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x50)
    trap_i, shift, pfa_i, _, _ = PF[arch]
    words, ip_i = LAYOUT[arch][0], LAYOUT[arch][1]
    log = []

    async def handler(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        trap = int(u.mr[trap_i])
        err_word = int(u.mr[PF[arch][0] + (1 if arch == "x86_64" else 0)])
        log.append((l4_msgtag_label(tag), trap >> shift if shift else trap,
                    err_word, int(u.mr[pfa_i])))
        u.mr[ip_i] = pyl4re.entry(after)
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, words, 0, 0), L4_IPC_SEND_TIMEOUT_0)

    h = k.start_task(handler, name="handler", caps={"svc": gate.svr()}, prio=10)
    assert k._lib.gate_bind(k._k, [gate.object.id], [h.thread_id], 0x50) == 0
    caps = {"exc": gate}
    if refusing_pager:
        pgate = k.create_gate(0x70)

        async def pager(env):
            u = l4_utcb()
            await l4_ipc_wait(u, L4_IPC_NEVER)
            while True:
                await l4_ipc_reply_and_wait(u, l4_msgtag(-L4_ENOMEM, 0, 0, 0),
                                            L4_IPC_SEND_TIMEOUT_0)

        p = k.start_task(pager, name="pager", caps={"svc": pgate.svr()}, prio=10)
        assert k._lib.gate_bind(k._k, [pgate.object.id], [p.thread_id], 0x70) == 0
        caps["pg"] = pgate
    f = k.start_task(faulty, name="faulty", caps=caps)
    flags = k._lib.L4_THREAD_CONTROL_SET_EXC_HANDLER
    if refusing_pager:
        flags |= k._lib.L4_THREAD_CONTROL_SET_PAGER
    ctl = k._ffi.new("struct thread_ctl *", {
        "flags": flags, "exc_handler": 0x16000, "pager": f.env.caps.get("pg", 0)})
    assert k._lib.thread_control(k._k, [f.thread_id], ctl) == 0
    return k, f, log


def test_a_refused_page_fault_reaches_the_exception_handler(arch):
    async def after():
        return "moved on"

    async def faulty(env):
        await pyl4re.mem.write(0x800010, b"x")
        return "not reached"

    k, f, log = page_fault_setup(arch, faulty, after, refusing_pager=True)
    res = k.run()
    assert res.exited["faulty"] == "moved on"
    label, trap, err, pfa = log[0]
    assert label == L4_PROTO_EXCEPTION and pfa == 0x800010
    _, _, _, want_trap, want_err = PF[arch]
    if arch == "arm64":
        assert (err >> 26, err & 0x3FFFFFF) == (want_trap, want_err & 0x3FFFFFF)
    elif arch == "mips64":
        assert (err >> 2) & 0x1F == want_trap
    else:
        assert trap == want_trap and err == want_err


def test_an_access_outside_user_space_is_a_page_fault_exception(arch):
    async def after():
        return "moved on"

    async def faulty(env):
        await pyl4re.mem.read(0xFFFF_FFFF_FFFF_0000, 1)
        return "not reached"

    k, f, log = page_fault_setup(arch, faulty, after)
    assert k.run().exited["faulty"] == "moved on"
    assert log[0][0] == L4_PROTO_EXCEPTION and log[0][3] == 0xFFFF_FFFF_FFFF_0000
