"""Argument checks shared by the l4sys helpers.

The hot paths test `value.__class__ is int` and a range inline and call in here only when
that fails, so a correct call costs two comparisons. These helpers either return a plain
int or raise TypeError/ValueError naming the function, the argument and the allowed range.
They must not guess: bool, float, str and the typed values of pyl4re.types are refused,
except that a capability-selector argument (`selector`) also takes a `CapIndex`: that
conversion is unambiguous, and it is the spelling a harness author reaches for.
"""
import operator

from ..types import CapIndex
from .consts import L4_CAP_SHIFT, L4_INVALID_CAP_BIT, L4_REPLY_CAP_BIT

U64 = (1 << 64) - 1
BELOW_INDEX = (1 << L4_CAP_SHIFT) - 1            # the selector bits below the index
SPECIAL = L4_REPLY_CAP_BIT | L4_INVALID_CAP_BIT  # L4_INVALID_CAP, reply-cap selectors


def integer(value, what):
    """`value` as a plain int; TypeError if it is not an integer (bool counts as not)."""
    if value.__class__ is int:
        return value
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected an integer, got bool {value!r}")
    try:
        return operator.index(value)   # numpy integers and int subclasses
    except TypeError:
        raise TypeError(f"{what}: expected an integer, got {type(value).__name__} "
                        f"{value!r}") from None


def in_range(value, lo, hi, what, hex_=False):
    """`value` as an int in lo..hi (inclusive), else TypeError/ValueError."""
    value = integer(value, what)
    if lo <= value <= hi:
        return value
    if hex_:
        raise ValueError(f"{what}: {value:#x} is out of range {lo:#x}..{hi:#x}")
    raise ValueError(f"{what}: {value} is out of range {lo}..{hi}")


def selector(value, what, allowed=SPECIAL):
    """A capability-selector argument (spec §6.1) as an int: a selector (index <<
    L4_CAP_SHIFT) whose bits below the index are among `allowed` (by default the invalid
    and reply-cap bits, so L4_INVALID_CAP passes), or a CapIndex (its `.selector`).
    Anything else with bits below the index set is refused: a plain index such as
    env.first_free_cap would otherwise name slot 0 (the index sits in bits 12..63)."""
    if value.__class__ is int and 0 <= value <= U64 and not value & BELOW_INDEX & ~allowed:
        return value
    if value.__class__ is CapIndex:
        return value.selector
    value = in_range(value, 0, U64, what, hex_=True)
    stray = value & BELOW_INDEX & ~allowed
    if not stray:
        return value
    msg = (f"{what}: {value:#x} is not a capability selector (index << L4_CAP_SHIFT): "
           f"bits {stray:#x} below L4_CAP_SHIFT ({L4_CAP_SHIFT}) are set")
    if value <= BELOW_INDEX:
        msg += (f"; if {value} is a capability index, pass {value} << L4_CAP_SHIFT = "
                f"{value << L4_CAP_SHIFT:#x} or CapIndex({value})")
    raise ValueError(msg)
