"""The device side of a VirtIO 1.x split virtqueue, in guest memory.

Layout (VirtIO 1.x §2.7; kernkonzept/l4virtio `include/virtqueue`): a descriptor table of
`num` 16-byte entries {addr u64, len u32, flags u16, next u16}, 16-byte aligned; the
available ring {flags u16, idx u16, ring[num] u16, used_event u16}, 2-byte aligned; the
used ring {flags u16, idx u16, ring[num] {id u32, len u32}, avail_event u16}, 4-byte
aligned. Indices run free modulo 2^16; a slot is idx mod num; num is a power of two.

Everything the guest wrote is untrusted: a chain longer than the table (a loop), a
descriptor index beyond it, nested indirect tables, a buffer outside guest RAM, or a
driver index more than `num` ahead raise `VirtqueueError`; the transport then marks the
device as needing a reset. Nothing here reads or writes outside guest RAM.
"""
from dataclasses import dataclass

from .guest_memory import GuestMemoryError

DESC_F_NEXT, DESC_F_WRITE, DESC_F_INDIRECT = 1, 2, 4
AVAIL_F_NO_INTERRUPT = 1
DESC_SIZE = 16
MAX_QUEUE_SIZE = 32768


class VirtqueueError(ValueError):
    """The driver broke the virtqueue rules; the device needs a reset."""


@dataclass(frozen=True)
class Buffer:
    """One descriptor's buffer: guest-physical address, length, and whether the device
    writes it (else it reads it)."""
    gpa: int
    length: int
    writable: bool


@dataclass
class Chain:
    """A descriptor chain popped from the available ring: its head index and buffers."""
    head: int
    buffers: list

    @property
    def readable(self):
        return [b for b in self.buffers if not b.writable]

    @property
    def writable(self):
        return [b for b in self.buffers if b.writable]


def ring_sizes(num):
    """(descriptor table, available ring, used ring) sizes in bytes for `num` entries."""
    return DESC_SIZE * num, 6 + 2 * num, 6 + 8 * num


class Virtqueue:
    """One ready queue: where its three parts are and how far the device has got."""

    def __init__(self, mem, num, desc, avail, used):
        if num < 1 or num > MAX_QUEUE_SIZE or num & (num - 1):
            raise VirtqueueError(f"queue size {num} is not a power of two up to "
                                 f"{MAX_QUEUE_SIZE}")
        if desc % 16 or avail % 2 or used % 4:
            raise VirtqueueError(f"misaligned rings: desc {desc:#x} (16), avail "
                                 f"{avail:#x} (2), used {used:#x} (4)")
        d, a, u = ring_sizes(num)
        try:
            for gpa, n in ((desc, d), (avail, a), (used, u)):
                mem.check(gpa, n)
        except GuestMemoryError as e:
            raise VirtqueueError(f"a ring lies outside guest RAM: {e}") from None
        self.mem, self.num = mem, num
        self.desc, self.avail, self.used = desc, avail, used
        self.last_avail = 0           # next available-ring entry the device takes
        self.used_idx = 0

    async def pop(self):
        """The next available chain, or None if the driver has offered none."""
        avail_idx = await self.mem.u16(self.avail + 2)
        pending = (avail_idx - self.last_avail) & 0xFFFF
        if pending == 0:
            return None
        if pending > self.num:
            raise VirtqueueError(f"the driver's index {avail_idx} is {pending} entries "
                                 f"ahead of the device's (queue size {self.num})")
        slot = self.last_avail % self.num
        head = await self.mem.u16(self.avail + 4 + 2 * slot)
        self.last_avail = (self.last_avail + 1) & 0xFFFF
        return Chain(head, await self._walk(head))

    async def _walk(self, head):
        buffers, table, size, index, seen = [], self.desc, self.num, head, 0
        indirect = False
        while True:
            if index >= size:
                raise VirtqueueError(f"descriptor index {index} beyond the table of {size}")
            seen += 1
            if seen > size:
                raise VirtqueueError("a descriptor chain loops (longer than its table)")
            raw = await self._read(table + DESC_SIZE * index, DESC_SIZE)
            addr = int.from_bytes(raw[0:8], "little")
            length = int.from_bytes(raw[8:12], "little")
            flags = int.from_bytes(raw[12:14], "little")
            nxt = int.from_bytes(raw[14:16], "little")
            if flags & DESC_F_INDIRECT:
                if indirect or buffers or flags & DESC_F_NEXT:
                    raise VirtqueueError("an indirect descriptor inside a chain or table")
                if length == 0 or length % DESC_SIZE:
                    raise VirtqueueError(f"indirect table of {length} bytes")
                self._check(addr, length)
                table, size, index, seen, indirect = addr, length // DESC_SIZE, 0, 0, True
                continue
            self._check(addr, length)
            if buffers and not flags & DESC_F_WRITE and buffers[-1].writable:
                raise VirtqueueError("a device-readable buffer after a writable one")
            buffers.append(Buffer(addr, length, bool(flags & DESC_F_WRITE)))
            if not flags & DESC_F_NEXT:
                return buffers
            index = nxt

    def _check(self, gpa, n):
        try:
            self.mem.check(gpa, n)
        except GuestMemoryError as e:
            raise VirtqueueError(f"a buffer outside guest RAM: {e}") from None

    async def _read(self, gpa, n):
        try:
            return await self.mem.read(gpa, n)
        except GuestMemoryError as e:
            raise VirtqueueError(str(e)) from None

    async def push(self, chain, written):
        """Return `chain` to the driver, having written `written` bytes into it."""
        slot = self.used_idx % self.num
        entry = chain.head.to_bytes(4, "little") + written.to_bytes(4, "little")
        await self.mem.write(self.used + 4 + 8 * slot, entry)
        self.used_idx = (self.used_idx + 1) & 0xFFFF
        await self.mem.write(self.used + 2, self.used_idx.to_bytes(2, "little"))

    async def wants_interrupt(self):
        """Whether the driver asked to be interrupted (no VIRTQ_AVAIL_F_NO_INTERRUPT)."""
        return not (await self.mem.u16(self.avail)) & AVAIL_F_NO_INTERRUPT

    async def gather(self, chain):
        """The bytes of the chain's device-readable buffers, in order."""
        return b"".join([await self._read(b.gpa, b.length) for b in chain.readable])

    async def scatter(self, chain, data):
        """Write `data` into the chain's writable buffers in order; the bytes written."""
        done = 0
        for b in chain.writable:
            if done == len(data):
                break
            part = data[done:done + b.length]
            await self.mem.write(b.gpa, part)
            done += len(part)
        return done
