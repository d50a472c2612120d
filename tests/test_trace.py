"""The trace ring (kernel_c/trace.c; docs/trace.md): IPC, IPC errors, page faults and
context switches with virtual timestamps, a ring that keeps the newest entries, identical
records on reruns, Chrome/Perfetto JSON, and the debugger's trace-buffer group through
which µApps log into it and read it."""
import json

import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_BASE_DEBUGGER_CAP, L4_EINVAL, L4_EMSGTOOSHORT, L4_ENOENT, L4_ENOSYS, L4_FPAGE_RO,
    L4_IPC_BOTH_TIMEOUT_0, L4_IPC_ENOT_EXISTENT, L4_IPC_NEVER, L4_IPC_RETIMEOUT,
    L4_IPC_SETIMEOUT, L4_KDEBUG_GROUP_TRACE, L4_PROTO_DEBUGGER, L4_PROTO_PAGE_FAULT,
    fiasco_tbuf_clear, fiasco_tbuf_dump, fiasco_tbuf_entries, fiasco_tbuf_last_committed,
    fiasco_tbuf_log, fiasco_tbuf_log_3val, fiasco_tbuf_log_binary, fiasco_tbuf_size,
    l4_debugger_global_id, l4_factory_create_irq, l4_icu_bind, l4_ipc_call, l4_ipc_reply_and_wait,
    l4_ipc_send, l4_ipc_sleep, l4_ipc_wait, l4_irq_receive, l4_msgtag, l4_msgtag_label,
    l4_rcv_ep_bind_thread, l4_timeout, l4_timeout_from_us, l4_utcb, pyl4re_tbuf_read,
)

from kobj_util import invoke, ok

TRACE = L4_KDEBUG_GROUP_TRACE


def sleep_us(us):
    return l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(us)))


async def server(env):
    ok(await l4_rcv_ep_bind_thread(env.caps["svc"], env.thread, 0x40))
    u = l4_utcb()
    tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
    while True:
        u.mr[0] = int(u.mr[0]) * 2
        tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)


async def client(env):
    u = l4_utcb()
    out = []
    for i in range(3):
        u.mr[0] = i
        await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0x50, 1, 0, 0), L4_IPC_NEVER)
        out.append(int(u.mr[0]))
    return out


def calculator(arch, cpus=1, seed=None, **kw):
    """A server and a client on CPU cpus - 1: the small scenario most tests look at."""
    k = Kernel(arch=arch, cpus=cpus, memory=16 << 20, seed=seed, **kw)
    gate = k.create_gate(0)
    srv = k.start_task(server, name="srv", caps={"svc": gate.svr()})
    cli = k.start_task(client, name="client", caps={"svc": gate}, cpu=cpus - 1)
    res = k.run()
    assert res.exited == {"client": [0, 2, 4]}
    return k, srv, cli


def digest(records):
    return [(r.seq, r.time_ns, r.cpu, r.kind, r.thread, r.name, r.raw) for r in records]


# ---- what is recorded

def test_ipc_and_context_switches_are_recorded(arch):
    k, srv, cli = calculator(arch)
    recs = k.trace
    assert [r.seq for r in recs] == list(range(1, len(recs) + 1))
    assert [r.time_ns for r in recs] == sorted(r.time_ns for r in recs)
    ipc = [r for r in recs if r.kind == "ipc"]
    calls = [r for r in ipc if r.thread == cli.thread_id]
    replies = [r for r in ipc if r.thread == srv.thread_id and r.fields["to"] == cli.thread_id]
    assert len(calls) == 3 and len(replies) == 3
    assert all(r.fields["to"] == srv.thread_id and r.fields["to_name"] == "srv" for r in calls)
    # The tag as sent; the receiver's label: the gate label | the W right of the client cap.
    assert all(r.fields["tag"] == l4_msgtag(0x50, 1, 0, 0).raw and r.fields["label"] == 0x41
               for r in calls)
    assert all(r.fields["tag"] == l4_msgtag(0, 1, 0, 0).raw for r in replies)
    # Each call hands the CPU straight to the server: one switch record, client -> srv.
    for call in calls:
        nxt = recs[call.seq]                            # the record after it (seq is 1-based)
        assert (nxt.kind, nxt.thread, nxt.fields["from"], nxt.time_ns) == \
            ("switch", srv.thread_id, cli.thread_id, call.time_ns)
    # The last reply hands the CPU back to the client. When the client ends, the CPU just
    # stops (no clock jump, so no record): its last slice ends at its clock.
    assert (recs[-1].kind, recs[-1].thread, recs[-1].fields["from"]) == \
        ("switch", cli.thread_id, srv.thread_id)
    assert all(r.cpu == 0 for r in recs)


def test_cross_cpu_ipc_is_recorded_on_the_senders_cpu(arch):
    k, srv, cli = calculator(arch, cpus=2)
    calls = [r for r in k.trace if r.kind == "ipc" and r.thread == cli.thread_id]
    replies = [r for r in k.trace if r.kind == "ipc" and r.thread == srv.thread_id]
    assert {r.cpu for r in calls} == {1} and {r.cpu for r in replies} == {0}


def test_ipc_errors_are_recorded(arch):
    async def main(env):
        u = l4_utcb()
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(10)))            # RETIMEOUT
        await l4_ipc_send(0x7F000, u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)    # no object
        await l4_ipc_send(env.thread, u, l4_msgtag(0, 0, 0, 0), L4_IPC_BOTH_TIMEOUT_0)

    k = Kernel(arch=arch, memory=16 << 20)
    h = k.start_task(main, name="main")
    k.run()
    errors = [(r.fields["error"], r.name) for r in k.trace if r.kind == "ipc_error"]
    assert errors == [(L4_IPC_RETIMEOUT, "main"), (L4_IPC_ENOT_EXISTENT, "main"),
                      (L4_IPC_SETIMEOUT, "main")]
    sleep = next(r for r in k.trace if r.kind == "ipc_error")
    assert sleep.time_ns >= 10_000 and sleep.fields["partner"] == h.thread_id


def test_page_faults_are_recorded(arch):
    async def main(env):
        await pyl4re.mem.read(0x800123, 1)
        await pyl4re.mem.write(0x900000, b"x")

    k = Kernel(arch=arch, memory=16 << 20)
    h = k.start_task(main, name="main")
    k.run()
    faults = [r for r in k.trace if r.kind == "page_fault"]
    assert [(r.fields["address"], r.fields["access"], r.name) for r in faults] == \
        [(0x800123, L4_FPAGE_RO, "main"), (0x900000, 2, "main")]
    # ... and the page-fault IPC to sigma0 that follows each.
    pf_ipc = [r for r in k.trace if r.kind == "ipc" and r.thread == h.thread_id]
    assert len(pf_ipc) == 2 and all(r.fields["to_name"] == "sigma0" for r in pf_ipc)
    assert all((r.fields["tag"] >> 16) - (1 << 48) == L4_PROTO_PAGE_FAULT for r in pf_ipc)


def test_irq_messages_are_recorded(arch):
    async def driver(env):
        irq = 0x30 << 12
        ok(await l4_factory_create_irq(env.factory, irq))
        ok(await l4_rcv_ep_bind_thread(irq, env.thread, 0x120))
        ok(await l4_icu_bind(env.icu, 5, irq))
        for _ in range(2):
            await l4_irq_receive(irq, L4_IPC_NEVER)
        return await l4_debugger_global_id(irq)

    k = Kernel(arch=arch, memory=16 << 20)
    h = k.start_task(driver, name="drv")
    k.hw.at(10_000, k.hw.irq_line(5).pulse)              # delivered at once (drv waits)
    k.hw.at(10_100, k.hw.irq_line(5).pulse)              # queued: drv is still busy
    k.run()
    irqs = [r for r in k.trace if r.kind == "irq"]
    assert [(r.name, r.fields["label"]) for r in irqs] == [("drv", 0x120)] * 2
    assert irqs[0].fields["irq"] == irqs[1].fields["irq"] != 0
    assert irqs[0].time_ns >= 10_000


def test_maps_and_unmaps_are_recorded(arch):
    from pyl4re.l4sys import L4_FP_ALL_SPACES, L4_FPAGE_RWX, l4_fpage, l4_task_unmap
    k = Kernel(arch=arch, memory=16 << 20)
    shift = k.arch_info["page_shift"]

    async def main(env):
        await pyl4re.mem.write(0x800000, b"a")
        await l4_task_unmap(env.task, l4_fpage(0x800000, shift, L4_FPAGE_RWX), L4_FP_ALL_SPACES)
        await pyl4re.mem.read(0x800000, 1)

    h = k.start_task(main, name="main")
    k.run()
    mine = [(r.kind, r.fields["va"], r.fields["page_shift"]) for r in k.trace
            if r.kind in ("map", "unmap") and r.fields["task"] == h.task.id]
    # Mapped at the fault (by sigma0's reply), unmapped by main, mapped again.
    assert [m[0] for m in mine] == ["map", "unmap", "map"]
    assert all(va <= 0x800000 < va + (1 << ps) for _, va, ps in mine)
    maps = [r for r in k.trace if r.kind == "map" and r.fields["task"] == h.task.id]
    assert maps[0].name == "sigma0" and maps[0].fields["task_name"] == "main"
    unmap = next(r for r in k.trace if r.kind == "unmap")
    assert unmap.name == "main"


def test_preemption_shows_as_switches(arch):
    async def spin(env):
        await pyl4re.compute(25_000_000)

    k = Kernel(arch=arch, memory=16 << 20)
    a = k.start_task(spin, name="a")
    b = k.start_task(spin, name="b")
    k.run()
    switches = [(r.name, r.fields["from_name"], r.time_ns) for r in k.trace
                if r.kind == "switch"]
    # Round robin with 10 ms quanta: a, b, a, b each for a quantum; a ends at 25 ms of
    # its own time and b runs on.
    assert [s[:2] for s in switches[1:]] == [("a", "sigma0"), ("b", "a"), ("a", "b"),
                                             ("b", "a"), ("a", "b"), ("b", "a")]
    gaps = [later[2] - earlier[2] for earlier, later in zip(switches[1:5], switches[2:6])]
    assert all(10_000_000 <= g < 10_010_000 for g in gaps)


def test_same_program_same_seed_same_records(arch):
    first = digest(calculator(arch, cpus=2, seed=7)[0].trace)
    second = digest(calculator(arch, cpus=2, seed=7)[0].trace)
    assert first == second and len(first) > 10


# ---- the ring

def test_the_ring_keeps_the_newest_entries(arch):
    full = calculator(arch)[0].trace
    k, _, _ = calculator(arch, trace_size=8)
    recs = k.trace
    assert len(full) > 8 and len(recs) == 8
    assert digest(recs) == digest(full[-8:])


def test_no_tracing_with_size_0(arch):
    k, _, _ = calculator(arch, trace_size=0)
    assert k.trace == []
    events = json.loads(k.trace_json())["traceEvents"]
    assert all(e["ph"] == "M" for e in events)


@pytest.mark.parametrize("size, exc", [(-1, ValueError), (0x400001, ValueError),
                                       (1.5, TypeError), (True, TypeError)])
def test_trace_size_refusals(arch, size, exc):
    with pytest.raises(exc):
        Kernel(arch=arch, memory=16 << 20, trace_size=size)


def test_chrome_json(arch, tmp_path):
    k, srv, cli = calculator(arch, cpus=2)
    path = tmp_path / "trace.json"
    text = k.trace_json(path)
    assert path.read_text() == text
    doc = json.loads(text)
    assert doc["displayTimeUnit"] == "ns"
    events = doc["traceEvents"]
    names = {(e["tid"], e["args"]["name"]) for e in events if e["name"] == "thread_name"}
    assert names == {(0, "CPU 0"), (1, "CPU 1")}
    slices = [e for e in events if e["ph"] == "X"]
    assert {e["name"] for e in slices} >= {"srv", "client", "sigma0"}
    assert all(e["dur"] >= 0 for e in slices)
    ipc = [e for e in events if e["ph"] == "i" and e["cat"] == "ipc"]
    assert len(ipc) == 6 and ipc[0]["args"]["to_name"] == "srv"
    assert text == calculator(arch, cpus=2)[0].trace_json()        # reproducible


# ---- the debugger's trace-buffer group

def test_uapps_log_into_the_ring(arch):
    async def main(env):
        a = await fiasco_tbuf_log("hello trace buffer, this is cut")
        b = await fiasco_tbuf_log_3val("values", 1, 2, 3)
        c = await fiasco_tbuf_log_binary(bytes(range(24)))
        # l4sys sends log_bin as 8; the kernel's own number is 5: both work.
        u = l4_utcb()
        u.mr.view("uint8")[16:19] = [7, 8, 9]
        d = await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER, [TRACE + 5, 3], words=3)
        return a, b, c, d

    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="main")
    assert k.run().exited["main"] == (0, 0, 0, 0)
    ke = [(r.kind, r.name, r.fields) for r in k.trace if r.kind.startswith("ke")]
    assert ke == [("ke", "main", {"text": "hello trace buffer, this"}),
                  ("ke_reg", "main", {"values": (1, 2, 3)}),
                  ("ke_bin", "main", {"data": bytes(range(24))}),
                  ("ke_bin", "main", {"data": bytes([7, 8, 9]) + bytes(21)})]


def test_uapps_read_the_ring(arch):
    async def main(env):
        entries = await fiasco_tbuf_entries()
        size = await fiasco_tbuf_size()
        await fiasco_tbuf_log("mark")
        last = await fiasco_tbuf_last_committed()
        got, seq = [], 1
        while True:
            tag, rec = await pyl4re_tbuf_read(seq)
            if rec is None:
                break
            got.append(rec)
            seq = rec[0] + 1
        me = await l4_debugger_global_id(env.thread)
        beyond = l4_msgtag_label((await pyl4re_tbuf_read(10**6))[0])
        return entries, size, last, got, me, beyond

    k = Kernel(arch=arch, memory=16 << 20, trace_size=64)
    k.start_task(main, name="main")
    entries, size, last, got, me, beyond = k.run().exited["main"]
    assert beyond == -L4_ENOENT and entries == 64 and size == 64 * k._lib.TRACE_SLOT_BYTES
    mark = [r for r in got if r[2] == k._lib.TRACE_KE]
    assert len(mark) == 1 and mark[0][0] == last and mark[0][4] == me
    # What the µApp read is what the harness reads (ids aside: µApps see global ids).
    theirs = {r.seq: (r.time_ns, k._lib.TRACE_KE if r.kind == "ke" else None, r.cpu)
              for r in k.trace}
    for seq, time_ns, kind, cpu, *_ in got:
        if kind == k._lib.TRACE_KE:
            assert theirs[seq] == (time_ns, kind, cpu)
    switch = next(r for r in got if r[2] == k._lib.TRACE_SWITCH and r[4] == me)
    assert switch[3] == 0


def test_clear_and_the_group_refusals(arch):
    async def main(env):
        await fiasco_tbuf_log("before")
        await fiasco_tbuf_clear()
        after_clear = (await pyl4re_tbuf_read(1))[1]
        await fiasco_tbuf_dump()
        return (after_clear,
                await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER, [TRACE + 1]),
                await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER, [TRACE + 4, 1, 2, 3]),
                await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER, [TRACE + 0x30]),
                await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER, [TRACE + 0x30, 10**9]),
                await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER, [TRACE + 0x21, 0, 0]),
                await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER, [TRACE + 0x99]))

    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="main")
    res = k.run().exited["main"]
    # After the clear only what came later is held (the dump call's switch, if any).
    assert res[0] is None or res[0][2] != k._lib.TRACE_KE
    assert res[1:] == (-L4_EMSGTOOSHORT, -L4_EMSGTOOSHORT, -L4_EMSGTOOSHORT, -L4_ENOENT,
                       -L4_ENOSYS, -L4_ENOSYS)
    assert not [r for r in k.trace if r.kind == "ke"]


def test_the_ring_off_answers_empty(arch):
    async def main(env):
        return (await fiasco_tbuf_entries(), await fiasco_tbuf_size(),
                await fiasco_tbuf_last_committed(), await fiasco_tbuf_log("x"),
                (await pyl4re_tbuf_read(1))[1])

    k = Kernel(arch=arch, memory=16 << 20, trace_size=0)
    k.start_task(main, name="main")
    assert k.run().exited["main"] == (0, 0, 0, 0, None)


def test_trace_add_takes_only_the_kinds_the_control_plane_may_record(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    tid = k._lib.kernel_sigma0_thread(k._k).raw
    assert k._lib.trace_add(k._k, [tid], k._lib.TRACE_IPC, 0, 0, 0) == -L4_EINVAL
    assert k._lib.trace_add(k._k, [12345], k._lib.TRACE_KE, 0, 0, 0) == -L4_EINVAL
    assert k._lib.trace_add(k._k, [tid], k._lib.TRACE_IRQ, 0x40, 0, 0) == 0
    assert [(r.kind, r.name, r.fields) for r in k.trace] == \
        [("irq", "sigma0", {"label": 0x40, "irq": 0})]
