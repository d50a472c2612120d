"""L4 error codes as Python exceptions: the one table from C statuses to exceptions.

The C core and the control plane speak l4sys: 0 or a negative `-L4_Exxx`. The Pythonic
harness API turns a negative status into an `L4Error` subclass that is also the matching
builtin (an out-of-quota `L4NoMemoryError` is a `MemoryError`), so both an L4Re engineer
(`err.code == L4_ENOMEM`) and a Python developer (`except MemoryError`) are at home.
"""
from . import _core

_ffi, _lib = _core.abi_build()


class L4Error(Exception):
    """A kernel operation failed with an L4 error code (`code` is positive, e.g. L4_EPERM)."""

    def __init__(self, code, what=""):
        self.code = code
        name = ERROR_NAMES.get(code, f"L4 error {code}")
        super().__init__(f"{what}: {name} (-{code})" if what else f"{name} (-{code})")


class L4PermissionError(L4Error, PermissionError):
    """-L4_EPERM: the capability lacks a right the operation needs."""


class L4NotFoundError(L4Error, LookupError):
    """-L4_ENOENT: no object where one was named."""


class L4NoMemoryError(L4Error, MemoryError):
    """-L4_ENOMEM: the factory's quota (or the kernel pool) is exhausted."""


class L4InvalidArgumentError(L4Error, ValueError):
    """-L4_EINVAL: a malformed argument."""


class L4RangeError(L4Error, ValueError):
    """-L4_ERANGE: a value outside its range."""


class L4NoDeviceError(L4Error, ValueError):
    """-L4_ENODEV: a factory was asked for a kind of object it cannot make."""


class L4NotSupportedError(L4Error, NotImplementedError):
    """-L4_ENOSYS: unknown operation, or a feature not configured."""


class L4BusyError(L4Error):
    """-L4_EBUSY."""


class L4ExistsError(L4Error):
    """-L4_EEXIST."""


# Names come from the C enum itself; the IPC range markers are not errors.
ERROR_NAMES = {v: n for n, v in _ffi.typeof("enum l4_error_code").relements.items()
               if n not in ("L4_EIPC_LO", "L4_EIPC_HI", "L4_ERRNOMAX")}

_CLASSES = {
    _lib.L4_EPERM: L4PermissionError,
    _lib.L4_ENOENT: L4NotFoundError,
    _lib.L4_ENOMEM: L4NoMemoryError,
    _lib.L4_EINVAL: L4InvalidArgumentError,
    _lib.L4_ERANGE: L4RangeError,
    _lib.L4_ENODEV: L4NoDeviceError,
    _lib.L4_ENOSYS: L4NotSupportedError,
    _lib.L4_EBUSY: L4BusyError,
    _lib.L4_EEXIST: L4ExistsError,
}


def error_for(code, what=""):
    """The exception for a positive L4 error code."""
    return _CLASSES.get(code, L4Error)(code, what)


def check(status, what=""):
    """Return a non-negative status; raise the matching L4Error for a negative one."""
    if status < 0:
        raise error_for(-status, what)
    return status
