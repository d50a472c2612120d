"""Guest RAM as the VMM's devices see it: guest-physical addresses in, bytes out, and
nothing outside the RAM the VM was given.

Devices never touch memory directly: they go through a `GuestMemory`, whose `read` and
`write` are awaitable (in the VMM µApp they are `pyl4re.mem` accesses of the VMM's own
mapping of the RAM dataspace, which may fault). Every access is checked against the RAM
ranges first: a descriptor a guest points anywhere else raises `GuestMemoryError`, and
the device marks itself as needing a reset instead of reading or writing it.
"""


class GuestMemoryError(ValueError):
    """A guest-physical range that is not (wholly) RAM of this VM."""


class GuestMemory:
    """Guest RAM `[base, base + size)`, accessed through `read_at(offset, n)` and
    `write_at(offset, data)`, awaitable functions of the backing store."""

    def __init__(self, base, size, read_at, write_at):
        if base < 0 or size <= 0 or base + size > 1 << 64:
            raise ValueError(f"guest RAM {base:#x}+{size:#x} does not fit 64 bits")
        self.base, self.size = base, size
        self._read_at, self._write_at = read_at, write_at

    def check(self, gpa, n):
        """The offset of [gpa, gpa + n) in RAM, or GuestMemoryError."""
        if not (isinstance(gpa, int) and isinstance(n, int)) or n < 0 \
                or gpa < self.base or gpa + n > self.base + self.size:
            raise GuestMemoryError(f"guest-physical {gpa:#x}+{n:#x} is outside guest RAM "
                                   f"{self.base:#x}+{self.size:#x}")
        return gpa - self.base

    async def read(self, gpa, n):
        return bytes(await self._read_at(self.check(gpa, n), n))

    async def write(self, gpa, data):
        await self._write_at(self.check(gpa, len(data)), bytes(data))

    async def u16(self, gpa):
        return int.from_bytes(await self.read(gpa, 2), "little")

    async def u32(self, gpa):
        return int.from_bytes(await self.read(gpa, 4), "little")

    async def u64(self, gpa):
        return int.from_bytes(await self.read(gpa, 8), "little")


def bytearray_memory(base, size):
    """Guest RAM in a host bytearray (for tests and for devices run outside a VM):
    (GuestMemory, the bytearray)."""
    ram = bytearray(size)

    async def read_at(off, n):
        return ram[off:off + n]

    async def write_at(off, data):
        ram[off:off + len(data)] = data
    return GuestMemory(base, size, read_at, write_at), ram
