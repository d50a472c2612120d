"""The x86-64 CPU of guest machine code (machine.py's per-architecture interface).

The guest runs in 64-bit mode on Unicorn's x86-64 CPU at CPL 0 with no paging of its own:
Unicorn's long mode without CR0.PG, so every address the guest uses is guest-physical
(identity), as arm64's guest runs with its MMU off. At reset rip is the entry point, rsi
holds the boot argument (the DTB's guest-physical address; rsi because Linux's 64-bit
boot protocol passes its boot_params there), every other general register is 0, RFLAGS
is 0x2 (IF clear: interrupts masked) and CS, SS, GDTR and IDTR are 0: the guest loads its
own GDT and reloads CS (an IRETQ loads CS from it, as on hardware) and its IDT.

* **Syndrome.** x86 hardware gives none on an EPT violation: the instruction at rip is
  decoded here (`decode`), as uvmm's own decoder does: MOV r/m loads and stores (88, 89,
  8A, 8B), MOV r/m, imm (C6 /0, C7 /0), MOVZX / MOVSX (0F B6, B7, BE, BF), MOVSXD (63)
  and the moffs forms (A0..A3), with legacy prefixes (0x66 operand size, 0x67 address
  size, segment overrides) and REX; ModRM, SIB, displacements and RIP-relative addressing
  give the length. The access's `reg` is the register in the x86 encoding (rax 0 ... r15
  15; 16 for an immediate store), `info` the instruction's length, which
  arch/x86_64/vm.c puts into the exit's instruction length (0x440C) and, with the
  register and the width, its instruction information (0x440E). The high-byte
  registers AH..BH, rsp as the register (it is not in r: the kernel writes the thread's
  own sp, ip and flags words at each exit; rsp, rip and RFLAGS stay in Unicorn), other
  opcodes (string moves, read-modify-write, SIMD) and an access
  of another width than the instruction's give no syndrome (None: the exit carries size
  0, and an emulated one stops the machine).
* **Loads.** The VMM puts the value into the register's r word; `complete_load` applies
  the instruction's width: a 32-bit destination zero-extends, 8- and 16-bit ones merge
  into the register's other bits, MOVZX zero- and MOVSX / MOVSXD sign-extend; rip moves
  past the instruction.
* **Exits.** Unicorn emulates no VMX: VMCALL (0F 01 C1) ends emulation as an invalid
  instruction at rip and is the hypercall exit (its immediate: rax, as the VMM's decode
  reads VMCALL; the VMM's power-off is rax = 0x5d, rbx = the code). HLT ends emulation
  quietly with rip past it (`emulator_stopped` tells it from an instruction budget) and
  is the halt exit. Any other invalid instruction (UD2, ...) is #UD; it and the exceptions
  Unicorn raises through its interrupt hook (INT n, INT3, #DE, #GP ...) enter the guest's
  IDT as an interrupt does (below) once the guest has loaded an IDT that reaches the
  vector, with the return rip the CPU pushes (at the faulting instruction for a fault,
  past it for INT n and INT3: Unicorn's rip in its hook is that one) and, for the vectors
  that have one (#DF, #TS, #NP, #SS, #GP, #PF, #AC), an error code of 0 (Unicorn does
  not report the real one); with no such IDT, #UD is "undefined" and the others stop the
  VM with the vector named.
* **Interrupts.** `deliver(vector)` takes an external interrupt as the CPU does in IA-32e
  mode: the 16-byte gate at IDTR.base + 16 * vector (present, a 64-bit interrupt or trap
  gate; no IST), RSP aligned down to 16, SS, RSP, RFLAGS, CS, RIP pushed, CS the gate's
  selector, rip its offset, TF, NT, RF cleared and IF too for an interrupt gate; the
  guest's IRETQ (Unicorn executes it) returns. The IDT gate and the frame are guest
  memory: a page not yet in Unicorn is brought in through the nested table first (the
  machine's stage-2 access). `irq_masked()` is RFLAGS.IF clear or the STI shadow: the
  last instruction begun was an STI just executed (`sti; hlt` cannot lose a wake-up).
* **Timer.** The CPU has none of its own: the VMM's local APIC (pyl4re/vmm/lapic.py,
  xAPIC MMIO at 0xfee00000) is the x86 guest's timer, its interrupt injected by the VMM.
* **Cost.** INSN_NS = 1: every instruction is 1 ns of the vCPU's time.
"""
import ctypes
import functools
from collections import namedtuple

import unicorn
from unicorn import x86_const as X

from .machine import READ, WRITE, Access, Registers, Trap, sign_extend

# The x86 encoding's register numbers, and the r word each lives in (l4_exc_regs_t order,
# arch/x86_64/vm.c's x86_word).
GPRS = [X.UC_X86_REG_RAX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX, X.UC_X86_REG_RBX,
        X.UC_X86_REG_RSP, X.UC_X86_REG_RBP, X.UC_X86_REG_RSI, X.UC_X86_REG_RDI] + \
       [getattr(X, f"UC_X86_REG_R{i}") for i in range(8, 16)]
R_WORD = [15, 14, 13, 12, 21, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
RSP, RSI = 4, 6
# What goes through r: every general register but rsp, whose word (like ip's and flags')
# the kernel fills with the thread's own at each exit; rsp, rip and RFLAGS stay in Unicorn.
SAVED = [(GPRS[i], R_WORD[i]) for i in range(16) if i != RSP]
REG_IMM = 16                   # the syndrome's register for a store of an immediate
RFLAGS_IF, RFLAGS_TF, RFLAGS_NT, RFLAGS_RF = 1 << 9, 1 << 8, 1 << 14, 1 << 16
GATE_INTR, GATE_TRAP = 0xE, 0xF
VMCALL, HLT, STI = b"\x0f\x01\xc1", 0xF4, 0xFB
MAX_INSN = 15
VECTOR_UD, VECTOR_DF = 6, 8
ERROR_CODE_VECTORS = frozenset({8, 10, 11, 12, 13, 14, 17})   # they push an error code
EXCEPTIONS = {0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD",
              7: "#NM", 8: "#DF", 10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF",
              16: "#MF", 17: "#AC", 18: "#MC", 19: "#XM"}
SEGMENT_PREFIXES = {0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65}

# Unicorn's x86 CPU keeps the last contributory exception it raised (QEMU's
# env->old_exception) until QEMU itself delivers one, which never happens under an
# interrupt hook: the next contributory exception then comes as #DF (unicorn-engine/unicorn
# issue 1883). QEMU clears the field to -1 after each delivery; the CPU class does the same
# after it delivered an exception, in Unicorn's saved CPU context, at the offset found
# once by raising two exceptions on a scratch CPU (None: not found, and a #DF Unicorn
# reports stops the VM, as it can then only be that artefact).
@functools.cache
def old_exception_offset():
    """Where Unicorn's saved x86 CPU context keeps QEMU's old_exception, or None."""
    return _find_old_exception()


def _context_bytes(uc):
    ctx = uc.context_save()
    return ctypes.string_at(ctx.context, ctx.size)


def _find_old_exception():
    uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
    uc.mem_map(0x1000, 0x1000)
    # div %ecx (#DE, ecx = 0); mov $0x1234, %eax; mov %eax, %ds (#GP: past the GDT)
    uc.mem_write(0x1000, bytes.fromhex("f7 f1 b8 34 12 00 00 8e d8"))
    uc.hook_add(unicorn.UC_HOOK_INTR, lambda uc, intno, _: uc.emu_stop())
    snapshots = [_context_bytes(uc)]
    for start in (0x1000, 0x1002):
        try:
            uc.emu_start(start, 0x1009)
        except unicorn.UcError:
            return None
        snapshots.append(_context_bytes(uc))
    word = lambda data, at: int.from_bytes(data[at:at + 4], "little", signed=True)  # noqa
    none, first, second = snapshots               # -1, then #DE (0), then #GP as #DF (8)
    hits = [at for at in range(0, len(none) - 3, 4) if word(none, at) == -1
            and word(first, at) == 0 and word(second, at) == 8]
    return hits[0] if len(hits) == 1 else None


Decoded = namedtuple("Decoded", "size reg write length dest signed")
"""One decoded MOV: access `size` (1, 2, 4, 8), `reg` (x86 number, REG_IMM for an
immediate), `write`, instruction `length`, a load's destination width in bits `dest` and
whether it sign-extends."""


def _modrm_length(code, i):
    """The bytes ModRM at code[i] takes with its SIB and displacement, and whether it
    names memory (None if the code ends first). 32-bit addressing (0x67) has the same
    lengths in 64-bit mode."""
    if i >= len(code):
        return None
    modrm = code[i]
    mod, rm = modrm >> 6, modrm & 7
    n = 1
    if mod == 3:
        return n, False
    if rm == 4:                                     # SIB
        if i + 1 >= len(code):
            return None
        n += 1
        if mod == 0 and code[i + 1] & 7 == 5:
            n += 4                                  # no base: disp32
    elif mod == 0 and rm == 5:
        n += 4                                      # RIP-relative disp32
    n += (0, 1, 4)[mod]
    return n, True


def decode(code):
    """The MOV at the start of `code` (bytes) as Decoded, or None when it is none of the
    forms this decoder knows (see module doc)."""
    i, opsize, addr32, rex = 0, False, False, 0
    while i < len(code) and i < MAX_INSN:
        b = code[i]
        if b == 0x66:
            opsize = True
        elif b == 0x67:
            addr32 = True
        elif b in SEGMENT_PREFIXES:
            pass
        else:
            break
        i += 1
    if i < len(code) and 0x40 <= code[i] <= 0x4F:
        rex = code[i]
        i += 1
    if i >= len(code):
        return None
    w, r = bool(rex & 8), (rex >> 2) & 1
    width = 8 if w else 2 if opsize else 4
    op = code[i]
    i += 1
    if op in (0xA0, 0xA1, 0xA2, 0xA3):              # moffs: rax and an absolute address
        n = i + (4 if addr32 else 8)
        size = 1 if op in (0xA0, 0xA2) else width
        return _fits(code, n, Decoded(size, 0, op >= 0xA2, n, 8 * size, False))
    two = op == 0x0F
    if two:
        if i >= len(code):
            return None
        op = 0x0F00 | code[i]
        i += 1
    if op not in (0x88, 0x89, 0x8A, 0x8B, 0xC6, 0xC7, 0x63, 0x0FB6, 0x0FB7, 0x0FBE, 0x0FBF):
        return None
    m = _modrm_length(code, i)
    if m is None or not m[1]:
        return None                                 # the code ends, or no memory operand
    modrm, n = code[i], i + m[0]
    reg = ((modrm >> 3) & 7) | r << 3
    byte_reg = op in (0x88, 0x8A)
    if byte_reg and not rex and 4 <= reg <= 7:
        return None                                 # AH, CH, DH, BH: no syndrome
    if reg == RSP and op not in (0xC6, 0xC7):
        return None                                 # rsp is not in r (see SAVED)
    if op in (0xC6, 0xC7):
        if (modrm >> 3) & 7:
            return None                             # C6/C7 /1../7: not MOV
        size = 1 if op == 0xC6 else width
        n += 1 if op == 0xC6 else 2 if size == 2 else 4
        return _fits(code, n, Decoded(size, REG_IMM, True, n, 8 * size, False))
    if op in (0x88, 0x89):
        size = 1 if op == 0x88 else width
        return _fits(code, n, Decoded(size, reg, True, n, 8 * size, False))
    if op in (0x8A, 0x8B):
        size = 1 if op == 0x8A else width
        return _fits(code, n, Decoded(size, reg, False, n, 8 * size, False))
    if op == 0x63:                                  # MOVSXD (without REX.W: a 32-bit mov)
        return _fits(code, n, Decoded(4, reg, False, n, 8 * width, w))
    size = 1 if op in (0x0FB6, 0x0FBE) else 2      # MOVZX / MOVSX
    return _fits(code, n, Decoded(size, reg, False, n, 8 * width, op in (0x0FBE, 0x0FBF)))


def _fits(code, n, d):
    return d if n <= len(code) and n <= MAX_INSN else None


class X86_64:
    ARCH = "x86_64"
    UC_ARCH, UC_MODE = unicorn.UC_ARCH_X86, unicorn.UC_MODE_64
    ELF_MACHINE = "EM_X86_64"
    INSN_NS = 1
    PAGE = 4096

    def __init__(self, uc, m):
        self.uc, self.m = uc, m
        self._load = None               # (destination bits, sign-extends, register before)
        self._gprs = Registers(uc, [reg for reg, _ in SAVED])

    # ---- registers

    def reset(self, entry, boot_arg):
        uc = self.uc
        for reg in GPRS:
            uc.reg_write(reg, 0)
        uc.reg_write(GPRS[RSI], boot_arg)
        uc.reg_write(X.UC_X86_REG_RFLAGS, 0x2)
        uc.reg_write(X.UC_X86_REG_RIP, entry)

    def pc(self):
        return self.uc.reg_read(X.UC_X86_REG_RIP)

    def set_pc(self, pc):
        self.uc.reg_write(X.UC_X86_REG_RIP, pc)

    def save(self, r):
        for (_, word), value in zip(SAVED, self._gprs.read()):
            r[word] = value

    def restore(self, r):
        self._gprs.write([int(r[word]) for _, word in SAVED])

    def _code(self, pc, n=MAX_INSN):
        """Up to n instruction bytes at pc (fewer where Unicorn has no page)."""
        try:
            return bytes(self.uc.mem_read(pc, n))
        except unicorn.UcError:
            end = (pc // self.PAGE + 1) * self.PAGE
            try:
                return bytes(self.uc.mem_read(pc, min(n, end - pc)))
            except unicorn.UcError:
                return b""

    # ---- EPT violations

    def decode_access(self, pc, gpa, size, write, value):
        d = decode(self._code(pc))
        if d is None or d.size != size or d.write != bool(write):
            return None
        if not d.write:
            self._load = (d.dest, d.signed, self.uc.reg_read(GPRS[d.reg]))
        return Access(d.size, d.reg, d.write, value if d.write else 0, d.length, d.length)

    def complete_load(self, access):
        if not access.write:
            dest, signed, before = self._load
            reg = GPRS[access.reg]
            v = self.uc.reg_read(reg) & ((1 << 8 * access.size) - 1)
            if signed:
                v = sign_extend(v, 8 * access.size) & ((1 << dest) - 1)
            if dest < 32:                                   # 8, 16 bits: merge
                v = (before & ~((1 << dest) - 1)) | v
            self.uc.reg_write(reg, v)
        self.set_pc(self.pc() + access.length)

    # ---- exceptions

    def trap(self, intno, pc):
        if intno == VECTOR_DF:
            # Every delivery is the CPU class's own and clears Unicorn's record of the
            # exception in flight, so a #DF can only be Unicorn's artefact (see above).
            self.m.stop(f"Unicorn reported #DF at pc {pc:#x}: an exception after an "
                        "earlier one it still counts as in flight (unicorn issue 1883); "
                        "the exception itself is unknown")
        if self._idt_reaches(intno):
            return Trap("vector", intno, pc)   # pc: the rip the CPU saves (Unicorn's in its
                                               # hook: past INT n and INT3, at a fault)
        name = EXCEPTIONS.get(intno)
        return Trap(f"exception {intno}" + (f" {name}" if name else ""), intno, pc)

    def _idt_reaches(self, vector):
        """Whether the guest loaded an IDT whose limit covers `vector`'s gate (its gate
        may still be bad: deliver() says so)."""
        _, _, limit, _ = self.uc.reg_read(X.UC_X86_REG_IDTR)
        return limit >= 16 * vector + 15

    def emulator_stopped(self, errno):
        pc = self.pc()
        if errno is None:                       # HLT: Unicorn stops with rip past it
            last = self.m.last_pc
            if last is not None and pc == last + 1 and self._code(last, 1) == bytes([HLT]):
                return Trap("halt", 0, pc)
            return None
        if errno != unicorn.UC_ERR_INSN_INVALID:
            return None
        code = self._code(pc, 4)
        if code[:3] == VMCALL:
            return Trap("hypercall", self.uc.reg_read(X.UC_X86_REG_RAX), pc + 3)
        if self._idt_reaches(VECTOR_UD):
            return Trap("vector", VECTOR_UD, pc)      # a fault: rip stays at it
        return Trap("undefined", int.from_bytes(code, "big"), pc)

    # ---- interrupts

    def irq_masked(self):
        if not self.uc.reg_read(X.UC_X86_REG_RFLAGS) & RFLAGS_IF:
            return True
        last = self.m.last_pc                  # the STI shadow
        return last is not None and self.pc() == last + 1 and \
            self._code(last, 1) == bytes([STI])

    def deliver(self, vector, exception=False):
        uc, m = self.uc, self.m
        what = "exception" if exception else "interrupt"
        _, base, limit, _ = uc.reg_read(X.UC_X86_REG_IDTR)
        gate_at = base + 16 * vector
        if gate_at + 15 > base + limit:
            m.stop(f"{what} {vector:#x}: beyond the IDT's limit {limit:#x}")
        error = exception and vector in ERROR_CODE_VECTORS
        rsp = uc.reg_read(X.UC_X86_REG_RSP)
        top = rsp & ~0xF
        frame = top - (48 if error else 40)
        for gpa, access in ((gate_at, READ), (gate_at + 15, READ), (frame, WRITE),
                            (top - 1, WRITE)):
            page = gpa - gpa % self.PAGE
            perms = m.mapped.get(page, 0)
            if not perms & (unicorn.UC_PROT_WRITE if access == WRITE else unicorn.UC_PROT_READ):
                return gpa, access                  # the machine brings the page in first
        gate = bytes(uc.mem_read(gate_at, 16))
        lo, hi = int.from_bytes(gate[:8], "little"), int.from_bytes(gate[8:], "little")
        kind, present, ist = (lo >> 40) & 0xF, (lo >> 47) & 1, (lo >> 32) & 7
        if not present or kind not in (GATE_INTR, GATE_TRAP):
            m.stop(f"{what} {vector:#x}: the IDT gate at {gate_at:#x} is no present "
                   "64-bit interrupt or trap gate")
        if ist:
            m.stop(f"{what} {vector:#x}: the gate asks for IST {ist} (no TSS modelled)")
        offset = (lo & 0xFFFF) | ((lo >> 48) & 0xFFFF) << 16 | (hi & 0xFFFFFFFF) << 32
        selector = (lo >> 16) & 0xFFFF
        flags = uc.reg_read(X.UC_X86_REG_RFLAGS)
        cs = uc.reg_read(X.UC_X86_REG_CS)
        words = [0] * error + [self.pc(), cs, flags, rsp, uc.reg_read(X.UC_X86_REG_SS)]
        uc.mem_write(frame, b"".join(w.to_bytes(8, "little") for w in words))
        uc.reg_write(X.UC_X86_REG_RSP, frame)
        if selector != cs:
            uc.reg_write(X.UC_X86_REG_CS, selector)
        flags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | (RFLAGS_IF if kind == GATE_INTR else 0))
        uc.reg_write(X.UC_X86_REG_RFLAGS, flags)
        self.set_pc(offset)
        if exception:
            self._delivered()
        return None

    def _delivered(self):
        """An exception is delivered: Unicorn forgets it was in flight, as QEMU does."""
        at = old_exception_offset()
        if at is None:
            return
        ctx = self.uc.context_save()
        ctypes.memmove(ctx.context.value + at, (-1).to_bytes(4, "little", signed=True), 4)
        self.uc.context_restore(ctx)

    def timer_deadline_ns(self):
        return None

    def timer_vector(self):
        return None
