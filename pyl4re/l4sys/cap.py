"""Capability selectors (spec §6.1, §6.2), with l4sys names.

A selector is a plain int: index << L4_CAP_SHIFT, with operation flags in bits 0..3, the
reply-cap bit 10 and the invalid bit 11 below the index. These helpers are as small as
l4sys's and do no range checks (a selector is any mword). The calls that take a
capability check it with _check.selector (a selector or a CapIndex; other bits below the
index are refused). The L4_BASE_*_CAP selectors are re-exported from consts.
"""
from . import _check
from .consts import (  # noqa: F401  (re-exported)
    L4_BASE_ARM_SMCCC_CAP, L4_BASE_CAPS_LAST, L4_BASE_DEBUGGER_CAP, L4_BASE_FACTORY_CAP,
    L4_BASE_ICU_CAP, L4_BASE_IOMMU_CAP, L4_BASE_LOG_CAP, L4_BASE_PAGER_CAP,
    L4_BASE_SCHEDULER_CAP, L4_BASE_TASK_CAP, L4_BASE_THREAD_CAP, L4_CAP_OFFSET, L4_CAP_SHIFT,
    L4_INVALID_CAP, L4_INVALID_CAP_BIT,
)


_ANY_LOW_BITS = _check.BELOW_INDEX       # these helpers look at (or ignore) every low bit


def _sel(c, what, allowed=_ANY_LOW_BITS):
    if c.__class__ is int and 0 <= c <= _check.U64 and not c & _check.BELOW_INDEX & ~allowed:
        return c
    return _check.selector(c, what, allowed)


def l4_is_invalid_cap(c):
    """True for L4_INVALID_CAP and any selector with the invalid bit."""
    return bool(_sel(c, "l4_is_invalid_cap: c") & L4_INVALID_CAP_BIT)


def l4_is_valid_cap(c):
    return not _sel(c, "l4_is_valid_cap: c") & L4_INVALID_CAP_BIT


def l4_capability_equal(c1, c2):
    """True if both selectors name the same slot (flag bits are ignored)."""
    return (_sel(c1, "l4_capability_equal: c1") >> L4_CAP_SHIFT
            == _sel(c2, "l4_capability_equal: c2") >> L4_CAP_SHIFT)


def l4_capability_next(c):
    """The selector of the next slot (c a selector or a CapIndex; an index is refused)."""
    return _sel(c, "l4_capability_next: c", _check.SPECIAL) + L4_CAP_OFFSET


__all__ = ["l4_is_invalid_cap", "l4_is_valid_cap", "l4_capability_equal", "l4_capability_next"]
