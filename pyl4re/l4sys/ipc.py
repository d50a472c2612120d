"""IPC for µApps, with l4sys names and argument order (§3, §4, §6.3): each call is one
kernel entry through `pyl4re.traps.enter`, so it returns at once when the kernel finishes
at once and waits (yields to the run loop) only when the thread has to.

Each function checks its arguments when called and returns the kernel entry to await:
`traps.enter`, a generator-based coroutine, or for the calls with no label register the
fast entry `traps.enter_tag` (an awaitable in C, pyl4re/_entry.c). The µApp's own await
drives it, with no coroutine level in between, as this is the µApp hot path. A forgotten
`await` enters nothing (neither draws a "never awaited" warning).

`utcb` arguments are accepted for l4sys compatibility and must be the running thread's
UTCB (or None): the kernel always uses the caller's own UTCB, as the real one does.
"""
from .. import _entry, traps
from . import _check
from .consts import (
    L4_INVALID_CAP, L4_IPC_BOTH_TIMEOUT_0, L4_SYSF_CALL, L4_SYSF_RECV, L4_SYSF_REPLY_AND_WAIT,
    L4_SYSF_SEND, L4_SYSF_SEND_AND_WAIT, L4_SYSF_WAIT,
)
from .msgtag import l4_msgtag_t, _tag_of_raw
from .utcb import set_utcb_provider

_U64 = (1 << 64) - 1
_SEL_FLAGS = 0xF
_STRAY = _check.BELOW_INDEX & ~_check.SPECIAL   # the operation goes in `flags`, not dest


def _check_args(dest, utcb, tag, timeout, fn, what="dest"):
    """The arguments' checks in full: (dest, timeout) as plain ints, or TypeError /
    ValueError naming the function and the argument. The calls below test the common
    case inline and come here only when that fails."""
    if not (dest.__class__ is int and 0 <= dest <= _U64 and not dest & _STRAY):
        dest = _check.selector(dest, f"{fn}: {what}")
    if tag.__class__ is not l4_msgtag_t:
        raise TypeError(f"{fn}: tag must be an l4_msgtag_t (build one with l4_msgtag()), "
                        f"not {type(tag).__name__}")
    if not (timeout.__class__ is int and 0 <= timeout <= 0xFFFFFFFF):
        timeout = _check.in_range(timeout, 0, 0xFFFFFFFF, f"{fn}: timeout", hex_=True)
    if utcb is not None and utcb is not (traps._current[0] or traps.running()).utcb:
        raise ValueError(f"{fn}: utcb is not the calling thread's UTCB (use l4_utcb())")
    return dest, timeout


def _running_utcb():
    return traps.running().utcb


# l4_utcb() (utcb.py) is the running µApp thread's UTCB from now on.
set_utcb_provider(_running_utcb)

_TAG0 = l4_msgtag_t(0)
_REPLY_AND_WAIT = L4_INVALID_CAP | L4_SYSF_REPLY_AND_WAIT
_OPEN_WAIT = L4_INVALID_CAP | L4_SYSF_WAIT

_SLEEP = L4_INVALID_CAP | L4_SYSF_RECV

# The IPC calls below are each the definition of the call: its checks in full
# (_check_args) and its kernel entry. The ones with no label register are then wrapped
# in _fast (pyl4re/_entry.c, FastCall), which tests their common case in C (plain-int
# selector and timeout in range, the selector with no stray bits, an l4_msgtag_t, the
# caller's own UTCB or None) and makes the kernel entry at once; any other arguments
# reach the Python function, whose checks raise or convert. A checked selector has its
# low four bits clear (they are stray bits), so `dest + L4_SYSF_*` is `dest | L4_SYSF_*`.


def _fast(fn, word, has_dest, has_tag, with_label):
    """fn, with its common case checked and entered in C: the entry's dest word is the
    selector | word (or word alone for a call with no selector argument)."""
    return _entry.FastCall(fn, word, _STRAY if has_dest else 0, has_dest, has_tag,
                           with_label)


def l4_ipc(dest, utcb, flags, slabel, tag, timeout):
    """The generic IPC: selector, L4_SYSF_* flags, label register, tag, timeouts.
    Returns (tag, label)."""
    sel, timeout = _check_args(dest, utcb, tag, timeout, "l4_ipc")
    flags = _check.in_range(flags, 0, _SEL_FLAGS, "l4_ipc: flags")
    slabel = _check.in_range(slabel, 0, _U64, "l4_ipc: slabel", hex_=True)
    return traps.enter(sel | flags, tag.raw, slabel, timeout, _tag_and_label)


def _tag_and_label(raw, label):
    return _tag_of_raw(raw), label


def l4_ipc_call(dest, utcb, tag, timeout):
    """Send to dest, then wait for its reply (closed wait). Returns the reply's tag."""
    dest, timeout = _check_args(dest, utcb, tag, timeout, "l4_ipc_call")
    return traps.enter_tag(dest + L4_SYSF_CALL, tag.raw, timeout)


def l4_ipc_send(dest, utcb, tag, timeout):
    """Send only. Check the result with l4_ipc_error(), not l4_error() (§1)."""
    dest, timeout = _check_args(dest, utcb, tag, timeout, "l4_ipc_send")
    return traps.enter_tag(dest + L4_SYSF_SEND, tag.raw, timeout)


def l4_ipc_receive(obj, utcb, timeout):
    """Closed wait: a message from obj only (a thread, or an IRQ)."""
    obj, timeout = _check_args(obj, utcb, _TAG0, timeout, "l4_ipc_receive", "obj")
    return traps.enter_tag(obj + L4_SYSF_RECV, 0, timeout)


def l4_ipc_wait(utcb, timeout):
    """Open wait: the next message from anyone. Returns (tag, label)."""
    _, timeout = _check_args(L4_INVALID_CAP, utcb, _TAG0, timeout, "l4_ipc_wait")
    return traps.enter_tag_label(_OPEN_WAIT, 0, timeout)


def l4_ipc_reply_and_wait(utcb, tag, timeout):
    """Reply through the implicit reply capability, then wait. Returns (tag, label)."""
    _, timeout = _check_args(L4_INVALID_CAP, utcb, tag, timeout, "l4_ipc_reply_and_wait")
    return traps.enter_tag_label(_REPLY_AND_WAIT, tag.raw, timeout)


def l4_ipc_send_and_wait(dest, utcb, tag, timeout):
    """Send to dest, then wait for anyone. Returns (tag, label)."""
    dest, timeout = _check_args(dest, utcb, tag, timeout, "l4_ipc_send_and_wait")
    return traps.enter_tag_label(dest + L4_SYSF_SEND_AND_WAIT, tag.raw, timeout)


def l4_ipc_sleep(timeout):
    """Receive from no one: RETIMEOUT is success, RECANCELED means ex_regs woke us."""
    if not (timeout.__class__ is int and 0 <= timeout <= 0xFFFFFFFF):
        _, timeout = _check_args(L4_INVALID_CAP, None, _TAG0, timeout, "l4_ipc_sleep")
    return traps.enter_tag(_SLEEP, 0, timeout)


def l4_thread_yield():
    """Give up the rest of the time slice to threads of the same priority."""
    return traps.enter_tag(_SLEEP, 0, L4_IPC_BOTH_TIMEOUT_0)


l4_ipc_call = _fast(l4_ipc_call, L4_SYSF_CALL, True, True, False)
l4_ipc_send = _fast(l4_ipc_send, L4_SYSF_SEND, True, True, False)
l4_ipc_receive = _fast(l4_ipc_receive, L4_SYSF_RECV, True, False, False)
l4_ipc_wait = _fast(l4_ipc_wait, _OPEN_WAIT, False, False, True)
l4_ipc_reply_and_wait = _fast(l4_ipc_reply_and_wait, _REPLY_AND_WAIT, False, True, True)
l4_ipc_send_and_wait = _fast(l4_ipc_send_and_wait, L4_SYSF_SEND_AND_WAIT, True, True, True)

__all__ = ["l4_ipc", "l4_ipc_call", "l4_ipc_send", "l4_ipc_receive", "l4_ipc_wait",
           "l4_ipc_reply_and_wait", "l4_ipc_send_and_wait", "l4_ipc_sleep", "l4_thread_yield"]
