"""pyl4re.types (spec §15): what the typed values allow, what they refuse on the Python side,
and that the C boundary types (kernel_c/pyl4re.h) refuse the same mixing at compile time."""
import copy
import operator
import os
import pickle
import shutil
import subprocess

import cffi
import numpy as np
import pytest

from pyl4re.types import (CapIndex, CpuNumber, PageNumber, PhysAddr, VirtAddr, expect,
                          int_value)

U64 = (1 << 64) - 1
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADDRESS_TYPES = (VirtAddr, PhysAddr)
ALL_TYPES = (VirtAddr, PhysAddr, PageNumber, CpuNumber, CapIndex)


# ---- construction -----------------------------------------------------------------------

@pytest.mark.parametrize("cls, top", [(VirtAddr, U64), (PhysAddr, U64), (PageNumber, U64),
                                      (CpuNumber, (1 << 32) - 1), (CapIndex, (1 << 20) - 1)])
def test_range_is_checked(cls, top):
    assert cls(0).value == 0 and cls(top).value == top
    with pytest.raises(ValueError, match=cls.__name__):
        cls(top + 1)
    with pytest.raises(ValueError, match=cls.__name__):
        cls(-1)


@pytest.mark.parametrize("cls", ALL_TYPES)
@pytest.mark.parametrize("bad", [True, False, 1.0, "1", None, b"1"])
def test_non_integers_are_refused(cls, bad):
    with pytest.raises(TypeError, match=cls.__name__):
        cls(bad)


def test_numpy_integers_are_accepted_explicitly():
    assert VirtAddr(np.uint64(0x1000)) == VirtAddr(0x1000)
    assert type(VirtAddr(np.uint64(5)).value) is int


@pytest.mark.parametrize("src, dst, hint", [
    (PageNumber(1), PhysAddr, "PageNumber.phys"), (PageNumber(1), VirtAddr, "PageNumber.virt"),
    (PhysAddr(0x1000), PageNumber, "PhysAddr.pfn"), (PhysAddr(0x1000), VirtAddr, "do not mix"),
    (VirtAddr(0x1000), PhysAddr, "do not mix"), (CapIndex(1), CpuNumber, "do not mix"),
])
def test_one_kind_does_not_convert_into_another(src, dst, hint):
    with pytest.raises(TypeError, match=hint):
        dst(src)


# ---- arithmetic -------------------------------------------------------------------------

@pytest.mark.parametrize("cls", (VirtAddr, PhysAddr, PageNumber, CapIndex))
def test_position_plus_minus_count(cls):
    a = cls(0x100)
    assert a + 0x10 == cls(0x110) and type(a + 0x10) is cls
    assert 0x10 + a == cls(0x110) and type(0x10 + a) is cls
    assert a - 0x10 == cls(0xF0)
    assert a - cls(0x40) == 0xC0 and type(a - cls(0x40)) is int
    assert cls(0x40) - a == -0xC0
    assert a + np.int64(1) == cls(0x101)


def test_arithmetic_stays_in_range():
    with pytest.raises(ValueError):
        VirtAddr(U64) + 1
    with pytest.raises(ValueError):
        PhysAddr(0) - 1
    with pytest.raises(ValueError):
        CapIndex((1 << 20) - 1) + 1


@pytest.mark.parametrize("cls", ADDRESS_TYPES + (PageNumber, CapIndex))
def test_adding_two_positions_is_refused(cls):
    with pytest.raises(TypeError, match="no meaning"):
        cls(1) + cls(2)


@pytest.mark.parametrize("op", [operator.add, operator.sub])
@pytest.mark.parametrize("a, b", [(VirtAddr(0x1000), PhysAddr(0x1000)),
                                  (PhysAddr(0x1000), VirtAddr(0x1000))])
def test_phys_and_virt_do_not_mix_in_arithmetic(op, a, b):
    with pytest.raises(TypeError, match="physical and virtual"):
        op(a, b)


@pytest.mark.parametrize("op", [operator.lt, operator.le, operator.gt, operator.ge])
@pytest.mark.parametrize("a, b", [(VirtAddr(1), PhysAddr(2)), (PhysAddr(1), VirtAddr(2)),
                                  (VirtAddr(1), PageNumber(2)), (CapIndex(1), 2),
                                  (CpuNumber(1), 2), (PhysAddr(1), 2)])
def test_ordering_across_kinds_is_refused(op, a, b):
    with pytest.raises(TypeError, match="compares only with"):
        op(a, b)


@pytest.mark.parametrize("addr", [VirtAddr(0x5000), PhysAddr(0x5000)])
def test_page_number_where_a_byte_count_is_expected(addr):
    with pytest.raises(TypeError, match="counts pages, not bytes"):
        addr + PageNumber(1)
    with pytest.raises(TypeError, match="counts pages, not bytes"):
        addr - PageNumber(1)
    with pytest.raises(TypeError, match="pfn"):
        PageNumber(1) + addr


@pytest.mark.parametrize("bad", [1.0, True, "1", None])
def test_only_plain_integer_counts(bad):
    with pytest.raises(TypeError, match="plain integer count"):
        VirtAddr(0x1000) + bad
    with pytest.raises(TypeError):
        VirtAddr(0x1000) - bad


def test_count_minus_position_is_refused():
    with pytest.raises(TypeError, match="not the other way round"):
        5 - VirtAddr(1)


def test_cpu_numbers_have_no_arithmetic():
    with pytest.raises(TypeError):
        CpuNumber(1) + 1
    assert CpuNumber(1) < CpuNumber(2) and CpuNumber(3) == CpuNumber(3)


# ---- equality, hashing, no implicit int -------------------------------------------------

def test_equality_only_within_a_kind():
    assert VirtAddr(0x1000) == VirtAddr(0x1000) and VirtAddr(1) != VirtAddr(2)
    assert VirtAddr(0x1000) != None and not PhysAddr(1) == "1"   # noqa: E711 - other objects
    assert len({VirtAddr(1), VirtAddr(1), PhysAddr(1), PageNumber(1), CapIndex(1)}) == 4
    assert sorted([PhysAddr(3), PhysAddr(1)]) == [PhysAddr(1), PhysAddr(3)]
    assert {VirtAddr(7): "x"}[VirtAddr(7)] == "x"


@pytest.mark.parametrize("cls", ALL_TYPES)
@pytest.mark.parametrize("other", [0x1000, True, np.uint64(0x1000), 4096.0, "VirtAddr",
                                   PhysAddr(0x1000), VirtAddr(0x1000)])
def test_comparing_with_a_number_or_another_kind_raises(cls, other):
    """`VirtAddr(0x1000) == 0x1000` must not be silently False: an assertion comparing
    them would pass or fail by accident. Numbers and other kinds raise, both ways round."""
    x = cls(0x1000)
    if other.__class__ is cls or isinstance(other, str):
        assert (x == other) == (other.__class__ is cls)
        return
    for compare in (lambda: x == other, lambda: other == x, lambda: x != other,
                    lambda: other != x):
        with pytest.raises(TypeError, match="compares only with"):
            compare()


@pytest.mark.parametrize("cls", ALL_TYPES)
def test_no_implicit_integer_conversion(cls):
    x = cls(1)
    assert not hasattr(cls, "__index__") and not hasattr(cls, "__int__")
    with pytest.raises(TypeError):
        range(x)
    with pytest.raises(TypeError):
        [0, 1, 2][x]
    with pytest.raises(TypeError):
        operator.index(x)
    with pytest.raises(TypeError):
        hex(x)
    with pytest.raises(TypeError):
        int(x)                  # explicit conversion is .value (see the module docstring)
    assert x.value == 1 and int_value(x) == 1


@pytest.mark.parametrize("cls", ALL_TYPES)
def test_cffi_refuses_typed_values_as_integers(cls):
    ffi = cffi.FFI()
    with pytest.raises(TypeError):
        ffi.cast("uint64_t", cls(1))
    with pytest.raises(TypeError):
        ffi.new("uint64_t *", cls(1))
    ffi.cdef("typedef struct { uint64_t raw; } virt_addr_t;")
    with pytest.raises(TypeError):
        ffi.new("virt_addr_t *", [cls(1)])
    assert int(ffi.cast("uint64_t", cls(1).value)) == 1


def test_cffi_would_accept_an_int_lookalike():
    # Why the types have no __int__: cffi converts any object that has one.
    class WithInt:
        def __int__(self):
            return 7
    assert int(cffi.FFI().cast("uint64_t", WithInt())) == 7


@pytest.mark.parametrize("ctype, cls", [("virt_addr_t", VirtAddr), ("phys_addr_t", PhysAddr),
                                        ("page_number_t", PageNumber),
                                        ("cpu_number_t", CpuNumber), ("cap_index_t", CapIndex)])
def test_the_real_boundary_types_refuse_typed_values(ffi, ctype, cls):
    with pytest.raises(TypeError):
        ffi.new(f"{ctype} *", [cls(1)])
    with pytest.raises(TypeError):
        ffi.new(f"{ctype} *", {"raw": cls(1)})
    assert ffi.new(f"{ctype} *", [cls(1).value]).raw == 1


# ---- immutability, repr, conversions ---------------------------------------------------

@pytest.mark.parametrize("cls", ALL_TYPES)
def test_immutable_and_picklable(cls):
    x = cls(5)
    with pytest.raises(AttributeError):
        x.value = 6
    with pytest.raises(AttributeError):
        x.other = 1
    with pytest.raises(AttributeError):
        del x.value
    assert x.value == 5 and not hasattr(x, "__dict__")
    assert pickle.loads(pickle.dumps(x)) == x and copy.deepcopy(x) == x


def test_repr_and_format():
    assert repr(VirtAddr(0x1000)) == "VirtAddr(0x1000)"
    assert repr(PhysAddr(0)) == "PhysAddr(0x0)"
    assert repr(PageNumber(0x1F)) == "PageNumber(0x1f)"
    assert repr(CapIndex(5)) == "CapIndex(5)" and repr(CpuNumber(2)) == "CpuNumber(2)"
    for x in (VirtAddr(0xABC), PageNumber(3), CapIndex(9), CpuNumber(1)):
        assert eval(repr(x)) == x
    assert f"{PhysAddr(0x2000):#x}" == "0x2000" and f"{VirtAddr(1)}" == "VirtAddr(0x1)"
    assert not VirtAddr(0) and VirtAddr(1)


def test_page_conversions():
    assert PhysAddr(0x5123).pfn() == PageNumber(5)
    assert VirtAddr(0x5123).pfn() == PageNumber(5)
    assert PageNumber(5).phys() == PhysAddr(0x5000)
    assert PageNumber(5).virt() == VirtAddr(0x5000)
    assert PhysAddr(0xC000).pfn(shift=14) == PageNumber(3)       # 16 KiB pages (MIPS)
    assert PageNumber(3).phys(14) == PhysAddr(0xC000)
    assert PageNumber(U64 >> 12).phys() == PhysAddr(U64 & ~0xFFF)
    with pytest.raises(ValueError):
        PageNumber(1 << 52).phys()
    with pytest.raises(ValueError):
        PhysAddr(1).pfn(64)
    with pytest.raises(TypeError):
        PhysAddr(1).pfn(12.0)


def test_cap_index_selectors():
    assert CapIndex(5).selector == 0x5000
    assert CapIndex.from_selector(0x5000) == CapIndex(5)
    assert CapIndex.from_selector(0x5000 | 0x3) == CapIndex(5)          # operation flags
    assert CapIndex.from_selector(((1 << 20) - 1) << 12).value == (1 << 20) - 1
    with pytest.raises(ValueError, match="invalid"):
        CapIndex.from_selector(0xFFFFFFFFFFFFF800)                       # L4_INVALID_CAP
    with pytest.raises(ValueError, match="reply"):
        CapIndex.from_selector(0x5000 | 0x400)
    with pytest.raises(ValueError):
        CapIndex.from_selector(1 << 32)                                  # index 2^20
    with pytest.raises(TypeError):
        CapIndex.from_selector(CapIndex(5))


def test_expect():
    pa = PhysAddr(0x1000)
    assert expect(pa, PhysAddr, "physical address") is pa
    assert expect(pa, (VirtAddr, PhysAddr), "address") is pa
    with pytest.raises(TypeError, match=r"expected physical address \(PhysAddr\), got int 4096; "
                                        r"wrap a plain number explicitly: PhysAddr\(0x1000\)"):
        expect(4096, PhysAddr, "physical address")
    with pytest.raises(TypeError, match=r"got PageNumber\(0x1\); use PageNumber.phys\(\)"):
        expect(PageNumber(1), PhysAddr, "physical address")
    with pytest.raises(TypeError, match="got VirtAddr.*do not mix"):
        expect(VirtAddr(1), PhysAddr, "frame")
    with pytest.raises(TypeError, match=r"CapIndex\(3\)"):
        expect(3, CapIndex, "capability index")
    with pytest.raises(TypeError, match="VirtAddr or PhysAddr"):
        expect(True, (VirtAddr, PhysAddr), "address")


# ---- the C side: pyl4re.h's typedefs refuse the same mixing -----------------------------

C_HEAD = '#include "pyl4re.h"\nstatic void want_phys(phys_addr_t p) { (void)p; }\n'
C_GOOD = C_HEAD + """
void f(void)
{
    phys_addr_t p = {0x1000};
    page_number_t n = {p.raw >> 12};
    virt_addr_t v = {0x2000};
    virt_addr_t w = v;
    cap_index_t c = {5};
    w.raw += 0x10;
    want_phys(p);
    (void)n; (void)w; (void)c;
}
"""
C_BAD = {
    "phys assigned to virt": ("virt_addr_t v; phys_addr_t p = {0};", "v = p;"),
    "two addresses added": ("phys_addr_t a = {1}, b = {2}, c;", "c = a + b;"),
    "page number passed as phys": ("page_number_t n = {1};", "want_phys(n);"),
    "plain integer passed as phys": ("", "want_phys(0x1000);"),
    "typed value used as an integer": ("phys_addr_t p = {0}; uint64_t x;", "x = p;"),
    "cap index from an integer": ("cap_index_t c;", "c = 5;"),
    "virt compared with phys": ("virt_addr_t v = {0}; phys_addr_t p = {0}; int r;", "r = v == p;"),
}


def _gcc(tmp_path, name, source):
    path = tmp_path / f"{name.replace(' ', '_')}.c"
    path.write_text(source)
    return subprocess.run(
        ["gcc", "-std=c11", "-fsyntax-only", "-Wall", "-Wextra",
         "-I", os.path.join(ROOT, "kernel_c"), "-I", os.path.join(ROOT, "arch", "x86_64"),
         "-I", os.path.join(ROOT, "kernel_c", "sched_fp"),
         str(path)], capture_output=True, text=True)


needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


@needs_gcc
def test_c_correct_use_compiles_cleanly(tmp_path):
    r = _gcc(tmp_path, "good", C_GOOD)
    assert r.returncode == 0 and r.stderr == "", r.stderr


@needs_gcc
@pytest.mark.parametrize("name", sorted(C_BAD))
def test_c_mixing_is_a_compile_error(tmp_path, name):
    decls, offending = C_BAD[name]
    source = C_HEAD + "void f(void)\n{\n    " + decls + "\n    " + offending + "\n}\n"
    line = source.count("\n", 0, source.index(offending)) + 1
    r = _gcc(tmp_path, name, source)
    assert r.returncode != 0
    # a real error on the offending line, not somewhere else (e.g. a broken header)
    assert any(f":{line}:" in ln and "error:" in ln for ln in r.stderr.splitlines()), r.stderr
