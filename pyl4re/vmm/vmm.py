"""The VMM µApp: one VM's virtual platform, as uvmm gives it (one VMM per VM).

`Vmm(arch, config).main` is the body of an ordinary µApp: a harness one
(`Kernel.start_task`: RAM is memory sigma0 maps 1:1 into its task, the log the kernel's)
or an L4Re program (started by the loader: RAM is a dataspace from its memory allocator,
attached by its region map, the log its tagged log). It holds only capabilities: its
factory (it creates the VM), its RAM, a log, the VM and its own thread, which becomes the
VM's extended vCPU. It

- creates the VM and makes its thread an extended vCPU (docs/vm.md);
- backs guest RAM `[ram_base, ram_base + ram_size)` with its own RAM: the pages go into
  the VM on the guest's first touch (a stage-2 miss in RAM maps the page, sent with the
  resume, and the access is made again);
- writes the device tree (devicetree.build) into the top of guest RAM; its address is the
  guest program's boot argument, as uvmm hands it over in a register;
- puts each VirtIO device behind a 4 KiB MMIO window: a stage-2 exit there is forwarded to
  the transport (`read` answered in the load's register, `write` performed), the ip
  advanced; the devices see guest RAM through a GuestMemory over the VMM's own mapping
  (`pyl4re.mem`, so every device access is a real user-level access of the VMM);
- is the guest's interrupt controller: a device's line goes to `ext.inject` as the
  architecture's vector (x86-64 IOAPIC pin n -> vector 0x20 + n; ARM64 GIC SPI n ->
  vINTID 32 + n in a list register; MIPS64 GIC shared n -> guest interrupt line 2 + n, a
  level withdrawn when the device lowers it);
- gives an x86-64 guest a local APIC (lapic.Lapic, the xAPIC page at 0xfee00000): its
  timer runs on the KIP clock (µs, as l4_kip_clock reads it) and is checked at every
  exit; an expired timer's vector is injected like a device's. The VMM's timer thread
  makes the expiry happen on time: a second thread of the VMM's task that sleeps until
  the APIC's deadline and then triggers an Irq bound to the vCPU thread (an IRQ exit),
  as uvmm's timer thread does (a guest that computes without exits is cut there, and a
  halted one, whose exit handler waits for that Irq, wakes); the vCPU thread re-arms it
  through a second Irq whenever the deadline moved;
- writes console output to its log, each line tagged with the VM's name;
- feeds console input typed on its log to the guest while the guest halts;
- ends when the guest shuts down (hypercall HC_SHUTDOWN) or halts with nothing pending
  and no input coming.
"""
from dataclasses import dataclass, field

import pyl4re
from pyl4re import mem
from pyl4re.l4re.moe.memory import SIGMA0_REQ_ANY, sigma0_request
from pyl4re.l4re.log import Log
from pyl4re.l4re.protocols import RM_EAGER_MAP, RM_RW, RM_SEARCH_ADDR
from pyl4re.l4sys import (
    L4_CAP_SHIFT, L4_FPAGE_RW, L4_FPAGE_RWX, L4_IPC_NEVER, L4_IPC_RETIMEOUT,
    L4_IPC_TIMEOUT_NEVER, l4_error, l4_factory_create_irq, l4_factory_create_vm, l4_fpage,
    l4_debugger_set_object_name, l4_ipc_error, l4_ipc_sleep, l4_ipc_wait, l4_irq_receive, l4_irq_trigger, l4_rcv_ep_bind_thread,
    l4_task_add_ku_mem, l4_thread_vcpu_control_ext, l4_timeout, l4_timeout_from_us,
    l4_utcb, l4_vcon_read,
)
from pyl4re.l4sys.vcpu import vcpu_resume_with_items

from ..arch_consts import running_consts
from ..errors import check
from ..l4re.thread import start_thread
from . import devicetree, lapic
from .guest_memory import GuestMemory
from .virtio_mmio import WINDOW, VirtioMmio

HC_SHUTDOWN = 0x5D            # the guest's "power off" hypercall; its argument the code
DTB_ROOM = 0x10000            # the device tree's place: the top 64 KiB of guest RAM
KU_VA = 0x30000000            # the VMM's ku-mem for the extended vCPU area
VM_CAP = 0x41
KIP_CLOCK = 0x20              # the KIP's clock word (µs), what l4_kip_clock reads
RAM_SEARCH = 0x1000_0000      # where an L4Re VMM's region map places guest RAM, or above
INPUT_POLL_US = 1000          # how often a halted guest's VMM looks for console input
ENTRY_SP = 0x7fe000
TIMER_LABEL, WAKE_LABEL = 0x7100, 0x7104   # the timer thread's Irqs (to the vCPU, to it)
TIMER_PRIO = 20               # above the vCPU thread's: it cuts in when its time comes
# The architecture's view of a device interrupt line n (the VMM's interrupt controller).
VECTOR_BASE = {"x86_64": 0x20, "arm64": 32, "mips64": 2}
LEVEL = {"x86_64": False, "arm64": False, "mips64": True}
# The guest's first state: arm64 PSTATE EL1h with IRQs unmasked; mips64 Status IE | IM.
GUEST_FLAGS = {"arm64": 0x5}
GUEST_FIELDS = {"mips64": {0x40: 0xFC01}}


@dataclass
class Device:
    """A device the VMM presents: its kind (the DTB's l4vmm,vdev), the VirtIO device
    object (console.Console, block.Block), its window and interrupt line."""
    kind: str
    device: object
    base: int
    irq: int


@dataclass
class VmConfig:
    """One VM: its tag, guest program (`program(dtb_gpa)` returns the guest's `async
    main()`), RAM, devices and the log capability its console lines go to."""
    tag: str
    program: object
    ram_base: int = 0
    ram_order: int = 20
    devices: list = field(default_factory=list)
    log: int = None
    input_wait_us: int = 0        # how long a halted guest may wait for console input


def device_vector(arch, irq):
    return VECTOR_BASE[arch] + irq


def _check_config(arch, c):
    """ValueError / TypeError naming what is wrong in VmConfig `c`."""
    if not isinstance(c.tag, str) or not c.tag:
        raise TypeError(f"tag: a VM's tag is a non-empty str, not {c.tag!r}")
    if not callable(c.program):
        raise TypeError(f"program: program(dtb_gpa) returning the guest's main, not {c.program!r}")
    if isinstance(c.ram_order, bool) or not isinstance(c.ram_order, int) \
            or not 17 <= c.ram_order <= 30:
        raise ValueError(f"ram_order: guest RAM is 2^17..2^30 bytes, not 2^{c.ram_order!r}")
    if isinstance(c.ram_base, bool) or not isinstance(c.ram_base, int) or c.ram_base < 0 \
            or c.ram_base % (1 << c.ram_order) or c.ram_base + (1 << c.ram_order) > 1 << 32:
        raise ValueError(f"ram_base: {c.ram_base!r} is no base aligned to the RAM's size "
                         "below 4 GiB")
    ram = range(c.ram_base, c.ram_base + (1 << c.ram_order))
    windows = []
    for d in c.devices:
        if not isinstance(d, Device):
            raise TypeError(f"devices: Device entries, not {d!r}")
        if not isinstance(d.base, int) or d.base < 0 or d.base % WINDOW \
                or d.base + WINDOW > 1 << 32:
            raise ValueError(f"devices: window {d.base!r} of {d.kind!r} is no 4 KiB page "
                             "below 4 GiB")
        if d.base in ram or d.base in windows or (arch == "x86_64" and d.base == lapic.BASE):
            raise ValueError(f"devices: window {d.base:#x} of {d.kind!r} overlaps RAM, "
                             "another device or the local APIC")
        limit = 6 if LEVEL[arch] else 200
        if isinstance(d.irq, bool) or not isinstance(d.irq, int) or not 0 <= d.irq < limit:
            raise ValueError(f"devices: interrupt {d.irq!r} of {d.kind!r} is not a line "
                             f"0..{limit - 1}")
        windows.append(d.base)


class Vmm:
    """One VM's VMM: `main(env)` is its µApp body. After the run `exits` counts the exits
    by kind, `injected` the device interrupts, `transports` holds each device's transport
    (with its `problems`), `span` the RAM offsets the devices touched."""

    def __init__(self, arch, config):
        if arch not in VECTOR_BASE:
            raise ValueError(f"no VMM for architecture {arch!r}")
        _check_config(arch, config)
        self.arch, self.config = arch, config
        self.ram_size = 1 << config.ram_order
        self.dtb_gpa = config.ram_base + self.ram_size - DTB_ROOM
        self.lines = []               # console output not yet written to the log
        self.pending = []             # device vectors raised, not yet injected
        self.exits = {"ram": 0, "mmio": 0, "hypercall": 0, "halt": 0, "irq": 0}
        self.transports = {}
        for d in config.devices:              # a console without a sink writes to our log
            if getattr(d.device, "emit", False) is None:
                d.device.emit = self.lines.append
        self.injected = 0             # device interrupts injected into the guest
        self.lapic = None             # x86-64: the local APIC, once the VMM runs
        self.clock_ns = 0             # the KIP clock as the VMM last read it (ns)
        self.armed = None             # the APIC deadline the timer thread sleeps until
        self.timer_fired = 0          # Irqs the timer thread triggered
        self._ending = False          # the VMM ends: so does its timer thread
        self.span = None              # lowest and highest RAM offset the devices touched

    # ---- the virtual interrupt controller

    def _raise(self, vector):
        if vector not in self.pending:
            self.pending.append(vector)

    def _lower(self, vector):
        if vector in self.pending:
            self.pending.remove(vector)
        elif self.lapic is not None:
            self.lapic.withdraw(vector)    # requested, not yet taken
        elif LEVEL[self.arch]:
            self.ext.withdraw(vector)

    def _inject_pending(self):
        if self.lapic is not None and self.lapic.priority:
            self._inject_by_priority()
            return
        for vector in list(self.pending):
            try:
                self.ext.inject(vector)
            except RuntimeError:          # a slot is taken: the next entry takes it
                break
            self.pending.remove(vector)
            self.injected += 1

    def _inject_by_priority(self):
        """x86-64 with its APIC enabled: raised vectors are the APIC's requests, and the
        CPU is given the next one its processor priority lets through, one at a time
        in priority order (an EOI lets the next through: lapic.py, "Priority")."""
        lapic_ = self.lapic
        for vector in self.pending:
            lapic_.request(vector)
        self.pending.clear()
        while (vector := lapic_.next_vector()) is not None:
            try:
                self.ext.inject(vector)
            except RuntimeError:          # a slot is taken: the next entry takes it
                return
            lapic_.accept(vector)
            self.injected += 1

    def _waiting_vector(self):
        """Whether a raised vector will reach the CPU without anything else happening
        first (a halted guest then does not wait for the timer or input)."""
        if self.lapic is not None and self.lapic.priority:
            return bool(self.pending) or self.lapic.next_vector() is not None
        return bool(self.pending)

    # ---- the µApp

    async def main(self, env):
        cfg, arch = self.config, self.arch
        l4re_program = hasattr(env, "mem_alloc")  # started by the L4Re loader
        if l4re_program:                  # RAM: a dataspace attached by our region map
            ds = await env.mem_alloc.alloc(self.ram_size)
            ram = await env.rm.attach(RAM_SEARCH, self.ram_size,    # mapped to us at once,
                                      RM_RW | RM_SEARCH_ADDR | RM_EAGER_MAP, ds)  # writable
            thread, vm = env.main_thread, env.cap_alloc.alloc()
            log, prefix = (env.log if cfg.log is None else Log(cfg.log)), ""
        else:                             # RAM: our own memory, sigma0 maps it 1:1
            err, ram = await sigma0_request(SIGMA0_REQ_ANY, l4_fpage(0, cfg.ram_order, 0).raw)
            if err:
                return f"no guest RAM from sigma0 ({err})"
            thread, vm = env.thread, VM_CAP << L4_CAP_SHIFT
            log = Log(env.log if cfg.log is None else cfg.log)
            prefix = f"{cfg.tag}: "       # the kernel log has no tags of its own
        self.ram = ram
        for what, call in (("create the VM", l4_factory_create_vm(env.factory, vm)),
                           ("add ku-mem", l4_task_add_ku_mem(
                               env.task, l4_fpage(KU_VA, 15, L4_FPAGE_RW))),
                           ("make the vCPU", l4_thread_vcpu_control_ext(thread, KU_VA))):
            if (err := l4_error(await call)):
                return f"cannot {what} ({err})"
        consts = running_consts()
        page_order = consts.page_shift
        if arch == "x86_64":              # its clock: the KIP's at the latest exit
            self.lapic = lapic.Lapic(lambda: self.clock_ns)
        v, self.ext = pyl4re.vcpu.state(), pyl4re.vm.ext_state()

        def touch(off, n):
            lo, hi = self.span or (off, off + n)
            self.span = (min(lo, off), max(hi, off + n))

        async def read_at(off, n):                # GuestMemory checked the range
            touch(off, n)
            return await mem.read(ram + off, n)

        async def write_at(off, data):
            touch(off, len(data))
            await mem.write(ram + off, data)
        guest_mem = GuestMemory(cfg.ram_base, self.ram_size, read_at, write_at)
        windows = []
        for d in cfg.devices:
            vector = device_vector(arch, d.irq)
            t = VirtioMmio(d.device, guest_mem, raise_irq=lambda vec=vector: self._raise(vec),
                           lower_irq=lambda vec=vector: self._lower(vec))
            self.transports[d.kind] = t
            windows.append((d.base, t))
        platform = devicetree.Platform(arch, cfg.ram_base, self.ram_size, devices=[
            devicetree.VirtioNode(d.kind, d.base, d.irq) for d in cfg.devices])
        dtb = devicetree.build(platform)
        if len(dtb) > DTB_ROOM:
            return "the device tree does not fit its room"
        await mem.write(ram + self.dtb_gpa - cfg.ram_base, dtb)

        async def flush_log():
            while self.lines:
                await log.print(f"{prefix}{self.lines.pop(0)}\n")

        async def resume(items=()):
            await flush_log()
            self._inject_pending()
            err = await vcpu_resume_with_items(v, vm, items, page_order, L4_FPAGE_RWX)
            return f"resume refused ({err})"

        async def wait_for_input():
            """Console input typed on our log (`Kernel.log_input`) while the guest halts:
            polled, as the log raises no input Irq; False if none came in time."""
            await flush_log()
            for _ in range(max(1, -(-cfg.input_wait_us // INPUT_POLL_US))):
                n, data = await l4_vcon_read(log.cap, 256)
                if n > 0 and data:
                    for d in cfg.devices:
                        if hasattr(d.device, "feed"):
                            await d.device.feed(data)
                    return True
                if cfg.input_wait_us:
                    await l4_ipc_sleep(l4_timeout_from_us(INPUT_POLL_US))
            return False

        def window(gpa):
            if self.lapic is not None and lapic.BASE <= gpa < lapic.BASE + lapic.WINDOW:
                return lapic.BASE, self.lapic
            for base, t in windows:
                if base <= gpa < base + WINDOW:
                    return base, t
            return None, None

        async def kip_clock_ns():
            return await mem.load(consts.kip_va + KIP_CLOCK, 8) * 1000

        async def timer():
            """The local APIC's expiry, on the KIP clock read now (l4_kip_clock: µs);
            the timer thread re-armed if the deadline moved."""
            if self.lapic is None:
                return
            self.clock_ns = await kip_clock_ns()
            vector = self.lapic.due()
            if vector is not None:
                self._raise(vector)
            deadline = self.lapic.deadline_ns()
            if timer_caps and deadline != self.armed:
                self.armed = deadline
                await l4_irq_trigger(timer_caps[1])

        async def timer_thread():
            """Sleep until the APIC's deadline, then cut into the guest (an Irq to the
            vCPU thread: an IRQ exit, where timer() finds the expiry); wait for the
            vCPU thread's wake-up when nothing is armed or the deadline moved."""
            u, fired = l4_utcb(), False
            while True:
                deadline = None if fired else self.lapic.deadline_ns()
                self.armed, fired = deadline, False
                if deadline is None:
                    await l4_ipc_wait(u, L4_IPC_NEVER)
                    if self._ending:
                        return
                    continue
                left = deadline - await kip_clock_ns()
                if left > 0:
                    tag, _ = await l4_ipc_wait(u, l4_timeout(
                        L4_IPC_TIMEOUT_NEVER, l4_timeout_from_us(-(-left // 1000))))
                    if self._ending:
                        return
                    if l4_ipc_error(tag, u) != L4_IPC_RETIMEOUT:
                        continue                  # woken: the deadline moved
                fired = True
                self.timer_fired += 1
                await l4_irq_trigger(timer_caps[0])

        timer_caps = []                   # (the Irq to the vCPU, the one to the timer)

        async def start_timer_thread():
            """The timer thread, when the guest first touches its APIC (guests that
            have no use for it get none)."""
            self._timer_code = timer_thread   # code addresses are weak: keep it alive
            tick, wake = env.cap_alloc(), env.cap_alloc()
            ticker = await start_thread(env, timer_thread, prio=TIMER_PRIO)
            await l4_debugger_set_object_name(ticker, f"{cfg.tag} timer"[:15])
            for irq, to, label in ((tick, thread, TIMER_LABEL), (wake, ticker, WAKE_LABEL)):
                check(l4_error(await l4_factory_create_irq(env.factory, irq)),
                      "creating the timer thread's Irq")
                check(l4_error(await l4_rcv_ep_bind_thread(irq, to, label)),
                      "binding the timer thread's Irq")
            timer_caps.extend((tick, wake))

        async def on_exit(v):
            """An exit's upcall: it returns only when the VMM ends (resume goes on in
            the guest), and the timer thread ends with it."""
            result = await handle_exit(v)
            if timer_caps:
                self._ending = True
                await l4_irq_trigger(timer_caps[1])
            return result

        async def handle_exit(v):
            e = self.ext.exit()
            await timer()
            if e.kind == "stage2":
                base, t = window(e.gpa)
                if t is not None and (e.exec or not e.size):
                    # Nothing a device can answer: a fetch, or an access the exit does
                    # not describe (no syndrome: not decoded). The device never sees it.
                    await flush_log()
                    what = "an instruction fetch from" if e.exec else \
                        "an access with no syndrome to"
                    return f"guest fault at {e.gpa:#x}: {what} a device window"
                if t is not None:
                    self.exits["mmio"] += 1
                    if t is self.lapic and not timer_caps:
                        await start_timer_thread()
                    if e.write and t is self.lapic:
                        t.write(e.gpa - base, e.size, e.value)
                        self.ext.advance(e.advance)
                    elif e.write:
                        await t.write(e.gpa - base, e.size, e.value)
                        self.ext.advance(e.advance)
                    else:
                        self.ext.complete_load(e, t.read(e.gpa - base, e.size))
                    await timer()             # a count just written may be due at once
                    return await resume()
                if cfg.ram_base <= e.gpa < cfg.ram_base + self.ram_size:
                    self.exits["ram"] += 1
                    page = (e.gpa - cfg.ram_base) >> page_order << page_order
                    return await resume([(cfg.ram_base + page, ram + page)])
                await flush_log()
                return f"guest fault at {e.gpa:#x}"
            if e.kind == "hypercall":
                self.exits["hypercall"] += 1
                regs = self.ext.layout["hc_regs"]
                if int(v.r[regs[0]]) == HC_SHUTDOWN:
                    for d in cfg.devices:
                        if hasattr(d.device, "flush"):
                            d.device.flush()
                    await flush_log()
                    return ("shutdown", int(v.r[regs[1]]))
                v.r[regs[0]] = -1 & ((1 << 64) - 1)   # an unknown hypercall
                self.ext.advance(e.advance)
                return await resume()
            if e.kind == "halt":
                self.exits["halt"] += 1
                deadline = self.lapic.deadline_ns() if self.lapic is not None else None
                if not self._waiting_vector() and deadline is not None:   # the timer:
                    await flush_log()                # its thread's Irq (a deadline means
                    await l4_irq_receive(timer_caps[0])     # the guest armed its APIC)
                    await timer()
                if not self._waiting_vector() and not await wait_for_input():
                    await flush_log()
                    return "halted"
                self.ext.advance(e.advance)
                return await resume()
            if e.kind == "irq":
                self.exits["irq"] += 1
                return await resume()
            await flush_log()
            return f"guest stopped: {e.kind}"

        v.entry_ip, v.entry_sp = pyl4re.entry(on_exit), ENTRY_SP
        for fid, value in GUEST_FIELDS.get(arch, {}).items():
            self.ext.set(fid, value)
        if arch in GUEST_FLAGS:
            v.flags = GUEST_FLAGS[arch]
        self.ext.guest_ip = pyl4re.entry(cfg.program(self.dtb_gpa))
        return await resume()
