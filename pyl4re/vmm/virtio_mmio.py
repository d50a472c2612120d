"""The VirtIO 1.x MMIO transport: the 4 KiB register file a guest driver programs, as
uvmm presents it (kernkonzept/uvmm `server/src/virtio_dev.h`, l4virtio `include/virtio.h`).

The VMM forwards each MMIO exit in a device's window here: `read(offset, width)` and
`await write(offset, width, value)`. The header (below 0x100) takes only aligned 32-bit
accesses (narrower writes are ignored, misaligned or unknown offsets read 0), the device
configuration from 0x100 any aligned width. A device plugs in with its id, features,
queue count, configuration bytes and a `notify(queue)` coroutine; the transport owns
negotiation, queue set-up, the interrupt status and reset. A driver that breaks the rules
(bad queue size or rings, a broken chain) gets DEVICE_NEEDS_RESET and a config interrupt,
as VirtIO 1.x §2.1.2 says; the device stops using that queue until the driver resets it.
"""
from .virtqueue import MAX_QUEUE_SIZE, Virtqueue, VirtqueueError

MAGIC = 0x74726976                 # "virt"
VERSION = 2                        # VirtIO 1.x MMIO
VENDOR_L4 = 0x44                   # uvmm's built-in devices
F_VERSION_1 = 1 << 32

STATUS_ACKNOWLEDGE, STATUS_DRIVER, STATUS_DRIVER_OK = 1, 2, 4
STATUS_FEATURES_OK, STATUS_NEEDS_RESET, STATUS_FAILED = 8, 0x40, 0x80
INT_VRING, INT_CONFIG = 1, 2

# Register offsets (VirtIO 1.x §4.2.2).
MAGIC_VALUE, VERSION_REG, DEVICE_ID, VENDOR_ID = 0x000, 0x004, 0x008, 0x00C
DEVICE_FEATURES, DEVICE_FEATURES_SEL = 0x010, 0x014
DRIVER_FEATURES, DRIVER_FEATURES_SEL = 0x020, 0x024
QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM, QUEUE_READY, QUEUE_NOTIFY = 0x030, 0x034, 0x038, 0x044, 0x050
INTERRUPT_STATUS, INTERRUPT_ACK, STATUS = 0x060, 0x064, 0x070
QUEUE_DESC_LOW, QUEUE_DESC_HIGH = 0x080, 0x084
QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH = 0x090, 0x094
QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH = 0x0A0, 0x0A4
CONFIG_GENERATION, CONFIG = 0x0FC, 0x100
WINDOW = 0x1000


class _QueueConfig:
    __slots__ = ("num", "desc", "driver", "device", "ready", "vq")

    def __init__(self):
        self.num, self.desc, self.driver, self.device, self.ready, self.vq = 0, 0, 0, 0, 0, None


class VirtioMmio:
    """One device's transport. `device` provides: `device_id`, `features` (64-bit, without
    VERSION_1), `num_queues`, `queue_num_max`, `config` (a bytearray it keeps current),
    `async notify(transport, queue_index)`, optionally `config_written(offset)` and
    `reset()`. `raise_irq()` / `lower_irq()` drive its interrupt line."""

    def __init__(self, device, mem, raise_irq=lambda: None, lower_irq=lambda: None):
        self.device, self.mem = device, mem
        self._raise, self._lower = raise_irq, lower_irq
        self.device_features = device.features | F_VERSION_1
        self.config_generation = 0
        self.problems = []             # why the device asked for a reset, for the VMM's log
        self._reset_state()

    def _reset_state(self):
        self.status = 0
        self.driver_features = 0
        self.device_features_sel = self.driver_features_sel = 0
        self.queue_sel = 0
        self.interrupt_status = 0
        self.queues = [_QueueConfig() for _ in range(self.device.num_queues)]

    # ---- the guest's view

    def read(self, offset, width):
        """The value a guest load of `width` bytes at `offset` sees."""
        if not 0 <= offset < WINDOW or width not in (1, 2, 4, 8) or offset % width:
            return 0
        if offset >= CONFIG:
            cfg = self.device.config
            off = offset - CONFIG
            return int.from_bytes(cfg[off:off + width], "little") if off + width <= len(cfg) else 0
        if width != 4:
            return 0
        q = self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None
        regs = {
            MAGIC_VALUE: MAGIC, VERSION_REG: VERSION, DEVICE_ID: self.device.device_id,
            VENDOR_ID: VENDOR_L4,
            DEVICE_FEATURES: (self.device_features >> (32 * self.device_features_sel))
            & 0xFFFFFFFF if self.device_features_sel < 2 else 0,
            DEVICE_FEATURES_SEL: self.device_features_sel,
            DRIVER_FEATURES: (self.driver_features >> (32 * self.driver_features_sel))
            & 0xFFFFFFFF if self.driver_features_sel < 2 else 0,
            DRIVER_FEATURES_SEL: self.driver_features_sel, QUEUE_SEL: self.queue_sel,
            QUEUE_NUM_MAX: self.device.queue_num_max if q else 0,
            QUEUE_NUM: q.num if q else 0, QUEUE_READY: q.ready if q else 0,
            INTERRUPT_STATUS: self.interrupt_status, STATUS: self.status,
            CONFIG_GENERATION: self.config_generation,
        }
        if q:
            regs.update({QUEUE_DESC_LOW: q.desc & 0xFFFFFFFF, QUEUE_DESC_HIGH: q.desc >> 32,
                         QUEUE_DRIVER_LOW: q.driver & 0xFFFFFFFF,
                         QUEUE_DRIVER_HIGH: q.driver >> 32,
                         QUEUE_DEVICE_LOW: q.device & 0xFFFFFFFF,
                         QUEUE_DEVICE_HIGH: q.device >> 32})
        return regs.get(offset, 0)

    async def write(self, offset, width, value):
        """A guest store of `width` bytes of `value` at `offset`."""
        if not 0 <= offset < WINDOW or width not in (1, 2, 4, 8) or offset % width:
            return
        value &= (1 << (8 * width)) - 1
        if offset >= CONFIG:
            cfg, off = self.device.config, offset - CONFIG
            if off + width <= len(cfg):
                cfg[off:off + width] = value.to_bytes(width, "little")
                if hasattr(self.device, "config_written"):
                    self.device.config_written(off)
            return
        if width != 4:
            return                                  # narrower header writes are ignored
        q = self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None
        if offset == DEVICE_FEATURES_SEL:
            self.device_features_sel = value
        elif offset == DRIVER_FEATURES_SEL:
            self.driver_features_sel = value
        elif offset == DRIVER_FEATURES:
            if self.driver_features_sel < 2 and not self.status & STATUS_FEATURES_OK:
                shift = 32 * self.driver_features_sel
                self.driver_features = (self.driver_features & ~(0xFFFFFFFF << shift)) \
                    | value << shift
        elif offset == QUEUE_SEL:
            self.queue_sel = value
        elif offset == QUEUE_NOTIFY:
            await self._notify(value)
        elif offset == INTERRUPT_ACK:
            self.interrupt_status &= ~value
            if not self.interrupt_status:
                self._lower()
        elif offset == STATUS:
            self._set_status(value)
        elif q is not None and not q.ready and offset in (
                QUEUE_NUM, QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW,
                QUEUE_DRIVER_HIGH, QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH):
            self._set_queue_word(q, offset, value)
        elif q is not None and offset == QUEUE_READY:
            self._set_ready(q, value & 1)

    # ---- what the registers do

    def _set_queue_word(self, q, offset, value):
        if offset == QUEUE_NUM:
            q.num = value
            return
        name = {QUEUE_DESC_LOW: "desc", QUEUE_DESC_HIGH: "desc",
                QUEUE_DRIVER_LOW: "driver", QUEUE_DRIVER_HIGH: "driver",
                QUEUE_DEVICE_LOW: "device", QUEUE_DEVICE_HIGH: "device"}[offset]
        old = getattr(q, name)
        high = offset in (QUEUE_DESC_HIGH, QUEUE_DRIVER_HIGH, QUEUE_DEVICE_HIGH)
        setattr(q, name, (old & 0xFFFFFFFF) | value << 32 if high
                else (old & ~0xFFFFFFFF) | value)

    def _set_ready(self, q, ready):
        if not ready:
            q.ready, q.vq = 0, None
            return
        if not 1 <= q.num <= min(self.device.queue_num_max, MAX_QUEUE_SIZE):
            self._needs_reset(f"queue size {q.num} beyond QueueNumMax "
                              f"{self.device.queue_num_max}")
            return
        try:
            q.vq = Virtqueue(self.mem, q.num, q.desc, q.driver, q.device)
        except VirtqueueError as e:
            self._needs_reset(str(e))
            return
        q.ready = 1

    def _set_status(self, value):
        if value == 0:                              # a reset
            self._reset_state()
            if hasattr(self.device, "reset"):
                self.device.reset()
            self._lower()
            return
        if value & STATUS_FEATURES_OK and not self.status & STATUS_FEATURES_OK:
            unknown = self.driver_features & ~self.device_features
            if unknown or not self.driver_features & F_VERSION_1:
                value &= ~STATUS_FEATURES_OK        # the driver reads it back: refused
        self.status = value | (self.status & STATUS_NEEDS_RESET)

    def _needs_reset(self, why):
        self.problems.append(why)
        self.status |= STATUS_NEEDS_RESET
        self.signal(INT_CONFIG)

    async def _notify(self, index):
        if index >= len(self.queues) or not self.status & STATUS_DRIVER_OK:
            return
        q = self.queues[index]
        if not q.ready or self.status & STATUS_NEEDS_RESET:
            return
        try:
            await self.device.notify(self, index)
        except VirtqueueError as e:
            q.ready, q.vq = 0, None
            self._needs_reset(f"queue {index}: {e}")

    # ---- for devices

    def queue(self, index):
        """The ready Virtqueue `index`, or None."""
        if index < len(self.queues) and self.queues[index].ready \
                and not self.status & STATUS_NEEDS_RESET:
            return self.queues[index].vq
        return None

    def signal(self, bits=INT_VRING):
        """Set interrupt-status bits and raise the device's interrupt line."""
        self.interrupt_status |= bits
        self._raise()

    async def used(self, index, chain, written):
        """Return a chain and interrupt the driver unless it asked not to be."""
        vq = self.queues[index].vq
        await vq.push(chain, written)
        if await vq.wants_interrupt():
            self.signal(INT_VRING)
