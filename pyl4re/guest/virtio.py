"""The guest side of VirtIO over MMIO: a driver that negotiates with a device, sets up
split virtqueues in guest RAM and uses them, byte for byte as a guest kernel's driver.

It reaches the device and RAM only through four awaitable functions it is given:
`mmio_read(gpa, width)`, `mmio_write(gpa, width, value)` (in a VM: guest loads and stores
to the device window, which exit to the VMM) and `mem_read(gpa, n)`, `mem_write(gpa,
data)` (guest RAM). Rings and buffers are placed in a RAM area the caller hands over.
`Console` and `BlockDevice` sit on top. The driver polls the used ring; a guest that
takes interrupts would wait for the device's interrupt instead and acknowledge it.
"""
import struct

from pyl4re.vmm import virtio_mmio as R
from pyl4re.vmm.virtqueue import DESC_F_NEXT, DESC_F_WRITE, ring_sizes


class VirtioError(RuntimeError):
    """The device is not what the driver wants, or refused its features."""


class Area:
    """A bump allocator over guest RAM [base, base + size)."""

    def __init__(self, base, size):
        self.next, self.end = base, base + size

    def take(self, n, align=16):
        start = -(-self.next // align) * align
        if start + n > self.end:
            raise MemoryError("the driver's RAM area is full")
        self.next = start + n
        return start


class Driver:
    """One device at guest-physical `base`."""

    def __init__(self, base, mmio_read, mmio_write, mem_read, mem_write, area):
        self.base, self.area = base, area
        self._mr, self._mw, self.mem_read, self.mem_write = mmio_read, mmio_write, mem_read, mem_write
        self.queues = {}

    async def reg(self, offset):
        return await self._mr(self.base + offset, 4)

    async def set_reg(self, offset, value):
        await self._mw(self.base + offset, 4, value)

    async def probe(self, device_id, wanted_features=0, queues=1, num=16):
        """Reset, negotiate (VERSION_1 plus `wanted_features` the device offers), set up
        `queues` queues of `num` entries, DRIVER_OK. Returns the features agreed."""
        if await self.reg(R.MAGIC_VALUE) != R.MAGIC or await self.reg(R.VERSION_REG) != 2:
            raise VirtioError(f"no VirtIO 1.x MMIO device at {self.base:#x}")
        if await self.reg(R.DEVICE_ID) != device_id:
            raise VirtioError(f"device {await self.reg(R.DEVICE_ID)} at {self.base:#x}, "
                              f"not {device_id}")
        await self.set_reg(R.STATUS, 0)
        await self.set_reg(R.STATUS, R.STATUS_ACKNOWLEDGE)
        await self.set_reg(R.STATUS, R.STATUS_ACKNOWLEDGE | R.STATUS_DRIVER)
        offered = 0
        for sel in (0, 1):
            await self.set_reg(R.DEVICE_FEATURES_SEL, sel)
            offered |= await self.reg(R.DEVICE_FEATURES) << (32 * sel)
        agreed = offered & (wanted_features | R.F_VERSION_1)
        for sel in (0, 1):
            await self.set_reg(R.DRIVER_FEATURES_SEL, sel)
            await self.set_reg(R.DRIVER_FEATURES, (agreed >> (32 * sel)) & 0xFFFFFFFF)
        status = R.STATUS_ACKNOWLEDGE | R.STATUS_DRIVER | R.STATUS_FEATURES_OK
        await self.set_reg(R.STATUS, status)
        if not await self.reg(R.STATUS) & R.STATUS_FEATURES_OK:
            raise VirtioError("the device refused the features")
        for index in range(queues):
            await self.setup_queue(index, num)
        await self.set_reg(R.STATUS, status | R.STATUS_DRIVER_OK)
        return agreed

    async def setup_queue(self, index, num):
        await self.set_reg(R.QUEUE_SEL, index)
        num = min(num, await self.reg(R.QUEUE_NUM_MAX))
        d, a, u = ring_sizes(num)
        desc, avail, used = self.area.take(d, 16), self.area.take(a, 2), self.area.take(u, 4)
        await self.mem_write(desc, bytes(d))
        await self.mem_write(avail, bytes(a))
        await self.mem_write(used, bytes(u))
        await self.set_reg(R.QUEUE_NUM, num)
        for low, addr in ((R.QUEUE_DESC_LOW, desc), (R.QUEUE_DRIVER_LOW, avail),
                          (R.QUEUE_DEVICE_LOW, used)):
            await self.set_reg(low, addr & 0xFFFFFFFF)
            await self.set_reg(low + 4, addr >> 32)
        await self.set_reg(R.QUEUE_READY, 1)
        self.queues[index] = {"num": num, "desc": desc, "avail": avail, "used": used,
                              "avail_idx": 0, "used_seen": 0, "free": 0}

    async def submit(self, index, buffers):
        """Offer one chain of (gpa, length, device_writes) buffers and notify; returns the
        (head, bytes written) the device gives back."""
        q = self.queues[index]
        head = q["free"]
        for i, (gpa, length, writes) in enumerate(buffers):
            slot = (head + i) % q["num"]
            more = i + 1 < len(buffers)
            flags = (DESC_F_NEXT if more else 0) | (DESC_F_WRITE if writes else 0)
            await self.mem_write(q["desc"] + 16 * slot, struct.pack(
                "<QIHH", gpa, length, flags, (slot + 1) % q["num"] if more else 0))
        q["free"] = (head + len(buffers)) % q["num"]
        await self.mem_write(q["avail"] + 4 + 2 * (q["avail_idx"] % q["num"]),
                             struct.pack("<H", head))
        q["avail_idx"] = (q["avail_idx"] + 1) & 0xFFFF
        await self.mem_write(q["avail"] + 2, struct.pack("<H", q["avail_idx"]))
        await self._mw(self.base + R.QUEUE_NOTIFY, 4, index)
        return await self.reap(index)

    async def reap(self, index):
        """The next used entry (head, length), or None if the device returned none yet."""
        q = self.queues[index]
        used_idx = struct.unpack("<H", await self.mem_read(q["used"] + 2, 2))[0]
        if used_idx == q["used_seen"]:
            return None
        slot = q["used_seen"] % q["num"]
        head, length = struct.unpack("<II", await self.mem_read(q["used"] + 4 + 8 * slot, 8))
        q["used_seen"] = (q["used_seen"] + 1) & 0xFFFF
        status = await self.reg(R.INTERRUPT_STATUS)
        if status:
            await self.set_reg(R.INTERRUPT_ACK, status)
        return head, length


class Console:
    """The console through a Driver: `write(text)`, `read(n)`."""

    def __init__(self, driver):
        self.d = driver
        self.buf = None

    async def start(self):
        await self.d.probe(3, queues=2)
        self.buf = self.d.area.take(256)

    async def write(self, text):
        data = text.encode()
        for i in range(0, len(data), 256):
            part = data[i:i + 256]
            await self.d.mem_write(self.buf, part)
            await self.d.submit(1, [(self.buf, len(part), False)])

    async def read(self, n=64):
        got = await self.d.submit(0, [(self.buf, min(n, 256), True)])
        if got is None:
            return b""
        return await self.d.mem_read(self.buf, got[1])


class BlockDevice:
    """A block device through a Driver: `read(sector, count)`, `write(sector, data)`,
    `flush()`, `ident()`; each returns the request's status byte with the data."""

    def __init__(self, driver):
        self.d = driver

    async def start(self, features=0):
        await self.d.probe(2, wanted_features=features)
        self.header, self.status = self.d.area.take(16), self.d.area.take(1, 1)
        self.data = self.d.area.take(8 * 512)
        cfg = await self.d._mr(self.d.base + R.CONFIG, 8)
        self.sectors = cfg

    async def _request(self, kind, sector, out=b"", room=0):
        await self.d.mem_write(self.header, struct.pack("<IIQ", kind, 0, sector))
        chain = [(self.header, 16, False)]
        if out:
            await self.d.mem_write(self.data, out)
            chain.append((self.data, len(out), False))
        if room:
            chain.append((self.data, room, True))
        chain.append((self.status, 1, True))
        await self.d.mem_write(self.status, b"\xff")
        await self.d.submit(0, chain)
        status = (await self.d.mem_read(self.status, 1))[0]
        return status, (await self.d.mem_read(self.data, room) if room else b"")

    async def read(self, sector, count=1):
        return await self._request(0, sector, room=512 * count)

    async def write(self, sector, data):
        return (await self._request(1, sector, out=data))[0]

    async def flush(self):
        return (await self._request(4, 0))[0]

    async def ident(self):
        return await self._request(8, 0, room=20)
