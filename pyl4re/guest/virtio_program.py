"""A guest program that boots as a small guest kernel does on a uvmm platform: it reads
the device tree at its boot argument, finds RAM and its virtio,mmio devices there, drives
them with pyl4re.guest.virtio (MMIO = guest loads and stores to the device windows, which
exit to the VMM; rings and buffers in guest RAM), and shuts the VM down.

`program(lines, writes)` returns the guest's `program(dtb_gpa)` for vm.Vmm: it prints
`lines` on the console, reads block sector 0 and prints its first bytes, writes each
(sector, bytes) of `writes` to the block device, reads them back, flushes, reports on
the console, and powers off with hypercall HC_SHUTDOWN (0 if all went well). Device
interrupts are taken: the handler acknowledges the device (InterruptStatus ->
InterruptACK), and the count is part of the last line. With `echo=n` it then reads n
lines of console input (halting until each comes) and prints each back as "echo: ...".
"""
from pyl4re import guest
from pyl4re.guest import virtio as gv
from pyl4re.vmm import virtio_mmio as R
from pyl4re.vmm.devicetree import virtio_devices
from pyl4re.vmm.vmm import HC_SHUTDOWN


async def _mmio_read(gpa, width):
    return await guest.load(gpa, width)


async def _mmio_write(gpa, width, value):
    await guest.store(gpa, value, width)


async def read_device_tree(dtb_gpa):
    """The DTB at `dtb_gpa` (its header says how long it is), parsed: (devices, ram)."""
    header = await guest.read(dtb_gpa, 8)
    if header[:4] != b"\xd0\x0d\xfe\xed":
        raise RuntimeError(f"no device tree at {dtb_gpa:#x}")
    total = int.from_bytes(header[4:8], "big")
    return virtio_devices(await guest.read(dtb_gpa, total))


def acknowledge(windows, seen):
    """An interrupt handler for guest.on_interrupt: count the interrupt in `seen`, then
    read each device's InterruptStatus and write it to InterruptACK (MMIO exits)."""
    async def on_irq(vector):
        seen.append(vector)
        for base in windows:
            status = await guest.load(base + R.INTERRUPT_STATUS, 4)
            if status:
                await guest.store(base + R.INTERRUPT_ACK, status, 4)
    return on_irq


class LineReader:
    """Lines of console input: receive buffers offered at `buf`, the guest halting until
    the device's interrupt says one came back filled."""

    def __init__(self, con, buf):
        self.con, self.buf, self.got = con, buf, b""

    async def line(self):
        d = self.con.d
        while b"\n" not in self.got:
            used = await d.submit(0, [(self.buf, 64, True)])
            while used is None:
                await guest.wait_for_interrupt()
                used = await d.reap(0)
            self.got += await d.mem_read(self.buf, used[1])
        line, self.got = self.got.split(b"\n", 1)
        return line.decode(errors="replace")


def program(lines, writes=(), echo=0):
    def boot(dtb_gpa):
        async def main():
            devices, (ram_base, ram_size) = await read_device_tree(dtb_gpa)
            area = gv.Area(ram_base + ram_size // 2, ram_size // 4)   # rings, buffers
            windows = {kind: base for kind, base, _, _ in devices}
            irqs = []
            guest.on_interrupt(acknowledge(list(windows.values()), irqs))

            def driver(kind):
                return gv.Driver(windows[kind], _mmio_read, _mmio_write, guest.read,
                                 guest.write, area)
            con = gv.Console(driver("console"))
            await con.start()
            for line in lines:
                await con.write(line + "\n")
            ok = True
            if "block" in windows:
                blk = gv.BlockDevice(driver("block"))
                await blk.start()
                status, first = await blk.read(0)
                await con.write(f"block: {blk.sectors} sectors, status {status}, "
                                f"sector 0 starts {first[:16].rstrip(bytes(1)).decode()!r}\n")
                for sector, data in writes:
                    ok &= await blk.write(sector, data) == 0
                    status, back = await blk.read(sector, len(data) // 512)
                    ok &= status == 0 and back == data
                ok &= await blk.flush() == 0
                await con.write(f"block: {len(writes)} writes {'ok' if ok else 'FAILED'}\n")
            reader = LineReader(con, area.take(64))
            for _ in range(echo):
                await con.write(f"echo: {await reader.line()}\n")
            await con.write(f"interrupts taken: {'yes' if irqs else 'no'}\n")
            await con.write("powering off\n")
            await guest.hypercall(HC_SHUTDOWN, 0 if ok else 1)
        return main
    return boot
