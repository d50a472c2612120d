"""µApp memory access (§10.1): pyl4re.mem through the page tables, page faults answered by
sigma0 or a pager µApp, the fault message per architecture, UTCB words kept intact."""
import pytest

import pyl4re
from pyl4re import CapIndex, Kernel, PhysAddr, VirtAddr
from pyl4re.l4sys import (
    L4_BASE_PAGER_CAP, L4_FPAGE_CACHEABLE, L4_FPAGE_RO, L4_FPAGE_RW, L4_FPAGE_RWX, L4_IPC_NEVER,
    L4_IPC_SEND_TIMEOUT_0, L4_ITEM_MAP, L4_PROTO_PAGE_FAULT, l4_fpage, l4_ipc_call,
    l4_ipc_reply_and_wait, l4_ipc_wait, l4_map_control, l4_msgtag, l4_msgtag_label, l4_utcb,
)
from pyl4re.mem import PageFaultError

MB = 1 << 20


def kernel(arch, memory=16 * MB):
    return Kernel(arch=arch, memory=memory)


def page_size(k):
    return 1 << k.arch_info["page_shift"]


def test_read_write_load_store_fetch(arch):
    k = kernel(arch)

    async def main(env):
        mem = pyl4re.mem
        await mem.write(0x800ffe, b"across a page")           # spans two pages
        a = await mem.read(0x800ffe, 13)
        await mem.store(0x900008, 0xDEADBEEF, 4)
        b = await mem.load(0x900008, 4)
        c = await mem.load(VirtAddr(0x900008), 2)
        d = await mem.fetch(0x900008)
        return a, b, c, d

    h = k.start_task(main, name="m")
    assert k.run().exited["m"] == (b"across a page", 0xDEADBEEF, 0xBEEF, 0xDEADBEEF)
    # sigma0 mapped the frames 1:1, and the data is in physical memory there.
    pa, size, rights = h.translate(VirtAddr(0x800ffe))
    assert pa == PhysAddr(0x800ffe) and size == page_size(k) and rights == 7
    assert bytes(k.physmem[0x800ffe:0x800ffe + 13]) == b"across a page"


def test_bad_addresses_and_values(arch):
    k = kernel(arch)
    user_max = k.arch_info["user_max"]

    async def main(env):
        mem = pyl4re.mem
        results = []
        for call in (lambda: mem.read(PhysAddr(0x800000), 1),
                     lambda: mem.read(-1, 1), lambda: mem.read(0x800000, -1),
                     lambda: mem.load(0x800000, 3), lambda: mem.store(0x800000, 1 << 40, 4),
                     lambda: mem.store(0x800000, -1, 8), lambda: mem.read("x", 1)):
            try:
                await call()
            except (TypeError, ValueError) as exc:
                results.append(type(exc).__name__)
        try:
            await mem.read(user_max + 1, 1)
        except PageFaultError as exc:
            results.append(exc.kind)
        return results

    k.start_task(main, name="m")
    assert k.run().exited["m"] == ["TypeError", "ValueError", "ValueError", "ValueError",
                                   "ValueError", "ValueError", "TypeError",
                                   "not_user"]


def test_sigma0_refuses_what_it_does_not_own(arch):
    k = kernel(arch)

    async def main(env):
        try:
            await pyl4re.mem.read(0x1000, 1)                    # a kernel-pool frame
        except PageFaultError as exc:
            return exc.address, exc.kind, exc.reason

    k.start_task(main, name="m")
    address, kind, reason = k.run().exited["m"]
    assert (address, kind) == (0x1000, "sigma0_not_ram")
    first = k.frames.stats()["sigma0_first_pfn"] << 12
    page = 0x1000 & ~(page_size(k) - 1)                 # MIPS64: 16 KiB pages
    assert reason.startswith(f"sigma0 does not own the frame at {page:#x}: it maps va == pa "
                             f"only inside the memory it owns, {first:#x}..")
    assert reason in k.explain_last_error()


def test_first_come_first_served_between_tasks(arch):
    k = kernel(arch)

    async def first(env):
        await pyl4re.mem.write(0xA00000, b"mine")
        return "ok"

    async def second(env):
        try:
            await pyl4re.mem.read(0xA00000, 4)
        except PageFaultError as exc:
            return exc.kind, exc.reason

    k.start_task(first, name="a", prio=10)
    k.start_task(second, name="b", prio=5)
    assert k.run().exited == {"a": "ok", "b": (
        "sigma0_taken", "sigma0 gave the frame at 0xa00000 to task 'a' (sigma0 owner 12) "
        "first: it maps each frame to the first owner that asks")}


def test_no_pager(arch):
    k = kernel(arch)

    async def main(env):
        try:
            await pyl4re.mem.read(0x800000, 1)
        except PageFaultError as exc:
            return exc.kind

    h = k.start_task(main, name="m")
    ctl = k._ffi.new("struct thread_ctl *", {"flags": k._lib.L4_THREAD_CONTROL_SET_PAGER,
                                             "pager": k._lib.L4_INVALID_CAP})
    assert k._lib.thread_control(k._k, [h.thread_id], ctl) == 0
    assert k.run().exited["m"] == "no_pager"


def test_a_pager_that_is_not_there(arch):
    """A pager selector naming an empty slot is an invalid pager, as in Fiasco
    (handle_page_fault_pager: `_pager.ptr()` finds nothing, the thread is killed): no
    page-fault IPC, and no exception either, even with an exception handler."""
    k = kernel(arch)

    async def main(env):
        try:
            await pyl4re.mem.read(0x800000, 1)
        except PageFaultError as exc:
            return exc.kind

    h = k.start_task(main, name="m")
    h.task.delete(CapIndex(4))
    ctl = k._ffi.new("struct thread_ctl *", {
        "flags": k._lib.L4_THREAD_CONTROL_SET_EXC_HANDLER, "exc_handler": 0x3000})
    assert k._lib.thread_control(k._k, [h.thread_id], ctl) == 0   # itself: a call would hang
    assert k.run().exited["m"] == "no_pager"


# ---- a pager µApp

def start_pager(k, log, grant=L4_FPAGE_RWX):
    """A pager that records each fault (MR0, MR1) and maps the faulting page from its own
    memory, which it got from sigma0 (its own pager) by touching it first. It refuses
    (negative label) write faults when it only grants read access: mapping the page again
    would make the thread fault again, for ever, as on a real kernel."""
    gate = k.create_gate(0x40)
    ps = page_size(k)

    async def pager(env):
        u = l4_utcb()
        await pyl4re.mem.write(0x1800000, bytes(4 * ps))     # get 4 pages from sigma0
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            pfa, ip = int(u.mr[0]), int(u.mr[1])
            log.append((l4_msgtag_label(tag), pfa & 7, pfa & ~7, ip, label))
            if pfa & 2 and not grant & 2:
                tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(-1, 0, 0, 0),
                                                         L4_IPC_SEND_TIMEOUT_0)
                continue
            page = (pfa & ~7) & ~(ps - 1)
            mine = 0x1800000 + (len(log) - 1) % 4 * ps
            u.mr[0] = l4_map_control(page, L4_FPAGE_CACHEABLE, 0)
            u.mr[1] = l4_fpage(mine, k.arch_info["page_shift"], grant).raw
            tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 1, 0),
                                                     L4_IPC_SEND_TIMEOUT_0)

    h = k.start_task(pager, name="pager", caps={"svc": gate.svr()})
    assert k._lib.gate_bind(k._k, [gate.object.id], [h.thread_id], 0x40) == 0
    return gate


EXPECTED_BITS = {   # (read unmapped, write unmapped, write read-only) per §10.1
    "x86_64": (0, 2, 3), "arm64": (1, 3, 2), "mips64": (1, 3, 2),
}


def test_page_fault_message_per_architecture(arch):
    k = kernel(arch, 32 * MB)
    log = []
    gate = start_pager(k, log, grant=L4_FPAGE_RO | 1)        # read-only pages (R X)

    async def client(env):
        u = l4_utcb()
        u.mr[0], u.mr[1], u.bdr, u.br[0], u.br[1] = 11, 22, 33, 44, 55
        await pyl4re.mem.read(0x40000010, 1)                   # read fault, not mapped
        try:
            await pyl4re.mem.write(0x40000010, b"x")           # write to a read-only page
        except PageFaultError:
            pass
        try:
            await pyl4re.mem.write(0x50000000, b"x")           # write fault, not mapped
        except PageFaultError:
            pass
        return [int(u.mr[0]), int(u.mr[1]), u.bdr, int(u.br[0]), int(u.br[1])]

    h = k.start_task(client, name="c", pager=gate)
    res = k.run()
    # The UTCB words the fault IPC borrowed came back.
    assert res.exited["c"] == [11, 22, 33, 44, 55]
    read_bits, write_bits, ro_bits = EXPECTED_BITS[arch]
    faults = [(bits, addr) for _, bits, addr, _, _ in log]
    assert faults[0] == (read_bits, 0x40000010)
    assert (ro_bits, 0x40000010) in faults and (write_bits, 0x50000000) in faults
    assert all(label == L4_PROTO_PAGE_FAULT for label, *_ in log)
    assert log[0][3] == h.thread.ip                           # MR1: the faulting ip


@pytest.mark.parametrize("cpus", [1, 2])
def test_a_pager_uapp_resolves_1000_page_faults(arch, cpus):
    k = Kernel(arch=arch, cpus=cpus, memory=64 * MB)
    ps = page_size(k)
    order = k.arch_info["page_shift"] + 10                    # 1024 pages
    gate = k.create_gate(0x40)
    faults = []

    async def pager(env):
        u = l4_utcb()
        # Ask sigma0 for 1024 pages of any free RAM, into our space at 0x20000000.
        u.mr[0], u.mr[1] = 0xFFFFFFFFFFFFFF90, l4_fpage(0, order, 0).raw
        u.bdr, u.br[0], u.br[1] = 0, L4_ITEM_MAP, l4_fpage(0x20000000, order, L4_FPAGE_RWX).raw
        tag = await l4_ipc_call(L4_BASE_PAGER_CAP, u, l4_msgtag(-6, 2, 0, 0), L4_IPC_NEVER)
        assert l4_msgtag_label(tag) == 0 and int(u.mr[0]) & 0x3E == 0x18   # memory arrived
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            pfa = int(u.mr[0]) & ~7
            faults.append(pfa)
            index = (pfa - 0x10000000) // ps
            u.mr[0] = l4_map_control(pfa & ~(ps - 1), 0, 0)
            u.mr[1] = l4_fpage(0x20000000 + index * ps, k.arch_info["page_shift"],
                               L4_FPAGE_RW).raw
            tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 1, 0),
                                                     L4_IPC_SEND_TIMEOUT_0)

    async def client(env):
        for i in range(1000):
            await pyl4re.mem.store(0x10000000 + i * ps + 8, i * 7 + 1)
        return [await pyl4re.mem.load(0x10000000 + i * ps + 8) for i in range(1000)]

    p = k.start_task(pager, name="pager", caps={"svc": gate.svr()})
    assert k._lib.gate_bind(k._k, [gate.object.id], [p.thread_id], 0x40) == 0
    c = k.start_task(client, name="client", pager=gate, cpu=cpus - 1)
    res = k.run()
    assert res.exited["client"] == [i * 7 + 1 for i in range(1000)]
    assert len(faults) == 1000                                 # one fault per page
    # Client page i is the pager's page i: the same physical frame.
    for i in (0, 1, 999):
        pa_client = c.translate(VirtAddr(0x10000000 + i * ps))[0]
        pa_pager = p.translate(VirtAddr(0x20000000 + i * ps))[0]
        assert pa_client == pa_pager
    assert c.translate(VirtAddr(0x10000000))[2] == L4_FPAGE_RW


def test_unmap_makes_the_next_access_fault_again(arch):
    from pyl4re.l4sys import L4_FP_ALL_SPACES, l4_task_unmap
    k = kernel(arch)
    ps = page_size(k)

    async def main(env):
        await pyl4re.mem.write(0x800000, b"a")
        await l4_task_unmap(env.task, l4_fpage(0x800000, k.arch_info["page_shift"], L4_FPAGE_RWX),
                            L4_FP_ALL_SPACES)
        # Gone from the page table (and the TLB): the next access faults, and sigma0,
        # which still considers the frame ours, maps it again.
        return await pyl4re.mem.read(0x800000, 1)

    h = k.start_task(main, name="m")
    assert k.run().exited["m"] == b"a"
    assert h.translate(VirtAddr(0x800000)) is not None
    del ps


def test_the_mapping_tree_of_a_frame(arch):
    k = Kernel(arch=arch, cpus=1, memory=64 * MB)
    ps = page_size(k)
    gate = k.create_gate(0x40)

    async def pager(env):
        u = l4_utcb()
        await pyl4re.mem.write(0x2000000, b"x")               # from sigma0, 1:1
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        u.mr[0] = l4_map_control(int(u.mr[0]) & ~7 & ~(ps - 1), 0, 0)
        u.mr[1] = l4_fpage(0x2000000, k.arch_info["page_shift"], L4_FPAGE_RO).raw
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 1, 0), L4_IPC_SEND_TIMEOUT_0)

    async def client(env):
        return await pyl4re.mem.read(0x30000000, 1)

    p = k.start_task(pager, name="pager", caps={"svc": gate.svr()})
    assert k._lib.gate_bind(k._k, [gate.object.id], [p.thread_id], 0x40) == 0
    c = k.start_task(client, name="client", pager=gate)
    assert k.run().exited["client"] == b"x"
    tree = k.mapdb_tree(PhysAddr(0x2000000))
    sigma0 = k._lib.kernel_sigma0(k._k).raw
    assert tree[0].task_id == sigma0 and tree[0].is_root
    owners = [(m.task_id, m.va.value, m.depth) for m in tree[1:]]
    assert (p.task.id, 0x2000000, 1) in owners and (c.task.id, 0x30000000, 2) in owners
    child = [m for m in tree if m.task_id == c.task.id][0]
    assert child.parent_task_id == p.task.id and child.rights & 7 == L4_FPAGE_RO


def test_the_harness_rule_an_int_or_a_virtaddr(arch):
    """README's rule: at the surface an address is an int or the matching typed value, the
    same address either way; results come back typed (and do not compare with ints)."""
    k = kernel(arch)

    async def main(env):
        await pyl4re.mem.write(VirtAddr(0x900000), b"same")
        return await pyl4re.mem.read(0x900000, 4)

    h = k.start_task(main, name="m")
    assert k.run().exited["m"] == b"same"
    assert h.translate(0x900000) == h.translate(VirtAddr(0x900000))
    pa = h.translate(0x900000)[0]
    assert pa == PhysAddr(0x900000)
    with pytest.raises(TypeError, match="compares only with PhysAddr"):
        assert pa == 0x900000
    assert k.mapdb_tree(0x900000) == k.mapdb_tree(PhysAddr(0x900000))
    with pytest.raises(TypeError):
        h.translate(PhysAddr(0x900000))
