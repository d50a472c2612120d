"""Guest machine code on Unicorn under the model's second stage (docs/vm.md, "Guest
machine code").

`Machine(cpu, image, load_gpa=None)` is a guest image (raw bytes, or an ELF file's bytes
parsed with pyelftools) for one architecture's CPU class; `machine.program` is a guest
program for the VMM (`VmConfig(program=machine.program)`): `program(dtb_gpa)` returns the
guest's `async main()`, which copies the image into guest RAM (guest-physical writes, as
a boot loader does), sets the registers from the entry point and the boot argument, and
runs the code on Unicorn in slices. What the model supplies is what hardware
virtualisation supplies:

* **The second stage.** Unicorn starts with nothing mapped. A page appears in Unicorn
  (`mem_map_ptr` onto the model's host-physical frame, with the rights of the nested
  entry) only after the kernel translated the guest-physical address through the VM's
  nested table (`pyl4re.guest._access`, the C walk guest programs use). A Unicorn
  unmapped or protection fault is that walk: a miss or a permission fault is the real
  stage-2 exit to the VMM, with the syndrome the CPU class decoded from the faulting
  instruction (`vm_guest_syndrome`: size, register, direction, store value). Pages
  leave Unicorn when the kernel's mapping epoch moves (`vm_mapping_epoch`, bumped by
  every unmap and revoke in C), checked after each slice and each exit.
* **Exits.** Hypercall and halt instructions are the hypercall and halt exits
  (`vm_guest_exit`), an emulated access finishes with the VMM's value in its register;
  across every exit the guest's registers are in the vCPU's `r` words (the VMM reads
  and changes them there) and come back into Unicorn afterwards.
* **Interrupts.** What the VMM injects (taken at the entry, `guest.on_interrupt`) and
  what the CPU's own timer raises are pending in the machine until the guest unmasks
  interrupts; then the CPU class enters the guest's vector table with them.
* **Time.** Each executed instruction costs `cpu.INSN_NS` of the vCPU's virtual time,
  charged after each slice with `traps.compute` (preemptible: the VMM's IRQs cut it, an
  IRQ exit); instructions are counted by a Unicorn code hook, so a count is the same
  on every run. Timer counters read the model's clock, never the host's.
* **Bad input.** A truncated image or one for another architecture is a `ValueError` from
  `Machine(...)`; a fetch or access outside what the VMM maps is its stage-2 exit (the
  VMM decides: uvmm-style, "guest fault at ..."); an undefined instruction is the
  guest's own exception where the CPU class can enter the guest's vector table (arm64:
  once VBAR_EL1 is set), else it, or a guest that runs past `max_instructions`, stops
  the VM with `machine.stopped` saying why (the guest
  program raises `GuestStopped`, the VMM sees the fault exit).
* **Code the host wrote.** Unicorn retranslates after the guest's own stores to code
  (on arm64 after the ISB the architecture asks for), not after writes to the frame
  from outside (the VMM, a device's DMA, another thread): its translated code is dropped
  (`ctl_flush_tb`) before the guest runs again after every exit and slice.

The per-architecture interface (a class per architecture, `cpu_arm64.Arm64`,
`cpu_x86_64.X86_64`; `Machine` knows no architecture). Class attributes:

    ARCH        the model's arch name ("arm64", "x86_64")
    UC_ARCH, UC_MODE   Unicorn's arch and mode constants
    ELF_MACHINE the ELF e_machine pyelftools reports ("EM_AARCH64", "EM_X86_64")
    INSN_NS     virtual nanoseconds one instruction costs (an int >= 1)
    PAGE        the granule pages are mapped in (4096)

and methods (`uc` the Unicorn instance, `m` the Machine: `m.now_ns()` the model's clock
for this vCPU, `m.pending` the vectors waiting for delivery, `m.mapped` the pages Unicorn
has (page -> UC_PROT_* bits), `m.last_pc` the address of the last instruction Unicorn
began (the code hook's), `m.stop(reason)`):

    __init__(self, uc, m)   the CPU's fixed state (e.g. EL2 present, traps on) and its
                            own hooks (UC_HOOK_INSN for system registers and timers)
    reset(entry, boot_arg)  the registers a booting kernel finds (arm64: x0 = the DTB's
                            gpa, PSTATE EL1h with DAIF masked; x86_64: rsi = the DTB's
                            gpa, RFLAGS 0x2, 64-bit mode without paging) and pc = entry
    pc() / set_pc(pc)       the guest program counter
    save(r) / restore(r)    the guest's general registers into / out of the vCPU's r
                            words (r supports r[i] = int and int(r[i]); the word numbers
                            are the architecture's vcpu layout: arm64 x0..x30 = 0..30;
                            x86_64 l4_exc_regs_t's order, rax 15 .. r15 0, without rsp,
                            whose word the kernel fills with the thread's own sp)
    decode_access(pc, gpa, size, write, value) -> Access or None
                            the syndrome of the load or store at pc (Unicorn's fault
                            gives gpa, size, direction, a store's value): Access(size,
                            reg, write, value, info, length) with `reg` the register
                            number the architecture's syndrome names (arm64 SRT 0..31,
                            31 = xzr; x86_64 the x86 encoding, rax 0 .. r15 15, 16 an
                            immediate) and `info` the arch's extra syndrome bits for
                            arch/<arch>/vm.c (arm64: bit 0 SSE, bit 1 SF; x86_64: the
                            instruction's length); None when there is no syndrome
                            (arm64 ISV = 0; x86_64 an instruction its decoder does not
                            know): the exit then carries size 0
    complete_load(access)   an emulated access is done: the registers are back from r
                            (the VMM put a load's value into r's word for the register);
                            apply the load's width and extension to it, pc past it
    trap(intno, pc) -> Trap  what Unicorn's interrupt hook reported: Trap(kind, imm,
                            next_pc) with kind "hypercall" (imm its immediate),
                            "halt", "undefined", or None (go on at next_pc: ignored,
                            or an exception the guest takes itself, the CPU class
                            having entered its vector), or "vector" (an exception the
                            guest takes itself through deliver(imm, exception=True),
                            which may need guest pages first); any other kind stops
                            the VM with the kind named
    emulator_stopped(errno) -> Trap or None   emu_start ended with no hook's event:
                            `errno` the UcError's (None: it returned, maybe before its
                            count); the Trap it was (x86_64: VMCALL and UD2 are invalid
                            instructions to Unicorn, HLT ends emulation quietly), or
                            None (a count's normal end; otherwise the machine stops)
    irq_masked() -> bool    whether the guest masks interrupts now
    deliver(vector, exception=False) -> None or (gpa, access)   enter the guest's
                            vector table with interrupt `vector` (or, for a "vector"
                            trap, exception `vector`: x86_64 pushes an error code for
                            the vectors that have one) (arm64: ELR_EL1/SPSR_EL1 saved, DAIF
                            masked, pc = VBAR_EL1 + the IRQ offset; the guest's ERET
                            returns; x86_64: the IDT gate, the frame pushed); or, before
                            changing anything, a guest page it needs that Unicorn does
                            not have (x86_64: the gate's, the frame's): the machine makes
                            that access through the nested table and calls it again
    timer_deadline_ns() -> int or None   when the CPU's own timer fires next (model ns)
    timer_vector() -> int or None        the timer's vector while its line is asserted

The C side (kernel_c/vm.c, pyl4re.h): `vm_guest_syndrome(k, thread, size, value, reg,
info)` sets the next access's syndrome (`_access(..., reg=, info=)` calls it);
`struct vm_access` carries `reg` (VM_REG_DEFAULT = 0x7fffffff: the layout's data
register, what plain guest programs get) and `info` into `arch_vm_exit`, which composes
the architecture's exit from them (arch/arm64/vm.c: SRT, SSE, SF; arch/x86_64/vm.c: the
instruction length from `info`, the register and width in the instruction information,
an immediate's value in the software field 0x688A). `vm_guest_page(k, thread,
gpa, out)` is the nested entry (pa, rights, page_shift) and `vm_mapping_epoch(k)` the
epoch. Hypercall and halt exits go through `pyl4re.guest._exit(why, imm, what)`.

Changes to this interface are noted here.
* complete_load(access) takes no value (first version: complete_load(access, value)):
  generic code cannot index r by the architecture's register number.
* x86_64 added: emulator_stopped(errno) (Unicorn reports VMCALL, UD2 and HLT through no
  hook), deliver() may return a page it needs first (x86 delivery writes guest memory),
  m.mapped and m.last_pc are part of what a CPU class reads (the STI shadow, the HLT
  check), and a trap of another kind is named as it is ("exception 3 #BP").
* Trap kind "vector" and deliver(vector, exception=True) added: x86 exceptions enter the
  guest's IDT when it has a gate for them, through guest memory like an interrupt.
"""
import ctypes
import io
import weakref
from collections import Counter, namedtuple

from .. import traps
from . import _access, _cur, _exit, _interrupts, on_interrupt
from ..vcpu import state

READ, WRITE, EXEC = 4, 2, 1          # L4_FPAGE_RO, W, X: what an access needs
Access = namedtuple("Access", "size reg write value info length")
Trap = namedtuple("Trap", "kind imm next_pc")
_NO_END = (1 << 64) - 1              # emu_start's `until`: never reached
MASKED_SLICE = 64                    # the slice while an interrupt waits for unmasking


def sign_extend(v, bits):
    """The low `bits` of v as a signed integer (a load's or an offset's extension)."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


class Registers:
    """A CPU class's general registers read and written with one batch call of Unicorn's
    C library each way, into buffers made once: Unicorn's Python reg_read/reg_write cost
    microseconds each, and every exit saves and restores them all (docs/benchmarks.md,
    "Guest machine code"). Where the binding lacks its low-level batch call, its public
    batch API."""

    def __init__(self, uc, regs):
        self.uc, self.regs, n = uc, list(regs), len(regs)
        self.ids, self.values = (ctypes.c_int * n)(*regs), (ctypes.c_uint64 * n)()
        base = ctypes.addressof(self.values)
        self.ptrs = (ctypes.c_void_p * n)(*(base + 8 * i for i in range(n)))
        self.n = ctypes.c_int(n)
        self.fast = hasattr(uc, "_do_reg_read_batch") and hasattr(uc, "_do_reg_write_batch")

    def read(self):
        if not self.fast:
            return self.uc.reg_read_batch(self.regs)
        err = self.uc._do_reg_read_batch(self.ids, self.ptrs, self.n)
        if err:
            from unicorn import UcError
            raise UcError(err)
        return self.values[:]

    def write(self, values):
        if not self.fast:
            self.uc.reg_write_batch(list(zip(self.regs, values)))
            return
        self.values[:] = values
        err = self.uc._do_reg_write_batch(self.ids, self.ptrs, self.n)
        if err:
            from unicorn import UcError
            raise UcError(err)


class GuestStopped(Exception):
    """The guest cannot go on (an undefined instruction, its instruction budget spent,
    an exit the machine cannot complete); `Machine.stopped` says why."""


def _load_image(cpu, image, load_gpa):
    """[(gpa, bytes, memsz)], entry: an ELF's PT_LOAD segments and entry point, or raw
    bytes at load_gpa. ValueError naming what is wrong."""
    if not isinstance(image, (bytes, bytearray, memoryview)):
        raise TypeError(f"image: the guest image's bytes, not {type(image).__name__}")
    image = bytes(image)
    if not image:
        raise ValueError("image: the guest image is empty")
    if image[:4] != b"\x7fELF":
        if isinstance(load_gpa, bool) or not isinstance(load_gpa, int) \
                or not 0 <= load_gpa < 1 << 48 or load_gpa % cpu.PAGE:
            raise ValueError(f"load_gpa: a raw image needs a page-aligned guest-physical "
                             f"load address, not {load_gpa!r}")
        return [(load_gpa, image, len(image))], load_gpa
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    try:
        elf = ELFFile(io.BytesIO(image))
        machine, kind = elf["e_machine"], elf["e_type"]
        if machine != cpu.ELF_MACHINE or elf.elfclass != 64:
            raise ValueError(f"image: an ELF for {machine} (ELFCLASS{elf.elfclass}), not "
                             f"for {cpu.ARCH} ({cpu.ELF_MACHINE}, ELFCLASS64)")
        if kind != "ET_EXEC":
            raise ValueError(f"image: an ELF of type {kind}, not an executable (ET_EXEC)")
        segments = []
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD" or not seg["p_memsz"]:
                continue
            data = seg.data()
            if len(data) != seg["p_filesz"] or seg["p_memsz"] < seg["p_filesz"]:
                raise ValueError(f"image: truncated ELF: a segment at {seg['p_paddr']:#x} "
                                 f"has {len(data)} of its {seg['p_filesz']} bytes")
            segments.append((seg["p_paddr"], data, seg["p_memsz"]))
        entry = elf["e_entry"]
    except ELFError as e:
        raise ValueError(f"image: a truncated or malformed ELF ({e})") from None
    except (OSError, EOFError, KeyError, IndexError) as e:      # pyelftools reading short
        raise ValueError(f"image: a truncated ELF ({type(e).__name__}: {e})") from None
    if not segments:
        raise ValueError("image: the ELF has no loadable segment")
    return segments, entry


class Machine:
    """A guest image on one architecture's CPU (see module doc). After a run:
    `instructions` executed, `exits` by kind, `stopped` (None, or why it stopped)."""

    def __init__(self, cpu, image, load_gpa=None, max_instructions=10_000_000,
                 slice_instructions=20_000):
        for a in ("ARCH", "UC_ARCH", "UC_MODE", "ELF_MACHINE", "INSN_NS", "PAGE"):
            if not hasattr(cpu, a):
                raise TypeError(f"cpu: a CPU class (cpu_arm64.Arm64, ...), not {cpu!r}")
        for name, v in (("max_instructions", max_instructions),
                        ("slice_instructions", slice_instructions)):
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v < 1 << 62:
                raise ValueError(f"{name}: a positive instruction count, not {v!r}")
        self.cpu_class = cpu
        self.segments, self.entry = _load_image(cpu, image, load_gpa)
        self.max_instructions, self.slice = max_instructions, slice_instructions
        self.instructions, self.exits, self.stopped = 0, Counter(), None
        self.pending = []             # vectors the VMM injected, not yet delivered
        self.mapped = {}              # guest-physical page -> Unicorn permissions
        self.last_pc = None           # the last instruction Unicorn began
        self._code_stale = False      # host writes may have changed translated code

    # ---- what the CPU classes use

    def now_ns(self):
        """The model's clock for this vCPU, at the instruction executing now."""
        return self._base_ns + (self.instructions - self._base_count) * self._insn_ns

    def stop(self, reason):
        self.stopped = reason
        raise GuestStopped(reason)

    # ---- the guest program

    def program(self, dtb_gpa):
        """For VmConfig.program: the guest's `async main()` booting with `dtb_gpa`."""
        async def main():
            return await self._run(dtb_gpa)
        return main

    async def _run(self, dtb_gpa):
        from unicorn import (UC_HOOK_CODE, UC_HOOK_INTR, UC_HOOK_MEM_PROT,
                             UC_HOOK_MEM_UNMAPPED, Uc)
        self._thr, self._k = _cur()
        k = self._k
        self._lib, self._host = k._lib, k._physmem.ctypes.data
        self._insn_ns = self.cpu_class.INSN_NS
        self._info = k._ffi.new("struct thread_info *")
        self._clock = k._ffi.new("struct cpu_info *")
        self._page = k._ffi.new("struct vm_guest_page *")
        self._sync_clock()
        ref = weakref.ref(self)     # guest handlers live as long as the kernel does

        async def on_irq(vector):
            m = ref()
            if m is not None:
                m.pending.append(vector)
        on_interrupt(on_irq)
        for gpa, data, memsz in self.segments:        # the boot loader's copy
            from . import write
            await write(gpa, data + bytes(memsz - len(data)))
        self.uc = uc = Uc(self.cpu_class.UC_ARCH, self.cpu_class.UC_MODE)
        self.cpu = self.cpu_class(uc, self)
        uc.hook_add(UC_HOOK_MEM_UNMAPPED | UC_HOOK_MEM_PROT, self._on_fault)
        uc.hook_add(UC_HOOK_INTR, self._on_trap)
        uc.hook_add(UC_HOOK_CODE, self._on_insn)
        self.cpu.reset(self.entry, dtb_gpa)
        self._epoch = self._lib.vm_mapping_epoch(k._k)
        while True:
            await self._slice()

    # ---- Unicorn's hooks (synchronous: they record, the run loop acts)

    def _on_insn(self, uc, address, size, _):
        self.instructions += 1
        self.last_pc = address

    def _on_fault(self, uc, access, address, size, value, _):
        from unicorn import UC_MEM_FETCH_PROT, UC_MEM_FETCH_UNMAPPED, UC_MEM_WRITE_PROT, \
            UC_MEM_WRITE_UNMAPPED
        fetch = access in (UC_MEM_FETCH_UNMAPPED, UC_MEM_FETCH_PROT)
        write = access in (UC_MEM_WRITE_UNMAPPED, UC_MEM_WRITE_PROT)
        self._event = ("fault", self.cpu.pc() if not fetch else address, address, size,
                       write, value & ((1 << 8 * size) - 1) if size <= 8 else 0, fetch)
        return False

    def _on_trap(self, uc, intno, _):
        self._event = ("trap", intno, self.cpu.pc())
        uc.emu_stop()

    # ---- the run loop

    def _sync_clock(self):
        k = self._k
        self._lib.thread_info(k._k, self._thr.ref, self._info)
        self._lib.cpu_info(k._k, [self._info.cpu], self._clock)
        self._base_ns, self._base_count = self._clock.clock_ns, self.instructions

    def _revalidate(self):
        """Drop what Unicorn holds of the nested table if anything was unmapped since."""
        epoch = self._lib.vm_mapping_epoch(self._k._k)
        if epoch != self._epoch:
            for page in self.mapped:
                self.uc.mem_unmap(page, self.cpu_class.PAGE)
            self.mapped.clear()
            self._epoch = epoch

    def _forget_code(self):
        """Unicorn's translated code is to be dropped before the guest runs again. While
        the guest was out (an exit, or other threads running in its slice's time) the
        VMM, a device's DMA or another thread may have written guest RAM through the host
        frame, which Unicorn does not see (it retranslates after the guest's own stores,
        not after the host's)."""
        self._code_stale = True

    def _run_code(self, budget):
        if self._code_stale:
            self.uc.ctl_flush_tb()
            self._code_stale = False
        self.uc.emu_start(self.cpu.pc(), _NO_END, count=budget)

    async def _after_exit(self):
        self._revalidate()
        self._forget_code()
        self._sync_clock()

    async def _slice(self):
        cpu = self.cpu
        if not cpu.irq_masked():
            vector = cpu.timer_vector()
            if vector is None and self.pending:
                vector = self.pending.pop(0)
            if vector is not None:
                while (need := cpu.deliver(vector)) is not None:
                    await self._touch(*need)          # a page the delivery writes or reads
                self.exits["interrupt"] += 1
        budget = min(self.slice if not self.pending else MASKED_SLICE,
                     self.max_instructions - self.instructions)
        if budget <= 0:
            self.stop(f"the guest ran its {self.max_instructions} instructions "
                      f"(a spinning guest?) at pc {cpu.pc():#x}")
        deadline = cpu.timer_deadline_ns()
        if deadline is not None:
            now = self.now_ns()
            if deadline > now:
                budget = min(budget, -(-(deadline - now) // self._insn_ns))
        self._event = None
        start = self.instructions
        from unicorn import UcError
        error = None
        try:
            self._run_code(budget)
        except UcError as e:
            error = e
        ran = self.instructions - start
        event, self._event = self._event, None
        if event is None:                # no hook saw it: did the CPU stop on its own?
            t = cpu.emulator_stopped(error.errno if error is not None else None)
            if t is not None:
                event = ("stopped", t, cpu.pc())
            elif error is not None or ran < budget:
                self.stop(f"the CPU emulator stopped: {error or 'before its count'} "
                          f"at pc {cpu.pc():#x}")
        if ran:                                     # the slice's virtual time
            r = state().r
            cpu.save(r)
            await traps.compute(ran * self._insn_ns)
            await _interrupts(*_cur())
            cpu.restore(r)
            await self._after_exit()
        if event is None:
            return
        if event[0] == "fault":
            await self._fault(*event[1:])
        elif event[0] == "trap":
            await self._trap(cpu.trap(event[1], event[2]), event[2])
        else:
            await self._trap(event[1], event[2])

    async def _fault(self, pc, gpa, size, write, value, fetch):
        cpu, page_size = self.cpu, self.cpu_class.PAGE
        access = EXEC if fetch else WRITE if write else READ
        acc = None if fetch else cpu.decode_access(pc, gpa, size, write, value)
        r = state().r
        cpu.save(r)
        res, _ = await _access(gpa, access, acc.size if acc else 0,
                               acc.value if acc and acc.write else 0,
                               reg=acc.reg if acc else None, info=acc.info if acc else 0)
        cpu.restore(r)
        await self._after_exit()
        if res is None:                              # the VMM emulated it
            self.exits["mmio"] += 1
            if acc is None:
                what = "an instruction fetch" if fetch else "an access"
                self.stop(f"the VMM emulated {what} at {gpa:#x} (pc {pc:#x}) that has "
                          "no syndrome: it cannot be completed")
            cpu.complete_load(acc)
            return
        self.exits["page"] += 1
        self._map(gpa - gpa % page_size)

    async def _touch(self, gpa, access):
        """Make guest-physical `gpa` present in Unicorn with `access` (READ, WRITE) for
        what the CPU does itself (x86: the IDT gate and the frame of an interrupt): the
        kernel's walk, a stage-2 exit to the VMM if it misses."""
        r = state().r
        self.cpu.save(r)
        res, _ = await _access(gpa, access, 0, 0)
        self.cpu.restore(r)
        await self._after_exit()
        if res is None:
            self.stop(f"the VMM emulated an access at {gpa:#x} the CPU made itself "
                      "(interrupt or exception delivery): it has no instruction to "
                      "complete")
        self.exits["page"] += 1
        self._map(gpa - gpa % self.cpu_class.PAGE)

    def _map(self, page):
        """Map the nested table's entry for `page` into Unicorn (nothing if gone again:
        the access faults again)."""
        page_size = self.cpu_class.PAGE
        lib, k = self._lib, self._k
        if lib.vm_guest_page(k._k, self._thr.ref, page, self._page) < 0:
            return                                  # gone again meanwhile: fault again
        from unicorn import UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE
        rights = self._page.rights
        perms = (UC_PROT_READ if rights & READ else 0) | \
                (UC_PROT_WRITE if rights & WRITE else 0) | (UC_PROT_EXEC if rights & EXEC else 0)
        if page in self.mapped:
            self.uc.mem_unmap(page, page_size)
        pa = self._page.pa.raw
        self.uc.mem_map_ptr(page, page_size, perms, self._host + pa - pa % page_size)
        self.mapped[page] = perms

    async def _trap(self, t, pc):
        cpu, lib = self.cpu, self._lib
        if t.kind is None:
            cpu.set_pc(t.next_pc)
            return
        if t.kind == "vector":                  # the guest's own vector table takes it
            cpu.set_pc(t.next_pc)               # the return address the CPU saves
            while (need := cpu.deliver(t.imm, exception=True)) is not None:
                await self._touch(*need)
            return
        if t.kind == "undefined":
            self.stop(f"undefined instruction {t.imm:#010x} at pc {pc:#x}")
        if t.kind not in ("hypercall", "halt"):
            self.stop(f"{t.kind} ({t.imm:#x}) at pc {t.next_pc:#x}")   # where it was
        r = state().r
        if t.kind == "halt":
            if self.pending or cpu.timer_vector() is not None:
                cpu.set_pc(t.next_pc)                   # an interrupt waits: WFI wakes
                return
            deadline = cpu.timer_deadline_ns()
            if deadline is not None and not self.pending:   # wait for the CPU's timer
                self.exits["timer_wait"] += 1
                cpu.save(r)
                wait = max(deadline - self.now_ns(), 0)
                await traps.compute(wait)
                await _interrupts(*_cur())
                cpu.restore(r)
                await self._after_exit()
                cpu.set_pc(t.next_pc)
                return
        self.exits[t.kind] += 1
        why = lib.VM_EXIT_HYPERCALL if t.kind == "hypercall" else lib.VM_EXIT_HALT
        cpu.save(r)
        while True:
            done, took = await _exit(why, t.imm, f"guest {t.kind}")
            if done or (took and t.kind == "halt"):
                break
        cpu.restore(r)
        await self._after_exit()
        cpu.set_pc(t.next_pc)


__all__ = ["Machine", "GuestStopped", "Access", "Trap"]
