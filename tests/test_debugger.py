"""The kernel debugger object (§8.10): object names and global ids (group 0x100), console
output through JDB's ops (group 0x000), the other groups, and every refusal. The trace
buffer group (0x200) is in test_trace.py."""
import io

import pytest

from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_BASE_DEBUGGER_CAP, L4_CAP_FPAGE_RWS, L4_DEBUGGER_GLOBAL_ID_OP, L4_DEBUGGER_NAME_SET_OP,
    L4_DEBUGGER_QUERY_LOG_NAME_OP, L4_DEBUGGER_QUERY_LOG_TYPEID_OP, L4_DEBUGGER_SWITCH_LOG_OP,
    L4_EBADPROTO, L4_EINVAL, L4_EMSGTOOLONG, L4_EMSGTOOSHORT, L4_ENOENT, L4_ENOSYS,
    L4_INVALID_CAP, L4_IPC_SEMSGCUT, L4_ITEM_MAP, L4_KDEBUG_GROUP_COV, L4_KDEBUG_GROUP_DUMP,
    L4_KDEBUG_GROUP_KOBJ, L4_KDEBUG_OUTHEX32, L4_PROTO_DEBUGGER, L4_PROTO_LOG, enter_kdebug,
    l4_debugger_get_object_name, l4_debugger_global_id, l4_debugger_kobj_to_id,
    l4_debugger_query_log_name, l4_debugger_query_log_typeid, l4_debugger_set_object_name,
    l4_debugger_switch_log, l4_error, l4_factory_create_gate, l4_fpage, l4_invoke_debugger,
    l4_msgtag, l4_msgtag_words, l4_obj_fpage, l4_task_delete_obj, l4_utcb,
    outchar, outdec, outhex8, outhex12, outhex16, outhex20, outhex32, outhex64, outnstring,
    outstring, outumword,
)

from kobj_util import invoke, ok, sel

GATE = sel(0)
U64 = (1 << 64) - 1
GET_NAME = 8                                  # Jdb's Get_name: the name of the item


def item(cap):
    return [L4_ITEM_MAP, l4_obj_fpage(cap, 0, L4_CAP_FPAGE_RWS).raw]


def run(arch, main):
    stream = io.StringIO()
    k = Kernel(arch=arch, memory=16 << 20, log_stream=stream)
    h = k.start_task(main, name="main")
    res = k.run()
    assert "main" in res.exited, res
    return k, h, res.exited["main"]


def err(tag):
    return l4_error(tag, l4_utcb())


# ---- names and global ids

def test_name_an_object_and_find_it_by_global_id(arch):
    async def main(env):
        ok(await l4_debugger_set_object_name(env.thread, "worker-thread"))
        gid = await l4_debugger_global_id(env.thread)
        tag, name = await l4_debugger_get_object_name(L4_BASE_DEBUGGER_CAP, gid)
        u = l4_utcb()
        got = await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER,
                           [L4_KDEBUG_GROUP_KOBJ + GET_NAME] + item(env.thread), items=1)
        direct = bytes(u.mr.view("uint8")[:17])
        return gid, err(tag), l4_msgtag_words(tag), name, got, direct

    k, h, (gid, rc, words, name, got, direct) = run(arch, main)
    info = k._ffi.new("struct kobj_info *")
    k._lib.kobj_info(k._k, [h.thread_id], info)
    assert gid == info.dbg_id
    assert (rc, words, name) == (0, 3, "worker-thread")        # 16 bytes + NUL: 3 words
    assert got == 0 and direct == b"worker-thread\0\0\0\0"


def test_names_keep_16_bytes_and_stop_at_nul(arch):
    async def main(env):
        ok(await l4_debugger_set_object_name(env.thread, "a-very-long-thread-name"))
        gid = await l4_debugger_global_id(env.thread)
        long_name = (await l4_debugger_get_object_name(L4_BASE_DEBUGGER_CAP, gid))[1]
        ok(await l4_debugger_set_object_name(env.thread, b"ab\0cd"))
        short = (await l4_debugger_get_object_name(L4_BASE_DEBUGGER_CAP, gid))[1]
        cut = (await l4_debugger_get_object_name(L4_BASE_DEBUGGER_CAP, gid, size=2))[1]
        ok(await l4_debugger_set_object_name(env.thread, ""))
        tag, empty = await l4_debugger_get_object_name(L4_BASE_DEBUGGER_CAP, gid)
        return long_name, short, cut, err(tag), empty

    _, _, got = run(arch, main)
    assert got == ("a-very-long-thre", "ab", "a", 0, "")     # an empty name is a name


def test_global_ids_count_up_in_creation_order_and_are_never_reused(arch):
    async def main(env):
        ids = []
        for _ in range(3):
            ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
            ids.append(await l4_debugger_global_id(GATE))
            ok(await l4_task_delete_obj(env.task, GATE))
        thread = await l4_debugger_global_id(env.thread)
        task = await l4_debugger_global_id(env.task)
        return ids, thread, task

    _, _, (ids, thread, task) = run(arch, main)
    assert ids[0] < ids[1] < ids[2]
    assert task < thread < ids[0]                               # made before main ran


def test_a_name_dies_with_its_object(arch):
    async def main(env):
        ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
        ok(await l4_debugger_set_object_name(GATE, "gate"))
        gid = await l4_debugger_global_id(GATE)
        named = (await l4_debugger_get_object_name(L4_BASE_DEBUGGER_CAP, gid))[1]
        ok(await l4_task_delete_obj(env.task, GATE))
        gone = err((await l4_debugger_get_object_name(L4_BASE_DEBUGGER_CAP, gid))[0])
        ok(await l4_factory_create_gate(env.factory, GATE, L4_INVALID_CAP, 0))
        unnamed = await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER,
                               [L4_KDEBUG_GROUP_KOBJ + GET_NAME] + item(GATE), items=1)
        return named, gone, unnamed

    _, _, got = run(arch, main)
    assert got == ("gate", -L4_ENOENT, -L4_ENOENT)


def test_kobj_to_id_takes_the_models_object_id(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    ids = {}

    async def main(env):
        ids["by_ptr"] = await l4_debugger_kobj_to_id(L4_BASE_DEBUGGER_CAP, ids["obj"])
        ids["unknown"] = await l4_debugger_kobj_to_id(L4_BASE_DEBUGGER_CAP, 12345)
        ids["global"] = await l4_debugger_global_id(env.task)

    h = k.start_task(main, name="main")
    ids["obj"] = h.task.id
    k.run()
    assert ids["by_ptr"] == ids["global"] and ids["unknown"] == U64


def test_object_group_refusals(arch):
    async def main(env):
        u = l4_utcb()
        no_item = await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER,
                               [L4_KDEBUG_GROUP_KOBJ + L4_DEBUGGER_GLOBAL_ID_OP])
        bad_item = await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER,
                                [L4_KDEBUG_GROUP_KOBJ + L4_DEBUGGER_GLOBAL_ID_OP, L4_ITEM_MAP,
                                 l4_fpage(0x10000, 12, 6).raw], items=1)
        empty_slot = await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER,
                                  [L4_KDEBUG_GROUP_KOBJ + L4_DEBUGGER_GLOBAL_ID_OP]
                                  + item(0x7F000), items=1)
        log_types = [await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER,
                                  [L4_KDEBUG_GROUP_KOBJ + op, 0] + item(env.task), items=1)
                     for op in (L4_DEBUGGER_QUERY_LOG_TYPEID_OP, L4_DEBUGGER_SWITCH_LOG_OP,
                                L4_DEBUGGER_QUERY_LOG_NAME_OP, 7, 16)]
        unknown_id = await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER,
                                  [L4_KDEBUG_GROUP_KOBJ + 5, 10**9] + item(env.task), items=1)
        short_query = await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER,
                                   [L4_KDEBUG_GROUP_KOBJ + 5] + item(env.task), items=1)
        invalid = err(await l4_invoke_debugger(L4_INVALID_CAP, l4_msgtag(0, 1, 0, 0)))
        too_long = err(await l4_invoke_debugger(env.task, l4_msgtag(0, 62, 0, 0)))
        no_gid = await l4_debugger_global_id(0x7F000)
        # The group is stripped from the caller's MR0, as Fiasco does.
        ok(await l4_debugger_set_object_name(env.task, "t"))
        mr0 = int(u.mr[0])
        return (no_item, bad_item, empty_slot, log_types, unknown_id, short_query, invalid,
                too_long, no_gid, mr0)

    _, _, got = run(arch, main)
    assert got == (-L4_EINVAL, -(2000 + L4_IPC_SEMSGCUT), -L4_EINVAL,
                   # 3 and 4 need 3 words, 6 (index 0) answers, 7 is not modelled,
                   # 16 needs 4 words
                   [-L4_EINVAL, -L4_EINVAL, 0, -L4_ENOSYS, -L4_EINVAL],
                   -L4_ENOENT, -L4_EMSGTOOSHORT, -L4_EINVAL, -L4_EMSGTOOLONG, U64,
                   L4_DEBUGGER_NAME_SET_OP)


# ---- log types (ops 3, 4, 6): the kernel's trace kinds

def test_log_types_are_the_kernels_trace_kinds(arch):
    async def main(env):
        names = []
        for idx in range(12):
            e, name, short = await l4_debugger_query_log_name(env.task, idx)
            names.append((e, name, short))
        ids = [await l4_debugger_query_log_typeid(env.task, n, 0)
               for n in ("ipc", "Page fault", "switch", "vm_exit", "ke", "nothing")]
        past = await l4_debugger_query_log_typeid(env.task, "ipc", 1)   # ipc is index 0
        past_end = await l4_debugger_query_log_typeid(env.task, "ipc", 11)
        cut = await l4_debugger_query_log_name(env.task, 2, namelen=5, shortnamelen=3)
        return names, ids, past, past_end, cut

    k, _, (names, ids, past, past_end, cut) = run(arch, main)
    lib = k._lib
    assert names[0] == (0, "IPC", "ipc") and names[2] == (0, "Page fault", "page_fault")
    assert [n[2] for n in names[:11]] == [
        "ipc", "ipc_error", "page_fault", "map", "unmap", "irq", "switch", "vcpu_upcall",
        "vcpu_resume", "vm_entry", "vm_exit"]
    assert names[11] == (-L4_EINVAL, "", "")               # past the table
    assert ids == [lib.TRACE_IPC, lib.TRACE_PAGE_FAULT, lib.TRACE_SWITCH, lib.TRACE_VM_EXIT,
                   U64, U64]                               # µApp records are not log types
    assert (past, past_end) == (U64, -L4_EINVAL)
    assert cut == (0, "Page", "pa")                        # cut as l4sys copies them


def test_switch_log_stops_and_resumes_recording_a_kind(arch):
    from pyl4re.l4sys import L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_wait

    async def echo(env):
        u = l4_utcb()
        await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)

    async def main(env):
        u = l4_utcb()
        srv = env.caps["srv"]
        rcs = [err(await l4_debugger_switch_log(env.task, "ipc", 0))]
        await l4_ipc_call(srv, u, l4_msgtag(1, 0, 0, 0), L4_IPC_NEVER)     # not recorded
        rcs.append(err(await l4_debugger_switch_log(env.task, "IPC", 1)))
        await l4_ipc_call(srv, u, l4_msgtag(2, 0, 0, 0), L4_IPC_NEVER)     # recorded
        rcs.append(err(await l4_debugger_switch_log(env.task, "no such log", 1)))
        rcs.append(err(await l4_debugger_switch_log(env.task, "ke", 0)))   # not a log type
        rcs.append(await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER,
                                [L4_KDEBUG_GROUP_KOBJ + L4_DEBUGGER_SWITCH_LOG_OP, 0]
                                + item(env.task), items=1))                  # < 3 words
        return rcs

    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    e = k.start_task(echo, name="echo", caps={"svc": gate.svr()}, prio=5)
    gate.bind(e, 0x10)
    k.start_task(main, name="main", caps={"srv": gate})
    res = k.run()
    assert res.exited["main"] == [0, 0, -L4_ENOENT, -L4_ENOENT, -L4_EINVAL]
    sent = [r.fields["tag"] for r in k.trace if r.kind == "ipc" and r.name == "main"]
    labels = sorted({t >> 16 for t in sent})
    assert labels == [2]                                   # the call made while it was off: none
    assert k._lib.trace_kinds_off(k._k) == 0


# ---- group 0: output on the kernel console

def test_jdb_output_goes_to_the_kernel_log(arch):
    async def main(env):
        await outstring("hex ")
        await outhex32(0xDEADBEEF)
        await outchar(" ")
        for fn in (outhex20, outhex16, outhex12, outhex8):
            await fn(0x123456789)
            await outchar(",")
        await outnstring(" dec ", 3)
        await outdec(-1)
        await outchar(" ")
        await outhex64(0x0102030405060708)
        await outumword(0xA)
        await outchar(0x0A)
        return err(await enter_kdebug("stop")), err(await enter_kdebug())

    k, _, got = run(arch, main)
    assert got == (0, 0)
    assert k.log_lines == ["hex deadbeef 56789,6789,789,89, de18446744073709551615 "
                           "0102030405060708000000000000000a"]
    assert k.log_records[0].task == "main"


def test_jdb_output_keeps_the_callers_message_registers(arch):
    async def main(env):
        u = l4_utcb()
        u.mr[0:4] = [11, 22, 33, 44]
        await outstring("x\n")
        return [int(x) for x in u.mr[:4]]

    _, _, got = run(arch, main)
    assert got == [11, 22, 33, 44]


def test_other_groups_and_refusals(arch):
    async def main(env):
        return (await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER, [L4_KDEBUG_OUTHEX32]),
                await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER, [9, 0]),
                await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER, [L4_KDEBUG_GROUP_COV, 0]),
                # a group Fiasco does not know acts as group 0: outhex8 of MR1
                await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER,
                             [L4_KDEBUG_GROUP_DUMP + 7, 0xAB]),
                await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_LOG, [1, 0]),
                await invoke(L4_BASE_DEBUGGER_CAP, L4_PROTO_DEBUGGER, [], items=0),
                await invoke(L4_BASE_DEBUGGER_CAP, 0, []))

    k, _, got = run(arch, main)
    assert got == (-L4_EMSGTOOSHORT, -L4_ENOSYS, -L4_ENOSYS, 0, -L4_EBADPROTO, 0,
                   -L4_EBADPROTO)
    assert k._console.pending() == {next(iter(k._console.pending())): b"ab"}


def test_argument_checks(arch):
    async def main(env):
        with pytest.raises(TypeError):
            await l4_debugger_set_object_name(env.task, 42)
        with pytest.raises(ValueError):
            await l4_debugger_kobj_to_id(L4_BASE_DEBUGGER_CAP, -1)
        return True

    assert run(arch, main)[2] is True
