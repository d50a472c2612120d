"""Access to a UTCB's register blocks for the l4sys helpers (spec §2), by duck typing.

A "utcb" here is any object with `.mr`, `.br` and `.tcr`: sequences of the message,
buffer and thread control registers (the real UTCB object provides numpy views of the
task's UTCB memory; tests may use plain lists). TCR index 0 is the error register.
`l4_utcb()` is l4sys's "the current thread's UTCB": the run loop installs a provider with
`set_utcb_provider()`; until then there is no current thread and it raises. This module
must not create or own UTCB memory.
"""
from .consts import L4_UTCB_TCR_ERROR


def _no_current_thread():
    raise RuntimeError("l4_utcb(): no current thread (nothing runs a µApp yet); "
                       "pass the UTCB explicitly, e.g. l4_error_u(tag, utcb)")


_provider = _no_current_thread


def set_utcb_provider(provider):
    """Installs `provider()` as the source of the current thread's UTCB (for the run loop)
    and returns the previous one so it can be restored; None restores the default."""
    global _provider
    previous = _provider
    _provider = provider if provider is not None else _no_current_thread
    return previous


def l4_utcb():
    """The current thread's UTCB; RuntimeError if no thread is current."""
    return _provider()


def l4_utcb_mr_u(u):
    return u.mr


def l4_utcb_br_u(u):
    return u.br


def l4_utcb_tcr_u(u):
    return u.tcr


def _tcr_error(u):
    """The error TCR of `u` as a Python int."""
    try:
        tcr = u.tcr
    except AttributeError:
        raise TypeError(f"expected a UTCB (an object with .tcr), got {type(u).__name__}") from None
    return int(tcr[L4_UTCB_TCR_ERROR])


__all__ = ["l4_utcb", "set_utcb_provider", "l4_utcb_mr_u", "l4_utcb_br_u", "l4_utcb_tcr_u"]
