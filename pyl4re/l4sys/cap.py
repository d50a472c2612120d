"""Capability selectors (spec §6.1, §6.2), with l4sys names.

A selector is a plain int: index << L4_CAP_SHIFT, with operation flags in bits 0..3, the
reply-cap bit 10 and the invalid bit 11 below the index. These helpers are as small as
l4sys's and do no range checks (a selector is any mword). The calls that take a
capability check it with _check.selector (a selector or a CapIndex; other bits below the
index are refused). The L4_BASE_*_CAP selectors are re-exported from consts.
"""
from .consts import (  # noqa: F401  (re-exported)
    L4_BASE_ARM_SMCCC_CAP, L4_BASE_CAPS_LAST, L4_BASE_DEBUGGER_CAP, L4_BASE_FACTORY_CAP,
    L4_BASE_ICU_CAP, L4_BASE_IOMMU_CAP, L4_BASE_LOG_CAP, L4_BASE_PAGER_CAP,
    L4_BASE_SCHEDULER_CAP, L4_BASE_TASK_CAP, L4_BASE_THREAD_CAP, L4_CAP_OFFSET, L4_CAP_SHIFT,
    L4_INVALID_CAP, L4_INVALID_CAP_BIT,
)


def l4_is_invalid_cap(c):
    """True for L4_INVALID_CAP and any selector with the invalid bit."""
    return bool(c & L4_INVALID_CAP_BIT)


def l4_is_valid_cap(c):
    return not c & L4_INVALID_CAP_BIT


def l4_capability_equal(c1, c2):
    """True if both selectors name the same slot (flag bits are ignored)."""
    return c1 >> L4_CAP_SHIFT == c2 >> L4_CAP_SHIFT


def l4_capability_next(c):
    """The selector of the next slot."""
    return c + L4_CAP_OFFSET


__all__ = ["l4_is_invalid_cap", "l4_is_valid_cap", "l4_capability_equal", "l4_capability_next"]
