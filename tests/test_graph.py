"""Capability and mapping graphs and the authority queries (pyl4re.graph): what a harness
uses to assert isolation properties in one line."""
import json

import networkx as nx
import pytest

import pyl4re
from pyl4re import CapIndex, Kernel, L4NotFoundError, PhysAddr, graph
from pyl4re.control import mem as mem_ctl
from pyl4re.l4sys import (L4_FPAGE_RW, L4_IPC_NEVER, l4_fpage, l4_ipc_wait, l4_map_control,
                          l4_rcv_ep_bind_thread, l4_utcb)

A_PAGE, B_PAGE = 0x900000, 0xA00000


def two_tasks(arch):
    """Tasks "a" and "b", each touching a page of its own (sigma0 maps it 1:1)."""
    k = Kernel(arch=arch, memory=16 << 20)

    def toucher(va):
        async def main(env):
            await pyl4re.mem.write(va, b"mine")
        return main

    a = k.start_task(toucher(A_PAGE), name="a")
    b = k.start_task(toucher(B_PAGE), name="b")
    k.run()
    return k, a, b


def test_capabilities_lists_every_slot(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)

    async def main(env):
        pass

    h = k.start_task(main, name="app", caps={"svc": gate, "srv": gate.svr()})
    slots = h.task.capabilities()
    assert [s.index.value for s in slots] == [1, 2, 3, 4, 5, 6, 7, 8, 10, 0x16, 0x17]
    kinds = {s.index.value: s.kind for s in slots}
    assert kinds[1] == "task" and kinds[3] == "thread" and kinds[4] == kinds[0x16] == "gate"
    for s in slots:                      # each agrees with a single lookup
        cap = h.task.cap(s.index)
        assert (s.object.id, s.kind, s.rights, s.attrs) == (cap.object_id, cap.type,
                                                            cap.rights, cap.attrs)
    svc, srv = slots[-2], slots[-1]
    assert svc.object == srv.object == gate.object
    assert (svc.rights_text, srv.rights_text) == ("rw", "rws")
    # Far-apart slots are found too, and a deleted one is gone.
    h.task.insert(CapIndex(0xFFFFF), gate.object)
    h.task.delete(CapIndex(0x16))
    indexes = [s.index.value for s in h.task.capabilities()]
    assert 0x16 not in indexes and indexes[-1] == 0xFFFFF
    assert len(k.root_task.capabilities()) == k.root_task.caps_used()


def test_capabilities_of_a_dead_task_is_a_clear_error(arch):
    k = Kernel(arch=arch, memory=16 << 20)

    async def main(env):
        pass

    h = k.start_task(main, name="gone")
    k.root_task.delete_obj(CapIndex(h.task_slot))
    with pytest.raises(L4NotFoundError, match="not a live task"):
        h.task.capabilities()
    with pytest.raises(L4NotFoundError, match="not a live object"):
        k.authority(h)
    with pytest.raises(L4NotFoundError, match="not a live object"):
        k.can_reach(k.root_task, h.task)


def test_the_graph_has_objects_frames_and_their_edges(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x20)

    async def server(env):
        await l4_rcv_ep_bind_thread(env.caps["srv"], env.thread, 0x40)
        await pyl4re.mem.write(A_PAGE, b"x")

    h = k.start_task(server, name="server", caps={"srv": gate.svr()})
    k.run()
    g = k.graph()
    assert isinstance(g, nx.MultiDiGraph) and g.graph["arch"] == arch
    task, thread, gid = h.task.id, h.thread_id, gate.object.id
    assert g.nodes[task]["kind"] == "task" and g.nodes[task]["name"] == "server"
    assert g.nodes[thread]["kind"] == "thread" and g.nodes[gid]["kind"] == "gate"
    caps = {d["index"]: (b, d["rights_text"]) for _, b, d in g.out_edges(task, data=True)
            if d["kind"] == "cap"}
    assert caps[0x16] == (gid, "rws") and caps[3] == (thread, "rws")
    assert [d["label"] for _, b, d in g.out_edges(gid, data=True) if d["kind"] == "bound"] \
        == [0x40] and g.has_edge(gid, thread)
    assert g.has_edge(thread, task, key="task")
    pager = next(b for _, b, d in g.out_edges(thread, data=True) if d["kind"] == "pager")
    assert g.nodes[pager]["kind"] == "gate"
    bound = [b for _, b, d in g.out_edges(pager, data=True) if d["kind"] == "bound"]
    assert [g.nodes[t]["name"] for t in bound] == ["sigma0"]
    maps = [(b, d) for _, b, d in g.out_edges(task, data=True) if d["kind"] == "map"]
    assert len(maps) == 1
    frame, data = maps[0]
    assert g.nodes[frame]["kind"] == "frame" and data["va"] == A_PAGE
    assert g.nodes[frame]["pa"] <= A_PAGE < g.nodes[frame]["pa"] + g.nodes[frame]["size"]
    assert data["rights_text"] == "rwx"
    assert g.number_of_nodes() == k.objects_alive + sum(
        1 for _, d in g.nodes(data=True) if d["kind"] == "frame")


def test_dot_and_json_exports(arch):
    k, a, b = two_tasks(arch)
    g = k.graph()
    dot = graph.to_dot(g)
    assert dot.startswith(f'digraph "pyl4re {arch}" {{') and dot.rstrip().endswith("}")
    assert f'obj_{a.task.id:x} [label="task: a", shape=folder];' in dot
    assert dot.count(" -> ") == g.number_of_edges()
    data = json.loads(graph.to_json(g))
    assert data["arch"] == arch
    assert len(data["nodes"]) == g.number_of_nodes()
    assert len(data["edges"]) == g.number_of_edges()
    ids = {n["id"] for n in data["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in data["edges"])
    assert {"id": f"obj_{a.task.id:x}", "kind": "task", "name": "a"} in data["nodes"]


def test_isolation_and_a_wrong_mapping(arch):
    """Two tasks that must not share memory are separated; a deliberate wrong mapping of
    a's page into b is named by the same query."""
    k, a, b = two_tasks(arch)
    assert k.authority(a).shared_memory(k.authority(b)) == []
    assert not k.can_reach(b, PhysAddr(A_PAGE)) and k.can_reach(a, PhysAddr(A_PAGE))
    assert k.confinement_report().writers(PhysAddr(A_PAGE)) == {a.task.id}

    # The bug: a's page also mapped (writable) into b.
    shift = k.arch_info["page_shift"]
    assert mem_ctl.map_mem(k, b.task.id, a.task.id, l4_fpage(A_PAGE, shift, L4_FPAGE_RW),
                           l4_map_control(0x400000, 0, 0)) == 1
    shared = k.authority(a).shared_memory(k.authority(b))
    assert [(s.pa, s.size) for s in shared] == [(PhysAddr(A_PAGE), 1 << shift)]
    assert str(shared[0]) == f"{PhysAddr(A_PAGE)!r}+{1 << shift:#x} (rwx / rw)"
    assert k.can_reach(b, PhysAddr(A_PAGE))
    report = k.confinement_report()
    assert report.writers(PhysAddr(A_PAGE)) == {a.task.id, b.task.id}
    assert report.shared_memory(a, b) == shared
    assert f"{PhysAddr(A_PAGE)!r}+{1 << shift:#x}: a, b  SHARED" in str(report)


def test_authority_flows_through_ipc(arch):
    """b can send to a's gate: a's reply may carry a's capabilities and memory to b."""
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    secret = k.create_gate(0x20)

    async def server(env):
        await l4_rcv_ep_bind_thread(env.caps["srv"], env.thread, 0x40)
        await pyl4re.mem.write(A_PAGE, b"x")
        await l4_ipc_wait(l4_utcb(), L4_IPC_NEVER)

    async def client(env):
        await pyl4re.mem.write(B_PAGE, b"y")

    async def bystander(env):
        pass

    a = k.start_task(server, name="a", caps={"srv": gate.svr(), "secret": secret})
    b = k.start_task(client, name="b", caps={"svc": gate})
    c = k.start_task(bystander, name="c")
    k.run()
    auth_b = k.authority(b)
    grant = auth_b.objects[secret.object.id]
    assert grant.via == ("a",) and grant.rights_text == "rw"
    assert auth_b.can_reach(PhysAddr(A_PAGE)) and k.can_reach(b, secret.object)
    assert "via a" in str(auth_b)
    # ... and b's holdings can reach a with b's message; c is on its own.
    assert k.can_reach(a, PhysAddr(B_PAGE))
    assert not k.can_reach(c, secret.object) and not k.can_reach(c, PhysAddr(A_PAGE))
    report = k.confinement_report()
    assert report.can_send(b, a) and not report.can_send(a, b) and not report.can_send(c, a)
    # With nobody trusted, sigma0 (everyone's pager) joins them all.
    assert k.can_reach(c, secret.object, trusted=())


def test_query_arguments_are_checked(arch):
    k, a, b = two_tasks(arch)
    with pytest.raises(TypeError, match="is a thread, not a task"):
        k.authority(a.thread_id)
    with pytest.raises(TypeError, match="kernel object handle"):
        k.authority("a")
    with pytest.raises(L4NotFoundError, match="not a live object"):
        k.authority(0x7777)
