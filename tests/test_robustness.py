"""Regressions from a fuzz campaign of random invocation sequences and harness calls: each
test is one reproducer (a thread or task dying in every IPC state, overlapping UTCBs, the
harness freeing kernel frames, a priority change of a queued sender, ex_regs on oneself
during a fault, re-entering run(), bad values at the harness API). They run in the normal
build and, through tools/sanitize, under ASan + UBSan; the autouse fixture checks every C
heap block comes back."""
import io
import json

import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.errors import L4Error
from pyl4re.control import mem as mem_ctl
from pyl4re.harness import Capability
from pyl4re.l4sys import *
from pyl4re.objects import KernelObject
from pyl4re.runloop import MicroAppError
from pyl4re.types import CapIndex, PhysAddr, VirtAddr

R, W, S = L4_CAP_FPAGE_R, L4_CAP_FPAGE_W, L4_CAP_FPAGE_S
DELETE_AT_NS = 500_000


def sleep_us(us):
    return l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(us)))


def system(arch, cpus=1):
    return Kernel(arch=arch, cpus=cpus, log_stream=io.StringIO())


def thread_cap(k, handle):
    return Capability(k, handle.thread_slot, R | W | S)


def finish(k):
    res = k.run(raise_errors=False)
    k.check_invariants()
    assert not res.failed, res.failed
    return res


# ---- a thread or task dies in every IPC state (item 1) ---------------------------------

async def server_sleeps(env):
    """Never receives within the test: senders queue on it."""
    await sleep_us(5000)
    return "slept"


async def server_calls_back_late(env):
    """Takes one call, replies after 5 ms: the caller may be gone by then."""
    u = l4_utcb()
    await l4_ipc_wait(u, L4_IPC_NEVER)
    await sleep_us(5000)
    await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), l4_timeout(0, l4_timeout_from_us(10)))
    return "replied"


async def victim_self_send(env):
    await l4_ipc_send(env.thread, None, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)


async def victim_queued_sender(env):
    await l4_ipc_send(env.caps["srv"], None, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)


async def victim_open_wait(env):
    await l4_ipc_wait(None, L4_IPC_NEVER)


async def victim_closed_wait_on_itself(env):
    await l4_ipc_receive(env.thread, None, L4_IPC_NEVER)


async def victim_caller(env):
    await l4_ipc_call(env.caps["srv"], None, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)


async def victim_holds_a_reply(env):
    """A server that took a call and never answers."""
    await l4_ipc_wait(None, L4_IPC_NEVER)
    await sleep_us(1_000_000)


async def client_calls_with_timeout(env):
    tag = await l4_ipc_call(env.caps["srv"], None, l4_msgtag(0, 1, 0, 0),
                            l4_timeout(L4_IPC_TIMEOUT_NEVER, l4_timeout_from_us(2000)))
    return l4_msgtag_has_error(tag)


async def sender_to_victim(env):
    tag = await l4_ipc_send(env.caps["victim"], None, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
    return l4_msgtag_has_error(tag)


SCENARIOS = {
    # name: (victim, partner started before it or None, partner started after it or None)
    "own sender": (victim_self_send, None, None),
    "queued sender": (victim_queued_sender, server_sleeps, None),
    "open wait": (victim_open_wait, None, None),
    "closed wait on itself": (victim_closed_wait_on_itself, None, None),
    "in a call": (victim_caller, server_calls_back_late, None),
    "holding a reply": (victim_holds_a_reply, None, client_calls_with_timeout),
    "receiver with senders": (server_sleeps, None, sender_to_victim),
}


@pytest.mark.parametrize("kind", ["thread", "task"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("cpus", [1, 2], ids=["one-cpu", "cross-cpu"])
def test_deleted_in_every_ipc_state(arch, scenario, kind, cpus):
    k = system(arch, cpus)
    victim_fn, before, after = SCENARIOS[scenario]
    caps = {}
    if before:
        srv = k.start_task(before, name="partner")
        caps["srv"] = thread_cap(k, srv)
    victim = k.start_task(victim_fn, name="victim", caps=caps, cpu=cpus - 1)
    if after:
        k.start_task(after, name="partner", caps={"srv": thread_cap(k, victim),
                                                  "victim": thread_cap(k, victim)})
    keepalive = k.start_task(server_sleeps, name="bystander")
    slot = victim.thread_slot if kind == "thread" else victim.task_slot
    k.hw.at(DELETE_AT_NS, lambda: k.root_task.delete_obj(CapIndex(slot)))
    res = finish(k)
    assert "victim" in res.deleted
    assert res.exited["bystander"] == "slept"
    if after in (client_calls_with_timeout, sender_to_victim):
        assert res.exited["partner"] is True          # its IPC ended with an error
    elif before:
        assert res.exited["partner"] in ("slept", "replied")
    assert not res.blocked
    # Nothing of the victim stays queued: the system runs on.
    k.start_task(server_sleeps, name="later")
    assert finish(k).exited["later"] == "slept"
    assert keepalive.task.alive


def test_a_thread_that_deletes_itself_while_its_own_sender(arch):
    """The shape of the original report: a self-send, then deletion by the harness while
    another task keeps the system running."""
    k = system(arch)

    async def other(env):
        for _ in range(20):
            await sleep_us(100)
        return "done"
    a = k.start_task(victim_self_send, name="selfsend")
    k.start_task(other, name="other")
    k.hw.at(DELETE_AT_NS, lambda: k.root_task.delete_obj(CapIndex(a.thread_slot)))
    res = finish(k)
    assert res.deleted == ["selfsend"] and res.exited == {"other": "done"}


# ---- overlapping UTCBs (item 2) ------------------------------------------------------

TH = 0x40 << L4_CAP_SHIFT


async def receiver():
    tag, label = await l4_ipc_wait(None, l4_timeout(0, l4_timeout_from_us(1000)))
    return l4_msgtag_words(tag)


@pytest.mark.parametrize("offset", [8, 0x100, 0])
def test_overlapping_utcbs_copy_word_by_word(arch, offset):
    """Fiasco binds a UTCB anywhere 8-byte aligned inside ku-mem, overlaps included (the
    user's risk); the message copy between overlapping UTCBs is defined: word by word."""
    k = system(arch)

    async def main(env):
        base = env.utcb_area.raw & ~0xFFF
        await l4_factory_create_thread(env.factory, TH)
        l4_thread_control_start()
        l4_thread_control_bind(base + offset, env.task)
        assert l4_error(await l4_thread_control_commit(TH)) == 0
        await l4_thread_ex_regs(TH, pyl4re.entry(receiver), 0, 0)
        await l4_scheduler_run_thread(env.scheduler, TH, l4_sched_param(2))
        u = l4_utcb()
        for i in range(3):
            u.mr[i] = 0x1111 * (i + 1)
        u.mr[3] = u.mr[4] = 0                      # a void map item after 3 words
        return await l4_ipc_send(TH, u, l4_msgtag(0, 3, 1, 0), L4_IPC_NEVER)
    k.start_task(main, name="main")
    res = finish(k)
    assert "main" in res.exited


@pytest.mark.parametrize("bad", ["misaligned", "tail outside ku-mem", "below ku-mem"])
def test_utcb_binds_fiasco_refuses(arch, bad):
    k = system(arch)

    async def main(env):
        base = env.utcb_area.raw & ~0xFFF
        size = 1 << ((env.utcb_area.raw >> 6) & 0x3F)
        va = {"misaligned": base + 4, "tail outside ku-mem": base + size - 8,
              "below ku-mem": base - 0x1000}[bad]
        await l4_factory_create_thread(env.factory, TH)
        l4_thread_control_start()
        l4_thread_control_bind(va, env.task)
        return l4_error(await l4_thread_control_commit(TH))
    k.start_task(main, name="main")
    assert finish(k).exited["main"] == -L4_EINVAL


# ---- the harness frees only what it allocated (item 4) ---------------------------------

def test_frames_free_refuses_a_kernel_frame(arch):
    k = Kernel(arch=arch, memory=32 << 20, log_stream=io.StringIO())

    async def toucher(env):
        await pyl4re.mem.write(0x1800000, b"A" * 8)
        await sleep_us(1000)
        return await pyl4re.mem.read(0x1800000, 8)

    async def other(env):
        for i in range(8):                      # faults: more page tables wanted
            await pyl4re.mem.write(0x800000 + i * 0x200000, b"B")
    a = k.start_task(toucher, name="a")
    k.run(until_ns=100_000)
    root = a.pt_root
    free_before = k.frames.stats()["kernel_free_frames"]
    with pytest.raises(L4Error, match="not a block frames.alloc"):
        k.frames.free(root)
    assert k.frames.stats()["kernel_free_frames"] == free_before
    assert k.frames.owner(root.pfn()) == "kernel"
    k.start_task(other, name="b")
    res = finish(k)
    assert res.exited["a"] == b"A" * 8
    assert a.translate(VirtAddr(0x1800000)) is not None
    assert mem_ctl.check(k) is None


def test_frames_free_takes_back_what_alloc_gave_once(kernel):
    block = kernel.frames.alloc(1)
    with pytest.raises(L4Error, match="order 1"):
        kernel.frames.free(block, 0)
    kernel.frames.free(block, 1)
    with pytest.raises(L4Error):
        kernel.frames.free(block, 1)             # twice


# ---- a queued sender's priority changes (item 5) ---------------------------------------

def test_priority_change_resorts_the_sender_queue(arch):
    k = system(arch)
    order = []

    async def server(env):
        await sleep_us(5000)
        u = l4_utcb()
        for _ in range(2):
            await l4_ipc_wait(u, L4_IPC_NEVER)
            order.append(int(u.mr[0]))
        return order

    def sender(n):
        async def send(env):
            u = l4_utcb()
            u.mr[0] = n
            await l4_ipc_send(env.caps["srv"], u, l4_msgtag(0, 1, 0, 0),
                              l4_timeout(l4_timeout_from_us(100000), 0))
        return send

    async def boss(env):
        await sleep_us(1000)
        await l4_scheduler_run_thread(env.scheduler, env.caps["s2"], l4_sched_param(50))
        k.check_invariants()

    srv = k.start_task(server, name="srv")
    k.start_task(sender(1), name="s1", caps={"srv": thread_cap(k, srv)})
    s2 = k.start_task(sender(2), name="s2", caps={"srv": thread_cap(k, srv)})
    k.start_task(boss, name="boss", caps={"s2": thread_cap(k, s2)})
    k.run(until_ns=2_000_000, raise_errors=False)
    k.check_invariants()
    res = finish(k)
    assert res.exited["srv"] == [2, 1]          # the raised sender is served first


# ---- ex_regs on oneself, then a page fault before the new code starts (item 6) ---------

def test_self_ex_regs_then_fault_starts_the_new_code_cleanly(arch):
    k = system(arch)

    async def new_code():
        return await pyl4re.mem.read(0x1400000, 4)

    async def main(env):
        await l4_thread_ex_regs(env.thread, pyl4re.entry(new_code), 0, 0)
        await pyl4re.mem.read(0x1000000, 4)     # still the old code: a fault
        return "old code went on"
    k.start_task(main, name="main")
    res = finish(k)
    assert res.exited == {"main": b"\0\0\0\0"}


# ---- the harness API: clear errors, a run loop that is not re-entered (items 7, 8) -----

def test_hw_at_refuses_a_time_beyond_the_clock(arch):
    k = system(arch)
    k.hw.at(10, lambda: None)
    with pytest.raises(ValueError, match="hw.at"):
        k.hw.at(1 << 64, lambda: None)
    with pytest.raises(ValueError, match="hw.at"):
        k.hw.at((1 << 64) - 1, lambda: None)     # the kernel's own "never"
    k.start_task(server_sleeps, name="sleeper")
    assert finish(k).exited == {"sleeper": "slept"}
    assert finish(k).reason == "idle"            # and again


def test_task_names_are_text_and_the_trace_always_serialises(arch):
    k = system(arch)

    async def main(env):
        u = l4_utcb()
        await l4_debugger_set_object_name(env.thread, "wörker\x00x")
        return 0
    with pytest.raises(TypeError, match="name"):
        k.start_task(main, name=b"bytes-name")
    with pytest.raises(TypeError, match="name"):
        k.start_task(main, caps={b"log": k.create_gate()})
    k.start_task(main, name="main")
    finish(k)
    events = json.loads(k.trace_json())["traceEvents"]
    assert any(e.get("name", "").startswith("switch") or e["ph"] == "X" for e in events)


def test_trace_json_serialises_whatever_a_record_carries():
    from pyl4re import trace
    text = json.dumps({"a": b"\xffx", "b": VirtAddr(4096)}, default=trace._json_value)
    assert json.loads(text) == {"a": "\ufffdx", "b": str(VirtAddr(4096))}


def test_start_thread_refuses_a_function_that_needs_arguments(arch):
    k = system(arch)

    async def main(env):
        return 0
    h = k.start_task(main, name="main")
    with pytest.raises(TypeError, match="start_task"):
        k.start_thread(h, main, "second")
    with pytest.raises(TypeError, match="TaskHandle"):
        k.start_thread("t", main, "x")
    assert finish(k).exited == {"main": 0}


def test_code_that_cannot_start_fails_its_thread_not_the_run(arch):
    """ex_regs to code that cannot be called with no argument: the thread that starts
    there fails (recorded with raise_errors=False, MicroAppError otherwise); the run and
    every other thread go on."""
    k = system(arch)

    async def needs_an_argument(x):
        return x

    async def main(env):
        await l4_factory_create_thread(env.factory, TH)
        l4_thread_control_start()
        l4_thread_control_bind(env.first_free_utcb, env.task)
        await l4_thread_control_commit(TH)
        await l4_thread_ex_regs(TH, pyl4re.entry(needs_an_argument), 0, 0)
        await l4_scheduler_run_thread(env.scheduler, TH, l4_sched_param(1))
        await sleep_us(10)
        return "main went on"
    k.start_task(main, name="main")
    res = k.run(raise_errors=False)
    assert res.exited["main"] == "main went on"
    (name, err), = res.failed.items()
    assert isinstance(err, TypeError) and "needs_an_argument" in str(err)
    k2 = system(arch)
    k2.start_task(main, name="main")
    with pytest.raises(MicroAppError, match="needs_an_argument"):
        k2.run()


def test_run_is_not_reentrant(arch):
    k = system(arch)
    seen = {}

    async def main(env):
        try:
            k.run(max_steps=10)
        except RuntimeError as e:
            seen["inner"] = str(e)
        await sleep_us(10)                     # its context is intact
        return "went on"
    k.start_task(main, name="main")

    def event():
        with pytest.raises(RuntimeError, match="not reentrant"):
            k.run()
        seen["event"] = True
    k.hw.at(5, event)
    res = finish(k)
    assert res.exited == {"main": "went on"}
    assert "not reentrant" in seen["inner"] and seen["event"]
    assert finish(k).reason == "idle"           # usable afterwards


def test_run_from_a_µapp_of_another_kernel_is_refused(arch):
    other = system(arch)
    k = system(arch)

    async def main(env):
        with pytest.raises(RuntimeError, match="not reentrant"):
            other.run()
        await sleep_us(1)
        return "ok"
    k.start_task(main, name="main")
    assert finish(k).exited == {"main": "ok"}


def _bad_calls(k):
    gate = k.create_gate(0)

    async def main(env):
        return 0
    h = k.start_task(main, name="main")
    t, f = h.task, k.root_factory
    return [
        (ValueError, lambda: k.run(max_steps=1 << 64)),
        (ValueError, lambda: k.run(until_ns=1 << 64)),
        (ValueError, lambda: k.run(until_ns=0)),
        (ValueError, lambda: k.cpu_clock(-1)),
        (ValueError, lambda: k.cpu_clock(1 << 40)),
        (TypeError, lambda: k.cpu_clock("0")),
        (ValueError, lambda: k.object(-1)),
        (ValueError, lambda: k.object(1 << 64)),
        (TypeError, lambda: KernelObject(k, None)),
        (TypeError, lambda: gate.bind(5, 0)),
        (ValueError, lambda: gate.bind(h, 1 << 64)),
        (ValueError, lambda: gate.bind(h, -4)),
        (TypeError, lambda: gate.mode(None)),
        (TypeError, lambda: t.insert(CapIndex(0x300), None)),
        (ValueError, lambda: t.insert(CapIndex(0x300), f, rights=-1)),
        (TypeError, lambda: t.insert(CapIndex(0x300), f, obj_rights=None)),
        (ValueError, lambda: t.insert(CapIndex(0x300), f, obj_rights=0x10)),
        (TypeError, lambda: t.copy(CapIndex(0x301), 5, CapIndex(2))),
        (ValueError, lambda: t.copy(CapIndex(0x301), k.root_task, CapIndex(2), 1 << 40)),
        (TypeError, lambda: f.create_thread(None, CapIndex(0x302))),
        (TypeError, lambda: f.create_factory(k.root_task, CapIndex(0x303), b"1")),
        (TypeError, lambda: f.create(None, k.root_task, CapIndex(0x304))),
        (TypeError, lambda: k.start_task(main, caps=5)),
        (TypeError, lambda: k.start_task(main, caps=["a"])),
        (TypeError, lambda: k.start_task(main, caps={"a": 5})),
        (TypeError, lambda: k.start_thread("t", main, "x")),
        (TypeError, lambda: k.start_native("echo", "n", user=5)),
        (ValueError, lambda: k.start_native("echo", "n", user=(1, 2))),
        (ValueError, lambda: k.start_native("echo", "n", user=(1, 2, -1))),
        (ValueError, lambda: k.start_native([], "n")),
        (TypeError, lambda: k.start_native("echo", None)),
        (ValueError, lambda: mem_ctl.map_mem(k, 1 << 64, 1, 0, 0)),
        (TypeError, lambda: mem_ctl.map_mem(k, None, 1, 0, 0)),
        (ValueError, lambda: mem_ctl.unmap_mem(k, -1, 0, 0)),
        (ValueError, lambda: k.hw.at(1 << 64, lambda: None)),
        (ValueError, lambda: k.hw.irq_line(1 << 64)),
        (TypeError, lambda: k.hw.irq_line("1")),
    ]


def test_harness_calls_with_bad_values_raise_clear_errors(arch):
    k = system(arch)
    objects, caps = k.objects_alive, k.root_task.caps_used()
    for i, (expected, call) in enumerate(_bad_calls(k)):
        with pytest.raises(expected) as info:
            call()
        assert "convert" not in str(info.value), (i, info.value)   # not cffi's message
        assert not isinstance(info.value, (OverflowError, AttributeError)), (i, info.value)
    k.check_invariants()
    res = finish(k)
    assert res.exited == {"main": 0}
    assert k.objects_alive >= objects and k.root_task.caps_used() >= caps


def test_compute_beyond_64_bits_fails_the_µapp_with_a_clear_error(arch):
    k = system(arch)

    async def main(env):
        await pyl4re.compute(1 << 64)
    k.start_task(main, name="main")
    err = k.run(raise_errors=False).failed["main"]
    assert isinstance(err, ValueError) and "compute" in str(err)


# ---- random IPC and deaths: what the campaign found beyond the reproducers (item 3) -----

def _random_system(arch, seed):
    """Five tasks on two CPUs doing random IPC with each other's threads (send, call,
    open and closed waits, replies, sleeps, random timeouts), while the harness deletes
    random threads and tasks at random times."""
    import random
    rnd = random.Random(seed)
    k = Kernel(arch=arch, cpus=2, memory=16 << 20, log_stream=io.StringIO())
    names = [f"t{i}" for i in range(5)]
    handles = {}

    def timeout():
        return rnd.choice([L4_IPC_NEVER, L4_IPC_BOTH_TIMEOUT_0,
                           l4_timeout(l4_timeout_from_us(rnd.randrange(1, 300)),
                                      l4_timeout_from_us(rnd.randrange(1, 300)))])

    def program(ops):
        async def main(env):
            u = l4_utcb()
            peers = [env.caps[n] for n in names if n in env.caps] + [env.thread]
            for op, peer, to, words in ops:
                dest = peers[peer % len(peers)]
                tag = l4_msgtag(0, words, 0, 0)
                if op == "send":
                    await l4_ipc_send(dest, u, tag, to)
                elif op == "call":
                    await l4_ipc_call(dest, u, tag, to)
                elif op == "wait":
                    await l4_ipc_wait(u, to)
                elif op == "receive":
                    await l4_ipc_receive(dest, u, to)
                elif op == "reply_and_wait":
                    await l4_ipc_reply_and_wait(u, tag, to)
                else:
                    await sleep_us(words + 1)
            return len(ops)
        return main

    ops = ["send", "call", "wait", "receive", "reply_and_wait", "sleep"]
    for i, name in enumerate(names):
        caps = {n: thread_cap(k, handles[n]) for n in names[:i]}
        seq = [(rnd.choice(ops), rnd.randrange(8), timeout(), rnd.randrange(0, 4))
               for _ in range(rnd.randrange(1, 12))]
        handles[name] = k.start_task(program(seq), name=name, caps=caps, cpu=i % 2,
                                     prio=rnd.randrange(1, 4))
    for _ in range(rnd.randrange(0, 4)):
        victim = handles[rnd.choice(names)]
        slot = rnd.choice([victim.thread_slot, victim.task_slot])

        def delete(slot=slot):
            if k.root_task.cap(CapIndex(slot)) is not None:
                k.root_task.delete_obj(CapIndex(slot))
        k.hw.at(rnd.randrange(0, 3000_000), delete)
    return k


@pytest.mark.parametrize("seed", range(40))
def test_random_ipc_with_deaths_keeps_the_kernel_consistent(arch, seed):
    k = _random_system(arch, seed)
    res = k.run(until_ns=50_000_000, raise_errors=False)
    k.check_invariants()
    assert not res.failed, res.failed
    assert k.run(raise_errors=False).reason in ("idle", "limit")
    k.check_invariants()


def test_threads_a_task_starts_itself_and_the_harness_starts_get_distinct_utcbs(arch):
    # Env.utcb_alloc is the one allocator of a task's UTCB area: a µApp's own
    # start_thread (pyl4re.l4re.thread) and Kernel.start_thread share it.
    from pyl4re.l4re.thread import start_thread
    from pyl4re.l4sys import l4_utcb
    k = Kernel(arch=arch, memory=16 << 20)
    seen = {}

    async def worker():
        seen["worker"] = l4_utcb().va
        return "worker done"

    async def main(env):
        seen["main"] = l4_utcb().va
        await start_thread(env, worker, prio=2)
        return "main done"

    async def helper():
        seen["helper"] = l4_utcb().va
    h = k.start_task(main, name="t")
    k.start_thread(h, helper, "helper")
    res = k.run()
    assert res.exited["t"] == "main done" and "worker done" in res.exited.values()
    assert len(set(seen.values())) == 3, seen
    while True:                                     # the area runs out: a clear error
        try:
            h.env.utcb_alloc()
        except ValueError as e:
            assert "no free UTCB" in str(e)
            break
    with pytest.raises(ValueError, match="no free UTCB"):
        k.start_thread(h, helper, "one more")
