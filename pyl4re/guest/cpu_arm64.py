"""The ARM64 CPU of guest machine code (machine.py's per-architecture interface).

The guest runs at EL1 on Unicorn's AArch64 CPU with EL2 and EL3 present (SCR_EL3 NS | RW
| HCE, HCR_EL2 RW | TWI), so HVC is an HVC exception and WFI traps instead of being a
no-op; at reset x0 holds the boot argument (the DTB's guest-physical address, as uvmm
boots a Linux image), PSTATE is EL1h with D, A, I, F masked and pc the entry point.

* **Syndrome.** A data abort is decoded from the instruction at pc as ESR_EL2's ISS
  gives it: ISV only for a single general-register load or store without writeback
  (LDR/STR/LDRB/LDRH/LDRSB/LDRSH/LDRSW/LDUR/STUR..., unsigned-offset, unscaled and
  register-offset forms); then SAS (size), SSE (sign-extending load), SRT (Rt, 31 = xzr),
  SF (64-bit register), WnR. Pairs, writeback forms, SIMD&FP and exclusives get ISV = 0.
* **Exits.** `HVC #imm16` is the hypercall exit with its immediate; `WFI` the halt exit
  (WFE executes: nothing to wait for).
* **Undefined instructions** are the guest's own, as on hardware (an UNDEFINED at EL1 is
  taken to EL1, not to the hypervisor): the synchronous exception enters VBAR_EL1 +
  0x200 (from EL1h), + 0x000 (EL1t) or + 0x400 (EL0) with ESR_EL1 = EC 0 (unknown reason),
  IL set, ELR_EL1 = the instruction's address, SPSR_EL1 = PSTATE and DAIF masked. A guest
  whose VBAR_EL1 is still 0 has no vector table (its reset value here; architecturally
  UNKNOWN, so no guest may rely on it): the VM stops with the instruction named, instead
  of the guest faulting at 0x200. `SVC #imm16` and `BRK #imm16` are taken the same way
  once VBAR_EL1 is set: ESR_EL1 = EC 0x15 (SVC) or 0x3C (BRK) with the immediate as ISS,
  ELR_EL1 = the instruction after the SVC (its preferred return address) or the BRK
  itself. Any other exception Unicorn reports (alignment, or SVC/BRK with no vector
  table) stops the VM with the instruction named.
* **Interrupts.** An interrupt is taken as the architecture takes an IRQ to EL1:
  ELR_EL1 = pc, SPSR_EL1 = PSTATE, PSTATE = EL1h with DAIF masked, pc = VBAR_EL1 + 0x280
  (from EL1h), + 0x80 (EL1t) or + 0x480 (EL0); the guest's ERET returns. The GICv3 CPU
  interface is the system-register part only: ICC_IAR1_EL1 reads the INTID being taken
  (1023 when none), ICC_EOIR1_EL1 / ICC_DIR_EL1 end it (no active state is kept),
  ICC_PMR_EL1, ICC_IGRPEN1_EL1, ICC_SRE_EL1, ICC_BPR1_EL1, ICC_CTLR_EL1 read back what
  was written (no priority masking).
* **Timer.** The virtual timer of the generic timer: CNTFRQ_EL0 reads 1 GHz (ARMv8.6's
  fixed frequency), CNTVCT_EL0 = the model's clock in ns minus CNTVOFF (the VMM's
  L4_VCPU_E_CNTVOFF field 0x8020 of the extended area); CNTV_CVAL_EL0, CNTV_TVAL_EL0
  and CNTV_CTL_EL0 (ENABLE, IMASK, ISTATUS) program it. While it is enabled, unmasked
  and due, its line (PPI 27, uvmm's and Fiasco's vtimer interrupt) is asserted, a level:
  the guest's handler masks or reprograms it. CNTPCT_EL0 reads the clock without the
  offset; the EL1 physical timer (CNTP_*) reads 0 and ignores writes.
* **Cost.** INSN_NS = 1: every instruction is 1 ns of the vCPU's time (a 1 GHz core at
  one instruction per cycle).
"""

import unicorn
from unicorn import arm64_const as A

from .machine import Access, Registers, Trap, sign_extend

EXCP_UDEF, EXCP_SWI, EXCP_BKPT, EXCP_HVC = 1, 2, 7, 11     # QEMU's exception numbers
WFI, WFE = 0xD503207F, 0xD503205F
TIMER_PPI, SPURIOUS = 27, 1023
CNTVOFF_FIELD = 0x8020                             # L4_VCPU_E_CNTVOFF
CNT_ENABLE, CNT_IMASK, CNT_ISTATUS = 1, 2, 4
# System registers by (op0, op1, CRn, CRm, op2).
CNTFRQ, CNTPCT, CNTVCT = (3, 3, 14, 0, 0), (3, 3, 14, 0, 1), (3, 3, 14, 0, 2)
CNTV_TVAL, CNTV_CTL, CNTV_CVAL = (3, 3, 14, 3, 0), (3, 3, 14, 3, 1), (3, 3, 14, 3, 2)
ICC_IAR1, ICC_EOIR1, ICC_DIR = (3, 0, 12, 12, 0), (3, 0, 12, 12, 1), (3, 0, 12, 11, 1)
ICC_STORED = {(3, 0, 4, 6, 0), (3, 0, 12, 12, 7), (3, 0, 12, 12, 5), (3, 0, 12, 12, 3),
              (3, 0, 12, 12, 4)}                   # PMR, IGRPEN1, SRE, BPR1, CTLR
X_REGS = [getattr(A, f"UC_ARM64_REG_X{i}") for i in range(29)] + [A.UC_ARM64_REG_X29,
                                                                   A.UC_ARM64_REG_X30]
SCR_EL3, HCR_EL2 = (3, 6, 1, 1, 0), (3, 4, 1, 1, 0)
PSTATE_I = 1 << 7
SYNC, IRQ = 0x000, 0x080                           # vector offsets from the table's quarter
EC_UNKNOWN, EC_SVC64, EC_BRK64, ESR_IL = 0x00, 0x15, 0x3C, 1 << 25
HCR_RW, HCR_TWI = 1 << 31, 1 << 13
MSR_SPSR_EL1_X0 = 0xD5184000                       # msr spsr_el1, x0
STUB_PAGE = (1 << 44) - 0x1000                     # below Unicorn's 44-bit PARange


class Arm64:
    ARCH = "arm64"
    UC_ARCH, UC_MODE = unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM
    ELF_MACHINE = "EM_AARCH64"
    INSN_NS = 1
    PAGE = 4096

    def __init__(self, uc, m):
        self.uc, self.m = uc, m
        self._cp(SCR_EL3, 1 | 1 << 8 | 1 << 10)     # NS | HCE | RW
        self._cp(HCR_EL2, HCR_RW | HCR_TWI)
        self.cntv_ctl, self.cntv_cval = 0, 0
        self.icc = {}                              # the ICC registers that read back
        self.taking = None                         # the INTID ICC_IAR1 acknowledges
        self._field = m._k._ffi.new("uint64_t *")
        self._mrs = False
        self._x = Registers(uc, X_REGS)
        for ins, read in ((A.UC_ARM64_INS_MRS, True), (A.UC_ARM64_INS_MSR, False)):
            uc.hook_add(unicorn.UC_HOOK_INSN, self._sysreg, read, 1, 0, ins)

    def _cp(self, reg, value=None):
        op0, op1, crn, crm, op2 = reg
        if value is None:
            return self.uc.reg_read(A.UC_ARM64_REG_CP_REG, (crn, crm, op0, op1, op2))
        self.uc.reg_write(A.UC_ARM64_REG_CP_REG, (crn, crm, op0, op1, op2, value))

    # ---- registers

    def reset(self, entry, boot_arg):
        uc = self.uc
        for reg in X_REGS:
            uc.reg_write(reg, 0)
        uc.reg_write(A.UC_ARM64_REG_X0, boot_arg)
        uc.reg_write(A.UC_ARM64_REG_PSTATE, 0x3C5)     # EL1h, DAIF masked
        uc.reg_write(A.UC_ARM64_REG_PC, entry)

    def pc(self):
        return self.uc.reg_read(A.UC_ARM64_REG_PC)

    def set_pc(self, pc):
        self.uc.reg_write(A.UC_ARM64_REG_PC, pc)

    def save(self, r):
        for i, value in enumerate(self._x.read()):
            r[i] = value

    def restore(self, r):
        self._x.write([int(r[i]) for i in range(len(X_REGS))])

    def _insn(self, pc):
        return int.from_bytes(self.uc.mem_read(pc, 4), "little")

    # ---- data aborts

    def decode_access(self, pc, gpa, size, write, value):
        insn = self._insn(pc)
        single = ((insn & 0x3B000000) == 0x39000000            # unsigned offset
                  or (insn & 0x3B200C00) == 0x38000000        # unscaled (LDUR/STUR)
                  or (insn & 0x3B200C00) == 0x38200800)       # register offset
        if not single:
            return None                                        # ISV = 0
        log_size, opc, rt = insn >> 30, (insn >> 22) & 3, insn & 31
        if opc == 0:
            store, sse, sf = True, False, log_size == 3
        elif opc == 1:
            store, sse, sf = False, False, log_size == 3
        elif log_size == 3 or (log_size == 2 and opc == 3):
            return None                                        # PRFM, unallocated
        else:                                                  # LDRS*: to X (10), W (11)
            store, sse, sf = False, True, opc == 2
        if store != bool(write) or 1 << log_size != size:
            return None                                        # not what faulted
        return Access(size, rt, store, value if store else 0, sse | sf << 1, 4)

    def complete_load(self, access):
        if not access.write and access.reg != 31:
            reg = X_REGS[access.reg]
            v = self.uc.reg_read(reg) & ((1 << 8 * access.size) - 1)
            if access.info & 1:                                # SSE
                v = sign_extend(v, 8 * access.size) & ((1 << (64 if access.info & 2 else 32)) - 1)
            self.uc.reg_write(reg, v)
        self.set_pc(self.pc() + access.length)

    # ---- exceptions

    def trap(self, intno, pc):
        # HVC and SVC report pc past themselves (their preferred return address), the
        # other exceptions at the instruction.
        at = pc - 4 if intno in (EXCP_HVC, EXCP_SWI) else pc
        insn = self._insn(at)
        if intno == EXCP_HVC:
            return Trap("hypercall", (insn >> 5) & 0xFFFF, pc)
        if intno == EXCP_UDEF and insn == WFI:         # trapped by HCR_EL2.TWI
            return Trap("halt", 0, pc + 4)
        imm16 = (insn >> 5) & 0xFFFF
        syndrome = {EXCP_UDEF: EC_UNKNOWN << 26, EXCP_SWI: EC_SVC64 << 26 | imm16,
                    EXCP_BKPT: EC_BRK64 << 26 | imm16}.get(intno)
        if syndrome is not None and self.uc.reg_read(A.UC_ARM64_REG_VBAR_EL1):
            return self._synchronous(syndrome, pc)    # ELR_EL1 = pc, as Unicorn has it
        if intno == EXCP_UDEF:
            return Trap("undefined", insn, pc)         # no vector table: the VM stops
        return Trap(f"exception {intno}", insn, at)

    def _synchronous(self, syndrome, return_pc):
        """Take a synchronous exception to EL1 (ESR_EL1 = the syndrome, with IL: every
        instruction here is 32 bits), returning to `return_pc`."""
        self.uc.reg_write(A.UC_ARM64_REG_ESR_EL1, syndrome | ESR_IL)
        self.set_pc(return_pc)
        self._take(SYNC)
        return Trap(None, 0, self.pc())

    def emulator_stopped(self, errno):
        return None                                # every exception comes through the hook

    # ---- interrupts

    def irq_masked(self):
        return bool(self.uc.reg_read(A.UC_ARM64_REG_PSTATE) & PSTATE_I)

    def deliver(self, vector, exception=False):     # exceptions: taken in trap()
        self._take(IRQ)
        self.taking = vector

    def _take(self, kind):
        """Take an exception of `kind` (SYNC, IRQ) to EL1h as the architecture does:
        ELR_EL1 = pc, SPSR_EL1 = PSTATE, DAIF masked, pc = VBAR_EL1 + the vector for the
        state it came from (current EL with SP_EL0 or SP_EL1, or EL0)."""
        uc = self.uc
        pstate = uc.reg_read(A.UC_ARM64_REG_PSTATE)
        el, sp = (pstate >> 2) & 3, pstate & 1
        offset = kind + (0x400 if el == 0 else 0x200 if sp else 0)
        uc.reg_write(A.UC_ARM64_REG_ELR_EL1, self.pc())
        if not sp:                                   # SP_EL0 was in use: bank it
            uc.reg_write(A.UC_ARM64_REG_SP_EL0, uc.reg_read(A.UC_ARM64_REG_SP))
        uc.reg_write(A.UC_ARM64_REG_PSTATE, (pstate & ~0x3FF) | 0x3C5)
        if not sp:
            uc.reg_write(A.UC_ARM64_REG_SP, uc.reg_read(A.UC_ARM64_REG_SP_EL1))
        self._write_spsr(pstate)
        self.set_pc(uc.reg_read(A.UC_ARM64_REG_VBAR_EL1) + offset)

    def _write_spsr(self, value):
        """SPSR_EL1 has no Unicorn register id (and CP_REG writes of it are no-ops): one
        `msr spsr_el1, x0` runs from a page mapped only for that instruction, above
        every page the guest has (Unicorn's CPU has 44 physical address bits, the stub
        page is the highest page the guest does not use), not counted as the guest's."""
        uc, m = self.uc, self.m
        page = STUB_PAGE
        while page in m.mapped:
            page -= self.PAGE
        x0, pc = uc.reg_read(A.UC_ARM64_REG_X0), self.pc()
        uc.mem_map(page, self.PAGE, unicorn.UC_PROT_EXEC)
        self._cp(HCR_EL2, HCR_RW)              # with TWI set Unicorn refuses the MSR
        try:
            uc.mem_write(page, MSR_SPSR_EL1_X0.to_bytes(4, "little"))
            uc.reg_write(A.UC_ARM64_REG_X0, value)
            count, event, m._event = m.instructions, m._event, None
            uc.emu_start(page, page + 4, count=1)
            m.instructions, event, m._event = count, m._event, event
            if event is not None:
                raise RuntimeError(f"writing SPSR_EL1 trapped in Unicorn: {event}")
        finally:
            self._cp(HCR_EL2, HCR_RW | HCR_TWI)
            uc.mem_unmap(page, self.PAGE)
            uc.reg_write(A.UC_ARM64_REG_X0, x0)
            self.set_pc(pc)

    # ---- the virtual timer

    def _offset(self):
        m = self.m
        if m._lib.vm_field(m._k._k, m._thr.ref, CNTVOFF_FIELD, 0, self._field) < 0:
            return 0
        return int(self._field[0])

    def _count(self):
        return (self.m.now_ns() - self._offset()) & ((1 << 64) - 1)

    def _due(self):
        return self._count() >= self.cntv_cval

    def timer_deadline_ns(self):
        if (self.cntv_ctl & (CNT_ENABLE | CNT_IMASK)) != CNT_ENABLE:
            return None
        return self.cntv_cval + self._offset()

    def timer_vector(self):
        if (self.cntv_ctl & (CNT_ENABLE | CNT_IMASK)) == CNT_ENABLE and self._due():
            return TIMER_PPI
        return None

    def _sysreg(self, uc, reg, cp, read):
        self._mrs = read
        key = (cp.op0, cp.op1, cp.crn, cp.crm, cp.op2)
        if cp.op0 == 3 and cp.op1 == 3 and cp.crn == 14:
            value = self._timer_reg(key, cp.val, reg)
        elif key in (ICC_IAR1, ICC_EOIR1, ICC_DIR) or key in ICC_STORED:
            value = self._icc_reg(key, cp.val, reg)
        else:
            return False                           # Unicorn's own system register
        if value is not None and reg != A.UC_ARM64_REG_XZR:
            uc.reg_write(reg, value & ((1 << 64) - 1))
        if cp.crn != 14:    # Unicorn 2.1 leaves pc at a skipped access to a register
            # QEMU does not define (the ICC ones, no GIC attached): it would repeat
            uc.reg_write(A.UC_ARM64_REG_PC, uc.reg_read(A.UC_ARM64_REG_PC) + 4)
        return True

    def _timer_reg(self, key, val, reg):
        read = self._mrs
        if key == CNTFRQ:
            return 1_000_000_000 if read else None
        if key == CNTVCT:
            return self._count() if read else None
        if key == CNTPCT:
            return self.m.now_ns() if read else None
        if key == CNTV_CTL:
            if read:
                return self.cntv_ctl | (CNT_ISTATUS if self._due() else 0)
            self.cntv_ctl = val & (CNT_ENABLE | CNT_IMASK)
            return None
        if key == CNTV_CVAL:
            if read:
                return self.cntv_cval
            self.cntv_cval = val
            return None
        if key == CNTV_TVAL:
            if read:
                return (self.cntv_cval - self._count()) & 0xFFFFFFFF
            self.cntv_cval = (self._count() + sign_extend(val, 32)) & ((1 << 64) - 1)
            return None
        return 0 if read else None                 # the physical timer: absent

    def _icc_reg(self, key, val, reg):
        read = self._mrs
        if key == ICC_IAR1:
            if not read:
                return None
            intid, self.taking = (SPURIOUS if self.taking is None else self.taking), None
            return intid
        if key in (ICC_EOIR1, ICC_DIR):
            return None
        if read:
            return self.icc.get(key, 0)
        self.icc[key] = val
        return None
