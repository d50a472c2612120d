"""Guests with their own stage-1 tables (docs/vm.md, "Guests with their own page tables"):
the two-dimensional walk (each guest table entry read through the VM's nested table, then
the data's guest-physical address), stage-2 exits on a table walk (x86 qualification bit 8
clear, arm64 ESR S1PTW) and on the data (bit 8 set with the guest-linear address; ISV),
and the guest's own faults as the architecture's guest exception (`guest.GuestFault`): x86
#PF with its error code and CR2, #GP(0) for a non-canonical address; arm64 data aborts
with ESR_EL1 and FAR_EL1. Bad input: table entries pointing outside RAM or at MMIO,
reserved address bits, non-canonical and upper-half addresses, translation regimes the
model does not walk. The guest's tables are golden: written here from the manuals' formats
(Intel SDM vol. 3 4.5, Arm ARM D8), not by the model."""
import pytest

from pyl4re import _core, guest
from pyl4re.mem import load as vmm_load, store as vmm_store

from test_vm import MMIO_GPA, run_vm

ROOT, L1, L2, L3 = 0x10000, 0x11000, 0x12000, 0x13000     # the guest's tables (gpa)
MARK = 0x5A5A12348765A5A5
OUTSIDE = 0x5000000                   # a guest-physical page outside the VM's RAM
ZERO_PAGE = 0xF0000                   # of the VMM's RAM (never written): mapped at OUTSIDE
RES_BIT = 1 << 48                     # above the model's 48-bit guest-physical width
BUILT = _core.available_arches()
STAGE1_ARCHES = pytest.mark.parametrize("arch", [
    pytest.param(a, marks=pytest.mark.skipif(a not in BUILT, reason=f"{a} not built"))
    for a in ("x86_64", "arm64")])

X86_P, X86_W, X86_PS = 1, 2, 0x80
ARM_TABLE, ARM_PAGE, ARM_BLOCK, ARM_AF, ARM_RO = 0x3, 0x3, 0x1, 0x400, 0x80
# the software VMCS fields (x86) and E-field ids (arm64) a test reads or sets
VMX_QUAL, VMX_LINEAR, VMX_CR2 = 0x6400, 0x640A, 0x6880
VMX_CR0, VMX_CR3, VMX_CR4, VMX_EFER, VMX_ENTRY = 0x6800, 0x6802, 0x6804, 0x2806, 0x4012
ARM_SCTLR, ARM_TCR, ARM_TTBR0, ARM_ESR_EL1, ARM_FAR_EL1 = 0x0010, 0x80A8, 0x80B0, 0x00C4, 0x80E8


def table(arch, gpa):
    return gpa | (X86_P | X86_W if arch == "x86_64" else ARM_TABLE)


def page(arch, gpa, rw=True, af=True):
    if arch == "x86_64":
        return gpa | X86_P | (X86_W if rw else 0)
    return gpa | ARM_PAGE | (ARM_AF if af else 0) | (0 if rw else ARM_RO)


def block(arch, gpa):
    return gpa | (X86_P | X86_W | X86_PS if arch == "x86_64" else ARM_BLOCK | ARM_AF)


def guest_tables(arch):
    """{gpa: entry} of the guest's 4-level tables, VA -> gpa:
    0x400000 -> 0x80000 rw; 0x401000 -> 0x81000 read-only; 0x402000 nothing (the guest
    maps it later); 0x403000 a leaf with a reserved address bit; 0x404000 (arm64) a leaf
    without AF; 0x600000 2 MiB -> 0 (a window on the tables); 0x800000 2 MiB -> 0x200000
    (past the VM's 1 MiB of RAM: the VMM emulates it); 0xA00000 a table OUTSIDE RAM;
    0xC00000 a table at MMIO; 1 GiB at 1 GiB -> 0."""
    return {ROOT: table(arch, L1), L1: table(arch, L2), L1 + 8: block(arch, 0),
            L2 + 8 * 2: table(arch, L3), L2 + 8 * 3: block(arch, 0),
            L2 + 8 * 4: block(arch, 0x200000), L2 + 8 * 5: table(arch, OUTSIDE),
            L2 + 8 * 6: table(arch, MMIO_GPA),
            L3: page(arch, 0x80000), L3 + 8: page(arch, 0x81000, rw=False),
            L3 + 8 * 3: page(arch, 0x84000) | RES_BIT,
            L3 + 8 * 4: page(arch, 0x85000, af=arch != "arm64")}


async def enable_stage1(arch, m):
    """What the VMM writes to start its guest with paging on (CR3 / TTBR0 = ROOT)."""
    for gpa, e in guest_tables(arch).items():
        await vmm_store(m.ram + gpa, e)
    await vmm_store(m.ram + 0x81000, MARK)
    if arch == "x86_64":                     # IA-32e: PE|NE|WP|PG, PAE|VMXE, LME|LMA|NXE
        for field, value in ((VMX_CR0, 0x80010021), (VMX_CR4, 0x2020), (VMX_EFER, 0xD00),
                             (VMX_CR3, ROOT), (VMX_ENTRY, m.ext.get(VMX_ENTRY) | 1 << 9)):
            m.ext.set(field, value)
    else:                                    # T0SZ 16, TG0 4 KiB, SCTLR.M
        m.ext.set(ARM_TCR, 16)
        m.ext.set(ARM_TTBR0, ROOT)
        m.ext.set(ARM_SCTLR, m.ext.get(ARM_SCTLR) | 1)


async def faults(access):
    """The GuestFault an access raises (None if it completed)."""
    try:
        await access
    except guest.GuestFault as f:
        return f
    return None


@STAGE1_ARCHES
def test_a_guest_with_its_own_tables_walks_two_dimensionally(arch):
    x86 = arch == "x86_64"
    got, exits = {}, []

    async def main():
        await guest.store(0x400010, 0xAABB)
        got["rw"] = await guest.load(0x400010)
        got["ro"] = await guest.load(0x401000)
        got["ro_store"] = await faults(guest.store(0x401000, 1))
        got["2m"] = await guest.load(0x600000 + 0x81000)
        await guest.store(0x600000 + 0x82000, 7)                # lands at gpa 0x82000
        got["1g"] = await guest.load((1 << 30) + 0x81000)
        got["unmapped"] = await faults(guest.load(0x402000))
        # the guest maps 0x402000 -> 0x83000 itself, through its window on the tables
        await guest.store(0x600000 + L3 + 8 * 2, page(arch, 0x83000))
        await guest.store(0x402008, 5)                          # no TLB: walks anew
        got["mmio"] = await guest.load(0x800008)                # gpa 0x200008: emulated
        got["outside"] = await faults(guest.load(0xA00000))     # the VMM maps a zero table
        got["reserved"] = await faults(guest.load(0x403000))
        got["af"] = await faults(guest.load(0x404000))
        got["upper"] = await faults(guest.load(0xFFFF800000000000 if x86 else
                                               0xFFFF000000000000))
        got["noncanonical"] = await faults(guest.load(0x0000800000000000 if x86 else
                                                      0x0001000000000000))
        await guest.load(0xC00000)                              # its table is MMIO
        got["after_mmio_table"] = True

    async def on_exit(m, e):
        regs = (m.ext.get(VMX_QUAL), m.ext.get(VMX_LINEAR)) if x86 else (e.code,)
        exits.append((e, regs))
        assert e.kind == "stage2", e
        if e.gpa == 0x200008:                                   # the data: an MMIO load
            m.ext.complete_load(e, 0x1234)
            return ("refused", await m.resume())
        if e.gpa == OUTSIDE:                                    # a table: map one
            return ("refused", await m.resume(items=[(OUTSIDE, m.ram + ZERO_PAGE)]))
        got["cr2"] = m.ext.get(VMX_CR2) if x86 else (m.ext.get(ARM_ESR_EL1),
                                                     m.ext.get(ARM_FAR_EL1))
        got["ram"] = [await vmm_load(m.ram + gpa) for gpa in (0x80010, 0x82000, 0x83008)]
        return "mmio table"

    async def before(m):
        await enable_stage1(arch, m)

    k, res, _ = run_vm(arch, main, on_exit, before=before)
    assert res.exited["vmm"] == "mmio table"
    assert got["rw"] == 0xAABB and got["ro"] == MARK
    assert got["2m"] == MARK and got["1g"] == MARK and got["mmio"] == 0x1234
    assert got["ram"] == [0xAABB, 7, 5]                         # each store's host frame
    assert "after_mmio_table" not in got

    # three exits: the data beyond RAM, the table outside RAM, the table at MMIO
    (d, dregs), (t, tregs), (io, ioregs) = exits
    assert d.gpa == 0x200008 and d.size == 8 and not d.write
    assert t.gpa == OUTSIDE and t.size == 0 and not t.write      # entry 0 of that table
    assert io.gpa == MMIO_GPA and io.size == 0
    if x86:
        assert d.code == t.code == 48                           # EPT violation
        assert dregs[0] & 0x181 == 0x181 and dregs[1] == 0x800008   # linear, translation
        assert tregs[0] & 0x181 == 0x081 and tregs[1] == 0xA00000   # a paging-structure read
        assert ioregs[0] & 0x100 == 0 and ioregs[1] == 0xC00000
    else:
        assert d.code >> 26 == t.code >> 26 == 0x24
        assert d.code & (1 << 24) and not d.code & (1 << 7)     # ISV, no S1PTW
        assert t.code & (1 << 7) and not t.code & (1 << 24)     # S1PTW, no syndrome
        assert io.code & (1 << 7)

    f = got["ro_store"]
    assert f.kind == "permission" and f.level == 3 and f.address == 0x401000
    u = got["unmapped"]
    assert u.kind == "translation" and u.level == 3 and u.address == 0x402000
    o = got["outside"]                                          # the zero table: no entry
    assert o.kind == "translation" and o.level == 3 and o.address == 0xA00000
    r = got["reserved"]
    assert r.kind == "reserved" and r.level == 3
    up = got["upper"]
    assert up.kind == "translation" and up.level == 0
    nc = got["noncanonical"]
    if x86:
        assert (f.vector, f.code) == (14, 0x3)                  # P | W
        assert (u.vector, u.code) == (14, 0x0)
        assert (r.vector, r.code) == (14, 0x9)                  # P | RSVD
        assert got["af"] is None                                # no AF on x86: it reads
        assert (nc.vector, nc.code, nc.kind) == (13, 0, "non-canonical")
        assert got["cr2"] == 0xFFFF800000000000                # the last #PF's (not #GP's)
    else:
        assert f.vector == 0x25 and f.code & 0x3F == 0x0F and f.code & (1 << 6)   # WnR
        assert u.code & 0x3F == 0x07 and not u.code & (1 << 6)
        assert r.code & 0x3F == 0x03                            # address size, level 3
        assert got["af"].kind == "access flag" and got["af"].code & 0x3F == 0x0B
        assert nc.kind == "translation" and nc.code & 0x3F == 0x04
        esr, far = got["cr2"]
        assert (esr, far) == (nc.code, 0x0001000000000000)      # the last fault's


@STAGE1_ARCHES
def test_permissions_are_the_and_over_the_levels_at_the_guests_privilege(arch):
    # a table entry without write permission (x86 R/W clear, arm64 APTable[1]) makes the
    # pages below it read-only; x86 with CR0.WP clear lets the guest kernel write anyway;
    # an arm64 guest at EL0 needs AP[1] (its pages here are EL1-only)
    x86 = arch == "x86_64"
    got = {}
    ro_table = (L2 + 8 * 2) | (X86_P if x86 else ARM_TABLE | 1 << 62)

    async def main():
        got["read"] = await guest.load(0x401000)
        got["write"] = await faults(guest.store(0x400000, 1))
        await guest.hypercall(1)
        got["after"] = await faults(guest.store(0x400000, 2))
        await guest.hypercall(2)

    async def on_exit(m, e):
        assert e.kind == "hypercall", e
        if m.v.r[m.ext.layout["hc_regs"][0]] == 1:
            if x86:
                m.ext.set(VMX_CR0, m.ext.get(VMX_CR0) & ~(1 << 16))    # WP off
            else:
                m.v.flags = 0x0                                        # EL0t
            m.ext.advance(e.advance)
            return ("refused", await m.resume())
        return "done"

    async def before(m):
        await enable_stage1(arch, m)
        await vmm_store(m.ram + L1, ro_table)

    _, res, _ = run_vm(arch, main, on_exit, before=before)
    assert res.exited["vmm"] == "done"
    assert got["read"] == MARK
    w = got["write"]
    assert w.kind == "permission" and w.level == 3
    if x86:
        assert (w.vector, w.code) == (14, 0x3) and got["after"] is None   # WP clear: writes
    else:
        assert w.vector == 0x25 and w.code & 0x3F == 0x0F
        a = got["after"]                                       # EL0: no AP[1] anywhere
        assert a.kind == "permission" and a.vector == 0x24 and a.code >> 26 == 0x24


@STAGE1_ARCHES
def test_a_regime_the_model_does_not_walk_and_an_unhandled_guest_fault(arch):
    # x86: CR0.PG outside IA-32e mode is 32-bit paging; arm64: T0SZ 25 (a 39-bit space).
    # Neither is walked (NotImplementedError in the guest). A guest that does not handle its
    # own fault ends: the exit of a guest that cannot go on (x86 triple fault, arm64 EC 0).
    x86 = arch == "x86_64"
    got = {}

    async def main():
        try:
            await guest.load(0x1000)
        except NotImplementedError as e:
            got["regime"] = str(e)
        await guest.hypercall(1)
        await guest.load(0x402000)                 # unmapped in its tables: not caught

    async def on_exit(m, e):
        if e.kind == "hypercall":
            await enable_stage1(arch, m)
            m.ext.advance(e.advance)
            return ("refused", await m.resume())
        return e.kind, e.code

    async def before(m):
        if x86:
            m.ext.set(VMX_CR0, 0x80000021)           # PE | NE | PG, no IA-32e, no PAE
        else:
            m.ext.set(ARM_TCR, 25)
            m.ext.set(ARM_SCTLR, m.ext.get(ARM_SCTLR) | 1)

    _, res, _ = run_vm(arch, main, on_exit, before=before)
    assert "not modelled" in got["regime"]
    assert res.exited["vmm"] == ("fault", 2 if x86 else 1 << 25)


@pytest.mark.skipif("x86_64" not in BUILT, reason="x86_64 not built")
def test_x86_reserved_bits_in_guest_entries_are_rsvd_page_faults():
    # a 1 GiB leaf with an address bit below 30 set (bits 29:13 are reserved), XD without
    # EFER.NXE, PS in a PML4 entry: #PF with P | RSVD, as SDM vol. 3 4.7 says
    got = {}

    async def main():
        for name, va in (("1g", (1 << 30) + 0x81000), ("xd", 0x400000),
                         ("pml4_ps", 1 << 39)):
            got[name] = await faults(guest.load(va))
        await guest.hypercall(1)

    async def on_exit(m, e):
        assert e.kind == "hypercall", e
        return "done"

    async def before(m):
        await enable_stage1("x86_64", m)
        m.ext.set(VMX_EFER, 0x500)                               # LME | LMA, no NXE
        await vmm_store(m.ram + L1 + 8, block("x86_64", 0) | 1 << 13)
        await vmm_store(m.ram + L3, page("x86_64", 0x80000) | 1 << 63)
        await vmm_store(m.ram + ROOT + 8, block("x86_64", 0))     # PS at level 0

    _, res, _ = run_vm("x86_64", main, on_exit, before=before)
    assert res.exited["vmm"] == "done"
    assert [(got[n].kind, got[n].level, got[n].code) for n in ("1g", "xd", "pml4_ps")] == [
        ("reserved", 1, 0x9), ("reserved", 3, 0x9), ("reserved", 0, 0x9)]
