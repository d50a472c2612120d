"""x86 I/O ports (§5.1, §5.5, §10.1): ports come from sigma0 as I/O flexpages (an I/O
page-fault message to the pager), are mapped on with l4_task_map and revoked with unmap,
recursively; pyl4re.io accesses reach the device model only with the port, and raise the
general-protection exception without it. Other architectures have no ports."""
import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.io import IoPortError
from pyl4re.l4sys import (
    L4_BASE_PAGER_CAP, L4_ENOMEM, L4_FP_ALL_SPACES, L4_FP_OTHER_SPACES, L4_IPC_NEVER,
    L4_IPC_SEND_TIMEOUT_0, L4_ITEM_MAP, L4_PROTO_EXCEPTION, L4_PROTO_IO_PAGE_FAULT, l4_error,
    l4_factory_create_task, l4_fpage_invalid, l4_iofpage, l4_ipc_call, l4_ipc_reply_and_wait,
    l4_ipc_wait, l4_map_control, l4_msgtag, l4_msgtag_label, l4_task_map, l4_task_unmap,
    l4_utcb,
)
from pyl4re.errors import L4NotSupportedError

from kobj_util import ok, sel

COM1 = 0x3F8
TASK = sel(0)


async def ports_from_sigma0(port, order):
    """Ask the pager (sigma0) for ports as an I/O page fault would; the reply's label."""
    u = l4_utcb()
    u.bdr = 0
    u.br[0] = L4_ITEM_MAP
    u.br[1] = l4_iofpage(0, 16).raw                   # receive window: all I/O space
    u.mr[0] = l4_iofpage(port, order).raw
    u.mr[1] = 0
    tag = await l4_ipc_call(L4_BASE_PAGER_CAP, u, l4_msgtag(L4_PROTO_IO_PAGE_FAULT, 2, 0, 0),
                            L4_IPC_NEVER)
    return l4_error(tag, u)


def uart(log):
    def read(port, size):
        log.append(("in", port, size))
        return 0x60 if port == COM1 + 5 else 0x41
    def write(port, size, value):
        log.append(("out", port, size, value))
    return read, write


def needs_x86(arch):
    if arch != "x86_64":
        pytest.skip("I/O ports exist on x86_64 only (test_no_ports_elsewhere)")


def test_ports_from_sigma0_reach_the_device(arch):
    needs_x86(arch)
    k = Kernel(arch=arch, memory=16 << 20)
    log = []
    read, write = uart(log)
    k.hw.io_device(COM1, 8, read=read, write=write)

    async def main(env):
        got = await ports_from_sigma0(COM1, 3)
        await pyl4re.io.outb(COM1, 0x41)
        lsr = await pyl4re.io.inb(COM1 + 5)
        floating = await pyl4re.io.inw(COM1 + 6)          # ports 0x3FE, 0x3FF: no reader
        try:
            await pyl4re.io.inb(0x60)                     # not ours: #GP, no handler
            blocked = None
        except IoPortError as e:
            blocked = e.port
        return got, lsr, blocked

    h = k.start_task(main, name="main")
    assert k.run().exited["main"] == (0, 0x60, 0x60)
    assert log == [("out", COM1, 1, 0x41), ("in", COM1 + 5, 1), ("in", COM1 + 6, 2)]
    out = k._ffi.new("kobj_id_t *")
    assert k._lib.io_ports_of(k._k, [h.task.id], COM1, out) == 0
    assert out.raw == k._lib.kernel_sigma0(k._k).raw     # recorded: mapped from sigma0
    assert k._lib.io_ports_of(k._k, [h.task.id], COM1 + 8, out) == -2


def test_sigma0_hands_out_ports_first_come_first_served(arch):
    needs_x86(arch)
    k = Kernel(arch=arch, memory=16 << 20)

    async def first(env):
        return await ports_from_sigma0(COM1, 3)

    async def second(env):
        return (await ports_from_sigma0(COM1, 0), await ports_from_sigma0(0x2F8, 3),
                await ports_from_sigma0(0x2F9, 3))          # misaligned: refused

    k.start_task(first, name="a", prio=2)
    k.start_task(second, name="b")
    res = k.run()
    assert res.exited["a"] == 0
    assert res.exited["b"] == (-L4_ENOMEM, 0, -22)


def test_map_and_recursive_unmap_of_ports(arch):
    needs_x86(arch)
    k = Kernel(arch=arch, memory=16 << 20)

    def has(task_id, port):
        out = k._ffi.new("kobj_id_t *")
        return k._lib.io_ports_of(k._k, [task_id], port, out) == 0

    async def main(env):
        assert await ports_from_sigma0(COM1, 3) == 0
        ok(await l4_factory_create_task(env.factory, TASK, l4_fpage_invalid()))
        # Order 17 is more than the I/O space: the whole space, of which we have 8 ports.
        ok(await l4_task_map(TASK, env.task, l4_iofpage(0, 16), l4_map_control(0, 0, 0)))
        await pyl4re.compute(1000)                         # the harness looks now
        ok(await l4_task_unmap(env.task, l4_iofpage(COM1, 3), L4_FP_OTHER_SPACES))
        await pyl4re.compute(1000)
        ok(await l4_task_unmap(env.task, l4_iofpage(COM1 + 4, 2), L4_FP_ALL_SPACES))
        low = await pyl4re.io.inb(COM1)
        try:
            await pyl4re.io.inb(COM1 + 4)
            return "reached"
        except IoPortError:
            return low

    h = k.start_task(main, name="main")
    k.run(until_ns=10_000_000)
    info = k._ffi.new("struct cap_info *")
    assert k._lib.cspace_lookup(k._k, [h.task.id], [0x40], info) == 0
    child = info.obj.raw
    res = k.run()
    assert res.exited["main"] == 0xFF                      # floating bus, and +4 was gone
    assert not has(child, COM1) and not has(child, COM1 + 7)
    assert has(h.task.id, COM1) and not has(h.task.id, COM1 + 4)


def test_a_port_fault_goes_to_the_exception_handler(arch):
    needs_x86(arch)
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate(0x50)
    log = []

    async def after():
        return "moved on"

    async def handler(env):
        u = l4_utcb()
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        log.append((l4_msgtag_label(tag), int(u.mr[16]), int(u.mr[17])))
        u.mr[18] = pyl4re.entry(after)
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, 26, 0, 0), L4_IPC_SEND_TIMEOUT_0)

    async def faulty(env):
        await pyl4re.io.outb(0x80, 1)
        return "not reached"

    h = k.start_task(handler, name="handler", caps={"svc": gate.svr()}, prio=10)
    gate.bind(h, 0x50)
    f = k.start_task(faulty, name="faulty", caps={"exc": gate})
    ctl = k._ffi.new("struct thread_ctl *", {
        "flags": k._lib.L4_THREAD_CONTROL_SET_EXC_HANDLER, "exc_handler": 0x16000})
    assert k._lib.thread_control(k._k, [f.thread_id], ctl) == 0
    assert k.run().exited["faulty"] == "moved on"
    assert log == [(L4_PROTO_EXCEPTION, 13, 0)]            # #GP, error code 0


def test_bad_port_arguments(arch):
    needs_x86(arch)
    k = Kernel(arch=arch, memory=16 << 20)

    async def main(env):
        r = []
        for call in (lambda: pyl4re.io.inb(0x10000), lambda: pyl4re.io.inl(0xFFFE),
                     lambda: pyl4re.io.outb(0, 256), lambda: pyl4re.io.outw(0, -1)):
            try:
                await call()
            except ValueError:
                r.append("ValueError")
        return r

    k.start_task(main, name="main")
    assert k.run().exited["main"] == ["ValueError"] * 4
    with pytest.raises(ValueError):
        k.hw.io_device(0xFFFF, 2)
    with pytest.raises(TypeError):
        k.hw.io_device(0x60, 1, read=5)


def test_no_ports_elsewhere(arch):
    if arch == "x86_64":
        pytest.skip("x86_64 has I/O ports")
    k = Kernel(arch=arch, memory=16 << 20)

    async def main(env):
        got = await ports_from_sigma0(COM1, 3)
        ok(await l4_factory_create_task(env.factory, TASK, l4_fpage_invalid()))
        mapped = l4_error(await l4_task_map(TASK, env.task, l4_iofpage(0, 16),
                                            l4_map_control(0, 0, 0)), l4_utcb())
        try:
            await pyl4re.io.inb(COM1)
            return "reached"
        except L4NotSupportedError:
            return got, mapped

    k.start_task(main, name="main")
    assert k.run().exited["main"] == (-38, 0)             # sigma0: -ENOSYS; map: nothing
