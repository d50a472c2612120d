"""Alien threads (docs/threads.md, `L4_THREAD_CONTROL_ALIEN`): every system call of an
alien thread goes to its exception handler first; a reply labelled L4_PROTO_ALLOW_SYSCALL
lets it run once, and the handler then hears of its result. MIPS's Fiasco does not trap
them. Page faults of an alien go to the exception handler, never to the pager."""
import pyl4re
from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_IPC_ENOT_EXISTENT, L4_IPC_NEVER, L4_IPC_SEND_TIMEOUT_0, L4_MSGTAG_ERROR,
    L4_PROTO_ALLOW_SYSCALL, L4_PROTO_EXCEPTION, L4_SYSF_CALL, l4_error, l4_ipc_call,
    l4_ipc_error, l4_ipc_reply_and_wait, l4_ipc_wait, l4_msgtag, l4_msgtag_has_error,
    l4_msgtag_label, l4_msgtag_words, l4_thread_control_alien, l4_thread_control_commit,
    l4_thread_control_start, l4_utcb,
)
from pyl4re.mem import PageFaultError

# l4_exc_regs_t words (§10.3): message size, ip, the trap word(s), and the system call's
# tag, label, selector|flags registers (§6.4)
LAYOUT = {"x86_64": dict(words=26, ip=18, trap=(16, 17), sys=(15, 9, 13)),
          "arm64": dict(words=40, ip=36, trap=(33,), sys=(1, 2, 3)),
          "mips64": dict(words=41, ip=39, trap=(37,), sys=(21, 22, 19))}
# what the trap words hold before and after the call (Fiasco: x86 trap 253 with error 0
# / 1; arm64 the SVC's ESR, EC 0x15 with IL, and ISS bit 16 set after the call)
TRAP = {"x86_64": ((253, 0), (253, 1)),
        "arm64": ((0x15 << 26 | 1 << 25,), (0x15 << 26 | 1 << 25 | 1 << 16,))}
TRAPS = {"x86_64": True, "arm64": True, "mips64": False}   # Fiasco's MIPS entry does not


def alien_setup(arch, alien, policy, log, exc_handler=True, memory=16 << 20):
    """A handler µApp answering each exception with policy(n, mr) -> reply tag (it may
    change mr), an echo server (MR0 + 1), and the alien thread, in its own task, with the
    handler as exception handler and alien mode on."""
    k = Kernel(arch=arch, memory=memory)
    lay = LAYOUT[arch]
    gate, srv = k.create_gate(0x50), k.create_gate(0x60)

    async def handler(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            mr = [int(u.mr[i]) for i in range(lay["words"])]
            log.append(dict(label=l4_msgtag_label(tag), words=l4_msgtag_words(tag),
                            trap=tuple(mr[i] for i in lay["trap"]), ip=mr[lay["ip"]],
                            sys=tuple(mr[i] for i in lay["sys"])))
            reply = policy(len(log), u.mr)
            tag, label = await l4_ipc_reply_and_wait(u, reply, L4_IPC_SEND_TIMEOUT_0)

    async def echo(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            u.mr[0] = int(u.mr[0]) + 1
            tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(7, 1, 0, 0),
                                                     L4_IPC_SEND_TIMEOUT_0)

    h = k.start_task(handler, name="handler", caps={"svc": gate.svr()}, prio=10)
    e = k.start_task(echo, name="echo", caps={"svc": srv.svr()}, prio=10)
    assert k._lib.gate_bind(k._k, [gate.object.id], [h.thread_id], 0x50) == 0
    assert k._lib.gate_bind(k._k, [srv.object.id], [e.thread_id], 0x60) == 0
    a = k.start_task(alien, name="alien", caps={"exc": gate, "srv": srv})
    lib = k._lib
    flags = lib.L4_THREAD_CONTROL_ALIEN
    if exc_handler:
        flags |= lib.L4_THREAD_CONTROL_SET_EXC_HANDLER
    ctl = k._ffi.new("struct thread_ctl *", {
        "flags": flags, "exc_handler": a.env.caps["exc"], "alien": 1})
    assert lib.thread_control(k._k, [a.thread_id], ctl) == 0
    return k, a


async def call_echo(env, value=41):
    u = l4_utcb()
    u.mr[0] = value
    tag = await l4_ipc_call(env.caps["srv"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
    return l4_msgtag_label(tag), int(u.mr[0])


def mover(arch, code):
    """A handler policy that answers the exception with the thread moved to `code`."""
    lay = LAYOUT[arch]

    def move(n, mr):
        mr[lay["ip"]] = pyl4re.entry(code)
        return l4_msgtag(0, lay["words"], 0, 0)
    return move


def allow(n, mr):
    return l4_msgtag(L4_PROTO_ALLOW_SYSCALL, 0, 0, 0)


def test_the_handler_sees_the_call_allows_it_and_hears_its_result(arch):
    log = []

    async def alien(env):
        return await call_echo(env)

    k, a = alien_setup(arch, alien, allow, log)
    res = k.run()
    assert res.exited["alien"] == (7, 42)          # the call ran, with its own MRs
    if not TRAPS[arch]:
        assert log == []                           # MIPS: the syscall entry does not look
        return
    before, after = log
    lay = LAYOUT[arch]
    assert before["label"] == after["label"] == L4_PROTO_EXCEPTION
    assert before["words"] == lay["words"]
    assert (before["trap"], after["trap"]) == TRAP[arch]
    # before: the call's registers (tag, label, selector | flags)
    assert before["sys"][0] == l4_msgtag(0, 1, 0, 0).raw
    assert before["sys"][2] == a.env.caps["srv"] | L4_SYSF_CALL
    # after: its result tag in the result register
    assert l4_msgtag_label(pyl4re.l4sys.l4_msgtag_t(after["sys"][0])) == 7
    assert before["ip"] == after["ip"] == a.thread.ip


def test_every_call_traps_and_the_slow_path_too(arch):
    log = []

    async def alien(env):
        first = await call_echo(env, 1)
        l4_thread_control_start()                  # a thread-control call (control plane)
        err = l4_error(await l4_thread_control_commit(env.thread), l4_utcb())
        return first, err, await call_echo(env, 10)

    k, a = alien_setup(arch, alien, allow, log)
    res = k.run()
    assert res.exited["alien"] == ((7, 2), 0, (7, 11))
    assert len(log) == (6 if TRAPS[arch] else 0)   # before and after each of the three


def test_a_refused_call_traps_again_until_allowed(arch):
    log = []

    def second_time(n, mr):
        return l4_msgtag(L4_PROTO_ALLOW_SYSCALL if n == 2 else 0, 0, 0, 0)

    served = []

    async def alien(env):
        r = await call_echo(env)
        served.append(r)
        return r

    k, a = alien_setup(arch, alien, second_time, log)
    res = k.run()
    assert res.exited["alien"] == (7, 42) and served == [(7, 42)]   # the call ran once
    if TRAPS[arch]:
        assert [e["trap"] for e in log] == [TRAP[arch][0], TRAP[arch][0], TRAP[arch][1]]


def test_a_full_reply_after_the_call_changes_its_result(arch):
    lay = LAYOUT[arch]
    log = []

    def edit(n, mr):
        if n == 1:
            return allow(n, mr)
        mr[lay["sys"][0]] = l4_msgtag(99, 0, 0, 0).raw     # the result tag the thread sees
        return l4_msgtag(0, lay["words"], 0, 0)

    async def alien(env):
        return await call_echo(env)

    k, a = alien_setup(arch, alien, edit, log)
    res = k.run()
    assert res.exited["alien"] == ((99, 42) if TRAPS[arch] else (7, 42))


def test_a_full_reply_before_the_call_changes_its_arguments(arch):
    lay = LAYOUT[arch]
    log = []

    def redirect(n, mr):
        if n == 1:                         # the selector register: an empty slot instead
            mr[lay["sys"][2]] = 0x7F000 | L4_SYSF_CALL
            return l4_msgtag(L4_PROTO_ALLOW_SYSCALL, lay["words"], 0, 0)
        return allow(n, mr)

    async def alien(env):
        u = l4_utcb()
        u.mr[0] = 41
        tag = await l4_ipc_call(env.caps["srv"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
        return l4_msgtag_has_error(tag), l4_ipc_error(tag, u)

    k, a = alien_setup(arch, alien, redirect, log)
    res = k.run()
    if TRAPS[arch]:
        assert res.exited["alien"] == (True, L4_IPC_ENOT_EXISTENT)   # it called nothing
        assert log[1]["sys"][0] & L4_MSGTAG_ERROR                    # the result it told
    else:
        assert res.exited["alien"] == (False, 0)


def test_the_handler_moves_the_thread_instead(arch):
    log, ran = [], []

    async def elsewhere():
        return "moved"
    move = mover(arch, elsewhere)

    async def alien(env):
        ran.append(await call_echo(env))
        return "went on"

    k, a = alien_setup(arch, alien, move, log)
    res = k.run()
    if TRAPS[arch]:
        assert res.exited["alien"] == "moved" and ran == [] and len(log) == 1
    else:
        assert res.exited["alien"] == "went on"


def test_without_a_handler_the_alien_waits_on_itself(arch):
    log = []

    async def alien(env):
        return await call_echo(env)

    k, a = alien_setup(arch, alien, allow, log, exc_handler=False)
    res = k.run(raise_errors=False)
    if TRAPS[arch]:
        assert "alien" not in res.exited and not res.failed
        assert res.blocked["alien"] == "receive from alien"   # Fiasco: it calls itself
    else:
        assert res.exited["alien"] == (7, 42)


def test_a_handler_gone_leaves_the_alien_waiting_on_itself(arch):
    log = []

    async def alien(env):
        return await call_echo(env)

    k, a = alien_setup(arch, alien, allow, log)
    k._lib.thread_control(k._k, [a.thread_id], k._ffi.new("struct thread_ctl *", {
        "flags": k._lib.L4_THREAD_CONTROL_SET_EXC_HANDLER, "exc_handler": 0x7F000}))
    res = k.run(raise_errors=False)                # 0x7F000: an empty slot
    if TRAPS[arch]:
        assert res.blocked["alien"] == "receive from alien" and log == []
    else:
        assert res.exited["alien"] == (7, 42)


def test_clearing_alien_mode(arch):
    log = []

    async def alien(env):
        l4_thread_control_start()
        l4_thread_control_alien(0)                 # allowed, so it runs: then one more trap
        err = l4_error(await l4_thread_control_commit(env.thread), l4_utcb())
        return err, await call_echo(env)            # no longer an alien: no trap

    k, a = alien_setup(arch, alien, allow, log)
    res = k.run()
    assert res.exited["alien"] == (0, (7, 42))
    assert len(log) == (2 if TRAPS[arch] else 0)
    assert k._thread_info(a.thread_id).alien == 0


def test_the_handler_clears_alien_mode_before_the_call_runs(arch):
    log = []
    holder = {}

    def clear(n, mr):
        # not allowed, but alien mode is off now: the call runs as any other, untold
        k = holder["k"]
        k._lib.thread_control(k._k, [holder["a"].thread_id], k._ffi.new(
            "struct thread_ctl *", {"flags": k._lib.L4_THREAD_CONTROL_ALIEN, "alien": 0}))
        return l4_msgtag(0, 0, 0, 0)

    async def alien(env):
        return await call_echo(env)

    k, a = alien_setup(arch, alien, clear, log)
    holder.update(k=k, a=a)
    res = k.run()
    assert res.exited["alien"] == (7, 42)
    assert len(log) == (1 if TRAPS[arch] else 0)


def test_control_sets_and_clears_the_alien_state(arch):
    log, states = [], []

    async def alien(env):
        for on in (0, 1):                 # off (told, as an alien); on again (not told)
            l4_thread_control_start()
            l4_thread_control_alien(on)
            states.append(l4_error(await l4_thread_control_commit(env.thread), l4_utcb()))
            states.append(k._thread_info(a.thread_id).alien)
        return await call_echo(env)       # an alien again: told

    k, a = alien_setup(arch, alien, allow, log)
    res = k.run()
    assert res.exited["alien"] == (7, 42)
    assert states == [0, 0, 0, k._lib.THREAD_ALIEN]
    assert len(log) == (4 if TRAPS[arch] else 0)


def test_an_aliens_page_fault_goes_to_its_handler_not_its_pager(arch):
    log = []

    async def elsewhere():
        return "handled"
    move = mover(arch, elsewhere)

    async def alien(env):
        return await pyl4re.mem.load(0x40000000)      # nothing mapped; sigma0 would map it

    k, a = alien_setup(arch, alien, move, log)
    res = k.run()
    assert res.exited["alien"] == "handled" and len(log) == 1


def test_an_aliens_page_fault_without_a_handler(arch):
    async def alien(env):
        return await pyl4re.mem.load(0x40000000)

    k, a = alien_setup(arch, alien, allow, [], exc_handler=False)
    res = k.run(raise_errors=False)
    err = res.failed["alien"]
    assert isinstance(err, PageFaultError) and err.kind == "alien"


def test_a_c_uapp_as_an_alien(arch):
    """A C µApp's l4sys calls (pyl4re.cprog) trap the same way: each one before and after."""
    import os
    from pyl4re import cprog
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    log = []
    k = Kernel(arch=arch, memory=16 << 20)
    lay = LAYOUT[arch]
    gate, srv = k.create_gate(0x50), k.create_gate(0x10)

    async def handler(env):
        u = l4_utcb()
        await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            log.append(tuple(int(u.mr[i]) for i in lay["trap"]))
            await l4_ipc_reply_and_wait(u, allow(0, u.mr), L4_IPC_SEND_TIMEOUT_0)

    h = k.start_task(handler, name="handler", caps={"svc": gate.svr()}, prio=10)
    gate.bind(h, 0x50)
    k.start_cprogram(cprog.build(os.path.join(root, "examples", "c", "ipc_server.c")),
                     name="srv", caps={"svc": srv.svr()})
    c = k.start_cprogram(cprog.build(os.path.join(root, "examples", "c", "ipc_client.c")),
                         name="client", caps={"svc": srv, "exc": gate})
    ctl = k._ffi.new("struct thread_ctl *", {
        "flags": k._lib.L4_THREAD_CONTROL_SET_EXC_HANDLER | k._lib.L4_THREAD_CONTROL_ALIEN,
        "exc_handler": c.env.caps["exc"], "alien": 1})
    assert k._lib.thread_control(k._k, [c.thread_id], ctl) == 0
    res = k.run()
    assert res.exited == {"client": 0}
    squares = [r.line for r in k.log_records if r.task == "client"]
    assert squares[-1] == "Received: 25"                    # every call ran, once
    if TRAPS[arch]:
        assert len(log) >= 20 and log == [TRAP[arch][0], TRAP[arch][1]] * (len(log) // 2)
    else:
        assert log == []
