"""The code registry: the "text segment" every task shares (see `entry`).

`entry(fn)` gives an async function an instruction-pointer value; a thread that ex_regs
starts at that ip runs `await fn()`. Addresses are handed out in registration order from
CODE_BASE, so the same program registers the same addresses on every run. Addresses below
CODE_BASE belong to the kernel's native programs (kernel_c/native.c). A thread sent to an
address with no code runs `no_code`: an instruction fetch, then an illegal instruction.

The registry itself holds functions weakly, so a closure that captured a kernel does not
keep that kernel alive for ever; each kernel pins the code its threads use (`pin`), and
`entry()` called inside a running µApp pins into that µApp's kernel.
"""
import inspect
import itertools
import weakref

from . import mem, traps

CODE_BASE = 0x100000
CODE_STRIDE = 0x100

_by_ip = weakref.WeakValueDictionary()
_by_fn = weakref.WeakKeyDictionary()
_next = itertools.count()


def entry(fn):
    """Register the async function `fn` as code and return its address (idempotent)."""
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"entry() needs an async function, got {fn!r}")
    ip = _by_fn.get(fn)
    if ip is None:
        ip = CODE_BASE + next(_next) * CODE_STRIDE
        _by_ip[ip] = fn
        _by_fn[fn] = ip
    kernel = traps.running_kernel()
    if kernel is not None:
        kernel._code[ip] = fn
    return ip


def code_at(ip, pins=None):
    """The function registered at ip, or None; found code is pinned into `pins`."""
    fn = pins.get(ip) if pins is not None else None
    if fn is None:
        fn = _by_ip.get(ip)
        if fn is not None and pins is not None:
            pins[ip] = fn
    return fn


class IllegalInstruction(RuntimeError):
    """What a thread meets where no code is registered: escapes as a CPU exception."""


async def no_code(ip):
    """What runs at an ip with no code, as a CPU would: fetch the instruction (a page fault
    to the pager where nothing is mapped), then find nothing it can execute. The escaping
    IllegalInstruction (or the fetch's PageFaultError) goes to the thread's exception
    handler like any escaping exception; a thread without one ends with it."""
    await mem.fetch(ip)
    raise IllegalInstruction(f"no code at ip {ip:#x}")
