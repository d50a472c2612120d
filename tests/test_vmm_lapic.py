"""The VMM's local APIC (pyl4re.vmm.lapic; docs/vmm.md "Local APIC"): the xAPIC
registers and the timer's counting and expiry on the model's clock, alone with a clock
the test moves and inside the VMM with a guest program on x86-64."""
import pytest

from pyl4re import Kernel, guest, traps
from pyl4re.vmm import lapic
from pyl4re.vmm.lapic import Lapic, divisor
from pyl4re.vmm.vmm import Device, VmConfig, Vmm
from pyl4re.vmm.console import Console

BASE = lapic.BASE


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def apic(enable=True):
    clock = Clock()
    a = Lapic(clock)
    if enable:
        a.write(lapic.SVR, 4, 0x1FF)
    return a, clock


def test_reset_values_and_read_only_registers():
    a, _ = apic(enable=False)
    assert a.read(lapic.ID, 4) == 0
    assert a.read(lapic.VERSION, 4) == 0x0005_0014
    assert a.read(lapic.SVR, 4) == 0xFF                     # disabled, vector 0xff
    for lvt in (lapic.LVT_TIMER, lapic.LVT_LINT0, lapic.LVT_LINT1, lapic.LVT_ERROR):
        assert a.read(lvt, 4) == 0x10000                    # masked
    assert a.read(lapic.INITIAL, 4) == a.read(lapic.CURRENT, 4) == 0
    a.write(lapic.VERSION, 4, 0)
    a.write(lapic.CURRENT, 4, 1234)
    a.write(lapic.ID, 4, 5 << 24)
    assert a.read(lapic.VERSION, 4) == 0x0005_0014 and a.read(lapic.CURRENT, 4) == 0
    assert a.read(lapic.ID, 4) == 0
    a.write(lapic.TPR, 4, 0x1F3)
    assert a.read(lapic.TPR, 4) == 0xF3
    assert a.problems == []


@pytest.mark.parametrize("config, div", [(0b0000, 2), (0b0001, 4), (0b0010, 8),
                                         (0b0011, 16), (0b1000, 32), (0b1001, 64),
                                         (0b1010, 128), (0b1011, 1)])
def test_the_divide_configuration(config, div):
    assert divisor(config) == div
    a, clock = apic()
    a.write(lapic.DIVIDE, 4, config)
    a.write(lapic.INITIAL, 4, 1000)
    clock.t = 10 * div
    assert a.read(lapic.CURRENT, 4) == 990
    assert a.read(lapic.DIVIDE, 4) == config


def test_a_one_shot_timer_counts_down_fires_once_and_stays_at_zero():
    a, clock = apic()
    a.write(lapic.DIVIDE, 4, 0xB)                           # a count per ns
    a.write(lapic.LVT_TIMER, 4, 0x40)
    clock.t = 100
    a.write(lapic.INITIAL, 4, 1000)
    assert a.deadline_ns() == 1100
    clock.t = 500
    assert a.read(lapic.CURRENT, 4) == 600 and a.due() is None
    clock.t = 1099
    assert a.due() is None
    clock.t = 1100
    assert a.due() == 0x40 and a.fired == 1
    assert a.due() is None and a.deadline_ns() is None
    clock.t = 5000
    assert a.due() is None and a.read(lapic.CURRENT, 4) == 0
    a.write(lapic.INITIAL, 4, 10)                           # written again: a new count
    clock.t = 5010
    assert a.due() == 0x40 and a.fired == 2


def test_a_periodic_timer_reloads_and_coalesces_missed_periods():
    a, clock = apic()
    a.write(lapic.DIVIDE, 4, 0b0000)                        # by 2: a period of 200 ns
    a.write(lapic.LVT_TIMER, 4, 0x20040)                    # periodic, vector 0x40
    a.write(lapic.INITIAL, 4, 100)
    clock.t = 200
    assert a.due() == 0x40 and a.deadline_ns() == 400
    clock.t = 250
    assert a.due() is None and a.read(lapic.CURRENT, 4) == 75
    clock.t = 650                                          # two periods ended: one interrupt
    assert a.due() == 0x40 and a.fired == 2
    assert a.deadline_ns() == 800 and a.read(lapic.CURRENT, 4) == 75
    a.write(lapic.INITIAL, 4, 0)                            # stopped
    clock.t = 10_000
    assert a.due() is None and a.deadline_ns() is None and a.read(lapic.CURRENT, 4) == 0


def test_a_masked_expiry_or_a_disabled_apic_raises_nothing():
    a, clock = apic()
    a.write(lapic.DIVIDE, 4, 0xB)
    a.write(lapic.LVT_TIMER, 4, 0x10040)                    # masked
    a.write(lapic.INITIAL, 4, 100)
    assert a.deadline_ns() is None
    clock.t = 100
    assert a.due() is None and a.fired == 0
    a.write(lapic.LVT_TIMER, 4, 0x40)                       # unmasked later: it was lost
    clock.t = 1000
    assert a.due() is None
    b, clock = apic(enable=False)
    b.write(lapic.LVT_TIMER, 4, 0x40)                       # disabled: stays masked
    assert b.read(lapic.LVT_TIMER, 4) == 0x10040
    b.write(lapic.INITIAL, 4, 10)
    clock.t = 10
    assert b.due() is None and b.fired == 0
    c, _ = apic()
    c.write(lapic.LVT_TIMER, 4, 0x40)
    c.write(lapic.SVR, 4, 0xFF)                             # disabling masks every entry
    assert c.read(lapic.LVT_TIMER, 4) == 0x10040


def test_changing_the_divisor_keeps_the_count_running_at_the_new_rate():
    a, clock = apic()
    a.write(lapic.DIVIDE, 4, 0xB)
    a.write(lapic.LVT_TIMER, 4, 0x40)
    a.write(lapic.INITIAL, 4, 1000)
    clock.t = 400
    a.write(lapic.DIVIDE, 4, 0b0000)                        # by 2 from now on
    assert a.read(lapic.CURRENT, 4) == 600
    clock.t = 400 + 2 * 599
    assert a.due() is None and a.read(lapic.CURRENT, 4) == 1
    clock.t = 400 + 2 * 600
    assert a.due() == 0x40


def test_eoi_is_counted_and_bad_accesses_are_noted_not_taken():
    a, _ = apic()
    a.write(lapic.EOI, 4, 0)
    a.write(lapic.EOI, 4, 0)
    assert a.eois == 2
    assert a.read(lapic.VERSION, 1) == 0                    # not 32 bits
    a.write(lapic.LVT_TIMER + 4, 4, 0x40)                   # not a register's start
    a.write(lapic.INITIAL, 8, 100)
    assert a.read(lapic.INITIAL, 4) == 0 and a.read(lapic.LVT_TIMER, 4) == 0x10000
    assert len(a.problems) == 3 and "32-bit" in a.problems[0]
    with pytest.raises(TypeError, match="now_ns"):
        Lapic(0)


# ---- inside the VMM ---------------------------------------------------------------

def run_guest(main, devices=()):
    k = Kernel(arch="x86_64", memory=32 << 20)
    vmm = Vmm("x86_64", VmConfig(tag="vm", program=lambda dtb: main, devices=list(devices)))
    k.start_task(vmm.main, name="vm")
    return k, k.run().exited["vm"], vmm


def test_a_halting_guest_wakes_with_the_timer_vector_at_its_deadline():
    got = []

    async def main():
        async def on_irq(vector):
            got.append((vector, traps.running().kernel.now_ns))
            await guest.store(BASE + lapic.EOI, 0, size=4)
        guest.on_interrupt(on_irq)
        await guest.store(BASE + lapic.SVR, 0x1FF, size=4)
        await guest.store(BASE + lapic.DIVIDE, 0xB, size=4)
        await guest.store(BASE + lapic.LVT_TIMER, 0x41, size=4)
        await guest.store(BASE + lapic.INITIAL, 50_000, size=4)       # 50 µs
        start.append(traps.running().kernel.now_ns)
        await guest.wait_for_interrupt()
        return await guest.hypercall(0x5D, await guest.load(BASE + lapic.CURRENT, 4))
    start = []
    k, result, vmm = run_guest(main)
    assert result == ("shutdown", 0)                        # the count read 0
    assert [v for v, _ in got] == [0x41]
    # the VMM's clock is the KIP's (µs): the count started at the write's microsecond
    assert start[0] + 49_000 < got[0][1] < start[0] + 52_000
    assert vmm.lapic.fired == 1 and vmm.lapic.eois == 1 and vmm.exits["halt"] == 1


def test_a_periodic_timer_interrupts_a_guest_that_keeps_exiting():
    got = []

    async def main():
        async def on_irq(vector):
            got.append(vector)
            await guest.store(BASE + lapic.EOI, 0, size=4)
        guest.on_interrupt(on_irq)
        await guest.store(BASE + lapic.SVR, 0x1FF, size=4)
        await guest.store(BASE + lapic.DIVIDE, 0xB, size=4)
        await guest.store(BASE + lapic.LVT_TIMER, 0x20042, size=4)     # periodic
        await guest.store(BASE + lapic.INITIAL, 20_000, size=4)        # every 20 µs
        while len(got) < 3:
            await guest.load(BASE + lapic.CURRENT, 4)                  # polling: exits
        await guest.store(BASE + lapic.INITIAL, 0, size=4)
        await guest.hypercall(0x5D, 0)
    k, result, vmm = run_guest(main)
    assert result == ("shutdown", 0)
    assert got == [0x42] * 3 and vmm.lapic.fired == 3
    assert k.now_ns >= 60_000


def test_without_its_eoi_the_timer_vector_stays_in_service_and_waits():
    """A handler that does not end its interrupt: the vector stays in service (ISR), the
    next expiry is requested (IRR) but not taken, until the EOI."""
    got, seen = [], {}

    async def main():
        async def on_irq(vector):
            got.append(vector)
        guest.on_interrupt(on_irq)
        await guest.store(BASE + lapic.SVR, 0x1FF, size=4)
        await guest.store(BASE + lapic.DIVIDE, 0xB, size=4)
        await guest.store(BASE + lapic.LVT_TIMER, 0x20042, size=4)     # periodic
        await guest.store(BASE + lapic.INITIAL, 20_000, size=4)        # every 20 µs
        while not got:
            await guest.load(BASE + lapic.CURRENT, 4)
        start = traps.running().kernel.now_ns
        while traps.running().kernel.now_ns < start + 100_000:         # five periods
            await guest.load(BASE + lapic.CURRENT, 4)
        seen["isr"] = await guest.load(BASE + lapic.ISR + 0x20, 4)     # vectors 64..95
        seen["irr"] = await guest.load(BASE + lapic.IRR + 0x20, 4)
        seen["ppr"] = await guest.load(BASE + lapic.PPR, 4)
        seen["before_eoi"] = list(got)
        await guest.store(BASE + lapic.EOI, 0, size=4)
        while len(got) < 2:
            await guest.load(BASE + lapic.CURRENT, 4)
        await guest.store(BASE + lapic.INITIAL, 0, size=4)
        await guest.hypercall(0x5D, 0)
    k, result, vmm = run_guest(main)
    assert result == ("shutdown", 0)
    assert seen["before_eoi"] == [0x42]
    assert seen["isr"] == seen["irr"] == 1 << 2 and seen["ppr"] == 0x40
    assert got == [0x42, 0x42]


def test_requests_wait_for_the_processor_priority():
    """SDM 11.8: the highest request above the processor priority's class goes next;
    EOI ends the highest in service; the TPR holds back its class and below."""
    a = Lapic(lambda: 0)
    assert not a.priority and a.next_vector() is None
    a.write(lapic.SVR, 4, 0x1FF)
    assert a.priority
    a.request(0x31)
    a.request(0x31)                                  # one request, as an edge
    a.request(0x52)
    assert a.next_vector() == 0x52
    a.accept(0x52)
    assert a.read(lapic.PPR, 4) == 0x50 and a.next_vector() is None    # 0x31 waits
    a.request(0x61)
    assert a.next_vector() == 0x61                   # a higher class nests
    a.accept(0x61)
    a.write(lapic.EOI, 4, 0)                         # ends 0x61, the highest
    assert a.isr == 1 << 0x52 and a.next_vector() is None
    a.write(lapic.EOI, 4, 0)
    assert a.next_vector() == 0x31
    a.write(lapic.TPR, 4, 0x30)                      # class 3 and below held back
    assert a.next_vector() is None and a.read(lapic.PPR, 4) == 0x30
    a.write(lapic.TPR, 4, 0)
    a.withdraw(0x31)
    assert a.next_vector() is None and a.irr == 0
    for bad in (15, 256, -1, True, "x"):
        with pytest.raises(ValueError):
            a.request(bad)


def test_no_device_window_may_cover_the_local_apic():
    with pytest.raises(ValueError, match="local APIC"):
        Vmm("x86_64", VmConfig(tag="vm", program=lambda d: None,
                               devices=[Device("console", Console(), BASE, 1)]))
    Vmm("arm64", VmConfig(tag="vm", program=lambda d: None,     # not on arm64: no LAPIC
                          devices=[Device("console", Console(), BASE, 1)]))
