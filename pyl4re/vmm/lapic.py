"""A minimal local APIC for x86-64 guests (docs/vmm.md, "Local APIC"): the xAPIC register
page at 0xfee00000 (Intel SDM vol. 3, chapter 11) with the timer, which is what an x86
guest needs to take timer interrupts.

`Lapic(now_ns)` is one vCPU's APIC; `now_ns()` is the model's clock (virtual ns). The VMM
forwards its window's MMIO exits to `read(offset, size)` / `write(offset, size, value)`,
asks `due()` at every exit for a timer vector to inject (through its interrupt
controller, as it injects device vectors) and `deadline_ns()` how long a halted guest has
to wait. Registers (32-bit accesses at 16-byte aligned offsets; other accesses read 0 and
are ignored, each noted in `problems`):

    0x020 ID          bits 31:24 the APIC id (0), read only
    0x030 version     0x00050014: version 0x14, 6 LVT entries, read only
    0x080 TPR         the task priority: vectors of its class or lower wait
    0x0A0 PPR         read only: the processor priority, max(TPR, the highest in service)
    0x0B0 EOI         write only: ends the highest vector in service; counted in `eois`
    0x0F0 spurious    bits 7:0 the spurious vector, bit 8 the APIC software enable
                      (reset 0xFF: disabled; disabled, every LVT entry stays masked)
    0x320 LVT timer   bits 7:0 vector, 16 mask, 17 periodic (18, TSC deadline: absent)
    0x350/0x360/0x370 LVT LINT0, LINT1, error: read back, never raised
    0x380 initial count   writing starts the timer from it (0 stops it)
    0x390 current count   read only: counts down at 1 GHz / the divisor
    0x3E0 divide config   bits 3, 1:0: divide by 2, 4, ..., 128 or 1 (0b1011)
    0x100-0x170 ISR, 0x200-0x270 IRR   read only: eight 32-bit words of vector bits
    0x180-0x1F0 TMR   reads 0: every vector is edge-triggered

**Priority** (SDM 11.8): a vector the VMM raises (a device's, the timer's) is requested
(`request`: its IRR bit; a vector already requested stays one request). The highest
request whose priority class (vector >> 4) is above the processor priority's class is
the next the CPU takes (`next_vector`); the VMM injects it and marks it in service
(`accept`: IRR -> ISR). EOI ends the highest vector in service, which may let a waiting
one through. This applies once the guest has software-enabled its APIC (SVR bit 8): a
guest that never does, such as the Python guest programs, gets vectors as they come
(`priority` is False), as before the APIC existed.

The timer's input clock is 1 GHz (one count per ns of `now_ns()` before the divisor; the
guest cannot calibrate it against another clock, so it is documented here; the VMM's
`now_ns` is the KIP clock it read at the latest exit, µs × 1000). One-shot:
the count reaches 0 once, raises the vector and stays 0. Periodic: it reloads from the
initial count; periods missed while nobody asked are one interrupt (coalesced, as a
level the guest had not taken yet). A masked expiry, or one while the APIC is disabled,
is lost.
"""

ID, VERSION, TPR, PPR, EOI, SVR = 0x020, 0x030, 0x080, 0x0A0, 0x0B0, 0x0F0
ISR, TMR, IRR = 0x100, 0x180, 0x200          # each eight words, 16 bytes apart
LVT_TIMER, LVT_LINT0, LVT_LINT1, LVT_ERROR = 0x320, 0x350, 0x360, 0x370
INITIAL, CURRENT, DIVIDE = 0x380, 0x390, 0x3E0
BASE, WINDOW = 0xFEE0_0000, 0x1000
VERSION_VALUE = 0x0005_0014
LVT_MASK, LVT_PERIODIC = 1 << 16, 1 << 17
SVR_ENABLE = 1 << 8
TIMER_HZ = 1_000_000_000       # the timer's input clock: one count per ns undivided
_LVT_BITS = {LVT_TIMER: 0xFF | LVT_MASK | LVT_PERIODIC, LVT_LINT0: 0x1_A7FF,
             LVT_LINT1: 0x1_A7FF, LVT_ERROR: 0x1_00FF}


def divisor(config):
    """The divide configuration register's divisor (SDM: bits 3, 1:0)."""
    v = ((config >> 1) & 4) | (config & 3)
    return 1 if v == 7 else 2 << v


class Lapic:
    """One vCPU's local APIC (see module doc). `fired` counts the timer interrupts it
    raised, `eois` the EOI writes."""

    def __init__(self, now_ns):
        if not callable(now_ns):
            raise TypeError(f"now_ns: a callable giving the model's clock, not {now_ns!r}")
        self.now_ns = now_ns
        self.problems = []
        self.fired = self.eois = 0
        self.tpr, self.svr, self.divide = 0, 0xFF, 0
        self.irr = self.isr = 0       # vector bits: requested, in service
        self.lvt = {off: LVT_MASK for off in _LVT_BITS}
        self.initial = 0
        self._start = 0               # when the count was last (re)loaded
        self._armed = False           # a one-shot count that has not reached 0 yet

    # ---- the timer

    def _step_ns(self):
        """How long one count takes (ns): the divisor at TIMER_HZ = 1 GHz."""
        return divisor(self.divide)

    def _period_ns(self):
        return self.initial * self._step_ns()

    def current(self, now=None):
        """The current count register."""
        if not self.initial:
            return 0
        now = self.now_ns() if now is None else now
        elapsed = (now - self._start) // self._step_ns()
        if self.lvt[LVT_TIMER] & LVT_PERIODIC:
            return self.initial - elapsed % self.initial
        return max(self.initial - elapsed, 0)

    def _next_expiry(self):
        """The model ns of the timer's next expiry, or None if it will not expire."""
        if not self.initial:
            return None
        period = self._period_ns()
        if self.lvt[LVT_TIMER] & LVT_PERIODIC:
            return self._start + period
        return self._start + period if self._armed else None

    def _deliverable(self):
        return self.svr & SVR_ENABLE and not self.lvt[LVT_TIMER] & LVT_MASK

    def deadline_ns(self):
        """When the timer raises its vector next (model ns), or None: stopped, fired (one-
        shot), masked or the APIC disabled."""
        return self._next_expiry() if self._deliverable() else None

    def due(self):
        """The timer's vector if it expired since the last call (the VMM injects it), else
        None; a periodic timer moves on to its next period after now."""
        at = self._next_expiry()
        now = self.now_ns()
        if at is None or now < at:
            return None
        if self.lvt[LVT_TIMER] & LVT_PERIODIC:
            period = self._period_ns()
            self._start += period * ((now - self._start) // period)
        else:
            self._armed = False
        if not self._deliverable():
            return None
        self.fired += 1
        return self.lvt[LVT_TIMER] & 0xFF

    # ---- priority

    @property
    def priority(self):
        """Whether requests wait for the processor priority (the APIC is enabled)."""
        return bool(self.svr & SVR_ENABLE)

    def ppr(self):
        """The processor priority (SDM 11.8.3.1): the TPR, or the class of the highest
        vector in service if that is higher."""
        isrv = self.isr.bit_length() - 1 if self.isr else 0
        if (self.tpr >> 4) >= (isrv >> 4):
            return self.tpr
        return isrv & 0xF0

    def request(self, vector):
        """A vector raised for the CPU (16..255): its IRR bit."""
        if isinstance(vector, bool) or not isinstance(vector, int) or not 16 <= vector < 256:
            raise ValueError(f"an APIC vector is 16..255, not {vector!r}")
        self.irr |= 1 << vector

    def withdraw(self, vector):
        """A request taken back before the CPU took it (its line went low)."""
        self.irr &= ~(1 << vector)

    def next_vector(self):
        """The request the CPU takes next, or None: the highest one whose class is above
        the processor priority's."""
        if not self.irr:
            return None
        vector = self.irr.bit_length() - 1
        return vector if (vector >> 4) > (self.ppr() >> 4) else None

    def accept(self, vector):
        """The VMM injected `vector`: requested no longer, in service until its EOI."""
        self.irr &= ~(1 << vector)
        self.isr |= 1 << vector

    # ---- the register page

    def _bad(self, what, offset, size):
        self.problems.append(f"{what} of {size} bytes at {offset:#x}: the APIC takes "
                             "32-bit accesses at 16-byte aligned registers")

    def read(self, offset, size):
        if size != 4 or offset % 16 or not 0 <= offset < WINDOW:
            self._bad("read", offset, size)
            return 0
        if offset == VERSION:
            return VERSION_VALUE
        if offset == TPR:
            return self.tpr
        if offset == PPR:
            return self.ppr()
        for base, bits in ((ISR, self.isr), (IRR, self.irr)):
            if base <= offset < base + 0x80:
                return (bits >> (32 * ((offset - base) // 16))) & 0xFFFF_FFFF
        if offset == SVR:
            return self.svr
        if offset in self.lvt:
            return self.lvt[offset]
        if offset == INITIAL:
            return self.initial
        if offset == CURRENT:
            return self.current()
        if offset == DIVIDE:
            return self.divide
        return 0                                      # ID 0, TMR, ESR, ...: 0

    def write(self, offset, size, value):
        if size != 4 or offset % 16 or not 0 <= offset < WINDOW:
            self._bad("write", offset, size)
            return
        value &= 0xFFFF_FFFF
        if offset == TPR:
            self.tpr = value & 0xFF
        elif offset == EOI:
            self.eois += 1
            if self.isr:                              # the highest in service ends
                self.isr &= ~(1 << (self.isr.bit_length() - 1))
        elif offset == SVR:
            self.svr = value & (0xFF | SVR_ENABLE)
            if not self.svr & SVR_ENABLE:            # disabled: every LVT entry masked
                for off in self.lvt:
                    self.lvt[off] |= LVT_MASK
        elif offset in self.lvt:
            self.lvt[offset] = value & _LVT_BITS[offset]
            if not self.svr & SVR_ENABLE:
                self.lvt[offset] |= LVT_MASK
        elif offset == INITIAL:
            self.initial, self._start, self._armed = value, self.now_ns(), bool(value)
        elif offset == DIVIDE:
            now = self.now_ns()
            left = self.current(now)                   # the count goes on at the new rate
            self.divide = value & 0xB
            if self.initial:
                self._start = now - (self.initial - left) * self._step_ns()
        # ID, version, PPR, ISR/TMR/IRR, current count, ICR and the rest: read only or
        # absent
