"""The µApp side of the kernel boundary: the running thread, and the one place that yields.

Every operation that enters the kernel calls `enter()`. It performs the kernel entry in C
right away; when the kernel finishes at once (SYS_DONE) the µApp goes on without ever
returning to the run loop. Only when the thread must wait (SYS_SUSPEND) does `_suspend()`
yield, the only `yield` in pyl4re, and the run loop sends the result back in later.
Slow-path objects (SYS_SLOWPATH) are handed to the control plane, synchronously. Traps
are plain data: the loop never receives a callable from a µApp.
"""
import types

from .errors import L4Error

SUSPEND = "pyl4re-suspend"        # the only value a µApp coroutine yields to the loop


class ThreadGone(BaseException):
    """The running thread was deleted while it was in the kernel: its code ends here."""


class JumpTo(BaseException):
    """An exception handler moved the thread to another ip: its current code ends and
    the run loop starts the code there."""


class UnhandledTrap(RuntimeError):
    """A trap with no exception handler to tell: the thread cannot go on."""


class _Current:
    __slots__ = ("kernel", "thread", "ref", "task", "utcb", "call", "result")

    def __init__(self):
        self.kernel = None


current = _Current()


def running():
    """The running thread's context; RuntimeError outside a µApp."""
    if current.kernel is None:
        raise RuntimeError("no current thread: this works only inside a µApp "
                           "(a coroutine run by Kernel.run())")
    return current


@types.coroutine
def _suspend():
    return (yield SUSPEND)


async def enter(dest, tag, label, timeout):
    """One kernel entry: capability selector | L4_SYSF_* flags, the tag's raw word, the
    label register and the timeout pair. Returns (tag raw, label) once it completes."""
    cur = running()
    k, call, res = cur.kernel, cur.call, cur.result
    lib = k._lib
    while True:
        # The structs are the kernel's, shared by all its threads: fill them every time.
        call.dest, call.tag, call.label, call.timeout = dest, tag, label, timeout
        status = lib.sys_invoke(k._k, cur.ref, call, res)
        if status == lib.SYS_SLOWPATH:
            status = k._control.invoke(cur, res)
        if status == lib.SYS_DONE:
            return res.tag, res.label
        if status == lib.SYS_GONE:
            raise ThreadGone()
        if status < 0:
            raise L4Error(-status, "kernel entry refused: the run loop's thread is not running")
        out_tag, out_label, restart = await _suspend()
        if not restart:            # a gate got bound under a waiting sender: enter again
            return out_tag, out_label


async def trap(trapno, err=0):
    """Raise a CPU exception (§10.2): the thread calls its exception handler with its
    registers in the architecture's l4_exc_regs_t layout. If the reply moves the thread
    to another ip, it continues there; otherwise this returns."""
    for value, what in ((trapno, "trapno"), (err, "err")):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 32:
            raise ValueError(f"{what} must be an int 0..2^32-1, not {value!r}")
    cur = running()
    k = cur.kernel
    lib = k._lib
    status = lib.thread_exception(k._k, cur.ref, trapno, err, 0)
    if status == lib.SYS_FAULT:
        raise UnhandledTrap(f"trap {trapno:#x}: the thread has no exception handler")
    if status == lib.SYS_GONE:
        raise ThreadGone()
    await _suspend()
    out = k._exc_result
    lib.thread_exception_done(k._k, cur.ref, out)
    if out.ip_changed:
        raise JumpTo(out.ip)


async def compute(ns):
    """Keep the CPU busy for `ns` nanoseconds of virtual time (preemptible)."""
    if isinstance(ns, bool) or not isinstance(ns, int) or ns < 0:
        raise ValueError(f"compute() takes a non-negative int of nanoseconds, not {ns!r}")
    cur = running()
    k = cur.kernel
    status = k._lib.sys_compute(k._k, cur.ref, ns)
    if status == k._lib.SYS_GONE:
        raise ThreadGone()
    if status == k._lib.SYS_SUSPEND:
        await _suspend()
