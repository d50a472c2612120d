"""Simulated hardware for harnesses: interrupt lines of the system ICU, devices doing DMA
through the IOMMU, and events at a chosen virtual time (`k.hw`).

`k.hw.irq_line(n)` is line n: `.raise_()` / `.lower()` drive a level-triggered line,
`.pulse()` an edge. `k.hw.dma_write(device, iova, data)` / `k.hw.dma_read(device, iova, n)`
are device `device`'s bus-master accesses at I/O virtual address `iova`; the IOMMU
translates them through the DMA space bound to that device, and whatever its driver did
not map raises `IommuFault` (recorded in `k.hw.dma_faults`). `k.hw.dma_source_id(device)`
is the source id a driver binds the device with; `k.hw.msi(device, addr, data)` is the
device's MSI write (checked by the interrupt remapper). `k.hw.at(ns, fn)` calls `fn()` when
virtual time reaches `ns` (device models use it to raise lines later). What it must not
do: deliver or translate anything itself: the kernel (kernel_c/irq.c, iommu.c) decides.
"""
import heapq
import itertools

from . import _args
from .errors import check

_DMA_REASONS = {0: "none", 1: "no DMA space bound", 2: "not mapped", 3: "read-only",
                4: "MSI refused"}


class IommuFault(RuntimeError):
    """A device's DMA the IOMMU refused: nothing of the access was transferred."""

    def __init__(self, device, iova, write, reason):
        self.device, self.iova, self.write, self.reason = device, iova, bool(write), reason
        super().__init__(f"IOMMU fault: device {device:#x} {'write' if write else 'read'} "
                         f"at iova {iova:#x}: {reason}")


class IrqLine:
    """One line of the system ICU, as a device (or the harness) drives it."""
    __slots__ = ("_hw", "number")

    def __init__(self, hw, number):
        self._hw = hw
        self.number = number

    def _set(self, level):
        k = self._hw.k
        if k._recorder is not None:
            k._recorder.input("irq_line", line=self.number, level=level)
        check(k._lib.hw_irq_set(k._k, self.number, level), f"irq line {self.number}")

    def raise_(self):
        """Assert a level-triggered line (an edge on an edge-triggered one)."""
        self._set(1)

    def lower(self):
        self._set(0)

    def pulse(self):
        """An edge: raise and lower."""
        k = self._hw.k
        if k._recorder is not None:
            k._recorder.input("irq_line", line=self.number, level="pulse")
        check(k._lib.hw_irq_pulse(k._k, self.number), f"irq line {self.number}")

    @property
    def state(self):
        """(bound Irq id, mode, masked, asserted) as the ICU holds them."""
        k = self._hw.k
        out = k._ffi.new("struct icu_line_info *")
        check(k._lib.icu_line_info(k._k, self.number, out))
        return out.irq.raw, out.mode, bool(out.masked), bool(out.asserted)


class Hardware:
    """The machine around the kernel, for harnesses (see module doc)."""

    def __init__(self, kernel):
        self.k = kernel
        self.events = []                 # heap of (time, sequence, fn)
        self.dma_faults = []             # IommuFault of every refused device access
        self.io_ports = {}               # port -> (first port, read, write) of its device
        self._seq = itertools.count()

    def irq_line(self, n):
        _args.word(n, "irq_line(n): the ICU's line", hi=self.k._lib.ICU_LINES - 1)
        return IrqLine(self, n)

    # ---- devices doing DMA through the IOMMU

    def _device(self, device):
        if isinstance(device, bool) or not isinstance(device, int) \
                or not 0 <= device < self.k._lib.IOMMU_DEVICES:
            raise ValueError(f"a device id is 0..{self.k._lib.IOMMU_DEVICES - 1}, "
                             f"not {device!r}")
        return device

    @staticmethod
    def _iova(iova):
        if isinstance(iova, bool) or not isinstance(iova, int) or not 0 <= iova < 1 << 64:
            raise ValueError(f"an I/O virtual address is a 64-bit int, not {iova!r}")
        return iova

    def dma_source_id(self, device):
        """The source id (l4_uint64_t) that names `device` on this architecture."""
        return self.k._lib.iommu_source_id(self._device(device))

    def _dma(self, device, iova, buf, write):
        k = self.k
        fault = k._ffi.new("struct dma_fault *")
        rc = k._lib.hw_dma(k._k, self._device(device), self._iova(iova),
                           k._ffi.from_buffer(buf), len(buf), write, fault)
        if rc == -k._lib.L4_EFAULT:
            err = IommuFault(fault.device, fault.iova, fault.write,
                             _DMA_REASONS.get(fault.reason, "?"))
            self.dma_faults.append(err)
            raise err
        check(rc, f"DMA of device {device:#x} at {iova:#x}")

    def dma_write(self, device, iova, data):
        """Device `device` writes `data` (bytes-like) to memory at `iova`."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        self._dma(device, iova, bytearray(data), 1)

    def dma_read(self, device, iova, n):
        """Device `device` reads `n` bytes of memory at `iova`."""
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 1 << 30:
            raise ValueError(f"n must be 0..2^30 bytes, not {n!r}")
        buf = bytearray(n)
        self._dma(device, iova, buf, 0)
        return bytes(buf)

    def msi(self, device, addr, data):
        """Device `device` signals an MSI: it writes `data` (32 bits) to `addr`, the
        message the driver got from l4_icu_msi_info. The interrupt remapper raises the MSI
        if that device may; otherwise IommuFault (reason "MSI refused")."""
        k = self.k
        if isinstance(data, bool) or not isinstance(data, int) or not 0 <= data < 1 << 32:
            raise ValueError(f"MSI data is a 32-bit int, not {data!r}")
        fault = k._ffi.new("struct dma_fault *")
        rc = k._lib.hw_msi(k._k, self._device(device), self._iova(addr), data, fault)
        if rc == -k._lib.L4_EFAULT:
            err = IommuFault(fault.device, fault.iova, True, _DMA_REASONS[4])
            self.dma_faults.append(err)
            raise err
        check(rc, f"MSI of device {device:#x}")

    # ---- devices on I/O ports (x86)

    def io_device(self, port, count=1, read=None, write=None):
        """A device model on ports [port, port + count): read(port, size) -> int and
        write(port, size, value) are called for permitted µApp accesses (pyl4re.io)."""
        for v, what in ((port, "port"), (count, "count")):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{what} must be an int, not {type(v).__name__}")
        if not 0 <= port < port + count <= 0x10000:
            raise ValueError(f"ports {port:#x}+{count} are not within 0..0xffff")
        for fn, what in ((read, "read"), (write, "write")):
            if fn is not None and not callable(fn):
                raise TypeError(f"{what} must be callable")
        for p in range(port, port + count):
            self.io_ports[p] = (port, read, write)

    def _io(self, port, size, value):
        """A permitted access: the device at `port`, or a floating bus (all ones)."""
        dev = self.io_ports.get(port)
        if value is None:
            if dev is None or dev[1] is None:
                return (1 << (8 * size)) - 1
            return dev[1](port, size) & ((1 << (8 * size)) - 1)
        if dev is not None and dev[2] is not None:
            dev[2](port, size, value)
        return None

    def dma_space_of(self, device):
        """The id of the DMA space bound to `device`, or None."""
        k = self.k
        out = k._ffi.new("kobj_id_t *")
        rc = k._lib.iommu_device_space(k._k, self._device(device), out)
        return None if rc == -k._lib.L4_ENOENT else (check(rc) and 0) or out.raw

    def iommu_stats(self):
        """(faults, transfers) the IOMMU recorded."""
        k = self.k
        out = k._ffi.new("struct iommu_stats *")
        k._lib.iommu_stats(k._k, out)
        return out.faults, out.transfers

    def at(self, ns, fn, jitter_ns=0):
        """Call fn() once virtual time reaches ns (in order of time, then of scheduling).
        `jitter_ns` declares how late a real device could be: a seeded kernel draws a
        delay in [0, jitter_ns] (kernel_c/seed.c); without a seed it is 0."""
        # 2^64 - 1 is the kernel's "no event"; a time beyond it can never come.
        _args.word(ns, "hw.at(ns): a virtual time in ns", hi=_args.U64_MAX - 1)
        _args.word(jitter_ns, "hw.at(jitter_ns=): a bound in ns", hi=1 << 62)
        if not callable(fn):
            raise TypeError("fn must be callable")
        k = self.k
        ns = min(ns + k._lib.sched_jitter(k._k, jitter_ns), _args.U64_MAX - 1)
        if k._recorder is not None:            # a replay gives the recorded time
            ns = k._recorder.input("hw_at", fn=fn, ns=ns, jitter_ns=jitter_ns)["ns"]
        heapq.heappush(self.events, (ns, next(self._seq), fn))
        self._tell_kernel()

    def next_event(self):
        return self.events[0][0] if self.events else None

    def fire_due(self, now):
        """Calls every event due at `now` or earlier; returns whether any ran."""
        ran = False
        while self.events and self.events[0][0] <= now:
            _, _, fn = heapq.heappop(self.events)
            self._tell_kernel()
            if self.k._recorder is not None:
                self.k._recorder.input("hw_event", fn=fn)
            fn()
            ran = True
        return ran

    def _tell_kernel(self):
        """The scheduler stops before the earliest event (SCHED_EVENT), so it must always
        know it, also when an event is added while a µApp runs."""
        k = self.k
        k._lib.sched_set_event(k._k, self.events[0][0] if self.events else _args.U64_MAX)
