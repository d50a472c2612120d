"""Property: random IPC, capability transfer, cancellation and deletion across several
tasks never give a task rights it was never given, and never lose a thread (every thread
stays running, ready, queued on something that exists, waiting, or dead)."""
from hypothesis import given, settings, strategies as st

from pyl4re import CapIndex, Kernel
from pyl4re.l4sys import (
    L4_INVALID_CAP, L4_RCV_ITEM_SINGLE_CAP, l4_ipc_call, l4_ipc_receive,
    l4_ipc_reply_and_wait, l4_ipc_send, l4_ipc_sleep, l4_ipc_wait, l4_map_obj_control,
    l4_msgtag, l4_obj_fpage, l4_timeout, l4_utcb,
)

TASKS = 3
SLOTS = range(0, 0x60)
SELECTORS = [0x16, 0x17, 0x18, 1, 3, 5, 0x55, None]       # named, base, empty, self
TIMEOUTS = [0, 0x0400, 0x0001, 0x0032, 0x00C8]             # never, zero, 1/50/200 µs

op = st.one_of(
    st.tuples(st.just("call"), st.sampled_from(SELECTORS), st.integers(0, 5),
              st.sampled_from(TIMEOUTS)),
    st.tuples(st.just("send"), st.sampled_from(SELECTORS), st.integers(0, 5),
              st.sampled_from(TIMEOUTS)),
    st.tuples(st.just("wait"), st.sampled_from(TIMEOUTS[1:])),
    st.tuples(st.just("reply_wait"), st.sampled_from(TIMEOUTS[1:])),
    st.tuples(st.just("receive"), st.sampled_from(SELECTORS), st.sampled_from(TIMEOUTS[1:])),
    st.tuples(st.just("give"), st.sampled_from(SELECTORS), st.integers(0, 0x20),
              st.integers(0, 15), st.booleans(), st.integers(0x30, 0x40)),
    st.tuples(st.just("sleep"), st.sampled_from(TIMEOUTS[1:])),
)
harness_op = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, TASKS - 1), st.integers(0, 0x40)),
    st.tuples(st.just("cancel"), st.integers(0, TASKS - 1)),
    st.tuples(st.just("none"),),
)


def interpreter(script):
    async def main(env):
        u = l4_utcb()
        for step in script:
            kind = step[0]
            sel = lambda s: L4_INVALID_CAP if s is None else s << 12
            if kind in ("call", "send"):
                for i in range(step[2]):
                    u.mr[i] = i
                fn = l4_ipc_call if kind == "call" else l4_ipc_send
                await fn(sel(step[1]), u, l4_msgtag(0, step[2], 0, 0), l4_timeout(step[3], step[3]))
            elif kind == "wait":
                u.bdr, u.br[0], u.br[1] = 0, (0x44 << 12) | L4_RCV_ITEM_SINGLE_CAP, 0
                await l4_ipc_wait(u, step[1])
            elif kind == "reply_wait":
                await l4_ipc_reply_and_wait(u, l4_msgtag(0, 1, 0, 0), l4_timeout(0x0400, step[1]))
            elif kind == "receive":
                await l4_ipc_receive(sel(step[1]), u, step[2])
            elif kind == "give":
                _, dest, src, rights, grant, window = step
                u.mr[0] = l4_map_obj_control(window << 12, 2 if grant else 0)
                u.mr[1] = l4_obj_fpage(src << 12, 0, rights).raw
                await l4_ipc_send(sel(dest), u, l4_msgtag(0, 0, 1, 0), l4_timeout(0x0400, 0))
            elif kind == "sleep":
                await l4_ipc_sleep(l4_timeout(0, step[1]))
    return main


def caps_of(task):
    return {i: task.cap(CapIndex(i)) for i in SLOTS if task.cap(CapIndex(i)) is not None}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(op, max_size=12), min_size=TASKS, max_size=TASKS),
       st.lists(harness_op, max_size=6), st.integers(1, 2))
def test_no_rights_amplification_and_no_lost_thread(scripts, interventions, cpus):
    k = Kernel(arch="x86_64", cpus=cpus, memory=8 << 20)
    gates = [k.create_gate(0x10 * (i + 1)) for i in range(TASKS)]
    handles = []
    for i, script in enumerate(scripts):
        own, nxt = gates[i], gates[(i + 1) % TASKS]
        caps = {"own": own.svr(), "next": nxt, "next_rw": nxt.mode("r")}
        handles.append(k.start_task(interpreter(script), name=f"t{i}", caps=caps,
                                    cpu=i % cpus, prio=1 + i))
    for i, h in enumerate(handles):
        assert k._lib.gate_bind(k._k, [gates[i].object.id], [h.thread_id], 0x10 * (i + 1)) == 0

    # What each object may be held with, at most: what the tasks were given.
    allowed = {}
    for h in handles:
        for cap in caps_of(h.task).values():
            allowed[cap.object_id] = allowed.get(cap.object_id, 0) | cap.rights
            allowed[(cap.object_id, "attrs")] = allowed.get((cap.object_id, "attrs"), 0) | cap.attrs

    def check():
        k.check_invariants()
        for h in handles:
            if not h.task.alive:
                continue
            for slot, cap in caps_of(h.task).items():
                assert cap.object_id in allowed, f"{h.name} slot {slot:#x}: a new object"
                assert cap.rights & ~allowed[cap.object_id] == 0, f"{h.name} slot {slot:#x}"
                assert cap.attrs & ~allowed[(cap.object_id, "attrs")] & 0xE0 == 0

    pending = list(interventions)
    for _ in range(400):
        res = k.run(max_steps=1, raise_errors=False)
        check()
        if pending and res.reason != "steps":
            kind, *args = pending.pop(0)
            if kind == "delete":
                h = handles[args[0]]
                if h.task.alive and h.task.cap(CapIndex(args[1])) is not None:
                    h.task.delete(CapIndex(args[1]))
            elif kind == "cancel":
                h = handles[args[0]]
                old = k._ffi.new("struct thread_regs *")
                k._lib.thread_ex_regs(k._k, [h.thread_id], 2**64 - 1, 2**64 - 1, 0x10000, old)
            check()
        elif res.reason == "idle" and not pending:
            break
    for name, exc in res.failed.items():
        raise AssertionError(f"{name} failed: {exc!r}")
