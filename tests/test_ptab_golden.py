"""Golden page-table vectors: known mappings and the exact entry every level must hold.

The vectors are data (tests/golden/ptab_<arch>.json), written from the architecture
manuals' bit layouts: each leaf is listed both as named bits and as the value they OR to.
The test walks kernel.physmem from task.pt_root by itself (tests/ptdecode.py and the
indices in the data); it never asks the C walk what the C walk wrote.
"""
import json
import os

import pytest

import ptdecode
from pyl4re import CapIndex, Kernel, PageNumber, PhysAddr, VirtAddr, _core
from pyl4re.control import vspace

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
CACHE = {"normal": vspace.CACHE_NORMAL, "buffered": vspace.CACHE_BUFFERED,
         "uncached": vspace.CACHE_UNCACHED}


def rights_of(text):
    return sum({"R": 4, "W": 2, "X": 1}[c] for c in text)


def golden_name(arch):
    if arch != "mips64":
        return arch
    shift = _core.load(arch)[1].arch_describe().page_shift
    return {14: "mips64_16k", 12: "mips64_4k"}[shift]


def load(arch):
    with open(os.path.join(GOLDEN, f"ptab_{golden_name(arch)}.json")) as f:
        return json.load(f)


CASES = [pytest.param(arch, i, id=f"{arch}-{c['name']}")
         for arch in _core.available_arches() for i, c in enumerate(load(arch)["cases"])]


def bits_value(golden, names):
    v = 0
    for n in names:
        v |= int(golden["bits"][n], 16)
    return v


def boot(golden, arch):
    k = Kernel(arch=arch, memory=golden["memory"], kernel_memory=1 << 20)
    return k, k.root_factory.create_task(k.root_task, CapIndex(20))


@pytest.mark.parametrize("arch,i", CASES)
def test_golden_vector(arch, i):
    golden = load(arch)
    case = golden["cases"][i]
    k, task = boot(golden, arch)
    va, pa, shift = int(case["va"], 16), int(case["pa"], 16), case["page_shift"]
    kind = vspace.KIND_VM if case.get("kind") == "vm" else vspace.KIND_USER
    used = k.root_factory.quota.used
    assert vspace.map_page(k, task, VirtAddr(va), PhysAddr(pa), shift, rights_of(case["rights"]),
                           CACHE[case["cache"]], kind=kind) == 0

    # The data is consistent with itself: the leaf is pa | its named bits, the indices are
    # the VA's index fields.
    leaf = int(case["entry"], 16)
    assert leaf == pa | bits_value(golden, case["leaf"])
    levels = golden["levels"]
    assert case["indices"] == [(va >> s) & ((1 << b) - 1) for s, b in levels]
    leaf_level = [s for s, _ in levels].index(shift)

    # Walk physical memory by hand: table entries are address | table bits, one entry used
    # per table, tables are kernel frames; the leaf is exactly the golden value.
    table_entry = golden.get("vm_table_entry", golden["table_entry"]) if kind == vspace.KIND_VM \
        else golden["table_entry"]
    mask, table_bits = int(golden["address_mask"], 16), bits_value(golden, table_entry)
    table = task.pt_root.value
    for level in range(leaf_level + 1):
        index = case["indices"][level]
        size = 1 << levels[level][1]
        entries = [ptdecode.entry_at(k.physmem, table, j) for j in range(size)]
        assert sum(1 for e in entries if e) == 1, f"level {level}: exactly one entry in use"
        e = entries[index]
        if level == leaf_level:
            assert e == leaf, f"leaf {e:#018x}, manual says {leaf:#018x} ({case['leaf']})"
            break
        assert e & ~mask == table_bits, f"level {level} table entry {e:#018x}"
        table = e & mask
        assert k.frames.owner(PageNumber(table >> 12)) == "kernel"
    assert k.root_factory.quota.used == used + (leaf_level + 1) * 4096

    # What the manuals say such an entry means, and what the kernel reports, agree.
    # (x86 and arm64 stage 1 have no "not readable": R is presence; MIPS has RI.)
    back = case.get("reads_back", {})
    want_cache = back.get("cache", case["cache"])
    want_rights = rights_of(back.get("rights", case["rights"]))
    found = ptdecode.walk(k, task.pt_root.value, va + 8, case.get("kind", "user"))
    assert (found.pa, found.size, found.rights, found.cache) == (
        pa + 8, 1 << shift, want_rights, want_cache)
    page = vspace.lookup(k, task, VirtAddr(va + 8))
    assert (page.pa, page.page_size, page.level, page.rights, page.cache) == (
        PhysAddr(pa + 8), 1 << shift, leaf_level, want_rights | vspace.RIGHT_U,
        CACHE[want_cache])

    entry_pa = table + 8 * case["indices"][leaf_level]
    for step in case.get("revoke", []):
        assert vspace.revoke(k, task, VirtAddr(va), shift, rights_of(step["rights"])) == 0
        assert ptdecode.entry_at(k.physmem, table, case["indices"][leaf_level]) == \
            int(step["entry"], 16) == pa | bits_value(golden, step["leaf"])

    assert vspace.unmap_page(k, task, VirtAddr(va), shift) == 0
    assert ptdecode.entry_at(k.physmem, entry_pa & ~0xFFF, (entry_pa & 0xFFF) // 8) == 0
    assert task.translate(VirtAddr(va)) is None
    k.root_task.delete(CapIndex(20))
    assert k.root_factory.quota.used == used - k._lib.KOBJ_SIZE_TASK    # tables refunded too


@pytest.mark.skipif("x86_64" not in _core.available_arches(), reason="x86_64 not built")
def test_x86_accessed_and_dirty_read_back_as_referenced_and_dirty():
    golden = load("x86_64")
    k, task = boot(golden, "x86_64")
    va = VirtAddr(0x400000)
    assert vspace.map_page(k, task, va, PhysAddr(0x2000000), 12, 7) == 0
    leaf = ptdecode.walk(k, task.pt_root.value, va.value)
    table, index = leaf.path[-2][2] & ptdecode.X86_ADDR, leaf.path[-1][1]

    def set_bits(bits):        # what the CPU does on access (SDM 4.8)
        e = ptdecode.entry_at(k.physmem, table, index) | bits
        k.physmem[table + 8 * index:table + 8 * index + 8] = list(e.to_bytes(8, "little"))

    set_bits(0x20 | 0x40)
    assert vspace.lookup(k, task, va).flags == 3                  # Referenced | Dirty
    assert vspace.revoke(k, task, va, 12, 0) == 3                 # read and cleared
    assert ptdecode.entry_at(k.physmem, table, index) == 0x2000007
    assert vspace.revoke(k, task, va, 12, 0) == 0
    set_bits(0x20)
    assert vspace.unmap_page(k, task, va, 12) == 1                # Referenced only


@pytest.mark.skipif("mips64" not in _core.available_arches(), reason="mips64 not built")
def test_mips_tlb_pairs_are_the_entrylo_layout_of_the_ptes():
    golden = load("mips64")
    k, task = boot(golden, "mips64")
    for case in golden["cases"][:3]:
        assert vspace.map_page(k, task, VirtAddr(int(case["va"], 16)), PhysAddr(int(case["pa"], 16)),
                               case["page_shift"], rights_of(case["rights"]),
                               CACHE[case["cache"]]) == 0
    ffi, lib = k._ffi, k._lib
    asids = set()
    for pair in golden["tlb_pairs"]:
        va = int(pair["va"], 16)
        out = ffi.new("struct mips_tlb_entry *")
        assert lib.mips_tlb_pair(k._k, [task.id], [0], [va], out) == 0
        assert out.entry_hi & ~0xFF == int(pair["entry_hi_va"], 16)
        asids.add(out.entry_hi & 0xFF)
        assert out.page_mask == int(pair["page_mask"], 16)
        assert (out.entry_lo0, out.entry_lo1) == (int(pair["entry_lo0"], 16),
                                                  int(pair["entry_lo1"], 16)), pair["why"]
        even, odd = ptdecode.mips_pte_pair(k.physmem, task.pt_root.value, va,
                                           golden["page_shift"])
        assert (out.entry_lo0, out.entry_lo1) == (ptdecode.mips_entrylo(even),
                                                  ptdecode.mips_entrylo(odd))
    assert len(asids) == 1 and 0 not in asids     # one space, one ASID on this CPU
