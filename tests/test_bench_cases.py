"""The systems `pyl4re bench` measures do what their labels claim (pyl4re/bench/ipc_cases.py,
mem_cases.py), and the native programs they use work: one-way sends arrive, words and
capabilities cross, faulted pages are mapped, map and unmap really happen, two CPUs
really run. Nothing here looks at how long anything took."""
import pytest

from pyl4re import CapIndex, Kernel, PhysAddr, VirtAddr
from pyl4re.bench import ipc_cases, mem_cases
from pyl4re.bench.system import System, timed_run
from pyl4re.control import mem as mem_ctl
from pyl4re.l4sys import L4_FPAGE_RW

RECEIVED = 0x38                     # (w0 & 0x3E) of a returned item: a capability arrived


def utcb(k, handle):
    """A thread's 128 UTCB words in physical memory."""
    pa = handle.thread.utcb.raw
    return k.physmem[pa:pa + 1024].view("uint64")


def finished(s, ops):
    res = s.k.run()
    assert res.reason == "idle" and not res.failed
    assert s.done() == ops
    s.k.check_invariants()
    return res


# ---- IPC

@pytest.mark.parametrize("native", [True, False])
def test_one_way_sends_all_arrive_and_nobody_replies(arch, native):
    s = ipc_cases.one_way_system(arch, 300, native)
    res = finished(s, 300)
    # The receiver only waits: it is still waiting, and the sender ended, not blocked.
    assert res.blocked == {"rcv": "receive (open wait)"}
    assert "snd" not in res.blocked
    if native:
        assert s.tasks["snd"].thread.native_count == 300


@pytest.mark.parametrize("words", [2, 8, 63])
def test_native_round_trips_carry_their_words(arch, words):
    s = ipc_cases.round_trip_system(arch, 50, True, True, words)
    k, srv, client = s.k, s.tasks["srv"], s.tasks["client"]
    utcb(k, client)[:63] = range(1000, 1063)
    finished(s, 50)
    assert srv.thread.native_count == 50
    got = [int(w) for w in utcb(k, srv)[:63]]
    assert got[:words] == list(range(1000, 1000 + words))
    assert not any(got[words:])                    # nothing beyond the words sent


def test_uapp_round_trips_of_63_words(arch):
    s = ipc_cases.round_trip_system(arch, 20, False, False, 63)
    finished(s, 20)


def test_call_loop_words_are_capped_at_the_message_registers(arch):
    """More words than MRs in TCR user2 are 63, not a message cut or a stray read."""
    s = ipc_cases.round_trip_system(arch, 3, True, True, 1 << 40)
    finished(s, 3)


@pytest.mark.parametrize("rounds, which", [(5, "a"), (6, "b")])
def test_every_cap_call_maps_a_capability_into_the_server(arch, rounds, which):
    s = ipc_cases.cap_round_trip_system(arch, rounds)
    k, srv, client = s.k, s.tasks["srv"], s.tasks["client"]
    first = ipc_cases.NAMED >> 12
    sent = {"a": client.task.cap(CapIndex(first + 1)), "b": client.task.cap(CapIndex(first + 2))}
    finished(s, rounds)
    assert srv.thread.native_count == rounds
    cap = srv.task.cap(CapIndex(ipc_cases.CAP_SLOT))
    # The last call's capability is there (odd rounds: "a", even: "b"), as the client
    # holds it (R|W: the gates were given without S).
    assert cap.type == "gate" and cap.object_id == sent[which].object_id
    assert cap.rights == sent[which].rights and cap.counted
    assert int(utcb(k, srv)[2]) & 0x3E == RECEIVED
    # Each replacement released the one before: counted references are root + client
    # (+ the server's slot for the one there now).
    refs = {name: k.object(c.object_id).info().counted_refs for name, c in sent.items()}
    assert refs == {name: 3 if name == which else 2 for name in sent}


def test_cap_call_loop_sending_nothing_maps_nothing(arch):
    """The capabilities it is told to send are not there: every call still succeeds, and
    the server's slot stays empty (the item says Rcv_map_nothing)."""
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    rcv = (0x40 << 12) | k._lib.L4_RCV_ITEM_SINGLE_CAP
    srv = k.start_native("echo", "srv", caps={"svc": gate.svr()}, user=(rcv, 0, 0))
    assert k._lib.gate_bind(k._k, [gate.object.id], [srv.thread_id], 0x10) == 0
    client = k.start_native("cap_call_loop", "c", caps={"svc": gate},
                            user=(0x16000, 4, 0x300000))
    k.run()
    assert client.thread.native_count == 4 and srv.task.cap(CapIndex(0x40)) is None
    assert int(utcb(k, srv)[2]) & 0x3E == 0x3A


def test_an_echo_server_without_a_buffer_refuses_capabilities(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    srv = k.start_native("echo", "srv", caps={"svc": gate.svr()})
    assert k._lib.gate_bind(k._k, [gate.object.id], [srv.thread_id], 0x10) == 0
    client = k.start_native("cap_call_loop", "c", caps={"svc": gate, "x": gate},
                            user=(0x16000, 4, 0x17000))
    k.run()
    assert client.thread.native_count == 0                  # every call: SEMSGCUT
    assert srv.thread.native_count == 0


@pytest.mark.parametrize("native", [True, False])
def test_cross_cpu_round_trips_run_on_two_cpus(arch, native):
    s = ipc_cases.round_trip_system(arch, 200, native, native, cpus=2)
    k = s.k
    finished(s, 200)
    assert s.tasks["srv"].thread.cpu == 0 and s.tasks["client"].thread.cpu == 1
    for cpu in (0, 1):
        clock, idle = k.cpu_clock(cpu)
        assert clock > idle                                 # each CPU did work
    # Every round trip crossed CPUs: it costs more virtual time than on one CPU.
    one = ipc_cases.round_trip_system(arch, 200, native, native, cpus=1)
    finished(one, 200)
    assert k.now_ns > one.k.now_ns


# ---- page faults

@pytest.mark.parametrize("faulter_native", [True, False])
@pytest.mark.parametrize("pager_native", [True, False])
def test_faulted_pages_are_mapped(arch, faulter_native, pager_native):
    pages = 40
    s = mem_cases.page_fault_system(arch, pages, faulter_native, pager_native)
    k = s.k
    finished(s, pages)
    faulter = s.tasks["faulter"]
    ps = 1 << k.arch_info["page_shift"]
    for i in range(pages):
        if pager_native:
            va = mem_cases.sigma0_ram(k) + i * ps
            assert faulter.translate(VirtAddr(va)) == (PhysAddr(va), ps, 7)     # 1:1, RWX
        else:
            va = mem_cases.FAULT_BASE + i * ps
            pool = mem_cases.POOL + i % (2 << 20 >> k.arch_info["page_shift"]) * ps
            pa = s.tasks["pager"].translate(VirtAddr(pool))[0]
            assert faulter.translate(VirtAddr(va)) == (pa, ps, L4_FPAGE_RW)
    nxt = (mem_cases.sigma0_ram(k) if pager_native else mem_cases.FAULT_BASE) + pages * ps
    assert faulter.translate(VirtAddr(nxt)) is None              # and nothing beyond
    assert mem_ctl.check(k) is None


def test_the_toucher_ends_at_a_fault_nobody_resolves(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    ps = 1 << k.arch_info["page_shift"]
    base = mem_cases.sigma0_ram(k)
    # Two pages sigma0 owns, then the end of memory: sigma0 refuses, the toucher ends.
    t = k.start_native("touch", "t", user=(k.memory - 2 * ps, 5, 0))
    k.run()
    assert t.thread.native_count == 2 and t.thread.state & k._lib.THREAD_DEAD
    # Without a pager it ends at the first fault; outside user space too.
    t = k.start_native("touch", "t2", user=(base, 5, 0))
    ctl = k._ffi.new("struct thread_ctl *", {"flags": k._lib.L4_THREAD_CONTROL_SET_PAGER,
                                             "pager": k._lib.L4_INVALID_CAP})
    assert k._lib.thread_control(k._k, [t.thread_id], ctl) == 0
    t3 = k.start_native("touch", "t3", user=(k.arch_info["user_max"] + 1, 5, 0))
    k.run()
    assert t.thread.native_count == 0 and t.thread.state & k._lib.THREAD_DEAD
    assert t3.thread.native_count == 0 and t3.thread.state & k._lib.THREAD_DEAD
    assert t.translate(VirtAddr(base)) is None
    k.check_invariants()


def test_the_toucher_puts_back_what_the_fault_borrowed(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    t = k.start_native("touch", "t", user=(mem_cases.sigma0_ram(k), 3, 0))
    words = utcb(k, t)
    words[0], words[1], words[64], words[65], words[66] = 11, 22, 33, 44, 55
    k.run()
    assert t.thread.native_count == 3
    assert [int(words[i]) for i in (0, 1, 64, 65, 66)] == [11, 22, 33, 44, 55]


def test_a_toucher_waiting_on_an_unbound_pager_gate_goes_on_once_it_is_bound(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(mem_cases.PAGER_LABEL)
    t = k.start_native("touch", "t", user=(mem_cases.FAULT_BASE, 6, 0), pager=gate)
    res = k.run()
    assert res.blocked == {"t": "send through an unbound gate"}
    assert t.thread.native_count == 0
    mem_cases.start_pager(k, gate)                        # binds the gate
    k.run()
    assert t.thread.native_count == 6
    assert t.translate(VirtAddr(mem_cases.FAULT_BASE + 5 * (1 << k.arch_info["page_shift"])))
    k.check_invariants()


# ---- map and unmap

@pytest.mark.parametrize("superpage", [False, True])
def test_each_op_maps_then_unmaps(arch, superpage):
    ops = 5
    s = mem_cases.map_unmap_system(arch, ops, superpage, trace_size=8192)
    k = s.k
    finished(s, ops)
    mapper = s.tasks["mapper"]
    dst = mapper.task.cap(CapIndex(mapper.env.first_free_cap)).object_id
    shift = k.arch_info["page_shift"]
    pages = (2 << 20 >> shift) if superpage else 1        # leaves per op at the smallest
    maps = [r.fields for r in k.trace if r.kind == "map" and r.fields["task"] == dst]
    unmaps = [r.fields for r in k.trace if r.kind == "unmap" and r.fields["task"] == dst]
    size = sum(1 << m["page_shift"] for m in maps)
    assert size == ops * pages << shift
    assert sorted((m["va"], m["page_shift"]) for m in maps) == \
        sorted((m["va"], m["page_shift"]) for m in unmaps)
    if superpage and arch != "mips64":
        assert {m["page_shift"] for m in maps} == {21}    # one superpage each time
        assert {m["va"] for m in maps} == {mem_cases.MAP_DST}
    if not superpage:                                     # a new page each time
        assert [m["va"] for m in maps] == [mem_cases.MAP_DST + (i << shift) for i in range(ops)]
    # Nothing is left in the task, and the mapper keeps its RAM.
    assert k.object(dst).mappings() == []
    assert mapper.translate(VirtAddr(mem_cases.POOL)) is not None
    assert mem_ctl.check(k) is None


# ---- timing

def test_a_case_with_nothing_in_its_timed_part_is_an_error(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    with pytest.raises(RuntimeError, match="no operation"):
        timed_run(System(k, lambda: 0))


def test_a_mapper_marks_where_timing_starts(arch):
    """The mapper never waits, so it does every op in the loop's first pass: timing
    starts at its mark (after the first op), and only the ops after it count."""
    s = mem_cases.map_unmap_system(arch, 4, False)
    timed_run(s)
    assert s.start is not None and s.start[0] == 1 and s.done() == 4


# ---- hardware VMs

def test_vm_exit_round_trips_are_hypercall_exits_answered_by_the_vmm(arch):
    from pyl4re.bench import vm_cases
    s = vm_cases.vm_exit_system(arch, 50)
    res = s.k.run()
    assert res.exited == {"vmm": "done"} and not res.failed
    assert s.done() == 50                       # 50 answered; the last exit ends the VMM
    s.k.check_invariants()


# ---- the VMM (pyl4re.vmm)

def test_vmm_mmio_round_trips_are_loads_answered_by_the_transport(arch):
    from pyl4re.bench import vmm_cases
    s = vmm_cases.mmio_exit_system(arch, 40)
    res = s.k.run()
    assert res.exited == {"vmm": ("shutdown", 0)} and not res.failed
    assert s.done() == 40
    s.k.check_invariants()


def test_vmm_virtqueue_round_trips_deliver_every_64_byte_line(arch, monkeypatch):
    from pyl4re.bench import vmm_cases
    lines = []
    real = vmm_cases.Console
    monkeypatch.setattr(vmm_cases, "Console", lambda emit: real(lines.append))
    s = vmm_cases.virtqueue_system(arch, 25)
    res = s.k.run()
    assert res.exited == {"vmm": ("shutdown", 0)} and s.done() == 25
    assert lines == [vmm_cases.LINE.rstrip("\n")] * 25
    from pyl4re.bench.ipc_cases import CASES
    case, = [c for c in CASES if c.key == "vmm_virtqueue_round_trip"]
    host_ns, virt_ns = case.run(arch, 20)
    assert host_ns > 0 and virt_ns > 0


# ---- guest machine code (pyl4re.bench.guest_cases)

def test_guest_cases_run_their_instructions_and_mmio_exits_or_say_why_not(arch):
    from pyl4re.bench import guest_cases
    cpu, why = guest_cases.guest_cpu(arch)
    if cpu is None:
        assert why and arch not in guest_cases.available()
        with pytest.raises(ValueError, match="no guest machine code"):
            guest_cases.spin_system(arch, 100)
        return
    s = guest_cases.spin_system(arch, 4_000)             # 1000 iterations of 4
    res = s.k.run()
    m, vmm = s.tasks["machine"], s.tasks["monitor"]
    assert res.exited == {"vmm": ("shutdown", 0)} and m.stopped is None
    assert s.done() == m.instructions >= 4_000 and m.instructions < 4_100
    assert dict(m.exits) == {"page": 1, "hypercall": 1}    # it never left the CPU
    assert s.start is not None and s.start[0] == 0         # timed from the guest's start
    s = guest_cases.mmio_system(arch, 100)                 # 50 loads and 50 stores
    res = s.k.run()
    m, vmm = s.tasks["machine"], s.tasks["monitor"]
    assert res.exited == {"vmm": ("shutdown", 0)}          # every load read "virt"
    assert s.done() == vmm.exits["mmio"] == 100
    s.k.check_invariants()
