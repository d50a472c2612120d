"""Native runs (kernel_c/sched.c run_natives): after a native thread's IPC that the fast
path finished, its native partner goes on without a full scheduler step while that step
would choose it anyway. Every case runs twice, with native runs on and off
(sched_set_native_runs), and must end the same way: the same trace records, CPU clocks,
KIP clock and thread times. The cases are the ones where a native run must stop: a
timeout due, a higher-priority thread ready, a quantum used up with another thread
waiting for its turn, another CPU earlier in time (and, seeded, a tie), the run's end,
its step budget, a harness event, a µApp partner. Each also shows that the stop condition
arose while natives were busy, and that native runs did take steps there."""
import pyl4re
from pyl4re import Kernel, mem
from pyl4re.arch_consts import running_consts
from pyl4re.l4sys import (
    L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_sleep, l4_ipc_wait, l4_msgtag,
    l4_utcb,
)
from pyl4re.l4sys.timeout import l4_timeout, l4_timeout_rel

GATE_LABEL = 0x10
NAMED = 0x16000               # the first named capability's selector
KIP_CLOCK = 0x20


def observe(k, handles):
    """Everything a native run could change, as plain data."""
    threads = {}
    for name, h in handles.items():
        i = k._thread_info(h.thread_id)
        threads[name] = (i.state, i.cpu, i.prio, i.consumed_ns, i.left_ns, i.native_count,
                         i.deadline_ns, i.partner.raw, i.caller.raw)
    return {"trace": [(r.seq, r.time_ns, r.cpu, r.kind, r.thread, r.raw) for r in k.trace],
            "clocks": [k.cpu_clock(c) for c in range(k.cpus)],
            "kip_clock": int(k.kip[KIP_CLOCK:KIP_CLOCK + 8].view("uint64")[0]),
            "threads": threads, "now": k.now_ns}


def native_run_steps(k):
    return k._lib.sched_native_run_steps(k._k)


def both(build, drive=None):
    """build(on) -> (kernel, handles), a fresh system each for native runs on and off;
    drive(k, handles) runs it (default: k.run()) and returns what it saw on the way.
    Asserts that both ways end the same; returns (what was seen, the final observation,
    the handles, and how many steps native runs took)."""
    outs, steps = [], []
    for on in (True, False):
        k, handles = build(on)
        k._lib.sched_set_native_runs(k._k, int(on))
        seen = drive(k, handles) if drive else [k.run().reason]
        outs.append((seen, observe(k, handles)))
        steps.append(native_run_steps(k))
        k.check_invariants()
    assert outs[0] == outs[1]
    assert steps[1] == 0                         # off: every step a full one
    return outs[0][0], outs[0][1], handles, steps[0]


def kernel(arch, **kw):
    kw.setdefault("memory", 16 << 20)
    return Kernel(arch=arch, **kw)


def native_pair(k, rounds, cpu=0, prio=1, quantum_ns=0, words=2):
    """A native echo server and a native call loop on `cpu`, through a gate."""
    gate = k.create_gate(GATE_LABEL)
    srv = k.start_native("echo", "srv", caps={"svc": gate.svr()}, cpu=cpu, prio=prio)
    gate.bind(srv, GATE_LABEL)
    cl = k.start_native("call_loop", "client", caps={"svc": gate}, cpu=cpu, prio=prio,
                        user=(NAMED, rounds, words))
    if quantum_ns:
        for h in (srv, cl):
            assert k._lib.thread_run(k._k, [h.thread_id], [cpu], prio, quantum_ns) == 0
    return {"srv": srv, "client": cl}


def ids(handles, *names):
    return {handles[n].thread_id for n in names}


def interrupts(trace, natives, other):
    """How often `other` got a CPU between two IPCs of the natives."""
    n, busy = 0, False
    for _, _, _, kind, thread, raw in trace:
        if kind == "ipc" and thread in natives:
            busy = True
        elif kind == "switch" and thread == other and busy:
            n, busy = n + 1, False
    return n


def sleeper(k, name, times, timeout, prio, cpu=0, compute_ns=0):
    async def main(env):
        for _ in range(times):
            await l4_ipc_sleep(l4_timeout(0, timeout))
            if compute_ns:
                await pyl4re.compute(compute_ns)
    return k.start_task(main, name=name, prio=prio, cpu=cpu)


def test_a_plain_round_trip_goes_on_without_full_steps(arch):
    rounds = 300

    def build(on):
        k = kernel(arch)
        return k, native_pair(k, rounds)
    _, seen, _, steps = both(build)
    assert seen["threads"]["client"][5] == rounds
    # Every round trip is two steps; all but the first few (the server's first wait, the
    # client's first call, its end) went on without a full step.
    assert 2 * rounds - 5 <= steps <= 2 * rounds


def test_a_due_timeout_of_a_higher_priority_thread_stops_it(arch):
    def build(on):
        k = kernel(arch)
        h = native_pair(k, 400)
        h["sleeper"] = sleeper(k, "sleeper", 25, l4_timeout_rel(3, 0), prio=2)
        return k, h
    _, seen, h, steps = both(build)
    assert interrupts(seen["trace"], ids(h, "srv", "client"), h["sleeper"].thread_id) >= 20
    assert steps > 0


def test_a_due_timeout_of_an_equal_priority_thread_fires_in_time(arch):
    """The timeout fires (its RETIMEOUT record is stamped then) while the natives keep
    the CPU until their quantum ends: round robin, no preemption."""
    def build(on):
        k = kernel(arch)
        h = native_pair(k, 600, quantum_ns=3_000)
        h["sleeper"] = sleeper(k, "sleeper", 20, l4_timeout_rel(2, 0), prio=1)
        return k, h
    _, seen, _, steps = both(build)
    errors = [r for r in seen["trace"] if r[3] == "ipc_error"]
    assert len(errors) == 20
    assert steps > 0


def test_a_quantum_used_up_lets_an_equal_priority_thread_in(arch):
    def build(on):
        k = kernel(arch)
        h = native_pair(k, 500, quantum_ns=2_500)

        async def busy(env):
            for i in range(20):
                await pyl4re.compute(1_000 + 37 * i)
        h["busy"] = k.start_task(busy, name="busy", prio=1)
        assert k._lib.thread_run(k._k, [h["busy"].thread_id], [0], 1, 1_500) == 0
        return k, h
    _, seen, h, steps = both(build)
    assert interrupts(seen["trace"], ids(h, "srv", "client"), h["busy"].thread_id) >= 10
    assert steps > 0


def test_a_higher_priority_thread_woken_from_another_cpu_preempts(arch):
    """A µApp on CPU 1 calls a prio-3 server on CPU 0 while the natives run there: the
    wake-up arrives with the IPI cost, as a timed event on CPU 0."""
    def build(on):
        k = kernel(arch, cpus=2)
        h = native_pair(k, 600, cpu=0)
        gate = k.create_gate(0x20)

        async def server(env):
            u = l4_utcb()
            tag, _ = await l4_ipc_wait(u, L4_IPC_NEVER)
            while True:
                tag, _ = await l4_ipc_reply_and_wait(u, tag, L4_IPC_NEVER)
        h["hi"] = k.start_task(server, name="hi", caps={"svc": gate.svr()}, prio=3, cpu=0)
        gate.bind(h["hi"], 0x20)

        async def caller(env):
            u = l4_utcb()
            for _ in range(15):
                await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
                await l4_ipc_sleep(l4_timeout(0, l4_timeout_rel(5, 0)))
        h["caller"] = k.start_task(caller, name="caller", caps={"svc": gate}, cpu=1)
        return k, h
    _, seen, h, steps = both(build)
    assert interrupts(seen["trace"], ids(h, "srv", "client"), h["hi"].thread_id) >= 10
    assert steps > 0


def test_another_cpu_earlier_in_time_goes_first(arch):
    """Natives on CPU 1 run ahead until CPU 0 (the lower CPU, which wins ties) has
    something to do at an earlier time; then CPU 0 goes first, as in full steps."""
    for natives_cpu in (0, 1):
        def build(on):
            k = kernel(arch, cpus=2)
            h = native_pair(k, 500, cpu=natives_cpu)
            h["sleeper"] = sleeper(k, "sleeper", 30, l4_timeout_rel(4, 0), prio=1,
                                   cpu=1 - natives_cpu, compute_ns=333)
            return k, h
        _, seen, _, steps = both(build)
        switches_elsewhere = [r for r in seen["trace"]
                              if r[3] == "switch" and r[2] == 1 - natives_cpu]
        assert len(switches_elsewhere) >= 30
        assert steps > 0


def test_natives_on_two_cpus_tie_as_in_full_steps(arch):
    """A native pair on each CPU, the one on CPU 1 held up at first by a µApp's compute
    burst as long as a system call's charge: from then on both CPUs' clocks tie at step
    boundaries, where the lower CPU goes first (a seeded kernel draws)."""
    for seed in (None, 1, 2, 3):
        def build(on):
            k = kernel(arch, cpus=2, seed=seed)
            h = {f"{name}{cpu}": th for cpu in (0, 1)
                 for name, th in native_pair(k, 150, cpu=cpu).items()}

            async def hold_up(env, ns=k.costs()["syscall"]):
                await pyl4re.compute(ns)
            h["hold_up"] = k.start_task(hold_up, name="hold_up", prio=2, cpu=1)
            return k, h
        _, seen, _, steps = both(build)
        at = [{r[1] for r in seen["trace"] if r[3] == "ipc" and r[2] == cpu} for cpu in (0, 1)]
        assert len(at[0] & at[1]) >= 100                 # ties all along


def test_a_donated_slice_ends_where_a_queued_thread_outranks_the_receiver(arch):
    """A prio-3 native caller donates its time slice to a prio-1 native server; a prio-2
    µApp that is ready takes the CPU from the server at the next full step."""
    def build(on):
        k = kernel(arch)
        h = native_pair(k, 300)
        assert k._lib.thread_run(k._k, [h["client"].thread_id], [0], 3, 0) == 0

        async def middle(env):
            for i in range(20):
                await pyl4re.compute(500 + i)
                await l4_ipc_sleep(l4_timeout(0, l4_timeout_rel(6, 0)))
        h["middle"] = k.start_task(middle, name="middle", prio=2)
        return k, h
    _, seen, h, steps = both(build)
    assert interrupts(seen["trace"], ids(h, "srv", "client"), h["middle"].thread_id) >= 15
    assert steps > 0


def test_seeded_ties_between_cpus_draw_as_in_full_steps(arch):
    for seed in (1, 2, 3):
        def build(on):
            k = kernel(arch, cpus=3, seed=seed)
            h = native_pair(k, 300, cpu=1, quantum_ns=4_000)
            h["a"] = sleeper(k, "a", 20, l4_timeout_rel(1, 1), prio=1, cpu=0, compute_ns=100)
            h["b"] = sleeper(k, "b", 20, l4_timeout_rel(3, 0), prio=2, cpu=2, compute_ns=50)
            return k, h
        *_, steps = both(build)
        assert steps > 0


def entry_clock_us(k, trace):
    """The KIP clock the last native round trip's entry left: its IPC record is stamped
    after the entry's system call and IPC charges, the KIP clock after the first."""
    cost = k.costs()
    last = [r for r in trace if r[3] == "ipc"][-1]
    return (last[1] - cost["ipc"] - 2 * cost["word"]) // 1000


def test_the_run_ends_where_full_steps_end_it(arch):
    def build(on):
        k = kernel(arch)
        return k, native_pair(k, 400)

    def drive(k, h):
        seen = []
        for i in range(1, 12):
            res = k.run(until_ns=i * 9_777)
            now = observe(k, h)
            assert now["kip_clock"] == entry_clock_us(k, now["trace"])
            seen.append((res.reason, res.now_ns, now))
        seen.append(k.run().reason)
        return seen
    seen, _, _, steps = both(build, drive)
    assert [s[0] for s in seen[:-1]] == ["limit"] * 11
    assert steps > 0


def test_the_step_budget_is_counted_as_in_full_steps(arch):
    def build(on):
        k = kernel(arch)
        return k, native_pair(k, 200)

    def drive(k, h):
        seen = []
        for budget in (1, 2, 3, 7, 50, 101):
            res = k.run(max_steps=budget)
            seen.append((res.reason, observe(k, h)))
        seen.append(k.run().reason)
        return seen
    seen, _, _, steps = both(build, drive)
    assert [s[0] for s in seen[:-1]] == ["steps"] * 6
    assert steps > 0


def test_a_harness_event_comes_in_time(arch):
    def build(on):
        k = kernel(arch)
        h = native_pair(k, 300)
        k.fired = []

        def fire(t, k=k):
            trace = [(r.seq, r.time_ns, r.cpu, r.kind) for r in k.trace]
            kip = int(k.kip[KIP_CLOCK:KIP_CLOCK + 8].view("uint64")[0])
            assert kip == entry_clock_us(k, trace)
            k.fired.append((t, k.now_ns, len(trace), kip))
        for t in (5_000, 12_345, 50_001):
            k.hw.at(t, lambda t=t: fire(t))
        return k, h

    def drive(k, h):
        k.run()
        return k.fired
    fired, _, _, steps = both(build, drive)
    assert [f[0] for f in fired] == [5_000, 12_345, 50_001]
    assert steps > 0


def test_a_uapp_partner_ends_the_run_and_reads_the_clock_natives_left(arch):
    """A µApp calls a native echo; another µApp reads the KIP clock between the natives'
    entries: the clock a native entry leaves is there whenever user code looks."""
    def build(on):
        k = kernel(arch)
        h = native_pair(k, 300)
        gate = k.create_gate(0x20)
        echo = k.start_native("echo", "echo2", caps={"svc": gate.svr()})
        gate.bind(echo, 0x20)
        k.clocks = []

        async def client(env):
            u = l4_utcb()
            for _ in range(30):
                await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 2, 0, 0), L4_IPC_NEVER)
                k.clocks.append(await mem.load(running_consts().kip_va + KIP_CLOCK, 8))
                await l4_ipc_sleep(l4_timeout(0, l4_timeout_rel(7, 0)))
        h["echo2"] = echo
        h["uapp"] = k.start_task(client, name="uapp", caps={"svc": gate}, prio=2)
        return k, h

    def drive(k, h):
        k.run()
        return k.clocks
    clocks, _, _, steps = both(build, drive)
    assert len(clocks) == 30 and clocks == sorted(clocks) and clocks[-1] > 0
    assert steps > 0
