"""Task invocations from µApps (§8.1, §5.2, §5.5): map, unmap (single and batch, delete,
release), cap_info (valid, equal, special selectors) and add_ku_mem, with their errors."""
import pytest

from pyl4re import CapIndex, PhysAddr, VirtAddr
from pyl4re.l4sys import (
    L4_BASE_TASK_CAP, L4_CAP_FPAGE_D, L4_CAP_FPAGE_R, L4_CAP_FPAGE_RO, L4_CAP_FPAGE_RW,
    L4_CAP_FPAGE_RWS, L4_CAP_FPAGE_RWSD, L4_CAP_FPAGE_S, L4_CAP_FPAGE_W, L4_EBADPROTO,
    L4_EEXIST, L4_EINVAL, L4_EIPC_LO, L4_ENOMEM, L4_ENOSYS, L4_EPERM, L4_FP_ALL_SPACES,
    L4_FP_OTHER_SPACES, L4_FPAGE_RW, L4_FPAGE_RWX, L4_INVALID_CAP, L4_IPC_SEMAPFAILED, L4_IPC_SEMSGCUT,
    L4_ITEM_MAP, L4_MAP_ITEM_GRANT, L4_PROTO_TASK, L4_PROTO_THREAD, L4_TASK_CAP_INFO_OP, l4_error,
    l4_factory_create_factory, l4_factory_create_gate, l4_factory_create_task,
    l4_factory_create_thread, l4_fpage, l4_fpage_all, l4_fpage_invalid, l4_fpage_set_rights, l4_map_control,
    l4_map_obj_control, l4_msgtag_label, l4_msgtag_words, l4_obj_fpage, l4_task_add_ku_mem,
    l4_task_cap_equal, l4_task_cap_valid, l4_task_delete_obj, l4_task_map, l4_task_release_cap,
    l4_task_unmap, l4_task_unmap_batch, l4_thread_control_bind, l4_thread_control_commit,
    l4_ipc_sleep, l4_thread_control_start, l4_timeout, l4_timeout_from_us, l4_utcb,
)

from kobj_util import SCRATCH, invoke, new_thread, ok, run_main, sel, value

TASK, GATE = sel(0), sel(1)
DST = 0x33 << 12                          # where things land in the new task
FACTORY_LIMIT_SMALL = 600                 # a task (512 bytes) fits, a capability table not


async def task_and_gate(env):
    ok(await l4_factory_create_task(env.factory, TASK, l4_fpage_invalid()))
    ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0x40))


async def copy(env, src, dst, rights):
    """Map own capability `src` to own slot `dst` with `rights` (to make weaker caps)."""
    ok(await l4_task_map(env.task, env.task, l4_obj_fpage(src, 0, rights),
                         l4_map_obj_control(dst, 0)))


def new_task(k, h):
    return k.object(h.task.cap(CapIndex(SCRATCH)).object_id)


def gate_id(h):
    return h.task.cap(CapIndex(SCRATCH + 1)).object_id


# ---- map

def test_map_places_a_capability_in_the_destination_task(arch):
    async def main(env):
        await task_and_gate(env)
        tag = await l4_task_map(TASK, env.task, l4_obj_fpage(GATE, 0, L4_CAP_FPAGE_RWSD),
                                l4_map_obj_control(DST, 0))
        u = l4_utcb()
        return (l4_error(tag, u), l4_msgtag_words(tag),
                l4_msgtag_label(await l4_task_cap_valid(TASK, DST)),
                l4_msgtag_label(await l4_task_cap_valid(TASK, DST + 0x1000)))

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == (0, 0, 1, 0)
    cap = new_task(k, h).cap(CapIndex(0x33))
    assert cap.object_id == gate_id(h) and cap.type == "gate"
    assert cap.rights == L4_CAP_FPAGE_RWSD and cap.counted
    assert cap.attrs & 0xE0 == 0          # no server attribute: the control word had none


@pytest.mark.parametrize("src_s, dst_s", [(True, True), (True, False), (False, True),
                                          (False, False)])
def test_map_passes_s_only_if_both_task_caps_have_it(arch, src_s, dst_s):
    async def main(env):
        await task_and_gate(env)
        src, dst = env.task, TASK
        if not src_s:
            await copy(env, env.task, sel(2), L4_CAP_FPAGE_RW)
            src = sel(2)
        if not dst_s:
            await copy(env, TASK, sel(3), L4_CAP_FPAGE_RW)
            dst = sel(3)
        ok(await l4_task_map(dst, src, l4_obj_fpage(GATE, 0, L4_CAP_FPAGE_RWS),
                             l4_map_obj_control(DST, 0)))

    k, h, _ = run_main(arch, main)
    rights = new_task(k, h).cap(CapIndex(0x33)).rights
    assert rights == (L4_CAP_FPAGE_RWS if src_s and dst_s else L4_CAP_FPAGE_RW)


def test_map_grant_moves_the_capability(arch):
    async def main(env):
        await task_and_gate(env)
        ok(await l4_task_map(TASK, env.task, l4_obj_fpage(GATE, 0, L4_CAP_FPAGE_RWSD),
                             l4_map_obj_control(DST, L4_MAP_ITEM_GRANT)))
        return l4_msgtag_label(await l4_task_cap_valid(env.task, GATE))

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == 0
    assert h.task.cap(CapIndex(SCRATCH + 1)) is None
    assert new_task(k, h).cap(CapIndex(0x33)).type == "gate"


def test_map_needs_w_on_the_destination_task(arch):
    async def main(env):
        await task_and_gate(env)
        await copy(env, TASK, sel(3), L4_CAP_FPAGE_RO | L4_CAP_FPAGE_S)
        tag = await l4_task_map(sel(3), env.task, l4_obj_fpage(GATE, 0, L4_CAP_FPAGE_RWS),
                                l4_map_obj_control(DST, 0))
        return l4_error(tag, l4_utcb())

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == -L4_EPERM
    assert new_task(k, h).cap(CapIndex(0x33)) is None
    assert "needed w" in k.explain_last_error()


def item_cases():
    ctl, fp = l4_map_obj_control(DST, 0), l4_obj_fpage(GATE, 0, L4_CAP_FPAGE_RWS).raw
    mem = l4_fpage(0x10000, 12, L4_FPAGE_RW).raw
    return {
        "missing item": ([0, ctl, fp], 0, -L4_EINVAL),
        "item not an object fpage": ([0, ctl, fp, L4_ITEM_MAP, mem], 1,
                                     -(L4_EIPC_LO + L4_IPC_SEMSGCUT)),
        "item names a gate": ([0, ctl, fp, L4_ITEM_MAP, fp], 1, -L4_EINVAL),
        "item names an empty slot": ([0, ctl, fp, L4_ITEM_MAP,
                                      l4_obj_fpage(sel(9), 0, L4_CAP_FPAGE_RWS).raw], 1,
                                     -L4_EINVAL),
    }


@pytest.mark.parametrize("case", sorted(item_cases()))
def test_map_with_a_bad_source_task_item_fails(arch, case):
    mrs, items, want = item_cases()[case]

    async def main(env):
        await task_and_gate(env)
        return await invoke(TASK, L4_PROTO_TASK, mrs, items=items, words=3)

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == want
    assert new_task(k, h).cap(CapIndex(0x33)) is None


def test_map_of_memory(arch):
    import pyl4re

    async def main(env):
        await task_and_gate(env)
        await pyl4re.mem.write(0xC00000, b"shared")          # sigma0 gives us the page
        shift = 14 if arch == "mips64" else 12
        tag = await l4_task_map(TASK, env.task, l4_fpage(0xC00000, shift, L4_FPAGE_RW),
                                l4_map_control(0x40000000, 0, 0))
        return l4_error(tag, l4_utcb())

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == 0
    pa, size, rights = new_task(k, h).translate(VirtAddr(0x40000000))
    assert pa == PhysAddr(0xC00000) and rights == L4_FPAGE_RW
    assert bytes(k.physmem[pa.value:pa.value + 6]) == b"shared"


def test_map_of_memory_costs_virtual_time_per_page(arch, lib):
    """l4_task_map charges each page it maps as a map item does (COST_ITEM_NS)."""
    import pyl4re
    shift = 14 if arch == "mips64" else 12

    def now_after_mapping(order):
        async def main(env):
            await task_and_gate(env)
            for i in range(16):                               # 16 pages from sigma0
                await pyl4re.mem.write(0xC00000 + (i << shift), b"x")
            tag = await l4_task_map(TASK, env.task, l4_fpage(0xC00000, shift + order,
                                                              L4_FPAGE_RW),
                                    l4_map_control(0x40000000, 0, 0))
            return l4_error(tag, l4_utcb())

        k, h, res = run_main(arch, main)
        assert res.exited["main"] == 0
        assert new_task(k, h).translate(VirtAddr(0x40000000 + ((1 << order) - 1 << shift)))
        return k.now_ns

    assert now_after_mapping(4) - now_after_mapping(0) == 15 * lib.COST_ITEM_NS


def test_map_of_capabilities_costs_virtual_time_per_capability(arch, lib):
    def now_after_mapping(order):
        async def main(env):
            await task_and_gate(env)
            for i in range(16):                               # 16 copies of the gate
                await copy(env, GATE, sel(0x100 + i), L4_CAP_FPAGE_RW)
            ok(await l4_task_map(TASK, env.task,
                                 l4_obj_fpage(sel(0x100), order, L4_CAP_FPAGE_RW),
                                 l4_map_obj_control(sel(0x200), 0)))
            return "done"

        k, h, res = run_main(arch, main)
        assert res.exited["main"] == "done"
        return k.now_ns

    assert now_after_mapping(4) - now_after_mapping(0) == 15 * lib.COST_ITEM_NS


def test_map_out_of_quota_is_the_map_failed_ipc_error(arch):
    async def main(env):
        ok(await l4_factory_create_factory(env.factory, sel(5), FACTORY_LIMIT_SMALL))
        ok(await l4_factory_create_task(sel(5), TASK, l4_fpage_invalid()))
        ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
        tag = await l4_task_map(TASK, env.task, l4_obj_fpage(GATE, 0, L4_CAP_FPAGE_RWS),
                                l4_map_obj_control(DST, 0))
        return l4_error(tag, l4_utcb())

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == -(L4_EIPC_LO + L4_IPC_SEMAPFAILED)
    assert new_task(k, h).caps_used() == 0


# ---- protocol errors

@pytest.mark.parametrize("label", [0, L4_PROTO_THREAD, 5])
def test_wrong_label_is_ebadproto(arch, label):
    async def main(env):
        return await invoke(env.task, label, [2, env.task])

    assert value(arch, main) == -L4_EBADPROTO


@pytest.mark.parametrize("op", [4, 0x11, 0x12, 0x10001, (1 << 64) - 1])
def test_unknown_opcode_is_enosys(arch, op):
    async def main(env):
        return await invoke(env.task, L4_PROTO_TASK, [op, env.task])

    assert value(arch, main) == -L4_ENOSYS


# ---- unmap

async def give(env, dst, rights=L4_CAP_FPAGE_RWSD):
    ok(await l4_task_map(TASK, env.task, l4_obj_fpage(GATE, 0, rights),
                         l4_map_obj_control(dst, 0)))


def test_release_cap_removes_the_capability_and_echoes_the_fpage(arch):
    async def main(env):
        await task_and_gate(env)
        await give(env, DST)
        tag = await l4_task_release_cap(TASK, DST)
        u = l4_utcb()
        return l4_error(tag, u), l4_msgtag_words(tag), int(u.mr[2])

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == (0, 3, l4_obj_fpage(DST, 0, L4_CAP_FPAGE_RWSD).raw & ~0xF)
    assert new_task(k, h).cap(CapIndex(0x33)) is None
    assert k.object(gate_id(h)).alive          # main still holds it


def test_unmap_without_all_spaces_leaves_object_caps(arch):
    async def main(env):
        await task_and_gate(env)
        await give(env, DST)
        ok(await l4_task_unmap(TASK, l4_obj_fpage(DST, 0, L4_CAP_FPAGE_RWSD),
                               L4_FP_OTHER_SPACES))

    k, h, _ = run_main(arch, main)
    assert new_task(k, h).cap(CapIndex(0x33)).rights == L4_CAP_FPAGE_RWSD


def test_unmap_without_r_revokes_only_w_and_s(arch):
    async def main(env):
        await task_and_gate(env)
        await give(env, DST)
        ok(await l4_task_unmap(TASK, l4_obj_fpage(DST, 0, L4_CAP_FPAGE_W | L4_CAP_FPAGE_S),
                               L4_FP_ALL_SPACES))

    k, h, _ = run_main(arch, main)
    assert new_task(k, h).cap(CapIndex(0x33)).rights == L4_CAP_FPAGE_R | L4_CAP_FPAGE_D


def test_unmap_batch_replies_every_fpage(arch):
    async def main(env):
        await task_and_gate(env)
        for i in range(6):
            await give(env, DST + i * 0x1000)
        fpages = [l4_obj_fpage(DST, 0, L4_CAP_FPAGE_RWSD),
                  l4_obj_fpage(DST + 0x1000, 0, L4_CAP_FPAGE_RWS | L4_CAP_FPAGE_D),
                  l4_obj_fpage(0x34 << 12, 2, L4_CAP_FPAGE_RO)]     # 0x34..0x37
        tag = await l4_task_unmap_batch(TASK, fpages, 3, L4_FP_ALL_SPACES)
        u = l4_utcb()
        return (l4_error(tag, u), l4_msgtag_words(tag), [int(u.mr[i]) for i in range(2, 5)],
                [f.raw & ~0xF for f in fpages])

    k, h, res = run_main(arch, main)
    err, words, got, want = res.exited["main"]
    assert (err, words, got) == (0, 5, want)
    t = new_task(k, h)
    assert [t.cap(CapIndex(0x33 + i)) is None for i in range(6)] == [True] * 5 + [False]


def test_delete_obj_with_d_deletes_the_object_everywhere(arch):
    async def main(env):
        await task_and_gate(env)
        await give(env, DST)
        ok(await l4_task_delete_obj(env.task, GATE))

    k, h, _ = run_main(arch, main)
    assert h.task.cap(CapIndex(SCRATCH + 1)) is None
    assert new_task(k, h).cap(CapIndex(0x33)) is None      # the other task's copy died too


def test_delete_obj_without_d_only_removes_the_capability(arch):
    async def main(env):
        await task_and_gate(env)
        await copy(env, GATE, sel(5), L4_CAP_FPAGE_RWS)
        tag = await l4_task_delete_obj(env.task, sel(5))
        return l4_error(tag, l4_utcb())

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == 0
    assert h.task.cap(CapIndex(SCRATCH + 5)) is None
    assert h.task.cap(CapIndex(SCRATCH + 1)).type == "gate"
    assert k.object(gate_id(h)).alive


def test_unmap_needs_no_rights_on_the_task_cap(arch):
    async def main(env):
        await task_and_gate(env)
        await give(env, DST)
        await copy(env, TASK, sel(3), L4_CAP_FPAGE_RO)
        ok(await l4_task_release_cap(sel(3), DST))

    k, h, _ = run_main(arch, main)
    assert new_task(k, h).cap(CapIndex(0x33)) is None


@pytest.mark.parametrize("which", ["memory", "all"])
def test_unmap_of_memory(arch, which):
    """Unmapping memory (and, with l4_fpage_all(), everything) from the new task."""
    import pyl4re

    async def main(env):
        await task_and_gate(env)
        await give(env, DST)
        shift = 14 if arch == "mips64" else 12
        await pyl4re.mem.write(0xC00000, b"x")
        ok(await l4_task_map(TASK, env.task, l4_fpage(0xC00000, shift, L4_FPAGE_RW),
                             l4_map_control(0x40000000, 0, 0)))
        # l4_fpage_all() carries no rights: with R added it flushes every space.
        fpage = (l4_fpage(0x40000000, shift, L4_FPAGE_RWX) if which == "memory"
                 else l4_fpage_set_rights(l4_fpage_all(), 0xF))
        tag = await l4_task_unmap_batch(TASK, [l4_obj_fpage(DST, 0, L4_CAP_FPAGE_RWSD), fpage],
                                        2, L4_FP_ALL_SPACES)
        return l4_error(tag, l4_utcb())

    k, h, res = run_main(arch, main)
    assert res.exited["main"] == 0
    task = new_task(k, h)
    assert task.translate(VirtAddr(0x40000000)) is None
    assert task.cap(CapIndex(0x33)) is None
    assert h.translate(VirtAddr(0xC00000)) is not None       # the sender keeps its own


# ---- cap_info

def test_cap_valid(arch):
    async def main(env):
        await task_and_gate(env)
        asks = [GATE, sel(9), L4_INVALID_CAP, (1 << 20) << 12, env.task]
        return [l4_msgtag_label(await l4_task_cap_valid(env.task, c)) for c in asks]

    assert value(arch, main) == [1, 0, 0, 0, 1]


def test_cap_valid_with_bit_0_counts_references(arch):
    async def main(env):
        await task_and_gate(env)
        one = await invoke(env.task, L4_PROTO_TASK, [2, GATE | 1])
        await copy(env, GATE, sel(5), L4_CAP_FPAGE_RWS)
        await give(env, DST)
        return one, await invoke(env.task, L4_PROTO_TASK, [2, GATE | 1])

    assert value(arch, main) == (1, 3)


def test_cap_equal(arch):
    async def main(env):
        await task_and_gate(env)
        await copy(env, GATE, sel(5), L4_CAP_FPAGE_RWSD)
        await copy(env, GATE, sel(6), L4_CAP_FPAGE_RW)
        pairs = [(GATE, GATE), (GATE, sel(5)), (GATE, sel(6)), (GATE, TASK),
                 (sel(8), sel(9)), (L4_INVALID_CAP, L4_INVALID_CAP), (L4_INVALID_CAP, GATE)]
        labels = [l4_msgtag_label(await l4_task_cap_equal(env.task, a, b)) for a, b in pairs]
        # The kernel ignores flag bits in the selectors (l4sys refuses them: raw message).
        labels.append(await invoke(env.task, L4_PROTO_TASK,
                                   [L4_TASK_CAP_INFO_OP, L4_INVALID_CAP, L4_INVALID_CAP | 1]))
        return labels

    assert value(arch, main) == [1, 1, 0, 0, 1, 1, 0, 1]


@pytest.mark.parametrize("words", [1, 4])
def test_cap_info_with_other_lengths_is_einval(arch, words):
    async def main(env):
        return await invoke(env.task, L4_PROTO_TASK, [2, env.task, env.task, env.task],
                            words=words)

    assert value(arch, main) == -L4_EINVAL


# ---- add_ku_mem

def ku_base_of(env):
    """Free address space 1 MiB above the harness's UTCB area."""
    return (env.utcb_area.raw & ~0xFFF) + 0x100000


def test_add_ku_mem_makes_room_for_utcbs(arch):
    async def main(env):
        base = ku_base_of(env)
        fp = l4_fpage(base, 14, L4_FPAGE_RW)
        tag = await l4_task_add_ku_mem(env.task, fp)
        u = l4_utcb()
        got = (l4_error(tag, u), l4_msgtag_words(tag), int(u.mr[0]) == fp.raw)
        results = []
        for utcb in (base + 0x2000, base + 0x8000):      # inside, then outside the area
            ok(await l4_factory_create_thread(env.factory, sel(7)))
            l4_thread_control_start()
            l4_thread_control_bind(utcb, env.task)
            results.append(l4_error(await l4_thread_control_commit(sel(7)), u))
        return got, results

    assert value(arch, main) == ((0, 1, True), [0, -L4_EINVAL])


@pytest.mark.parametrize("case", ["overlap", "order too small", "order too large", "object",
                                  "invalid"])
def test_add_ku_mem_refuses(arch, case):
    async def main(env):
        area = env.utcb_area.raw & ~0xFFF
        fp = {"overlap": l4_fpage(area, 14, L4_FPAGE_RW).raw,
              "order too small": l4_fpage(ku_base_of(env), 11, L4_FPAGE_RW).raw,
              "order too large": l4_fpage(ku_base_of(env), 18, L4_FPAGE_RW).raw,
              "object": l4_obj_fpage(GATE, 0, L4_CAP_FPAGE_RW).raw,
              "invalid": 0}[case]
        return await invoke(env.task, L4_PROTO_TASK, [3, fp])

    assert value(arch, main) == (-L4_EEXIST if case == "overlap" else -L4_EINVAL)


def test_add_ku_mem_takes_several_fpages_and_charges_the_quota(arch):
    async def main(env):
        ok(await l4_factory_create_factory(env.factory, sel(5), FACTORY_LIMIT_SMALL))
        ok(await l4_factory_create_task(sel(5), TASK, l4_fpage_invalid()))
        base = ku_base_of(env)
        small = await l4_task_add_ku_mem(TASK, l4_fpage(base, 14, L4_FPAGE_RW))
        two = await invoke(env.task, L4_PROTO_TASK,
                           [3, l4_fpage(base, 14, L4_FPAGE_RW).raw,
                            l4_fpage(base + 0x8000, 15, L4_FPAGE_RW).raw])
        again = await invoke(env.task, L4_PROTO_TASK, [3, l4_fpage(base + 0xC000, 14,
                                                                   L4_FPAGE_RW).raw])
        return l4_error(small, l4_utcb()), two, again

    small, two, again = value(arch, main)
    assert small == -L4_ENOMEM                     # 16 KiB do not fit 600 - 512 bytes
    assert two == 0
    assert again == -L4_EEXIST                     # inside the second fpage of `two`


def test_a_thread_that_deletes_itself_ends_there(arch):
    after = []

    async def doomed():
        await l4_task_delete_obj(L4_BASE_TASK_CAP, sel(7))     # its own thread (with D)
        after.append("still running")

    async def main(env):
        await new_thread(env, sel(7), doomed)
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(100)))
        return l4_msgtag_label(await l4_task_cap_valid(env.task, sel(7)))

    k, h, res = run_main(arch, main)
    assert res.exited == {"main": 0}
    assert len(res.deleted) == 1 and not after


def _refused(call):
    """The argument checks run before the kernel entry (and before any UTCB write)."""
    coro = call()
    try:
        coro.send(None)
    finally:
        coro.close()


@pytest.mark.parametrize("call, exc", [
    (lambda: l4_task_map(TASK, 0x1000, 0x5000, 0), TypeError),          # raw fpage
    (lambda: l4_task_map(TASK, 0x1001, l4_fpage_invalid(), 0), ValueError),  # flag bits
    (lambda: l4_task_unmap(-1, l4_fpage_invalid(), 0), ValueError),
    (lambda: l4_task_unmap_batch(TASK, [l4_fpage_invalid()], 2, 0), ValueError),
    (lambda: l4_task_unmap_batch(TASK, [l4_fpage_invalid()] * 62, 62, 0), ValueError),
    (lambda: l4_task_cap_valid(TASK, 1.0), TypeError),
    (lambda: l4_task_add_ku_mem(TASK, 0), TypeError),
    (lambda: l4_factory_create_task(2 << 12, TASK, 0), TypeError),
    (lambda: l4_factory_create_gate(2 << 12, TASK, 0x3001, 0), ValueError),
])
def test_bad_arguments_are_refused_before_the_kernel_entry(call, exc):
    with pytest.raises(exc):
        _refused(call)
