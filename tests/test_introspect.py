"""JDB's view of the kernel's objects (pyl4re.introspect): the `@@ KernelObjects` dump of
dumpmapdbobjs and the debugger's object-info op 16 (L4_kobj_info records in ku_mem)."""
import re

import pytest

from pyl4re import CapIndex, Kernel, introspect
from pyl4re.l4sys import (L4_EINVAL, L4_FPAGE_RW, l4_debugger_query_obj_infos,
                          l4_debugger_set_object_name, l4_error, l4_fpage, l4_task_add_ku_mem)

# The line patterns of L4Re's IntrospectionTesting TAP plugin, in Python's syntax.
OBJECT_LINE = re.compile(r"^([0-9a-f]+) ([0-9a-f]+) \[([^\]]+)\] (.*)$")
CAP_LINE = re.compile(r"^\t([0-9a-f]+)\[C:([0-9a-f]+)\]: space=D:([0-9a-f]+)(\([^)]*\))? "
                      r"rights=([0-9a-f]+) flags=([0-9a-f]+) obj=0x([0-9a-f]+)$")
KU_MEM = 0x7000000


def small_system(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)

    async def server(env):
        await l4_debugger_set_object_name(env.task, "srv-task")

    async def client(env):
        pass

    h = k.start_task(server, name="srv", caps={"svc": gate.svr()})
    c = k.start_task(client, name="cli", caps={"svc": gate})
    k.run()
    return k, gate, h, c


def test_the_dump_has_jdbs_format(arch):
    k, gate, h, c = small_system(arch)
    text = k.kernel_objects_dump("run1")
    lines = text.splitlines()
    assert lines[:3] == ["@@ KernelObjects @< BLOCK", "dump format version number: 0",
                         "user space tag: run1"]
    assert lines[-1] == "@@ KernelObjects BLOCK >@"
    objects, caps = {}, []
    current = None
    for line in lines[3:-1]:
        m = OBJECT_LINE.match(line)
        if m:
            current = int(m.group(2), 16)
            objects[current] = m
            assert m.group(4).endswith(f"ref_cnt={k.object(current).info().counted_refs}")
        else:
            cm = CAP_LINE.match(line)
            assert cm, line
            assert int(cm.group(7), 16) == current
            caps.append(cm)
    assert len(objects) == k.objects_alive
    gids = [int(m.group(1), 16) for m in objects.values()]
    assert gids == sorted(gids)                      # creation order
    # Every capability of every task, once, with its rights.
    expected = sorted((t.id, s.index.value, s.object.id, s.rights)
                      for t in (k.root_task, h.task, c.task) for s in t.capabilities())
    gid_of = {int(m.group(1), 16): oid for oid, m in objects.items()}
    found = sorted((gid_of[int(m.group(3), 16)], int(m.group(2), 16), int(m.group(7), 16),
                    int(m.group(5), 16)) for m in caps)
    assert found == expected
    assert f"[\033[31mTask\033[m] {{srv-task}}" in text      # the debugger name it set
    assert "space=D:" in text and f"({'cli'})" in text         # the harness's task name
    gate_line = objects[gate.object.id].group(0)
    assert "[\033[35mGate\033[m]" in gate_line and "label=10" in gate_line


def test_cap_flags_and_plain_type_names(arch):
    k, gate, h, c = small_system(arch)
    plain = k.kernel_objects_dump(color=False)
    assert "\033" not in plain and "user space tag:\n" in plain
    srv_slot = f"[C:16]: space=D:{introspect_gid(k, h.task.id):x}(srv-task)"
    line = next(line for line in plain.splitlines() if srv_slot in line)
    assert "rights=7 flags=20" in line                    # the server side of the gate
    cli = next(line for line in plain.splitlines() if "[C:16]" in line and "(cli)" in line)
    assert "rights=5 flags=0" in cli
    h.task.insert(CapIndex(0x40), gate.object, counted=False)
    weak = next(line for line in k.kernel_objects_dump(color=False).splitlines()
                if "[C:40]" in line)
    assert "flags=10" in weak


def introspect_gid(k, oid):
    return next(e.gid for e in introspect.entries(k) if e.id == oid)


@pytest.mark.parametrize("tag", ["has space", "x" * 21, "tab\t", 5])
def test_a_bad_tag_is_refused(kernel, tag):
    with pytest.raises(ValueError, match="tag must be at most 20 printable"):
        kernel.kernel_objects_dump(tag)


def test_the_dump_is_written_to_a_file(kernel, tmp_path):
    path = tmp_path / "objs.txt"
    assert kernel.kernel_objects_dump(path=path) == path.read_text()


def ku_bytes(k, task, n):
    pa = k._ffi.new("phys_addr_t *")
    assert k._lib.task_kumem_find(k._k, [task.id], [KU_MEM], n, pa) == 0
    return bytes(k.physmem[pa.raw:pa.raw + n])


def test_op_16_writes_l4_kobj_info_records(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x20)

    async def main(env):
        assert l4_error(await l4_task_add_ku_mem(env.task, l4_fpage(KU_MEM, 14, L4_FPAGE_RW))) == 0
        out = [await l4_debugger_query_obj_infos(env.debugger, KU_MEM, 1 << 14, 0)]
        out.append(await l4_debugger_query_obj_infos(env.debugger, KU_MEM, 3 * 64 + 10, 2))
        out.append(await l4_debugger_query_obj_infos(env.debugger, KU_MEM + 0x100, 32, 0))
        out.append(await l4_debugger_query_obj_infos(env.debugger, 0x9000000, 64, 0))
        out.append(await l4_debugger_query_obj_infos(env.debugger, KU_MEM, 1 << 15, 0))
        return [(l4_error(tag), cnt, total) for tag, cnt, total in out]

    h = k.start_task(main, name="app", caps={"g": gate})
    first, skipped, tiny, not_ku, too_big = k.run().exited["app"]
    total = len(introspect.records(k))
    assert first == (0, total, total)
    assert skipped == (0, 3, total - 2)
    assert tiny == (0, 0, total)                       # room for no whole record
    assert not_ku[0] == too_big[0] == -L4_EINVAL
    # The memory holds records 2..4 of the list (the last query that wrote).
    recs = introspect.decode(ku_bytes(k, h.task, 3 * 64))
    assert [r["type"] for r in recs] == [r["type"] for r in
                                         introspect.decode(b"".join(introspect.records(k)[2:5]))]
    every = introspect.decode(b"".join(introspect.records(k)))
    dump = k.kernel_objects_dump().splitlines()[3:-1]
    assert len(every) == len(dump)
    gate_rec = next(r for r in every if r["type"] == 4 and r["mapping_ptr"] == gate.object.id)
    assert gate_rec["label"] == 0x20 and gate_rec["thread_id"] == 0
    caps = [r for r in every if r["type"] == 0 and r["entry_ptr"] == gate.object.id]
    assert sorted((r["space_name"], r["cap_idx"], r["entry_rights"]) for r in caps) == \
        [("app", 0x16, 5), ("root", gate.index, 0xF)]
    thread = next(r for r in every if r["type"] == 1 and r["mapping_ptr"] == h.thread_id)
    assert thread["home_cpu"] == 0 and thread["space_id"] == introspect_gid(k, h.task.id)
    factory = next(r for r in every if r["type"] == 7)
    assert factory["limit"] == 0 and factory["current"] == k.root_factory.quota.used


def test_op_16_needs_four_words(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    from pyl4re.l4sys import l4_invoke_debugger, l4_msgtag, l4_utcb, L4_DEBUGGER_OBJ_INFO_OP

    async def main(env):
        l4_utcb().mr[0] = L4_DEBUGGER_OBJ_INFO_OP
        return l4_error(await l4_invoke_debugger(env.debugger, l4_msgtag(0, 3, 0, 0)))

    k.start_task(main, name="m")
    assert k.run().exited["m"] == -L4_EINVAL
