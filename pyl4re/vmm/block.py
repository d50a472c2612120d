"""The VirtIO block device (device id 2), backed by a bytearray or a file the harness
gives (uvmm proxies block devices to a block server; here the VMM serves them itself).

A request is a chain: a 16-byte header {type u32, reserved u32, sector u64} the device
reads, data buffers, and a last 1-byte status the device writes (VirtIO 1.x §5.2.6).
Types IN (read), OUT (write), FLUSH, GET_ID; sectors are 512 bytes. A request past the
end of the disk, a write to a read-only disk, or a malformed chain gets IOERR or UNSUPP
in its status byte, and the disk is untouched.
"""
import struct

DEVICE_ID = 2
SECTOR = 512
T_IN, T_OUT, T_FLUSH, T_GET_ID = 0, 1, 4, 8
S_OK, S_IOERR, S_UNSUPP = 0, 1, 2
F_RO, F_BLK_SIZE, F_FLUSH = 1 << 5, 1 << 6, 1 << 9


class Block:
    device_id = DEVICE_ID
    num_queues = 1
    queue_num_max = 128

    def __init__(self, backing, read_only=False, serial="pyl4re-blk"):
        """`backing`: a bytearray (the disk, used in place) or a path of a file."""
        if isinstance(backing, (bytearray, memoryview)):
            self._disk, self._file = backing, None
            size = len(backing)
        else:
            self._file = open(backing, "rb" if read_only else "r+b")
            self._file.seek(0, 2)
            size, self._disk = self._file.tell(), None
        if size % SECTOR:
            raise ValueError(f"a disk is whole 512-byte sectors, not {size} bytes")
        self.sectors = size // SECTOR
        self.read_only = read_only
        self.serial = serial.encode()[:20]
        self.features = F_FLUSH | F_BLK_SIZE | (F_RO if read_only else 0)
        # capacity u64, size_max u32, seg_max u32, geometry (u16, u8, u8), blk_size u32
        self.config = bytearray(struct.pack("<QIIHBBI", self.sectors, 0, 0, 0, 0, 0, SECTOR))

    def close(self):
        if self._file:
            self._file.close()

    def _io(self, offset, data=None, n=0):
        if self._disk is not None:
            if data is None:
                return bytes(self._disk[offset:offset + n])
            self._disk[offset:offset + len(data)] = data
            return None
        self._file.seek(offset)
        if data is None:
            return self._file.read(n)
        self._file.write(data)
        return None

    async def notify(self, transport, index):
        vq = transport.queue(0)
        while vq is not None and (chain := await vq.pop()) is not None:
            room = sum(b.length for b in chain.writable)
            if room < 1:                           # nowhere to put a status: drop it
                await transport.used(0, chain, 0)
                continue
            status, data = await self._request(vq, chain, room - 1)
            # Framing does not matter (VirtIO 1.x §2.6.4): the device-writable bytes are
            # one stream, the data first and the status byte last.
            if data:
                await vq.scatter(chain, data)
            await self._put_status(vq, chain, status)
            await transport.used(0, chain, len(data) + 1)

    @staticmethod
    async def _put_status(vq, chain, status):
        last = [b for b in chain.writable if b.length][-1]
        await vq.mem.write(last.gpa + last.length - 1, bytes([status]))

    async def _request(self, vq, chain, room):
        """(status, bytes for the data part of the writable stream) of one request."""
        stream = await vq.gather(chain)               # header, then data to write
        if len(stream) < 16:
            return S_IOERR, b""
        kind, _, sector = struct.unpack("<IIQ", stream[:16])
        if kind == T_IN:
            if room % SECTOR or sector + room // SECTOR > self.sectors:
                return S_IOERR, b""
            return S_OK, self._io(sector * SECTOR, n=room)
        if kind == T_OUT:
            data = stream[16:]
            if self.read_only or len(data) % SECTOR \
                    or sector + len(data) // SECTOR > self.sectors:
                return S_IOERR, b""
            self._io(sector * SECTOR, data)
            return S_OK, b""
        if kind == T_FLUSH:
            if self._file:
                self._file.flush()
            return S_OK, b""
        if kind == T_GET_ID:
            return S_OK, self.serial.ljust(20, b"\0")[:room]
        return S_UNSUPP, b""
