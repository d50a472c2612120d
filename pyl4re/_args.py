"""Checks of what harness code passes in, before any of it reaches cffi.

cffi's own complaints ("int too big to convert", "an integer is required") name neither
the argument nor what it may be, and an object of the wrong kind fails later, deep inside,
as an AttributeError. These helpers fail at the call instead: a wrong type is a TypeError,
a value out of range a ValueError, each naming the argument and what it accepts. The
µApp-side l4sys checks live in l4sys/_check.py; the integer ones are reused from there.
"""
from .l4sys._check import in_range

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1


def word(value, what, lo=0, hi=U64_MAX):
    """An int in lo..hi (a 64-bit word by default)."""
    return in_range(value, lo, hi, what, hex_=hi > U32_MAX)


def u32(value, what, lo=0):
    return in_range(value, lo, U32_MAX, what)


def instance(value, cls, what, kernel=None):
    """`value` if it is a `cls` (and, given `kernel`, one of that kernel), else TypeError."""
    if isinstance(value, cls) and (kernel is None or getattr(value, "kernel", None) is kernel):
        return value
    of = " of this kernel" if kernel is not None and isinstance(value, cls) else ""
    names = cls.__name__ if isinstance(cls, type) else " or ".join(c.__name__ for c in cls)
    raise TypeError(f"{what} must be a {names}{of}, not {type(value).__name__} {value!r}"[:200])


def text(value, what):
    """A str (names end up in logs, traces and JSON)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__} {value!r}"[:200])
    return value
