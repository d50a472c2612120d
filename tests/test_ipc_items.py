"""Capability transfer by map items in IPC (§5.2-§5.4): receive buffers (BDR, BRs), the
placement rule, rights reduction, grant, weak references, LOCAL_ID, returned item words."""
from pyl4re import CapIndex, Kernel
from pyl4re.l4sys import (
    L4_CAP_FPAGE_RWS, L4_CAP_FPAGE_RWSD, L4_FPAGE_C_NO_REF_CNT, L4_IPC_NEVER,
    L4_IPC_REMSGCUT, L4_IPC_SEMSGCUT, L4_ITEM_CONT, L4_ITEM_MAP, L4_MAP_ITEM_GRANT,
    L4_RCV_ITEM_LOCAL_ID, L4_RCV_ITEM_SINGLE_CAP, l4_fpage_all, l4_ipc_call, l4_ipc_error,
    l4_ipc_reply_and_wait, l4_ipc_wait, l4_map_obj_control, l4_msgtag, l4_msgtag_has_error,
    l4_obj_fpage, l4_utcb,
)

NEVER = L4_IPC_NEVER
RECEIVED, NOTHING, ID, FPAGE = 0x38, 0x3A, 0x3C, 0x3E      # (w0 & 0x3E) of a returned item


def setup(arch, server, client, svr_rights="svr"):
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    srv = k.start_task(server, name="srv", caps={"svc": gate.svr()})
    assert k._lib.gate_bind(k._k, [gate.object.id], [srv.thread_id], 0x10) == 0
    client_gate = gate.svr() if svr_rights == "svr" else gate.mode(svr_rights)
    cl = k.start_task(client, name="c", caps={"svc": client_gate})
    return k, srv, cl


def receive_into(u, buffers):
    """BDR = 0: the object buffers start at BR0."""
    u.bdr = 0
    for i, w in enumerate(buffers):
        u.br[i] = w
    u.br[len(buffers)] = 0


def one_shot_server(buffers, out):
    async def server(env):
        u = l4_utcb()
        receive_into(u, buffers)
        tag, label = await l4_ipc_wait(u, NEVER)
        out["tag"], out["words"] = tag, [int(u.mr[i]) for i in range(6)]
        out["error"] = l4_ipc_error(tag, u)
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), 0x04000400)
    return server


def sender(items, words=1):
    async def client(env):
        u = l4_utcb()
        u.mr[0] = 42
        for i, (ctl, fp) in enumerate(items):
            u.mr[words + 2 * i], u.mr[words + 2 * i + 1] = ctl, fp
        tag = await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, words, len(items), 0), NEVER)
        return l4_ipc_error(tag, u)
    return client


def single(slot):
    return (slot << 12) | L4_RCV_ITEM_SINGLE_CAP


def test_a_capability_arrives_in_the_single_slot_buffer(arch):
    out = {}
    # The client sends its own task capability (slot 1) to the server's slot 0x40.
    k, srv, cl = setup(arch, one_shot_server([single(0x40)], out),
                       sender([(l4_map_obj_control(0, 0), l4_obj_fpage(1 << 12, 0, L4_CAP_FPAGE_RWS).raw)]))
    res = k.run()
    assert res.exited["c"] == 0 and out["error"] == 0
    assert out["words"][0] == 42 and out["words"][1] & 0x3E == RECEIVED
    cap = srv.task.cap(CapIndex(0x40))
    assert cap.type == "task" and cap.object_id == cl.task.id and cap.rights == 0x7


def test_s_passes_only_through_a_capability_with_s(arch):
    out = {}
    k, srv, cl = setup(arch, one_shot_server([single(0x40)], out),
                       sender([(l4_map_obj_control(0, 0), l4_obj_fpage(1 << 12, 0, L4_CAP_FPAGE_RWSD).raw)]),
                       svr_rights="rw")
    k.run()
    assert srv.task.cap(CapIndex(0x40)).rights == 0x5          # R|W: no S through an RW cap


def test_rights_never_exceed_the_senders(arch):
    out = {}
    # Slot 1 (the client's task cap) has RWS, not D: asking for RWSD gives RWS.
    k, srv, _ = setup(arch, one_shot_server([single(0x40)], out),
                      sender([(l4_map_obj_control(0, 0), l4_obj_fpage(1 << 12, 0, 0xF).raw)]))
    k.run()
    assert srv.task.cap(CapIndex(0x40)).rights == 0x7
    out2 = {}
    k, srv, _ = setup(arch, one_shot_server([single(0x40)], out2),
                      sender([(l4_map_obj_control(0, 0), l4_obj_fpage(1 << 12, 0, 0x4).raw)]))
    k.run()
    assert srv.task.cap(CapIndex(0x40)).rights == 0x4


def test_placement_in_a_window(arch):
    out = {}
    window = l4_obj_fpage(0x80 << 12, 4, L4_CAP_FPAGE_RWS).raw        # slots 0x80..0x8F
    # Send 4 capabilities (slots 4..7 of the client: pager gate, log, icu, scheduler)
    # with hot spot 0x3A: (0x3A mod 16) rounded down to 4 = 8 -> slots 0x88..0x8B.
    k, srv, _ = setup(arch, one_shot_server([L4_ITEM_MAP, window], out),
                      sender([(l4_map_obj_control(0x3A << 12, 0), l4_obj_fpage(4 << 12, 2, 0x7).raw)]))
    k.run()
    kinds = [srv.task.cap(CapIndex(0x88 + i)).type for i in range(4)]
    assert kinds == ["gate", "log", "icu", "scheduler"]
    assert srv.task.cap(CapIndex(0x84)) is None and srv.task.cap(CapIndex(0x8C)) is None
    # Slots the sender lacks are skipped: 8 (IOMMU), 9 (empty), 10 (debugger), 11 (empty).
    out = {}
    k, srv, _ = setup(arch, one_shot_server([L4_ITEM_MAP, window], out),
                      sender([(l4_map_obj_control(0, 0), l4_obj_fpage(8 << 12, 2, 0x7).raw)]))
    k.run()
    assert [srv.task.cap(CapIndex(0x80 + i)) is not None for i in range(4)] == [
        True, False, True, False]


def test_a_window_smaller_than_the_send_fpage(arch):
    out = {}
    window = l4_obj_fpage(0x80 << 12, 1, L4_CAP_FPAGE_RWS).raw        # 2 slots
    # 8 caps from slot 0 with hot spot 6: part (6 mod 8) rounded to 2 = 6 -> slots 6, 7.
    k, srv, _ = setup(arch, one_shot_server([L4_ITEM_MAP, window], out),
                      sender([(l4_map_obj_control(6 << 12, 0), l4_obj_fpage(0, 3, 0x7).raw)]))
    k.run()
    assert srv.task.cap(CapIndex(0x80)).type == "icu"
    assert srv.task.cap(CapIndex(0x81)).type == "scheduler"


def test_the_whole_space_window(arch):
    out = {}
    k, srv, _ = setup(arch, one_shot_server([L4_ITEM_MAP, l4_fpage_all().raw], out),
                      sender([(l4_map_obj_control(0x300 << 12, 0), l4_obj_fpage(5 << 12, 0, 0x7).raw)]))
    k.run()
    assert srv.task.cap(CapIndex(0x300)).type == "log"


def test_grant_moves_the_capability(arch):
    out = {}
    k, srv, cl = setup(arch, one_shot_server([single(0x40)], out),
                       sender([(l4_map_obj_control(0, L4_MAP_ITEM_GRANT), l4_obj_fpage(5 << 12, 0, 0x7).raw)]))
    k.run()
    assert srv.task.cap(CapIndex(0x40)).type == "log"
    assert cl.task.cap(CapIndex(5)) is None


def test_no_ref_cnt_gives_a_weak_capability(arch):
    out = {}
    ctl = l4_map_obj_control(0, 0) | L4_FPAGE_C_NO_REF_CNT
    k, srv, _ = setup(arch, one_shot_server([single(0x40)], out),
                      sender([(ctl, l4_obj_fpage(1 << 12, 0, 0x7).raw)]))
    k.run()
    assert not srv.task.cap(CapIndex(0x40)).counted


def test_an_empty_source_maps_nothing(arch):
    out = {}
    k, srv, _ = setup(arch, one_shot_server([single(0x40)], out),
                      sender([(l4_map_obj_control(0, 0), l4_obj_fpage(0x55 << 12, 0, 0x7).raw)]))
    assert k.run().exited["c"] == 0
    assert out["words"][1] & 0x3E == NOTHING and srv.task.cap(CapIndex(0x40)) is None


def test_no_buffer_is_an_overflow_on_both_sides(arch):
    out = {}
    k, srv, _ = setup(arch, one_shot_server([], out),
                      sender([(l4_map_obj_control(0, 0), l4_obj_fpage(1 << 12, 0, 0x7).raw)]))
    res = k.run()
    assert res.exited["c"] == L4_IPC_SEMSGCUT
    assert out["error"] == L4_IPC_REMSGCUT and l4_msgtag_has_error(out["tag"])


def test_a_void_item_is_skipped(arch):
    out = {}
    k, srv, _ = setup(arch, one_shot_server([single(0x40)], out),
                      sender([(0, 0), (l4_map_obj_control(0, 0), l4_obj_fpage(5 << 12, 0, 0x7).raw)]))
    assert k.run().exited["c"] == 0
    assert out["words"][1] == 0 and out["words"][3] & 0x3E == RECEIVED
    assert srv.task.cap(CapIndex(0x40)).type == "log"


def test_items_walk_the_buffer_list_unless_compound(arch):
    out = {}
    k, srv, _ = setup(arch, one_shot_server([single(0x40), single(0x41)], out),
                      sender([(l4_map_obj_control(0, 0), l4_obj_fpage(5 << 12, 0, 0x7).raw),
                              (l4_map_obj_control(0, 0), l4_obj_fpage(6 << 12, 0, 0x7).raw)]))
    k.run()
    assert srv.task.cap(CapIndex(0x40)).type == "log" and srv.task.cap(CapIndex(0x41)).type == "icu"
    # Compound: the second item goes to the same window buffer.
    out = {}
    window = l4_obj_fpage(0x80 << 12, 3, 0x7).raw
    k, srv, _ = setup(arch, one_shot_server([L4_ITEM_MAP, window, single(0x50)], out),
                      sender([(l4_map_obj_control(0, 0) | L4_ITEM_CONT, l4_obj_fpage(5 << 12, 0, 0x7).raw),
                              (l4_map_obj_control(1 << 12, 0), l4_obj_fpage(6 << 12, 0, 0x7).raw)]))
    k.run()
    assert srv.task.cap(CapIndex(0x80)).type == "log" and srv.task.cap(CapIndex(0x81)).type == "icu"
    assert srv.task.cap(CapIndex(0x50)) is None


def test_local_id_in_the_same_task_gives_the_fpage(arch):
    """Sender and receiver in one task: the raw flexpage arrives, nothing is mapped."""
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    out = {}
    fp = l4_obj_fpage(5 << 12, 0, 0x7).raw
    srv = k.start_task(one_shot_server([single(0x40) | L4_RCV_ITEM_LOCAL_ID], out), name="srv",
                       caps={"svc": gate.svr()})
    assert k._lib.gate_bind(k._k, [gate.object.id], [srv.thread_id], 0x10) == 0

    async def neighbour():
        return await sender([(l4_map_obj_control(0, 0), fp)])(srv.env)

    k.start_thread(srv, neighbour, "neighbour")
    res = k.run()
    assert res.exited["neighbour"] == 0
    assert out["words"][1] & 0x3E == FPAGE and out["words"][2] == fp
    assert srv.task.cap(CapIndex(0x40)) is None


def test_local_id_of_a_gate_bound_in_the_receivers_task(arch):
    out = {}
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x10)
    mine = k.create_gate(0x80)
    srv = k.start_task(one_shot_server([single(0x40) | L4_RCV_ITEM_LOCAL_ID], out), name="srv",
                       caps={"svc": gate.svr(), "mine": mine.svr()})
    for g, label in ((gate, 0x10), (mine, 0x80)):
        assert k._lib.gate_bind(k._k, [g.object.id], [srv.thread_id], label) == 0
    # The client holds a client (RW) capability to the server's own gate "mine" at 0x17.
    k.start_task(sender([(l4_map_obj_control(0, 0), l4_obj_fpage(0x17 << 12, 0, 0x7).raw)]),
                 name="c", caps={"svc": gate.svr(), "mine": mine})
    assert k.run().exited["c"] == 0
    assert out["words"][1] & 0x3E == ID
    assert out["words"][2] == 0x80 | 0x1              # the gate's label | W (the cap had no S)
    assert srv.task.cap(CapIndex(0x40)) is None       # nothing was mapped
