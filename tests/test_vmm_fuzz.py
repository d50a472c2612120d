"""A guest that corrupts its virtqueues through the real VM path (MMIO exits, guest RAM
mapped into the VM): fuzzed descriptors, ring indices and garbage transport register
writes. On every architecture the VMM survives, the devices mark themselves as needing a
reset (VirtIO 1.x §2.1.2) and never touch memory outside guest RAM (host pages outside
it change exactly as in a well-behaved run), and the guest, after
resetting the devices, still prints and uses the block device."""
import random
import struct

import pytest

from pyl4re import Kernel, guest
from pyl4re.guest import virtio as gv
from pyl4re.guest.virtio_program import acknowledge, program, read_device_tree
from pyl4re.vmm import virtio_mmio as R
from pyl4re.vmm.block import Block
from pyl4re.vmm.console import Console
from pyl4re.vmm.vmm import HC_SHUTDOWN, Device, VmConfig, Vmm

ROUNDS = 40
RAM_BASE = {"x86_64": 0x0, "arm64": 0x4000_0000, "mips64": 0x0}


async def _mr(gpa, width):
    return await guest.load(gpa, width)


async def _mw(gpa, width, value):
    await guest.store(gpa, value, width)


def fuzzing_guest(seed, report):
    def boot(dtb_gpa):
        async def main():
            devices, (ram_base, ram_size) = await read_device_tree(dtb_gpa)
            windows = {kind: base for kind, base, _, _ in devices}
            area = gv.Area(ram_base + ram_size // 4, ram_size // 2)
            guest.on_interrupt(acknowledge(list(windows.values()), []))
            rng = random.Random(seed)

            def driver(kind):
                return gv.Driver(windows[kind], _mr, _mw, guest.read, guest.write, area)
            con, blk = gv.Console(driver("console")), gv.BlockDevice(driver("block"))
            await con.start()
            await blk.start()
            await con.write("before the fuzz\n")
            resets = 0
            for _ in range(ROUNDS):
                d = rng.choice([con.d, blk.d])
                index = rng.choice(list(d.queues))
                q = d.queues[index]
                what = rng.randrange(4)
                if what == 0:            # random descriptors: wild addresses, loops, flags
                    for i in range(q["num"]):
                        await guest.write(q["desc"] + 16 * i, struct.pack(
                            "<QIHH", rng.choice([rng.randrange(1 << 64),
                                                 ram_base + rng.randrange(ram_size),
                                                 ram_base + ram_size - 8]),
                            rng.randrange(1 << 32) if rng.random() < 0.5
                            else rng.randrange(600), rng.randrange(8),
                            rng.randrange(q["num"] + 2)))
                elif what == 1:          # the driver's index far ahead, heads beyond
                    await guest.write(q["avail"] + 2, struct.pack("<H", rng.randrange(1 << 16)))
                    await guest.write(q["avail"] + 4, struct.pack("<H", rng.randrange(1 << 16)))
                elif what == 2:          # garbage into the transport registers
                    for _ in range(4):
                        offset = rng.randrange(0, 0x1000, 4)
                        if offset not in (R.STATUS, R.QUEUE_NOTIFY):
                            await guest.store(d.base + offset, rng.randrange(1 << 32), 4)
                else:                    # a random queue size, not a power of two
                    await guest.store(d.base + R.QUEUE_SEL, index, 4)
                    await guest.store(d.base + R.QUEUE_READY, 0, 4)
                    await guest.store(d.base + R.QUEUE_NUM, rng.choice([3, 100, 1 << 20]), 4)
                    await guest.store(d.base + R.QUEUE_READY, 1, 4)
                await guest.store(d.base + R.QUEUE_NOTIFY, index, 4)
                if await guest.load(d.base + R.STATUS, 4) & R.STATUS_NEEDS_RESET:
                    resets += 1
                    await d.set_reg(R.STATUS, 0)
                    if d is con.d:
                        await con.start()
                    else:
                        await blk.start()
            await con.start()                  # a clean start after the fuzz
            await blk.start()
            report["resets"] = resets
            status = await blk.write(3, b"after".ljust(512, b"!"))
            await con.write(f"after the fuzz: block write status {status}\n")
            await guest.hypercall(HC_SHUTDOWN, 0)
        return main
    return boot


def run_vm(arch, prog, disk):
    """(kernel, vmm, result, host pages outside guest RAM that changed in the run)."""
    k = Kernel(arch=arch, memory=32 << 20)
    before = bytes(k.physmem)
    vmm = Vmm(arch, VmConfig(tag="vm-1", program=prog, ram_base=RAM_BASE[arch],
                             devices=[Device("console", Console(), 0x2000_0000, 1),
                                      Device("block", Block(disk), 0x2000_1000, 2)]))
    k.start_task(vmm.main, name="vm-1")
    res = k.run()
    after, page = bytes(k.physmem), 4096
    changed = {pa for pa in range(0, len(before), page)
               if before[pa:pa + page] != after[pa:pa + page]
               and not vmm.ram <= pa < vmm.ram + vmm.ram_size}
    return k, vmm, res, changed


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzzed_virtqueues_cannot_crash_the_vmm_or_leave_guest_ram(arch, seed):
    disk, report = bytearray(64 * 512), {}
    k, vmm, res, changed = run_vm(arch, fuzzing_guest(seed, report), disk)
    # Outside guest RAM the host memory that changed is what a well-behaved guest's run
    # changes too (the kernel's own memory): nothing the fuzzing reached.
    *_, benign = run_vm(arch, program(["benign"], [(1, bytes(512))]), bytearray(64 * 512))
    assert changed == benign
    assert res.exited == {"vm-1": ("shutdown", 0)}, res
    assert not res.failed and not res.blocked
    problems = [p for t in vmm.transports.values() for p in t.problems]
    assert report["resets"] >= 5 and len(problems) >= report["resets"]
    lo, hi = vmm.span
    assert 0 <= lo < hi <= vmm.ram_size                 # never outside guest RAM
    assert k.log_lines[0] == "vm-1: before the fuzz"
    assert k.log_lines[-1] == "vm-1: after the fuzz: block write status 0"
    assert disk[3 * 512:4 * 512] == b"after".ljust(512, b"!")


def test_a_guest_that_never_acknowledges_its_interrupts(arch):
    # Its handler takes the interrupts but never writes InterruptACK: the lines stay up
    # (a level on MIPS, the status bits everywhere); the VMM keeps serving and injecting.
    k = Kernel(arch=arch, memory=32 << 20)
    seen = []

    def boot(dtb_gpa):
        async def main():
            devices, (ram_base, ram_size) = await read_device_tree(dtb_gpa)
            base = devices[0][1]

            async def ignore(vector):
                seen.append(vector)
            guest.on_interrupt(ignore)
            con = gv.Console(gv.Driver(base, _mr, _mw, guest.read, guest.write,
                                       gv.Area(ram_base + ram_size // 4, ram_size // 4)))
            await con.d.probe(3, queues=2)
            con.buf = con.d.area.take(256)
            for i in range(5):                 # submit without the driver's own ack
                await guest.write(con.buf, f"line {i}\n".encode())
                q = con.d.queues[1]
                await guest.write(q["desc"], struct.pack("<QIHH", con.buf, 7, 0, 0))
                await guest.write(q["avail"] + 4 + 2 * (i % q["num"]), struct.pack("<H", 0))
                await guest.write(q["avail"] + 2, struct.pack("<H", i + 1))
                await guest.store(base + R.QUEUE_NOTIFY, 1, 4)
            await guest.hypercall(HC_SHUTDOWN, await guest.load(base + R.INTERRUPT_STATUS, 4))
        return main
    vmm = Vmm(arch, VmConfig(tag="vm-1", program=boot, ram_base=RAM_BASE[arch],
                             devices=[Device("console", Console(), 0x2000_0000, 1)]))
    k.start_task(vmm.main, name="vm-1")
    res = k.run()
    assert res.exited == {"vm-1": ("shutdown", R.INT_VRING)}   # still unacknowledged
    assert k.log_lines == [f"vm-1: line {i}" for i in range(5)]
    assert seen and vmm.injected >= 1


@pytest.mark.parametrize("change, error", [
    ({"tag": ""}, TypeError), ({"program": 3}, TypeError), ({"ram_order": 40}, ValueError),
    ({"ram_base": 0x1234}, ValueError),
    ({"devices": ["console"]}, TypeError),
    ({"devices": [Device("console", Console(), 0x2000_0800, 1)]}, ValueError),
    ({"devices": [Device("console", Console(), 0x1000, 1)]}, ValueError),      # in RAM
    ({"devices": [Device("console", Console(), 0x2000_0000, 1),
                  Device("block", Block(bytearray(512)), 0x2000_0000, 2)]}, ValueError),
    ({"devices": [Device("console", Console(), 0x2000_0000, -1)]}, ValueError),
])
def test_a_bad_vm_configuration_is_refused_by_name(arch, change, error):
    base = dict(tag="vm-1", program=lambda dtb: None, ram_base=0)
    with pytest.raises(error):
        Vmm(arch, VmConfig(**{**base, **change}))
