"""The VMM's VirtIO devices over MMIO, driven by the guest-side driver (pyl4re.guest.virtio)
through real split virtqueues in guest RAM: negotiation, the console, the block device,
and a guest that breaks the rules (bad queues, descriptor loops, buffers outside RAM,
fuzzed rings) without the device ever failing or leaving guest RAM."""
import asyncio
import random
import struct

import pytest

from pyl4re.guest import virtio as gv
from pyl4re.vmm import devicetree
from pyl4re.vmm import virtio_mmio as R
from pyl4re.vmm.block import Block
from pyl4re.vmm.console import Console
from pyl4re.vmm.guest_memory import GuestMemoryError, bytearray_memory

RAM_BASE, RAM_SIZE = 0x4000_0000, 0x10_0000
DEV_BASE = 0x2000_0000


def run(coro):
    return asyncio.run(coro)


def rig(device):
    """A device behind its transport, and a guest driver talking to both through plain
    functions (what MMIO exits and guest RAM accesses become in a VM)."""
    mem, ram = bytearray_memory(RAM_BASE, RAM_SIZE)
    irqs = []
    transport = R.VirtioMmio(device, mem, raise_irq=lambda: irqs.append(1),
                             lower_irq=lambda: irqs.append(0))

    async def mmio_read(gpa, width):
        return transport.read(gpa - DEV_BASE, width)

    async def mmio_write(gpa, width, value):
        await transport.write(gpa - DEV_BASE, width, value)
    driver = gv.Driver(DEV_BASE, mmio_read, mmio_write, mem.read, mem.write,
                       gv.Area(RAM_BASE, RAM_SIZE // 2))
    return transport, driver, ram, irqs


def test_console_output_reaches_the_log_line_by_line():
    lines = []
    transport, driver, _, irqs = rig(Console(lines.append))

    async def guest():
        con = gv.Console(driver)
        await con.start()
        await con.write("Hello from the guest\npart")
        await con.write("ial line\nand the rest")
    run(guest())
    assert lines == ["Hello from the guest", "partial line"]
    assert transport.status & R.STATUS_DRIVER_OK and 1 in irqs
    assert transport.interrupt_status == 0          # the driver acknowledged


def test_console_input_reaches_the_guest():
    console = Console(lambda line: None)
    transport, driver, _, _ = rig(console)

    async def guest():
        con = gv.Console(driver)
        await con.start()
        await console.feed("ls -l\n")
        return await con.read(64)
    assert run(guest()) == b"ls -l\n"


def test_negotiation_refuses_unknown_features():
    transport, driver, _, _ = rig(Console(lambda line: None))

    async def guest():
        for off, val in ((R.STATUS, 0), (R.STATUS, 3), (R.DRIVER_FEATURES_SEL, 0),
                         (R.DRIVER_FEATURES, 1 << 7), (R.DRIVER_FEATURES_SEL, 1),
                         (R.DRIVER_FEATURES, 1)):
            await transport.write(off, 4, val)
        await transport.write(R.STATUS, 4, 3 | R.STATUS_FEATURES_OK)
        return transport.read(R.STATUS, 4)
    assert not run(guest()) & R.STATUS_FEATURES_OK
    assert transport.read(R.MAGIC_VALUE, 4) == R.MAGIC
    assert transport.read(R.MAGIC_VALUE, 2) == 0     # header: 32-bit accesses only
    assert transport.read(R.MAGIC_VALUE + 1, 4) == 0  # misaligned


def test_block_device_reads_writes_and_checks_sectors(tmp_path):
    disk = bytearray(64 * 512)
    disk[512:1024] = b"B" * 512
    transport, driver, _, _ = rig(Block(disk))

    async def guest():
        blk = gv.BlockDevice(driver)
        await blk.start()
        out = [await blk.read(1)]
        out.append(await blk.write(2, b"written!" * 64))
        out.append(await blk.read(63, 2))           # past the end: IOERR
        out.append(await blk.write(64, b"x" * 512))  # past the end
        out.append(await blk.flush())
        out.append(await blk.ident())
        return out, blk.sectors
    out, sectors = run(guest())
    assert sectors == 64
    assert out[0] == (0, b"B" * 512)
    assert out[1] == 0 and disk[1024:1536] == b"written!" * 64
    assert out[2][0] == 1 and out[3] == 1            # IOERR, disk untouched
    assert disk[-512:] == bytes(512)
    assert out[4] == 0 and out[5] == (0, b"pyl4re-blk".ljust(20, b"\0"))


def test_block_device_on_a_file_and_read_only(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(b"\0" * 4096)
    dev = Block(str(path))
    _, driver, _, _ = rig(dev)

    async def guest():
        blk = gv.BlockDevice(driver)
        await blk.start()
        return await blk.write(3, b"F" * 512), await blk.flush()
    assert run(guest()) == (0, 0)
    dev.close()
    assert path.read_bytes()[1536:2048] == b"F" * 512
    ro = Block(str(path), read_only=True)
    _, driver, _, _ = rig(ro)

    async def guest_ro():
        blk = gv.BlockDevice(driver)
        await blk.start(features=1 << 5)
        return await blk.write(0, b"G" * 512), await blk.read(3)
    status, (rstatus, data) = run(guest_ro())
    ro.close()
    assert status == 1 and rstatus == 0 and data == b"F" * 512


def _ready_queue(transport, num, desc, avail, used):
    async def go():
        for off, v in ((R.STATUS, 0), (R.STATUS, 3), (R.DRIVER_FEATURES_SEL, 1),
                       (R.DRIVER_FEATURES, 1), (R.STATUS, 11), (R.QUEUE_SEL, 0),
                       (R.QUEUE_NUM, num), (R.QUEUE_DESC_LOW, desc & 0xFFFFFFFF),
                       (R.QUEUE_DESC_HIGH, desc >> 32), (R.QUEUE_DRIVER_LOW, avail & 0xFFFFFFFF),
                       (R.QUEUE_DRIVER_HIGH, avail >> 32), (R.QUEUE_DEVICE_LOW, used & 0xFFFFFFFF),
                       (R.QUEUE_DEVICE_HIGH, used >> 32), (R.QUEUE_READY, 1), (R.STATUS, 15)):
            await transport.write(off, 4, v)
    run(go())


@pytest.mark.parametrize("num, desc, why", [(3, RAM_BASE, "power of two"),
                                            (16, RAM_BASE + 8, "misaligned"),
                                            (16, 0x1000, "outside guest RAM"),
                                            (1024, RAM_BASE, "QueueNumMax")])
def test_bad_queues_mark_the_device_as_needing_a_reset(num, desc, why):
    transport, _, _, irqs = rig(Block(bytearray(4096)))
    _ready_queue(transport, num, desc, RAM_BASE + 0x1000, RAM_BASE + 0x2000)
    assert transport.status & R.STATUS_NEEDS_RESET
    assert transport.read(R.INTERRUPT_STATUS, 4) & R.INT_CONFIG and irqs
    assert why in " ".join(transport.problems)
    assert transport.queue(0) is None
    run(transport.write(R.STATUS, 4, 0))            # a reset clears it
    assert transport.read(R.STATUS, 4) == 0


def _corrupt_chain(ram, desc_off, entries):
    for i, (addr, length, flags, nxt) in enumerate(entries):
        ram[desc_off + 16 * i:desc_off + 16 * i + 16] = struct.pack("<QIHH", addr, length,
                                                                    flags, nxt)


@pytest.mark.parametrize("name, entries", [
    ("loop", [(RAM_BASE + 0x8000, 16, 1, 1), (RAM_BASE + 0x8000, 16, 1, 0)]),
    ("outside RAM", [(0x1000, 16, 1, 1), (RAM_BASE, 1, 2, 0)]),
    ("past the end of RAM", [(RAM_BASE + RAM_SIZE - 8, 16, 0, 0)]),
    ("index beyond the table", [(RAM_BASE + 0x8000, 16, 1, 99)]),
    ("nested indirect", [(RAM_BASE + 0x100, 32, 4, 0)]),
])
def test_broken_chains_are_refused_without_touching_anything_outside(name, entries):
    disk = bytearray(8 * 512)
    transport, _, ram, _ = rig(Block(disk))
    desc, avail, used = RAM_BASE, RAM_BASE + 0x1000, RAM_BASE + 0x2000
    _ready_queue(transport, 16, desc, avail, used)
    _corrupt_chain(ram, 0, entries)
    if name == "nested indirect":               # the indirect table holds another one
        ram[0x100:0x120] = struct.pack("<QIHH", RAM_BASE + 0x200, 16, 4, 0) * 2
    ram[0x1000 + 4:0x1000 + 6] = struct.pack("<H", 0)
    ram[0x1000 + 2:0x1000 + 4] = struct.pack("<H", 1)
    before = bytes(ram)
    run(transport.write(R.QUEUE_NOTIFY, 4, 0))
    assert transport.status & R.STATUS_NEEDS_RESET, name
    assert disk == bytearray(8 * 512)
    assert bytes(ram)[0x2000:0x2000 + 8] == before[0x2000:0x2000 + 8]   # nothing used


def test_fuzzed_rings_never_escape_guest_ram():
    """Random bytes in the descriptor table and rings, notified over and over: the device
    either serves or asks for a reset; every access stays inside guest RAM (the memory
    object refuses anything else, and an escape would raise out of notify)."""
    rnd = random.Random(7)
    for round_ in range(60):
        disk = bytearray(16 * 512)
        transport, _, ram, _ = rig(Block(disk))
        _ready_queue(transport, 16, RAM_BASE, RAM_BASE + 0x1000, RAM_BASE + 0x2000)
        for i in range(16 * 16):
            ram[i] = rnd.getrandbits(8)
        for i in range(16):                            # most addresses near RAM
            if rnd.random() < 0.7:
                ram[16 * i:16 * i + 8] = struct.pack("<Q", RAM_BASE + rnd.randrange(0x20000))
        ram[0x1000:0x1000 + 38] = bytes(rnd.getrandbits(8) for _ in range(38))
        for _ in range(4):
            run(transport.write(R.QUEUE_NOTIFY, 4, 0))
        assert transport.status & R.STATUS_NEEDS_RESET or transport.queue(0) is not None


def test_guest_memory_refuses_ranges_outside_ram():
    mem, _ = bytearray_memory(RAM_BASE, 0x1000)
    for gpa, n in ((RAM_BASE - 1, 1), (RAM_BASE + 0xFFF, 2), (0, 0x10), (RAM_BASE, -1)):
        with pytest.raises(GuestMemoryError):
            mem.check(gpa, n)
    assert mem.check(RAM_BASE + 0xFFF, 1) == 0xFFF


@pytest.mark.parametrize("arch", ["arm64", "x86_64", "mips64"])
def test_the_device_tree_describes_ram_cpus_and_every_device(arch):
    p = devicetree.Platform(arch, RAM_BASE, 16 << 20, cpus=2, bootargs="console=hvc0",
                            devices=[devicetree.VirtioNode("console", 0x2000_0000, 40),
                                     devicetree.VirtioNode("proxy", 0x2000_1000, 41)])
    dtb = devicetree.build(p)
    assert dtb[:4] == b"\xd0\x0d\xfe\xed"             # the FDT magic
    devices, ram = devicetree.virtio_devices(dtb)
    assert ram == (RAM_BASE, 16 << 20)
    assert [(k, b, s) for k, b, s, _ in devices] == [("console", 0x2000_0000, 0x1000),
                                                      ("proxy", 0x2000_1000, 0x1000)]
    irq_cells = devices[0][3]
    assert irq_cells == ([40] if arch == "x86_64" else [0, 40, 4])
    with pytest.raises(ValueError):
        devicetree.build(devicetree.Platform("vax", 0, 4096))
