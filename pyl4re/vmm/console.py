"""The VirtIO console (device id 3), as uvmm's built-in one: queue 0 carries input to the
guest (receiveq), queue 1 its output (transmitq); no multiport, no emergency write.

Output is split into lines and handed to `emit(line)` (the VMM writes them to the VM's
log, with the VM's tag); `feed(data)` queues input, which goes into the guest's receive
buffers as they become available.
"""
import struct

from .virtio_mmio import VirtioMmio  # noqa: F401  (the transport this device plugs into)

DEVICE_ID = 3
RECEIVEQ, TRANSMITQ = 0, 1


class Console:
    device_id = DEVICE_ID
    features = 0
    num_queues = 2
    queue_num_max = 64

    def __init__(self, emit=None, cols=80, rows=25):
        """`emit(line)` takes each output line; a VMM connects an unset one to its log."""
        self.emit = emit
        self.config = bytearray(struct.pack("<HHI", cols, rows, 1))   # cols, rows, ports
        self._partial = b""
        self._input = bytearray()
        self.transport = None

    def reset(self):
        self._partial = b""

    async def notify(self, transport, index):
        self.transport = transport
        if index == TRANSMITQ:
            await self._transmit(transport)
        elif index == RECEIVEQ:
            await self._receive(transport)

    async def _transmit(self, transport):
        vq = transport.queue(TRANSMITQ)
        while vq is not None and (chain := await vq.pop()) is not None:
            data = self._partial + await vq.gather(chain)
            *lines, self._partial = data.split(b"\n")
            for line in lines:
                self.emit(line.decode("utf-8", errors="replace"))
            await transport.used(TRANSMITQ, chain, 0)

    async def feed(self, data):
        """Input from the console (the harness) for the guest."""
        self._input += data.encode() if isinstance(data, str) else bytes(data)
        if self.transport is not None:
            await self._receive(self.transport)

    async def _receive(self, transport):
        vq = transport.queue(RECEIVEQ)
        while vq is not None and self._input and (chain := await vq.pop()) is not None:
            n = await vq.scatter(chain, bytes(self._input))
            del self._input[:n]
            await transport.used(RECEIVEQ, chain, n)

    def flush(self):
        """A last line without its newline, if the guest left one."""
        if self._partial:
            self.emit(self._partial.decode("utf-8", errors="replace"))
            self._partial = b""
