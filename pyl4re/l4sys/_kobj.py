"""Plumbing shared by the µApp-side kernel-object calls (factory, task, thread, ipc_gate,
scheduler, irq, ...): argument checks (every capability argument through `cap`) and the one kind of kernel entry they all make, a call with
no timeout on the object's capability (l4sys: `l4_ipc_call(obj, u, tag, L4_IPC_NEVER)`).

The message goes into the running thread's UTCB (`l4_utcb()`), exactly as l4sys builds
it. Nothing here keeps state between calls: what spans calls (thread control) lives in the
UTCB, as in l4sys.
"""
from .. import traps
from . import _check
from .consts import L4_IPC_NEVER, L4_SYSF_CALL
from .fpage import l4_fpage_t
from .msgtag import _tag_of_raw

U64 = (1 << 64) - 1
_SEL_FLAGS = 0xF                 # l4_ipc_call ORs its operation into these selector bits


def word(value, fn, what):
    """An l4_umword_t argument: an int 0..2^64-1."""
    if value.__class__ is int and 0 <= value <= U64:
        return value
    return _check.in_range(value, 0, U64, f"{fn}: {what}", hex_=True)


_STRAY = _check.BELOW_INDEX & ~_check.SPECIAL


def cap(value, fn, what):
    """A capability-selector argument: a selector or a CapIndex (_check.selector)."""
    if value.__class__ is int and 0 <= value <= U64 and not value & _STRAY:
        return value
    return _check.selector(value, f"{fn}: {what}")


def sword(value, fn, what):
    """An l4_mword_t argument (signed), as the word that goes into a message register."""
    if not (value.__class__ is int and -(1 << 63) <= value < 1 << 63):
        value = _check.in_range(value, -(1 << 63), (1 << 63) - 1, f"{fn}: {what}")
    return value & U64


def fpage(value, fn, what):
    """An l4_fpage_t argument, as its raw word."""
    if value.__class__ is not l4_fpage_t:
        raise TypeError(f"{fn}: {what} must be an l4_fpage_t (l4_fpage(), l4_obj_fpage()), "
                        f"not {type(value).__name__}")
    return value.raw


tag = _tag_of_raw


async def call(obj, tag_raw):
    """l4_ipc_call(obj, l4_utcb(), tag, L4_IPC_NEVER); returns the reply's l4_msgtag_t."""
    raw, _ = await traps.enter((obj & ~_SEL_FLAGS) | L4_SYSF_CALL, tag_raw, 0, L4_IPC_NEVER)
    return tag(raw)
