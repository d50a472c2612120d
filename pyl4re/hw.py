"""Simulated hardware for harnesses: interrupt lines of the system ICU, and events at a
chosen virtual time (`k.hw`).

`k.hw.irq_line(n)` is line n: `.raise_()` / `.lower()` drive a level-triggered line,
`.pulse()` an edge. `k.hw.at(ns, fn)` calls `fn()` when virtual time reaches `ns` (device
models use it to raise lines later). What it must not do: deliver anything itself: the
kernel (kernel_c/irq.c) decides what a line change means.
"""
import heapq
import itertools

from . import _args
from .errors import check


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
        self._seq = itertools.count()

    def irq_line(self, n):
        _args.word(n, "irq_line(n): the ICU's line", hi=self.k._lib.ICU_LINES - 1)
        return IrqLine(self, n)

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
