"""IPC-gate invocations from µApps (§8.4, §8.0, §9): bind (and rebind, releasing blocked
senders), get_infos, dec_refcnt, with their errors; and that only a capability with the
server attribute reaches the gate itself."""
import pytest

from pyl4re import CapIndex
from pyl4re.l4sys import (
    L4_CAP_FPAGE_RW, L4_CAP_FPAGE_RWS, L4_EINVAL, L4_EIPC_LO, L4_EMSGTOOSHORT, L4_ENOSYS,
    L4_EPERM, L4_FPAGE_C_IPCGATE_SVR, L4_FPAGE_RW, L4_INVALID_CAP, L4_IPC_NEVER,
    L4_IPC_SEMSGCUT, L4_ITEM_MAP, L4_PROTO_KOBJECT, L4_RCV_ITEM_SINGLE_CAP, l4_error,
    l4_factory_create_gate, l4_fpage, l4_ipc_call, l4_ipc_error, l4_ipc_gate_bind_thread,
    l4_ipc_gate_get_infos, l4_ipc_reply_and_wait, l4_ipc_wait, l4_kobject_dec_refcnt,
    l4_map_obj_control, l4_msgtag, l4_msgtag_has_error, l4_msgtag_label, l4_msgtag_words,
    l4_obj_fpage, l4_rcv_ep_bind_thread, l4_task_map, l4_timeout, l4_timeout_from_us, l4_utcb,
)

from kobj_util import SCRATCH, invoke, new_thread, ok, run_main, sel

GATE, CLIENT, THREAD = sel(0), sel(1), sel(2)
NEVER = L4_IPC_NEVER


def gate_state(k, h, n=0):
    out = k._ffi.new("struct gate_info *")
    assert k._lib.gate_info(k._k, [h.task.cap(CapIndex(SCRATCH + n)).object_id], out) == 0
    return out.label, out.thread.raw


async def copy(env, src, dst, rights, attrs=0):
    ok(await l4_task_map(env.task, env.task, l4_obj_fpage(src, 0, rights),
                         l4_map_obj_control(dst, 0) | attrs))


async def caller():
    """Calls the gate (through the plain RW copy at CLIENT) twice, returns the replies."""
    u = l4_utcb()
    out = []
    for i in range(2):
        u.mr[0] = i
        tag = await l4_ipc_call(CLIENT, u, l4_msgtag(7, 1, 0, 0), NEVER)
        assert not l4_msgtag_has_error(tag), l4_ipc_error(tag, u)
        out.append(int(u.mr[0]))
    return out


async def serve(n):
    """Answers n calls with label + MR0; returns the labels seen."""
    u = l4_utcb()
    seen = []
    tag, label = await l4_ipc_wait(u, NEVER)
    for _ in range(n):
        seen.append(label)
        u.mr[0] = label + int(u.mr[0])
        tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 1, 0, 0),
                                                 l4_timeout(0, l4_timeout_from_us(1000)))
    return seen


def test_bind_releases_a_blocked_sender_and_labels_its_messages(arch):
    async def main(env):
        ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
        await copy(env, GATE, CLIENT, L4_CAP_FPAGE_RW)
        await new_thread(env, THREAD, caller)          # blocks: the gate is unbound
        tag = await l4_rcv_ep_bind_thread(GATE, env.thread, 0x80)
        bound = (l4_error(tag, l4_utcb()), l4_msgtag_words(tag))
        return bound, await serve(2)

    k, h, res = run_main(arch, main)
    bound, seen = res.exited["main"]
    assert bound == (0, 0)
    assert seen == [0x81, 0x81]                         # label | W of the client's cap
    client = next(n for n in res.exited if n != "main")
    assert res.exited[client] == [0x81, 0x82]
    assert gate_state(k, h) == (0x80, h.thread_id)


def test_rebind_changes_label_and_get_infos_reads_it(arch):
    async def main(env):
        u = l4_utcb()
        ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
        infos = [await l4_ipc_gate_get_infos(GATE)]
        ok(await l4_rcv_ep_bind_thread(GATE, env.thread, 0x80))
        infos.append(await l4_ipc_gate_get_infos(GATE))
        ok(await l4_ipc_gate_bind_thread(GATE, env.thread, 0x1000))
        infos.append(await l4_ipc_gate_get_infos(GATE))
        return [(l4_error(t, u), l4_msgtag_words(t), label) for t, label in infos]

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == [(0, 1, 0), (0, 1, 0x80), (0, 1, 0x1000)]
    assert gate_state(k, h) == (0x1000, h.thread_id)


BIND_FAILURES = {
    "gate cap without S": -L4_EPERM,
    "label bit 0": -L4_EINVAL,
    "label bit 1": -L4_EINVAL,
    "thread cap without S": -L4_EPERM,
    "one word": -L4_EMSGTOOSHORT,
    "no item": -L4_EINVAL,
    "item is a gate": -L4_EINVAL,
    "item not an object": -(L4_EIPC_LO + L4_IPC_SEMSGCUT),
}


@pytest.mark.parametrize("case", sorted(BIND_FAILURES))
def test_bind_refuses(arch, case):
    async def main(env):
        ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
        gate, thread, label = GATE, env.thread, 0x80
        if case == "gate cap without S":
            await copy(env, GATE, sel(5), L4_CAP_FPAGE_RW, L4_FPAGE_C_IPCGATE_SVR)
            gate = sel(5)
        elif case == "label bit 0":
            label = 0x81
        elif case == "label bit 1":
            label = 0x82
        elif case == "thread cap without S":
            await copy(env, env.thread, sel(5), L4_CAP_FPAGE_RW)
            thread = sel(5)
        if case == "one word":
            item = l4_obj_fpage(env.thread, 0, L4_CAP_FPAGE_RWS).raw
            return await invoke(GATE, L4_PROTO_KOBJECT, [0x10, L4_ITEM_MAP, item], items=1)
        if case == "no item":
            return await invoke(GATE, L4_PROTO_KOBJECT, [0x10, 0x80])
        if case == "item is a gate":
            item = l4_obj_fpage(GATE, 0, L4_CAP_FPAGE_RWS).raw
            return await invoke(GATE, L4_PROTO_KOBJECT, [0x10, 0x80, L4_ITEM_MAP, item], items=1)
        if case == "item not an object":
            item = l4_fpage(0x10000, 12, L4_FPAGE_RW).raw
            return await invoke(GATE, L4_PROTO_KOBJECT, [0x10, 0x80, L4_ITEM_MAP, item], items=1)
        return l4_error(await l4_rcv_ep_bind_thread(gate, thread, label), l4_utcb())

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == BIND_FAILURES[case]
    assert gate_state(k, h) == (0, 0)                  # still unbound


def test_without_the_server_attribute_control_messages_are_ipc(arch):
    async def impostor():
        # A client tries to rebind the gate: the message goes to the bound thread instead.
        tag = await l4_rcv_ep_bind_thread(CLIENT, THREAD, 0x800)
        return l4_error(tag, l4_utcb())

    async def main(env):
        u = l4_utcb()
        ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
        ok(await l4_rcv_ep_bind_thread(GATE, env.thread, 0x80))
        await copy(env, GATE, CLIENT, L4_CAP_FPAGE_RWS)             # S, but no server bit
        await new_thread(env, THREAD, impostor)
        u.bdr, u.br[0] = 0, sel(7) | L4_RCV_ITEM_SINGLE_CAP    # room for its item
        tag, label = await l4_ipc_wait(u, NEVER)
        got = (label, l4_msgtag_label(tag), int(u.mr[0]), int(u.mr[1]))
        await l4_ipc_reply_and_wait(u, l4_msgtag(5, 0, 0, 0),
                                    l4_timeout(0, l4_timeout_from_us(1000)))
        return got

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == (0x83, L4_PROTO_KOBJECT, 0x10, 0x800)
    assert 5 in res.exited.values()                  # the impostor got main's reply label
    assert h.task.cap(CapIndex(SCRATCH + 7)).type == "thread"   # its item was mapped
    assert gate_state(k, h) == (0x80, h.thread_id)


def test_dec_refcnt_lowers_the_counted_references(arch):
    async def main(env):
        u = l4_utcb()
        ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
        await copy(env, GATE, sel(5), L4_CAP_FPAGE_RWS)
        await copy(env, GATE, sel(6), L4_CAP_FPAGE_RWS)
        out = []
        for diff in (1, -3, 0):
            tag = await l4_kobject_dec_refcnt(GATE, diff)
            out.append((l4_error(tag, u), l4_msgtag_words(tag), int(u.mr[0])))
        return out

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == [(0, 1, 2), (0, 1, 5), (0, 1, 5)]
    assert k.object(h.task.cap(CapIndex(SCRATCH)).object_id).info().counted_refs == 5


def test_dec_refcnt_moves_a_signed_word_as_fiasco_does(arch):
    """Fiasco's count is a signed machine word (Kobject_mappable::dec_cap_refcnt): a diff
    of any size moves it, below 0 and past 2^32 without a bound, wrapping at 2^64; the
    reply's MR0 is the new count. Nothing dies by dec_refcnt; a count at 0 or below stays
    below through unmaps, and one raised back to 1 dies with its last capability."""
    async def main(env):
        u = l4_utcb()
        ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
        await copy(env, GATE, sel(5), L4_CAP_FPAGE_RWS)            # two counted references
        out = []
        for diff in (-(1 << 40), 1 << 40, 5, -(1 << 63), -(1 << 63), 1):
            tag = await l4_kobject_dec_refcnt(GATE, diff)
            word = int(u.mr[0])
            out.append((l4_error(tag, u), word - (1 << 64) if word >> 63 else word))
        return out

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == [(0, 2 + (1 << 40)), (0, 2), (0, -3), (0, (1 << 63) - 3),
                                  (0, -3), (0, -4)]
    gate = k.object(h.task.cap(CapIndex(SCRATCH)).object_id)
    k.check_invariants()                         # the audit allows for dec_refcnt's moves
    h.task.delete(CapIndex(SCRATCH + 5))         # a counted reference goes: -4 -> -5
    assert gate.alive and gate.info().counted_refs == -5
    k.check_invariants()
    out = k._ffi.new("int64_t *")
    assert k._lib.kobj_dec_refcnt(k._k, [gate.id], -6, out) == 0 and out[0] == 1
    h.task.delete(CapIndex(SCRATCH))             # 1 -> 0: this put kills it
    assert not gate.alive
    k.check_invariants()


@pytest.mark.parametrize("mrs, words, want", [
    ([0, 1], 1, -L4_EINVAL),            # dec_refcnt without its diff
    ([1], 1, -L4_ENOSYS),               # REGISTER_IRQ: no kernel implementation
    ([0x12], 1, -L4_ENOSYS),
    ([0x10], 0, -L4_EINVAL),            # no words at all
])
def test_other_gate_requests(arch, mrs, words, want):
    async def main(env):
        ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
        return await invoke(GATE, L4_PROTO_KOBJECT, mrs, words=words)

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == want
    assert gate_state(k, h) == (0, 0)
