"""Argument checks shared by the l4sys helpers.

The hot paths test `value.__class__ is int` and a range inline and call in here only when
that fails, so a correct call costs two comparisons. These helpers either return a plain
int or raise TypeError/ValueError naming the function, the argument and the allowed range.
They must not guess: bool, float, str and the typed values of pyl4re.types are refused.
"""
import operator


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
