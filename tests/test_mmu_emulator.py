"""A real CPU's MMU (Unicorn 2, i.e. QEMU's) walks the page tables the C core wrote and must
agree with task.translate on mapped, unmapped, read-only and no-execute addresses.

The emulator's physical RAM is as large as kernel.physmem and holds a private copy of the
kernel pool (where every table lives); its MMU is pointed at task.pt_root. Each probe is a
fresh emulator (state from a fault lingers) doing one access at
user level:
  x86-64  CR4.PAE, EFER.LME|NXE|SCE, CR3 = root, CR0.PG|WP; sysretq to CPL3, then a real
          load, store, or jump. The probe code sits in a kernel-half page the harness adds
          to its copy of the root table (PML4 entry 511, never a user entry).
          EPT (a VM object's table, docs/vm.md): Unicorn has no VMX, but an EPT entry keeps
          its address in IA-32e's bits 51:12, its large-page bit in PS (7) and the same
          4-level split, with R, W, X where IA-32e has P, R/W, U/S. So CR3 = the EPT root,
          CPL0, CR0.WP: a read walks iff R, a write iff W at every level; with CR4.SMEP a
          fetch faults iff the leaf has X (a "user" page). Probe code in PML4 entry 511
          (guest-physical 2^48 - 512 GiB and up, above every probed address).
  ARM64   SCR_EL3 = NS|RW first (else EL1 walks the 32-bit LPAE format). From EL2 (MMU off)
          stage 1: TTBR0_EL1 = root, MAIR 0x00FF4400, AT S1E0R/W for EL0 loads and stores
          (PAR_EL1 gives PA or fault), eret to EL0 at the address for execution;
          stage 2: HCR_EL2.VM, VTCR_EL2 (44-bit IPA, start level 0), VTTBR_EL2 = root,
          AT S12E1R/W, eret to EL1 (stage 1 off) for execution.
  MIPS64  no hardware walker: the model's TLB refill produces the EntryLo pair
          (mips_tlb_pair), tlbwi loads it into the emulator's real TLB (I6400: RI/XI),
          and a real load, store or jump in xuseg decides.
A successful load must return a marker written at the expected physical address, a store
must land there, and a jump must reach it (an instruction planted there traps).
"""
import random
import struct

import pytest

import ptdecode
from pyl4re import CapIndex, Kernel, PhysAddr, VirtAddr, _core
from pyl4re.control import vspace

uc_mod = pytest.importorskip("unicorn", minversion="2.1.4")
from unicorn import (UC_ARCH_ARM64, UC_ARCH_MIPS, UC_ARCH_X86, UC_HOOK_INTR,  # noqa: E402
                     UC_MODE_64, UC_MODE_ARM, UC_MODE_LITTLE_ENDIAN, UC_MODE_MIPS64, Uc,
                     UcError)
from unicorn import arm64_const as A64, mips_const as MIPS, x86_const as X86  # noqa: E402
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH  # noqa: E402

R, W, X = 4, 2, 1
BUILT = _core.available_arches()
MEMORY = 2 << 30                 # room for 1 GiB pages at 1 GiB (allocated lazily)
KMEM = 2 << 20                   # the kernel pool: the only part copied into the emulator
HARNESS = 0x10000                # harness page tables and code, right above physical memory
MARKER = 0x1122334455667788
SEED = 20240611


def one(arch_list, arch):
    return pytest.mark.skipif(arch not in arch_list, reason=f"{arch} not built")


def u64(v):
    return struct.pack("<Q", v)


def ins32(*words):
    return b"".join(struct.pack("<I", w) for w in words)


class Result:
    """What the emulated CPU did: ok (and what it read), or which trap it took."""

    def __init__(self):
        self.ok = False
        self.traps = []
        self.value = None

    def __repr__(self):
        return f"<ok={self.ok} traps={self.traps} value={self.value}>"


def emulator(arch_const, mode, k):
    uc = Uc(arch_const, mode)
    uc.mem_map(0, k.memory + HARNESS)
    uc.mem_write(0, bytes(k.physmem[:k.kernel_memory]))
    return uc


def run(uc, begin, until, res, count=20):
    def intr(uc, intno, _):
        res.traps.append(intno)
        uc.emu_stop()
    uc.hook_add(UC_HOOK_INTR, intr)
    try:
        uc.emu_start(begin, until, count=count)
    except UcError as e:      # a trap whose vector is not RAM may end emulation this way
        res.traps.append(str(e))


# ---- x86-64

X86_CODE_VA = 0xFFFFFFFFFFFF0000        # PML4 511, PDPT 511, PD 511, PT 496
X86_USER_CODE = {"r": (0x10, b"\x48\x8b\x03"),     # mov rax, [rbx]
                 "w": (0x20, b"\x48\x89\x03"),     # mov [rbx], rax
                 "x": (0x30, b"\xff\xe3")}         # jmp rbx
X86_PF, X86_GP = 14, 13


def x86_probe(k, root, va, access, pa=None):
    uc = emulator(UC_ARCH_X86, UC_MODE_64, k)
    h = k.memory
    p, w, u = 1, 2, 4
    uc.mem_write(root + 8 * 511, u64((h + 0x1000) | p | w | u))
    uc.mem_write(h + 0x1000 + 8 * 511, u64((h + 0x2000) | p | w | u))
    uc.mem_write(h + 0x2000 + 8 * 511, u64((h + 0x3000) | p | w | u))
    uc.mem_write(h + 0x3000 + 8 * 496, u64((h + 0x4000) | p | u))
    off, code = X86_USER_CODE[access]
    uc.mem_write(h + 0x4000, b"\x48\x0f\x07")           # sysretq (CPL0 -> CPL3)
    uc.mem_write(h + 0x4000 + off, code)
    if pa is not None:
        uc.mem_write(pa, u64(MARKER) if access == "r" else b"\xf4" if access == "x" else u64(0))
    uc.reg_write(X86.UC_X86_REG_CR4, uc.reg_read(X86.UC_X86_REG_CR4) | 0x20)       # PAE
    uc.reg_write(X86.UC_X86_REG_MSR, (0xC0000080, 0xD01))   # EFER: SCE | LME | LMA | NXE
    uc.reg_write(X86.UC_X86_REG_MSR, (0xC0000081, 0x10 << 48))   # STAR: sysret CS 0x23
    uc.reg_write(X86.UC_X86_REG_CR3, root)
    uc.reg_write(X86.UC_X86_REG_CR0, uc.reg_read(X86.UC_X86_REG_CR0) | 0x80010001)  # PG|WP
    uc.reg_write(X86.UC_X86_REG_RCX, X86_CODE_VA + off)
    uc.reg_write(X86.UC_X86_REG_R11, 0x2)
    uc.reg_write(X86.UC_X86_REG_RBX, va)
    uc.reg_write(X86.UC_X86_REG_RAX, MARKER ^ 0xFFFF)
    res = Result()
    run(uc, X86_CODE_VA, X86_CODE_VA + off + len(code), res)
    rip, cr2 = uc.reg_read(X86.UC_X86_REG_RIP), uc.reg_read(X86.UC_X86_REG_CR2)
    assert uc.reg_read(X86.UC_X86_REG_CS) & 3 == 3, "the access ran at CPL3"
    if access == "x":
        res.ok = res.traps == [X86_GP] and rip == va     # reached the planted hlt
    else:
        res.ok = not res.traps
    if res.traps and res.traps[0] == X86_PF:
        assert cr2 == va
    if res.ok and access == "r":
        res.value = uc.reg_read(X86.UC_X86_REG_RAX)
    if res.ok and access == "w":
        res.value = struct.unpack("<Q", uc.mem_read(pa, 8))[0]
    res.uc = uc
    return res


X86_INT3 = 3


def x86_ept_probe(k, root, gpa, access, pa=None):
    """One access at CPL0 through the EPT root as IA-32e tables (module doc): "r" a load,
    "w" a store, "x" a jump under CR4.SMEP (it reaches the int3 planted at pa iff the leaf
    has no X). Harness entries are supervisor-only (U clear), so the code is fetchable."""
    uc = emulator(UC_ARCH_X86, UC_MODE_64, k)
    h, p, w = k.memory, 1, 2
    uc.mem_write(root + 8 * 511, u64((h + 0x1000) | p | w))
    uc.mem_write(h + 0x1000 + 8 * 511, u64((h + 0x2000) | p | w))
    uc.mem_write(h + 0x2000 + 8 * 511, u64((h + 0x3000) | p | w))
    uc.mem_write(h + 0x3000 + 8 * 496, u64((h + 0x4000) | p))
    _, code = X86_USER_CODE[access]
    uc.mem_write(h + 0x4000, code)
    if pa is not None:
        uc.mem_write(pa, u64(MARKER) if access == "r" else b"\xcc" if access == "x" else u64(0))
    smep = 1 << 20 if access == "x" else 0
    uc.reg_write(X86.UC_X86_REG_CR4, uc.reg_read(X86.UC_X86_REG_CR4) | 0x20 | smep)   # PAE
    uc.reg_write(X86.UC_X86_REG_MSR, (0xC0000080, 0xD01))   # EFER: SCE | LME | LMA | NXE
    uc.reg_write(X86.UC_X86_REG_CR3, root)
    uc.reg_write(X86.UC_X86_REG_CR0, uc.reg_read(X86.UC_X86_REG_CR0) | 0x80010001)  # PG|WP
    uc.reg_write(X86.UC_X86_REG_RBX, gpa)
    uc.reg_write(X86.UC_X86_REG_RAX, MARKER ^ 0xFFFF)
    res = Result()
    run(uc, X86_CODE_VA, X86_CODE_VA + len(code), res)
    assert uc.reg_read(X86.UC_X86_REG_CS) & 3 == 0, "the access ran at CPL0"
    rip = uc.reg_read(X86.UC_X86_REG_RIP)
    if access == "x":
        res.ok = res.traps == [X86_INT3] and rip == gpa + 1
    else:
        res.ok = not res.traps
    if res.traps and res.traps[0] == X86_PF:
        assert uc.reg_read(X86.UC_X86_REG_CR2) == gpa
    if res.ok and access == "r":
        res.value = uc.reg_read(X86.UC_X86_REG_RAX)
    if res.ok and access == "w":
        res.value = struct.unpack("<Q", uc.mem_read(pa, 8))[0]
    return res


# ---- ARM64

def cp(uc, op0, op1, crn, crm, op2, value=None):
    if value is None:
        return uc.reg_read(A64.UC_ARM64_REG_CP_REG, (crn, crm, op0, op1, op2))
    uc.reg_write(A64.UC_ARM64_REG_CP_REG, (crn, crm, op0, op1, op2, value))


ARM_SCR_EL3, ARM_HCR_EL2 = (3, 6, 1, 1, 0), (3, 4, 1, 1, 0)
ARM_SCTLR_EL1, ARM_TCR_EL1, ARM_TTBR0_EL1 = (3, 0, 1, 0, 0), (3, 0, 2, 0, 2), (3, 0, 2, 0, 0)
ARM_MAIR_EL1, ARM_PAR_EL1 = (3, 0, 10, 2, 0), (3, 0, 7, 4, 0)
ARM_VTCR_EL2, ARM_VTTBR_EL2 = (3, 4, 2, 1, 2), (3, 4, 2, 1, 0)
ARM_SPSR_EL2, ARM_ELR_EL2 = (3, 4, 4, 0, 0), (3, 4, 4, 0, 1)
ARM_AT = {("s1", "r"): 0xD5087841, ("s1", "w"): 0xD5087861,      # AT S1E0R/W, x1
          ("s2", "r"): 0xD50C7881, ("s2", "w"): 0xD50C78A1}      # AT S12E1R/W, x1
ARM_ISB, ARM_ERET, ARM_BRK, ARM_NOP = 0xD5033FDF, 0xD69F03E0, 0xD4200000, 0xD503201F
ARM_EXCP_PREFETCH_ABORT, ARM_EXCP_BKPT = 3, 7                   # QEMU's exception numbers
ARM_SCTLR_RES1 = 0x30D00800


def arm_probe(k, root, va, access, pa=None, stage="s1"):
    uc = emulator(UC_ARCH_ARM64, UC_MODE_ARM, k)
    h = k.memory
    cp(uc, *ARM_SCR_EL3, 1 | 1 << 10)                  # NS | RW: EL1 and below are AArch64
    cp(uc, *ARM_HCR_EL2, 1 << 31 | (1 if stage == "s2" else 0))       # RW (| VM)
    uc.reg_write(A64.UC_ARM64_REG_PSTATE, 0x3C9)       # EL2h, interrupts masked
    if stage == "s1":
        cp(uc, *ARM_MAIR_EL1, 0x00FF4400)
        # T0SZ 16, inner/outer WB, inner shareable, 4 KiB granule, no TTBR1 walks, IPS 44 bit
        cp(uc, *ARM_TCR_EL1, 16 | 1 << 8 | 1 << 10 | 3 << 12 | 1 << 23 | 4 << 32)
        cp(uc, *ARM_TTBR0_EL1, root)
        cp(uc, *ARM_SCTLR_EL1, ARM_SCTLR_RES1 | 1)      # M
        eret_to = 0x3C0                                 # EL0t
    else:
        # T0SZ 20 (44-bit IPA), SL0 = 2 (start at level 0), WB, inner shareable, PS 44 bit
        cp(uc, *ARM_VTCR_EL2, 20 | 2 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 4 << 16 | 1 << 31)
        cp(uc, *ARM_VTTBR_EL2, root)
        cp(uc, *ARM_SCTLR_EL1, ARM_SCTLR_RES1)          # stage 1 off: VA = IPA
        eret_to = 0x3C5                                 # EL1h
    if access == "x":
        if pa is not None:
            uc.mem_write(pa, ins32(ARM_BRK))
        cp(uc, *ARM_SPSR_EL2, eret_to)
        cp(uc, *ARM_ELR_EL2, va)
        code = ins32(ARM_ERET)
    else:
        code = ins32(ARM_AT[(stage, access)], ARM_ISB, ARM_NOP)
    uc.mem_write(h, code)
    uc.reg_write(A64.UC_ARM64_REG_X1, va)
    uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
    res = Result()
    run(uc, h, h + 8, res)
    if access == "x":
        res.ok = res.traps == [ARM_EXCP_BKPT] and uc.reg_read(A64.UC_ARM64_REG_PC) == va
        assert res.ok or res.traps == [ARM_EXCP_PREFETCH_ABORT]
    else:
        assert not res.traps
        par = cp(uc, *ARM_PAR_EL1)
        res.ok = not par & 1
        res.value = (par & 0x0000FFFFFFFFF000) | (va & 0xFFF) if res.ok else par
    return res


# ---- MIPS64

def mips_dmtc0(rt, rd, sel=0):
    return 0x40A00000 | rt << 16 | rd << 11 | sel


def mips_mtc0(rt, rd, sel=0):
    return 0x40800000 | rt << 16 | rd << 11 | sel


T0, T1, T2, T3, T4, T5, T6, A0 = 8, 9, 10, 11, 12, 13, 14, 4
MIPS_CODE = [mips_mtc0(T5, 5, 1),                      # PageGrain: RIE | XIE | IEC
             mips_dmtc0(T0, 10), mips_dmtc0(T1, 2), mips_dmtc0(T2, 3),  # EntryHi, EntryLo0/1
             mips_mtc0(T3, 5), mips_mtc0(0, 0),         # PageMask, Index = 0
             0xC0, 0x42000002, 0xC0,                    # ehb; tlbwi; ehb
             mips_dmtc0(T6, 10), 0xC0]                  # EntryHi of the access (ASID)
MIPS_ACCESS = {"r": 0xDC000000 | A0 << 21 | T4 << 16,  # ld t4, 0(a0)
               "w": 0xFC000000 | A0 << 21 | T4 << 16,  # sd t4, 0(a0)
               "x": 0x00800009}                         # jalr zero, a0 (R2 and R6)
MIPS_BREAK = 0x0000000D
KSEG0 = 0xFFFFFFFF80000000
# QEMU's exception numbers (target/mips/cpu.h)
MIPS_EXCP = {"break": 18, "mod": 25, "tlbl": 26, "tlbs": 27, "tlbxi": 36, "tlbri": 37}


def mips_probe(k, entry, va, access, pa=None, asid=None):
    """entry: (entry_hi, page_mask, lo0, lo1) loaded with tlbwi, or None for no entry."""
    uc = Uc(UC_ARCH_MIPS, UC_MODE_MIPS64 + UC_MODE_LITTLE_ENDIAN)
    uc.ctl_set_cpu_model(MIPS.UC_CPU_MIPS64_I6400)      # has RI/XI and 16 KiB pages
    uc.mem_map(0, k.memory + HARNESS)
    h = k.memory
    hi, mask, lo0, lo1 = entry or (KSEG0, 0, 0, 0)     # kseg0 VPN2: matches nothing
    if pa is not None:
        uc.mem_write(pa, u64(MARKER) if access == "r" else ins32(MIPS_BREAK, 0)
                     if access == "x" else u64(0))
    code = MIPS_CODE + [MIPS_ACCESS[access], 0, 0, 0]
    uc.mem_write(h, ins32(*code))
    for reg, v in ((MIPS.UC_MIPS_REG_T0, hi), (MIPS.UC_MIPS_REG_T1, lo0),
                   (MIPS.UC_MIPS_REG_T2, lo1), (MIPS.UC_MIPS_REG_T3, mask),
                   (MIPS.UC_MIPS_REG_T4, MARKER ^ 0xFFFF),
                   (MIPS.UC_MIPS_REG_T5, 1 << 31 | 1 << 30 | 1 << 27),
                   (MIPS.UC_MIPS_REG_T6, (hi & ~0xFF) | (hi & 0xFF if asid is None else asid)),
                   (MIPS.UC_MIPS_REG_A0, va)):
        uc.reg_write(reg, v)
    status = uc.reg_read(MIPS.UC_MIPS_REG_CP0_STATUS)
    uc.reg_write(MIPS.UC_MIPS_REG_CP0_STATUS, (status & ~0x1F) | 0xE0)  # kernel, KX|SX|UX
    res = Result()
    begin = KSEG0 + h
    run(uc, begin, begin + 4 * (len(MIPS_CODE) + 2), res)
    exc = [t for t in res.traps if isinstance(t, int)]
    if access == "x":
        res.ok = exc == [MIPS_EXCP["break"]]
    else:
        res.ok = not exc
    if res.ok and access == "r":
        res.value = uc.reg_read(MIPS.UC_MIPS_REG_T4)
    if res.ok and access == "w":
        res.value = struct.unpack("<Q", uc.mem_read(pa, 8))[0]
    res.exc = exc[0] if exc else None
    return res


# ---- random mappings and the probes over them

def random_mappings(k, task, rng, kind, n, shifts, va_limit):
    """n random mappings (sizes from shifts, rights and caching at random) that the page
    table accepts; physical pages above the kernel pool so planted markers never hit a
    table. Returns [(va, size)]."""
    done = []
    while len(done) < n:
        shift = rng.choice(shifts)
        size = 1 << shift
        va = rng.randrange(0, va_limit >> shift) << shift
        if shift == 30:
            pa = 1 << 30
        else:
            pa = rng.randrange((16 << 20) >> shift, MEMORY >> shift) << shift
        rights = rng.choice([R, R | W, R | X, R | W | X] + ([W, X, W | X] if kind == "vm" else []))
        cache = rng.choice([vspace.CACHE_NORMAL, vspace.CACHE_BUFFERED, vspace.CACHE_UNCACHED])
        kind_id = vspace.KIND_VM if kind == "vm" else vspace.KIND_USER
        if vspace.map_page(k, task, VirtAddr(va), PhysAddr(pa), shift, rights, cache,
                           kind=kind_id) == 0:
            done.append((va, size))
            # What was asked for is what the table says (R is presence at stage 1, and an
            # EPT leaf always has R: L4 rights are never write- or execute-only there).
            implied = R if (kind == "user" and k.arch != "mips64"
                            or kind == "vm" and k.arch == "x86_64") else 0
            assert task.translate(VirtAddr(va)) == (PhysAddr(pa), size, rights | implied)
    return done


def probe_addresses(rng, mappings, va_limit):
    """Inside each page (start, random, end) and next to it, plus random addresses."""
    out = []
    for va, size in mappings:
        out += [va, va + (rng.randrange(size) & ~7), va + size - 8, va + size, va - 8]
    out += [rng.randrange(va_limit) & ~7 for _ in range(8)]
    return [a for a in out if 0 <= a <= va_limit - 8]


def expected(task, va, access):
    t = task.translate(VirtAddr(va))
    if t is None:
        return None, False
    pa, _, rights = t
    need = {"r": R, "w": W, "x": X}[access]
    return pa.value, bool(rights & need)


# ---- the tests

@one(BUILT, "x86_64")
def test_x86_64_mmu_agrees_with_translate():
    rng = random.Random(SEED)
    k = Kernel(arch="x86_64", memory=MEMORY, kernel_memory=KMEM)
    t = k.root_factory.create_task(k.root_task, CapIndex(20))
    limit = 1 << 47
    maps = random_mappings(k, t, rng, "user", 14, (12, 12, 21, 30), limit)
    root = t.pt_root.value
    for va in probe_addresses(rng, maps, limit):
        for access in "rwx":
            pa, allowed = expected(t, va, access)
            res = x86_probe(k, root, va, access, pa)
            assert res.ok == allowed, f"{va:#x} {access}: {res}, allowed={allowed}"
            if res.ok and access == "r":
                assert res.value == MARKER
            if res.ok and access == "w":
                assert res.value == MARKER ^ 0xFFFF
            if not allowed:
                assert res.traps[0] == X86_PF


@one(BUILT, "x86_64")
def test_x86_64_cpu_sets_accessed_and_dirty_and_unmap_reports_them():
    k = Kernel(arch="x86_64", memory=MEMORY, kernel_memory=KMEM)
    t = k.root_factory.create_task(k.root_task, CapIndex(20))
    va, pa = 0x400000, 0x2000000
    assert vspace.map_page(k, t, VirtAddr(va), PhysAddr(pa), 12, R | W) == 0
    root = t.pt_root.value
    leaf = ptdecode.walk(k, root, va)
    table, index = leaf.path[-2][2] & ptdecode.X86_ADDR, leaf.path[-1][1]
    for access, flags in (("r", 1), ("w", 3)):
        res = x86_probe(k, root, va, access, pa)
        assert res.ok
        entry = struct.unpack("<Q", res.uc.mem_read(table + 8 * index, 8))[0]
        assert entry & 0x60 == {1: 0x20, 3: 0x60}[flags]     # the CPU's A/D
        k.physmem[table + 8 * index:table + 8 * index + 8] = list(u64(entry))
        assert vspace.revoke(k, t, VirtAddr(va), 12, 0) == flags
    res = x86_probe(k, root, va, "w", pa)
    entry = struct.unpack("<Q", res.uc.mem_read(table + 8 * index, 8))[0]
    k.physmem[table + 8 * index:table + 8 * index + 8] = list(u64(entry))
    assert vspace.unmap_page(k, t, VirtAddr(va), 12) == 3


@one(BUILT, "arm64")
@pytest.mark.parametrize("stage", ["s1", "s2", "vm"])
def test_arm64_mmu_agrees_with_translate(stage):
    # "vm": the stage-2 table of a VM object (l4_factory_create_vm), docs/vm.md.
    rng = random.Random(SEED + (stage != "s1") + (stage == "vm"))
    k = Kernel(arch="arm64", memory=MEMORY, kernel_memory=KMEM)
    if stage == "vm":
        from pyl4re.control import factory as factory_ctl
        assert factory_ctl.create(k, k.root_factory.id, k._lib.L4_PROTO_VM, k.root_task.id,
                                  20) == 0
        t, stage = k.root_task.object_at(CapIndex(20)), "s2"
    else:
        t = k.root_factory.create_task(k.root_task, CapIndex(20))
    # stage 1: the EL0 range; stage 2: IPAs the emulator's 44-bit VTCR covers
    limit = 1 << 48 if stage == "s1" else 1 << 44
    maps = random_mappings(k, t, rng, "user" if stage == "s1" else "vm", 14,
                           (12, 12, 21, 30), min(limit, 0x0000FF8000000000))
    root = t.pt_root.value
    for va in probe_addresses(rng, maps, min(limit, 0x0000FF8000000000)):
        for access in "rwx":
            pa, allowed = expected(t, va, access)
            res = arm_probe(k, root, va, access, pa, stage)
            assert res.ok == allowed, f"{stage} {va:#x} {access}: {res}, allowed={allowed}"
            if res.ok and access != "x":
                assert res.value == pa, f"{stage} {va:#x}: PAR says {res.value:#x}"
            if not allowed and access != "x":
                fst = (res.value >> 1) & 0x3F                 # PAR_EL1.FST
                if pa is None:
                    assert fst >> 2 == 0b0001, f"translation fault, got FST {fst:#x}"
                else:
                    assert fst >> 2 == 0b0011, f"permission fault, got FST {fst:#x}"


@one(BUILT, "mips64")
def test_mips64_tlb_pair_in_the_real_tlb_agrees_with_translate():
    rng = random.Random(SEED)
    k = Kernel(arch="mips64", memory=64 << 20, kernel_memory=KMEM)
    t = k.root_factory.create_task(k.root_task, CapIndex(20))
    shift = k.arch_info["page_shift"]
    limit = 1 << 32
    done = []
    while len(done) < 24:
        va = rng.randrange(limit >> shift) << shift
        pa = rng.randrange((16 << 20) >> shift, (64 << 20) >> shift) << shift
        rights = rng.choice([R, R | W, R | X, R | W | X, W, X, W | X])
        if vspace.map_page(k, t, VirtAddr(va), PhysAddr(pa), shift, rights,
                           rng.choice([vspace.CACHE_NORMAL, vspace.CACHE_UNCACHED])) == 0:
            done.append((va, 1 << shift))
            assert t.translate(VirtAddr(va)) == (PhysAddr(pa), 1 << shift, rights)
            if rng.random() < 0.5:               # fill the odd/even partner too, sometimes
                partner = va ^ (1 << shift)
                vspace.map_page(k, t, VirtAddr(partner), PhysAddr(pa ^ (1 << shift)), shift,
                                rng.choice([R, R | W, R | X]))
    ffi, lib = k._ffi, k._lib
    pair = ffi.new("struct mips_tlb_entry *")
    result = ffi.new("struct mips_tlb_result *")
    for va in probe_addresses(rng, done, limit):
        rc = lib.mips_tlb_pair(k._k, [t.id], [0], [va], pair)
        entry = (pair.entry_hi, pair.page_mask, pair.entry_lo0, pair.entry_lo1) if rc == 0 else None
        for n, access in enumerate("rwx"):
            pa, allowed = expected(t, va, access)
            assert (rc == 0) == (pa is not None)
            res = mips_probe(k, entry, va, access, pa)
            assert res.ok == allowed, f"{va:#x} {access}: {res}, allowed={allowed}"
            if res.ok and access == "r":
                assert res.value == MARKER
            if pa is None:
                assert res.exc == MIPS_EXCP["tlbs" if access == "w" else "tlbl"]
            elif not allowed:
                assert res.exc == MIPS_EXCP[{"r": "tlbri", "w": "mod", "x": "tlbxi"}[access]]
            # the model's own TLB and refill handler decide the same
            lib.mips_tlb_flush(k._k, [0])
            assert lib.mips_tlb_access(k._k, [t.id], [0], [va], n, result) == 0
            assert (result.outcome != 2) == allowed
            if allowed:
                assert result.pa.raw == pa


@one(BUILT, "mips64")
def test_mips64_real_tlb_honours_the_asid_of_the_pair():
    k = Kernel(arch="mips64", memory=64 << 20, kernel_memory=KMEM)
    t = k.root_factory.create_task(k.root_task, CapIndex(20))
    shift = k.arch_info["page_shift"]
    assert vspace.map_page(k, t, VirtAddr(0x400000), PhysAddr(0x2000000), shift, R | W) == 0
    pair = k._ffi.new("struct mips_tlb_entry *")
    assert k._lib.mips_tlb_pair(k._k, [t.id], [0], [0x400000], pair) == 0
    entry = (pair.entry_hi, pair.page_mask, pair.entry_lo0, pair.entry_lo1)
    asid = pair.entry_hi & 0xFF
    assert asid and pair.entry_lo0 & 1 == 0                       # not global
    assert mips_probe(k, entry, 0x400008, "r", 0x2000008).ok
    other = mips_probe(k, entry, 0x400008, "r", 0x2000008, asid=asid ^ 1)
    assert not other.ok and other.exc == MIPS_EXCP["tlbl"]        # another space: refill


def x86_vm(k):
    """A VM object (l4_factory_create_vm) in the root task's slot 20: its table is EPT."""
    from pyl4re.control import factory as factory_ctl
    assert factory_ctl.create(k, k.root_factory.id, k._lib.L4_PROTO_VM, k.root_task.id,
                              20) == 0
    return k.root_task.object_at(CapIndex(20))


def check_ept(k, vm, gpas):
    """Every probe of every access agrees with the model's EPT walk (translate)."""
    root = vm.pt_root.value
    for gpa in gpas:
        leaf = ptdecode.walk(k, root, gpa, kind="vm")
        for access in "rwx":
            pa, allowed = expected(vm, gpa, access)
            assert (leaf is None) == (pa is None) and (leaf is None or leaf.pa == pa)
            if access == "x":                    # SMEP: a fetch works iff the leaf has no X
                allowed = pa is not None and not allowed
            res = x86_ept_probe(k, root, gpa, access, pa)
            assert res.ok == allowed, f"EPT {gpa:#x} {access}: {res}, allowed={allowed}"
            if res.ok and access == "r":
                assert res.value == MARKER, f"EPT {gpa:#x}: another host frame was read"
            if res.ok and access == "w":
                assert res.value == MARKER ^ 0xFFFF, f"EPT {gpa:#x}: the store went elsewhere"
            if not allowed:
                assert res.traps[0] == X86_PF


@one(BUILT, "x86_64")
def test_x86_64_ept_agrees_with_the_ia32e_walker():
    # EPT's R/W/address/PS bits under Unicorn's IA-32e walker (module doc); guest-physical
    # addresses below 2^47 (a linear address there must be canonical)
    rng = random.Random(SEED + 3)
    k = Kernel(arch="x86_64", memory=MEMORY, kernel_memory=KMEM)
    vm = x86_vm(k)
    limit = 1 << 47
    maps = random_mappings(k, vm, rng, "vm", 16, (12, 12, 21, 30), limit)
    check_ept(k, vm, probe_addresses(rng, maps, limit))


@one(BUILT, "x86_64")
def test_x86_64_ept_golden_mappings_agree_with_the_ia32e_walker():
    # fixed cases: each size and right, neighbours sharing tables, the top of the probed
    # range, a 4 KiB page inside a 2 MiB-aligned table next to a 2 MiB page
    k = Kernel(arch="x86_64", memory=MEMORY, kernel_memory=KMEM)
    vm = x86_vm(k)
    cases = [(0x0, 0x1000000, 12, R), (0x1000, 0x1001000, 12, R | W),
             (0x2000, 0x1002000, 12, R | X), (0x3000, 0x1003000, 12, W),
             (0x200000, 0x1200000, 21, R | W | X), (0x400000, 0x1400000, 21, X),
             (0x601000, 0x1601000, 12, W | X), (1 << 30, 1 << 30, 30, R | W),
             (0x7FFFFFFFF000, 0x1005000, 12, R | W), (0x7FFFFFC00000, 0x1800000, 21, R),
             (0x4000000000, 1 << 30, 30, R | X)]
    caches = [vspace.CACHE_NORMAL, vspace.CACHE_BUFFERED, vspace.CACHE_UNCACHED]
    for n, (gpa, pa, shift, rights) in enumerate(cases):
        assert vspace.map_page(k, vm, VirtAddr(gpa), PhysAddr(pa), shift, rights,
                               caches[n % 3], kind=vspace.KIND_VM) == 0
        assert vm.translate(VirtAddr(gpa)) == (PhysAddr(pa), 1 << shift, rights | R)
    gpas = []
    for gpa, _, shift, _ in cases:
        gpas += [gpa, gpa + (1 << shift) - 8, gpa + (1 << shift), gpa - 8]
    check_ept(k, vm, [g for g in gpas if 0 <= g <= (1 << 47) - 8])
