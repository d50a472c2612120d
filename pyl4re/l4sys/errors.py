"""Error results of invocations (spec §3): the l4sys functions that turn a returned tag and
the UTCB's error TCR into an error code, and `l4sys_errtostr` for messages.

An IPC failure sets L4_MSGTAG_ERROR in the tag and leaves the code in the error TCR
(low 5 bits; bit 0 = phase, 0 send / 1 receive). A kernel object's own failure is a
negative label (-L4_Exxx) with no error flag. `l4_error` folds both into one negative
number. This module only reads; it never sets the TCR.
"""
from . import _check
from . import consts as _consts
from .consts import L4_EIPC_LO, L4_IPC_ERROR_MASK, L4_IPC_SND_ERR_MASK, L4_MSGTAG_ERROR
from .msgtag import l4_msgtag_label
from .utcb import _tcr_error, l4_utcb


def l4_ipc_error(tag, utcb):
    """0 if `tag` carries no error flag, else the IPC error code (L4_IPC_*) from the TCR."""
    if not tag.raw & L4_MSGTAG_ERROR:
        return 0
    return _tcr_error(utcb) & L4_IPC_ERROR_MASK


def l4_error_u(tag, utcb):
    """-(L4_EIPC_LO + code) for an IPC error, else the tag's label (0/positive on success,
    -L4_Exxx when a kernel object refused)."""
    if tag.raw & L4_MSGTAG_ERROR:
        return -(L4_EIPC_LO + (_tcr_error(utcb) & L4_IPC_ERROR_MASK))
    return l4_msgtag_label(tag)


def l4_error(tag, utcb=None):
    """As l4sys `l4_error(tag)`, which reads the current thread's UTCB: here `utcb` may be
    given explicitly; without it the current thread's (l4_utcb()) is used, which is only
    needed, and only raises for lack of a current thread, when the tag has the error flag."""
    if tag.raw & L4_MSGTAG_ERROR:
        return -(L4_EIPC_LO + (_tcr_error(utcb if utcb is not None else l4_utcb())
                               & L4_IPC_ERROR_MASK))
    return l4_msgtag_label(tag)


def l4_ipc_is_snd_error(utcb):
    """True if the failed operation failed in its send phase (phase bit clear)."""
    return not _tcr_error(utcb) & L4_IPC_SND_ERR_MASK


def l4_ipc_is_rcv_error(utcb):
    """True if the failed operation failed in its receive phase (phase bit set)."""
    return bool(_tcr_error(utcb) & L4_IPC_SND_ERR_MASK)


def l4_ipc_error_code(utcb):
    """The IPC error code in the TCR (meaningful only after a tag with the error flag)."""
    return _tcr_error(utcb) & L4_IPC_ERROR_MASK


def l4_ipc_to_errno(ipc_error_code):
    """The negative error number, -(L4_EIPC_LO + code), for an IPC error code 0..31."""
    if not (ipc_error_code.__class__ is int and 0 <= ipc_error_code <= L4_IPC_ERROR_MASK):
        ipc_error_code = _check.in_range(ipc_error_code, 0, L4_IPC_ERROR_MASK,
                                         "l4_ipc_to_errno: ipc_error_code")
    return -(L4_EIPC_LO + ipc_error_code)


# Our own wording; keyed by the constants so a value is never written twice.
_GENERIC_TEXT = {
    _consts.L4_EOK: "OK",
    _consts.L4_EPERM: "operation not permitted",
    _consts.L4_ENOENT: "no such entity",
    _consts.L4_EIO: "input/output error",
    _consts.L4_ENXIO: "no such device or address",
    _consts.L4_E2BIG: "argument list too long",
    _consts.L4_EAGAIN: "resource temporarily unavailable, try again",
    _consts.L4_ENOMEM: "out of memory (kernel memory quota exhausted?)",
    _consts.L4_EACCESS: "permission denied",
    _consts.L4_EFAULT: "bad address",
    _consts.L4_EBUSY: "object busy",
    _consts.L4_EEXIST: "object exists",
    _consts.L4_ENODEV: "no such device or object type",
    _consts.L4_ENOTDIR: "not a directory",
    _consts.L4_EINVAL: "invalid argument",
    _consts.L4_ENOSPC: "no space left",
    _consts.L4_ERANGE: "value out of range",
    _consts.L4_ENAMETOOLONG: "name too long",
    _consts.L4_ENOSYS: "operation not supported by this object",
    _consts.L4_EBADPROTO: "wrong protocol (label) for this object",
    _consts.L4_EADDRNOTAVAIL: "address not available",
    _consts.L4_ENOREPLY: "no reply",
    _consts.L4_EMSGTOOSHORT: "message too short",
    _consts.L4_EMSGTOOLONG: "message too long",
    _consts.L4_EMSGMISSARG: "message lacks an argument (capability)",
    _consts.L4_EMSGERRRANGE: "message argument out of range",
    _consts.L4_EDROPREPLY: "reply dropped",
}
_IPC_TEXT = {
    0: "no IPC error",
    _consts.L4_IPC_SETIMEOUT: "send timeout",
    _consts.L4_IPC_RETIMEOUT: "receive timeout",
    _consts.L4_IPC_ENOT_EXISTENT: "partner does not exist (invalid capability or deleted object)",
    _consts.L4_IPC_SECANCELED: "send canceled",
    _consts.L4_IPC_RECANCELED: "receive canceled",
    _consts.L4_IPC_SEMSGCUT: "send message cut (items did not fit the receive buffers)",
    _consts.L4_IPC_REMSGCUT: "receive message cut (items did not fit the receive buffers)",
    _consts.L4_IPC_SESNDPFTO: "send-pagefault timeout in send",
    _consts.L4_IPC_RESNDPFTO: "send-pagefault timeout in receive",
    _consts.L4_IPC_SERCVPFTO: "receive-pagefault timeout in send",
    _consts.L4_IPC_RERCVPFTO: "receive-pagefault timeout in receive",
    _consts.L4_IPC_SEABORTED: "send aborted",
    _consts.L4_IPC_REABORTED: "receive aborted",
    _consts.L4_IPC_SEMAPFAILED: "mapping failed in send",
    _consts.L4_IPC_REMAPFAILED: "mapping failed in receive",
    _consts.L4_IPC_NO_REPLY_CAP: "no reply capability slot",
}


def l4sys_errtostr(err):
    """A short text for an error number as l4_error() returns it (negative or 0)."""
    err = _check.integer(err, "l4sys_errtostr: err")
    code = -err
    if code in _GENERIC_TEXT:
        return _GENERIC_TEXT[code]
    if L4_EIPC_LO <= code <= _consts.L4_EIPC_HI:
        ipc = code - L4_EIPC_LO
        return "IPC error: " + _IPC_TEXT.get(ipc, f"unknown code {ipc:#x}")
    return f"unknown error {err}"


__all__ = [
    "l4_ipc_error", "l4_error", "l4_error_u", "l4_ipc_is_snd_error", "l4_ipc_is_rcv_error",
    "l4_ipc_error_code", "l4_ipc_to_errno", "l4sys_errtostr",
]
