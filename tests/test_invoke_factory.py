"""Factory invocations from µApps (§8.3, §13): every kind of object through the l4sys
calls, the reply (result words, the 0x38 item), gates bound at creation, and the errors:
rights, label, sizes, unknown kinds, missing receive item, quota."""
import pytest

from pyl4re import CapIndex
from pyl4re.l4sys import (
    L4_CAP_FPAGE_RW, L4_CAP_FPAGE_RWS, L4_CAP_FPAGE_RWSD, L4_EBADPROTO, L4_EINVAL, L4_EIPC_LO,
    L4_EMSGTOOLONG, L4_EMSGTOOSHORT, L4_ENODEV, L4_ENOMEM, L4_EPERM, L4_FPAGE_RW,
    L4_INVALID_CAP, L4_IPC_REMSGCUT, L4_ITEM_MAP, L4_PROTO_FACTORY, L4_PROTO_TASK,
    L4_PROTO_THREAD, L4_VARG_TYPE_FPAGE, L4_VARG_TYPE_UMWORD, l4_error, l4_factory_create,
    l4_factory_create_factory, l4_factory_create_gate, l4_factory_create_irq,
    l4_factory_create_semaphore, l4_factory_create_task, l4_factory_create_thread, l4_fpage,
    l4_map_obj_control, l4_msgtag_items, l4_msgtag_words, l4_obj_fpage, l4_task_map, l4_utcb,
)

from kobj_util import SCRATCH, invoke, ok, run_main, sel

TARGET = sel(0)
UMWORD = L4_VARG_TYPE_UMWORD | (8 << 16)


def made(k, h, n=0):
    return h.task.cap(CapIndex(SCRATCH + n))


def area_of(env):
    return l4_fpage((env.utcb_area.raw & ~0xFFF) + 0x100000, 14, L4_FPAGE_RW)


CREATES = {
    "task": (lambda env: l4_factory_create_task(env.factory, TARGET, area_of(env)), 1),
    "thread": (lambda env: l4_factory_create_thread(env.factory, TARGET), 0),
    "gate": (lambda env: l4_factory_create_gate(env.factory, TARGET, L4_INVALID_CAP, 0), 0),
    "factory": (lambda env: l4_factory_create_factory(env.factory, TARGET, 100_000), 0),
    "irq": (lambda env: l4_factory_create_irq(env.factory, TARGET), 0),
    "semaphore": (lambda env: l4_factory_create_semaphore(env.factory, TARGET), 0),
}


@pytest.mark.parametrize("kind", sorted(CREATES))
def test_create_each_kind(arch, kind):
    create, words = CREATES[kind]

    async def main(env):
        u = l4_utcb()
        tag = await create(env)
        return (l4_error(tag, u), l4_msgtag_words(tag), l4_msgtag_items(tag),
                int(u.mr[words]), int(u.mr[0]) == area_of(env).raw if words else None)

    k, h, res = run_main(arch, main)
    err, got_words, items, item_word, echo = res.exited["main"]
    assert (err, got_words, items, item_word) == (0, words, 1, 0x38)
    assert echo in (None, True)
    cap = made(k, h)
    assert cap.type == kind and cap.rights == L4_CAP_FPAGE_RWSD and cap.counted
    assert k.object(cap.object_id).info().factory_id == k.root_factory.id


def test_generic_create_and_replacing_the_target(arch):
    async def main(env):
        ok(await l4_factory_create_gate(env.factory, TARGET, L4_INVALID_CAP, 0))
        return l4_error(await l4_factory_create(env.factory, L4_PROTO_THREAD, TARGET),
                        l4_utcb())

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == 0
    assert made(k, h).type == "thread"                 # the gate in the slot was replaced


def test_create_gate_bound_to_a_thread(arch):
    async def main(env):
        return l4_error(await l4_factory_create_gate(env.factory, TARGET, env.thread, 0x40),
                        l4_utcb())

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == 0
    out = k._ffi.new("struct gate_info *")
    assert k._lib.gate_info(k._k, [made(k, h).object_id], out) == 0
    assert (out.label, out.thread.raw) == (0x40, h.thread_id)


GATE_FAILURES = {
    "label & 3": -L4_EINVAL,
    "thread without S": -L4_EPERM,
    "thread item with two words": -L4_EMSGTOOSHORT,
    "item is not a thread": -L4_EINVAL,
}


@pytest.mark.parametrize("case", sorted(GATE_FAILURES))
def test_create_gate_refuses(arch, case):
    async def main(env):
        u = l4_utcb()
        if case == "label & 3":
            return l4_error(await l4_factory_create_gate(env.factory, TARGET, env.thread, 0x41),
                            u)
        if case == "thread without S":
            ok(await l4_task_map(env.task, env.task, l4_obj_fpage(env.thread, 0, L4_CAP_FPAGE_RW),
                                 l4_map_obj_control(sel(5), 0)))
            return l4_error(await l4_factory_create_gate(env.factory, TARGET, sel(5), 0x40), u)
        u.bdr, u.br[0] = 0, TARGET | 0xA
        thread_item = [L4_ITEM_MAP, l4_obj_fpage(env.thread, 0, L4_CAP_FPAGE_RWS).raw]
        if case == "thread item with two words":
            return await invoke(env.factory, L4_PROTO_FACTORY, [0, UMWORD] + thread_item,
                                items=1)
        task_item = [L4_ITEM_MAP, l4_obj_fpage(env.task, 0, L4_CAP_FPAGE_RWS).raw]
        return await invoke(env.factory, L4_PROTO_FACTORY, [0, UMWORD, 0x40] + task_item,
                            items=1)

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == GATE_FAILURES[case]
    assert made(k, h) is None


def test_create_needs_s_on_the_factory_cap(arch):
    async def main(env):
        ok(await l4_task_map(env.task, env.task, l4_obj_fpage(env.factory, 0, L4_CAP_FPAGE_RW),
                             l4_map_obj_control(sel(5), 0)))
        return l4_error(await l4_factory_create_thread(sel(5), TARGET), l4_utcb())

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == -L4_EPERM
    assert made(k, h) is None
    assert "needed s" in k.explain_last_error()


async def raw_create(env, label, mrs, words=None, items=0, target=TARGET, call=True):
    """A create message by hand: MRs, BDR = 0, BR0 = target | single cap (target None:
    no receive item at all)."""
    u = l4_utcb()
    u.bdr = 0
    u.br[0] = 0 if target is None else target | 0xA
    return await invoke(env.factory, label, mrs, items=items, words=words,
                        send_only=not call)


@pytest.mark.parametrize("case, label, mrs, words, want", [
    ("wrong label", L4_PROTO_TASK, [L4_PROTO_THREAD], None, -L4_EBADPROTO),
    ("no words", L4_PROTO_FACTORY, [L4_PROTO_THREAD], 0, -L4_EMSGTOOSHORT),
    ("unknown kind", L4_PROTO_FACTORY, [-7], None, -L4_ENODEV),
    ("positive kind", L4_PROTO_FACTORY, [3], None, -L4_ENODEV),
    ("factory limit 0", L4_PROTO_FACTORY, [L4_PROTO_FACTORY, UMWORD, 0], None, -L4_ENOMEM),
    ("factory limit too large", L4_PROTO_FACTORY, [L4_PROTO_FACTORY, UMWORD, (1 << 63) - 1],
     None, -L4_ENOMEM),
    ("factory without limit", L4_PROTO_FACTORY, [L4_PROTO_FACTORY, UMWORD], None,
     -L4_EMSGTOOSHORT),
    ("factory with more", L4_PROTO_FACTORY, [L4_PROTO_FACTORY, UMWORD, 4096, 0], None,
     -L4_EMSGTOOLONG),
    ("task without area", L4_PROTO_FACTORY, [L4_PROTO_TASK, L4_VARG_TYPE_FPAGE | (8 << 16)],
     None, -L4_EINVAL),
    ("task with an object area", L4_PROTO_FACTORY,
     [L4_PROTO_TASK, L4_VARG_TYPE_FPAGE | (8 << 16), l4_obj_fpage(0, 0, 7).raw], None,
     -L4_EINVAL),
    ("task with an unaligned area", L4_PROTO_FACTORY,
     [L4_PROTO_TASK, L4_VARG_TYPE_FPAGE | (8 << 16),
      l4_fpage(0x10004000, 15, L4_FPAGE_RW).raw], None, -L4_EINVAL),
])
def test_create_refuses(arch, case, label, mrs, words, want):
    async def main(env):
        return await raw_create(env, label, mrs, words=words)

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == want
    assert made(k, h) is None


def test_create_without_a_receive_item_is_the_overflow_ipc_error(arch):
    async def main(env):
        return await raw_create(env, L4_PROTO_FACTORY, [L4_PROTO_THREAD], target=None)

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == -(L4_EIPC_LO + L4_IPC_REMSGCUT)
    assert made(k, h) is None


def test_create_without_a_receive_phase_creates_nothing(arch):
    async def main(env):
        return await raw_create(env, L4_PROTO_FACTORY, [L4_PROTO_THREAD], call=False)

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == 0
    assert made(k, h) is None


def test_create_beyond_the_quota_is_enomem_and_changes_nothing(arch):
    async def main(env):
        u = l4_utcb()
        ok(await l4_factory_create_factory(env.factory, sel(5), 10_000))
        first = l4_error(await l4_factory_create_thread(sel(5), TARGET), u)      # 8192
        second = l4_error(await l4_factory_create_thread(sel(5), sel(1)), u)
        gate = l4_error(await l4_factory_create_gate(sel(5), sel(2), L4_INVALID_CAP, 0), u)
        return first, second, gate

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == (0, -L4_ENOMEM, 0)
    assert made(k, h, 1) is None
    child = k.object(made(k, h, 5).object_id)
    assert child.quota.used == 8192 + k._lib.KOBJ_SIZE_GATE
    assert child.quota.limit == 10_000
