"""Independent page-table walkers for the tests, written from the architecture manuals.

They read `kernel.physmem` from a root table address and never call the C walk, so a test
can check the C walk against them: Intel SDM vol. 3A sections 4.5 (4-level paging) and
11.12 (PAT); Arm ARM D8 (VMSAv8-64 stage 1 and stage 2 descriptors, 4 KiB granule); MIPS64 PRA
(EntryLo) plus Fiasco's software PTE (EntryLo << 6, XI/RI at bits 4/5; spec §14.3).

Each walker returns a `Leaf` (or None when the address does not translate) with the rights
an access at user level (CPL3 / EL0 / guest) would get, as L4 bits R=4, W=2, X=1.
"""
from dataclasses import dataclass, field

R, W, X = 4, 2, 1
NORMAL, BUFFERED, UNCACHED = "normal", "buffered", "uncached"


@dataclass
class Leaf:
    pa: int             # translation of the address
    size: int
    rights: int         # user-level R/W/X
    cache: str
    level: int
    entry: int
    path: list = field(default_factory=list)    # (level, index, entry) from the root down
    accessed: bool = False
    dirty: bool = False


def entry_at(mem, table, index):
    return int.from_bytes(bytes(mem[table + 8 * index:table + 8 * index + 8]), "little")


def _indices(va, levels):
    return [(va >> shift) & ((1 << bits) - 1) for shift, bits in levels]


# ---- amd64: SDM vol. 3A table 4-14 .. 4-20
X86_LEVELS = [(39, 9), (30, 9), (21, 9), (12, 9)]
X86_ADDR = 0x000FFFFFFFFFF000
X86_PAT = 0x0007040600010406             # the IA32_PAT Fiasco programs (§14.1)
_PAT_TYPES = {6: NORMAL, 1: BUFFERED, 0: UNCACHED, 7: UNCACHED, 4: NORMAL, 5: NORMAL}


def walk_x86(mem, root, va):
    table, path = root, []
    w = u = True
    xd = False
    for level, index in enumerate(_indices(va, X86_LEVELS)):
        e = entry_at(mem, table, index)
        path.append((level, index, e))
        if not e & 0x1:
            return None
        w, u, xd = w and bool(e & 0x2), u and bool(e & 0x4), xd or bool(e >> 63)
        shift = X86_LEVELS[level][0]
        if level == 3 or (level in (1, 2) and e & 0x80):
            pat_bit = (e >> 7) & 1 if level == 3 else (e >> 12) & 1
            pat_index = pat_bit << 2 | ((e >> 4) & 1) << 1 | (e >> 3) & 1
            cache = _PAT_TYPES[(X86_PAT >> (8 * pat_index)) & 0xFF]
            base = e & X86_ADDR & ~((1 << shift) - 1)
            rights = (R | (W if w else 0) | (0 if xd else X)) if u else 0
            return Leaf(base | (va & ((1 << shift) - 1)), 1 << shift, rights, cache, level, e,
                        path, bool(e & 0x20), bool(e & 0x40))
        table = e & X86_ADDR
    return None


# ---- arm64: Arm ARM D8.3 (descriptor formats), D8.4 (permissions), 4 KiB granule
ARM_LEVELS = [(39, 9), (30, 9), (21, 9), (12, 9)]
ARM_ADDR = 0x0000FFFFFFFFF000
ARM_MAIR = 0x00FF4400                   # Fiasco's MAIR (§14.2): 0 device, 1 normal NC, 2 WB
_MAIR_TYPES = {0x00: UNCACHED, 0x44: BUFFERED, 0xFF: NORMAL}


def _arm_walk(mem, root, va):
    """(level, shift, descriptor, path) of the leaf, or None for a translation fault."""
    table, path = root, []
    for level, index in enumerate(_indices(va, ARM_LEVELS)):
        e = entry_at(mem, table, index)
        path.append((level, index, e))
        kind = e & 0x3
        if not e & 0x1:
            return None
        if level == 3:
            return (level, 12, e, path) if kind == 0x3 else None
        if kind == 0x1:
            return (level, ARM_LEVELS[level][0], e, path) if level in (1, 2) else None
        assert e >> 59 == 0, "table descriptors carry no hierarchical limits here"
        table = e & ARM_ADDR
    return None


def walk_arm64(mem, root, va):
    """Stage 1, EL0 access (user task)."""
    found = _arm_walk(mem, root, va)
    if not found:
        return None
    level, shift, e, path = found
    if not e & 0x400:                   # AF = 0: access flag fault
        return None
    el0 = bool(e & 0x40)
    rights = (R | (0 if e & 0x80 else W) if el0 else 0) | (0 if e & (1 << 54) else X)
    cache = _MAIR_TYPES[(ARM_MAIR >> (8 * ((e >> 2) & 7))) & 0xFF]
    base = e & ARM_ADDR & ~((1 << shift) - 1)
    return Leaf(base | (va & ((1 << shift) - 1)), 1 << shift, rights, cache, level, e, path)


def walk_arm64_s2(mem, root, ipa):
    """Stage 2 (VM), IPA -> PA."""
    found = _arm_walk(mem, root, ipa)
    if not found:
        return None
    level, shift, e, path = found
    if not e & 0x400:
        return None
    rights = (R if e & 0x40 else 0) | (W if e & 0x80 else 0) | (0 if e & (1 << 54) else X)
    memattr = (e >> 2) & 0xF
    cache = NORMAL if memattr == 0xF else BUFFERED if memattr == 0x5 else UNCACHED
    base = e & ARM_ADDR & ~((1 << shift) - 1)
    return Leaf(base | (ipa & ((1 << shift) - 1)), 1 << shift, rights, cache, level, e, path)


# ---- mips64: Fiasco's table (§14.3), EntryLo per MIPS64 PRA vol. III
MIPS_K0 = 3                              # Config0.K0 the model assumes (cacheable)


def mips_levels(page_shift):
    return [(39, 9), (30, 9), (21, 9), (page_shift, 21 - page_shift)]


def walk_mips64(mem, root, va, page_shift):
    table, path = root, []
    levels = mips_levels(page_shift)
    for level, index in enumerate(_indices(va, levels)):
        e = entry_at(mem, table, index)
        path.append((level, index, e))
        if level < 3:
            if e == 0:
                return None
            assert e & 0xFFF == 0, "directory entries hold table addresses"
            table = e
            continue
        if not e & 0x80:                 # V
            return None
        rights = (0 if e & 0x20 else R) | (W if e & 0x100 else 0) | (0 if e & 0x10 else X)
        cca = (e >> 9) & 7
        cache = NORMAL if cca == MIPS_K0 else UNCACHED
        base = e & ~0xFFF & ~((1 << page_shift) - 1)
        return Leaf(base | (va & ((1 << page_shift) - 1)), 1 << page_shift, rights, cache,
                    level, e, path)
    return None


def mips_entrylo(pte):
    """EntryLo from a Fiasco PTE, field by field (PRA: G 0, V 1, D 2, C 5:3, PFN 6.., XI 62,
    RI 63; PTE: XI 4, RI 5, G 6, V 7, D 8, C 11:9, address from 12)."""
    g, v, d = (pte >> 6) & 1, (pte >> 7) & 1, (pte >> 8) & 1
    c, pfn = (pte >> 9) & 7, pte >> 12
    xi, ri = (pte >> 4) & 1, (pte >> 5) & 1
    return g | v << 1 | d << 2 | c << 3 | pfn << 6 | xi << 62 | ri << 63


def mips_pte_pair(mem, root, va, page_shift):
    """The even and odd PTEs of the pair holding va (0 where a table is missing)."""
    leaf_path = None
    table = root
    for level, index in enumerate(_indices(va, mips_levels(page_shift))):
        e = entry_at(mem, table, index)
        if level == 3:
            leaf_path = (table, index)
            break
        if e == 0:
            return 0, 0
        table = e
    table, index = leaf_path
    even = index & ~1
    return entry_at(mem, table, even), entry_at(mem, table, even + 1)


WALKERS = {"x86_64": walk_x86, "arm64": walk_arm64}


def walk(kernel, root, va, kind="user"):
    """The leaf for va under root on kernel's architecture, from the manuals."""
    mem = kernel.physmem
    if kernel.arch == "mips64":
        return walk_mips64(mem, root, va, kernel.arch_info["page_shift"])
    if kind == "vm":
        return walk_arm64_s2(mem, root, va)
    return WALKERS[kernel.arch](mem, root, va)
