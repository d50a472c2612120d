"""The µApp side of the kernel boundary: the running thread, and the one place that yields.

Every operation that enters the kernel calls `enter()`. It performs the kernel entry in C
right away; when the kernel finishes at once (SYS_DONE) the µApp goes on without ever
returning to the run loop. Only when the thread must wait does it yield to the loop
(SUSPEND, or SWITCHED when C has already chosen the next thread: SYS_SWITCH; `enter` is
a generator-based coroutine, so the µApp's await yields straight from it),
and the run loop resumes it later with how to go on (enum sched_resume); the result
itself is read from the scheduler's answer (`sched_out`), still the thread's own then.
A vCPU's entry may become an upcall instead (SYS_UPCALL): the code yields, the loop parks
it, and it goes on only when a vcpu_resume names it: with its result, or (RESUME_REPEAT)
by making the entry again (docs/vcpu.md).
Slow-path objects (SYS_SLOWPATH) are handed to the control plane, synchronously. Traps
are plain data: the loop never receives a callable from a µApp.
"""
import types

from . import _core, _entry
from .errors import L4Error
from .l4sys._check import in_range
from .l4sys.msgtag import _tag_of_raw

_abi = _core.abi()
SYS_SUSPEND, SYS_SLOWPATH, SYS_GONE, SYS_SWITCH, SYS_UPCALL, SYS_ALIEN = (
    _abi.SYS_SUSPEND, _abi.SYS_SLOWPATH, _abi.SYS_GONE, _abi.SYS_SWITCH, _abi.SYS_UPCALL,
    _abi.SYS_ALIEN)
RESUME_RESULT = _abi.RESUME_RESULT
SYS_SWITCH_TO = _abi.SYS_SWITCH_TO

SUSPEND = "pyl4re-suspend"        # a µApp coroutine yields one of these two to the loop:
SWITCHED = "pyl4re-switched"      # ... the second when the kernel already chose who runs next
# (or, from a fast entry, the run loop's record of the µApp C chose to go on with its
# result: SYS_SWITCH_TO)


class ThreadGone(BaseException):
    """The running thread was deleted while it was in the kernel: its code ends here."""


class JumpTo(BaseException):
    """An exception handler moved the thread to another ip: its current code ends and
    the run loop starts the code there."""


class UnhandledTrap(RuntimeError):
    """A trap with no exception handler to tell: the thread cannot go on."""


# The run loop's record of the µApp thread running now (runloop.ThreadRecord: kernel,
# thread id, ref, task, utcb, and the kernel's result structs), None between threads: the
# one item of a list, as the loop stores it on every switch and a list item is the
# cheapest store there is (a module attribute costs a dict insert).
_current = [None]


def running():
    """The running thread's context; RuntimeError outside a µApp."""
    cur = _current[0]
    if cur is None:
        raise RuntimeError("no current thread: this works only inside a µApp "
                           "(a coroutine run by Kernel.run())")
    return cur


def running_kernel():
    """The kernel whose µApp is running now, or None."""
    cur = _current[0]
    return cur.kernel if cur is not None else None


@types.coroutine
def _suspend():
    return (yield SUSPEND)


@types.coroutine
def _switched():
    return (yield SWITCHED)


@types.coroutine
def enter(dest, tag, label, timeout, wrap=None):
    """One kernel entry: capability selector | L4_SYSF_* flags, the tag's raw word, the
    label register and the timeout pair. Returns (tag raw, label) once it completes, or
    wrap(tag raw, label) when a wrap is given. A generator, not an `async def`: one frame
    less between the µApp's await and the loop on every switch."""
    cur = _current[0] or running()
    res = cur.result
    while True:
        status = cur.sys_invoke(cur.kk, cur.ref, dest, tag, label, timeout, res, cur.next)
        if status == SYS_SLOWPATH:                        # the control plane's object
            status = cur.kernel._control.invoke(cur, res, dest, tag)
        if status == 0:                                   # SYS_DONE: the thread goes on
            out_tag, out_label = res.tag, res.label
            break
        if status == SYS_SWITCH:
            resume = yield SWITCHED
        elif status == SYS_SUSPEND or status == SYS_UPCALL:
            resume = yield SUSPEND
        elif status == SYS_GONE:
            raise ThreadGone()
        elif status == SYS_ALIEN:         # an alien thread: its exception handler first
            out_tag, out_label = yield from _alien(cur, dest, tag, label, timeout)
            break
        else:
            raise L4Error(-status, "kernel entry refused: the run loop's thread is not running")
        if resume == RESUME_RESULT:       # else a gate got bound under a waiting sender:
            nxt = cur.next                # enter again
            out_tag, out_label = nxt.tag, nxt.label
            break
    return wrap(out_tag, out_label) if wrap else (out_tag, out_label)


# The fast entries of the IPC calls whose label register is 0 (all of l4sys's but l4_ipc):
# enter() for the two answers' shapes, as awaitables in C (pyl4re/_entry.c): awaiting one
# calls the core's sys_enter directly and reads the answer in place from the kernel's
# result words (struct sys_result's tag and label, or struct sched_out's when C switched
# to a µApp going on with its result: SYS_SWITCH_TO, the Trap yields that µApp's record
# and the loop resumes it at once). Anything else goes on in the general code below,
# through _rest_tag / _rest_tag_label, exactly as enter() would.
enter_tag = _entry.enter_tag                  # (dest, tag, timeout) -> l4_msgtag_t
enter_tag_label = _entry.enter_tag_label      # (dest, tag, timeout) -> (l4_msgtag_t, label)


def _general(status, dest, tag, timeout):
    """A fast entry's general path: the entry C made goes on from its status, or, with
    status None (no µApp running, or resumed but not with its result: a gate got bound),
    the entry is made in full. (tag raw, label)."""
    if status is None:
        return enter(dest, tag, 0, timeout)
    return continue_entry(status, dest, tag, 0, timeout)


@types.coroutine
def _rest_tag(status, dest, tag, timeout):
    raw = (yield from _general(status, dest, tag, timeout))[0]
    return _tag_of_raw(raw)


@types.coroutine
def _rest_tag_label(status, dest, tag, timeout):
    raw, label = yield from _general(status, dest, tag, timeout)
    return _tag_of_raw(raw), label


@types.coroutine
def _alien(cur, dest, tag, label, timeout):
    """An alien thread's kernel entry (docs/threads.md), after sys_invoke said SYS_ALIEN:
    the handler has been told of the call. When it has answered the thread makes the
    entry again (Fiasco restarts the syscall instruction): told again, unless the answer
    allowed it (L4_PROTO_ALLOW_SYSCALL), with the arguments a full register reply set; an
    allowed call runs, and the handler is told its result before the thread goes on. A
    reply that moves the thread ends its code here."""
    k = cur.kernel
    lib, kk, exc, res = k._lib, k._k, k._exc_result, cur.result
    call = k._ffi.new("uint64_t[4]", [tag, label, dest, timeout])
    status = SYS_ALIEN
    while status == SYS_ALIEN:
        yield SUSPEND
        lib.thread_alien_done(kk, cur.ref, exc, res, call)
        if exc.ip_changed:
            raise JumpTo(exc.ip)
        tag, label, dest, timeout = call       # as a full register reply may have set them
        status = cur.sys_invoke(kk, cur.ref, dest, tag, label, timeout, res, cur.next)
    out_tag, out_label = yield from continue_entry(status, dest, tag, label, timeout)
    status = lib.thread_alien_after(kk, cur.ref, out_tag, out_label)
    if status == SYS_GONE:
        raise ThreadGone()
    if status != SYS_SUSPEND:
        return out_tag, out_label             # not allowed: no longer an alien
    yield SUSPEND
    lib.thread_alien_done(kk, cur.ref, exc, res, call)
    if exc.ip_changed:
        raise JumpTo(exc.ip)
    return res.tag, res.label


@types.coroutine
def switch_by_index(record):
    """A kernel entry C made already (a C µApp's l4_ipc) switched to the µApp whose run-loop
    record this is (SYS_SWITCH_TO and above, as sys_enter answers): the record goes to the
    loop, which resumes that µApp at once; returns how this thread is resumed
    (RESUME_RESULT: with its result, in the scheduler's answer)."""
    return (yield record)


async def continue_entry(status, dest, tag, label, timeout):
    """Go on with a kernel entry C made already (a C µApp's l4_ipc, cprog.py) from the
    status sys_invoke gave it, exactly as enter() would have; returns (tag raw, label)."""
    cur = _current[0] or running()
    res = cur.result
    if status == SYS_SLOWPATH:
        status = cur.kernel._control.invoke(cur, res, dest, tag)
    if status == 0:
        return res.tag, res.label
    if status == SYS_SWITCH:
        resume = await _switched()
    elif status == SYS_SUSPEND or status == SYS_UPCALL:
        resume = await _suspend()
    elif status == SYS_GONE:
        raise ThreadGone()
    elif status == SYS_ALIEN:
        return await _alien(cur, dest, tag, label, timeout)
    else:
        raise L4Error(-status, "kernel entry refused: the run loop's thread is not running")
    if resume == RESUME_RESULT:
        return cur.next.tag, cur.next.label
    return await enter(dest, tag, label, timeout)   # a gate got bound: enter again

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
    while True:
        status = lib.thread_exception(k._k, cur.ref, trapno, err, 0)
        if status != SYS_UPCALL:
            break
        # A vCPU's exception upcall: resumed with its result, the trap was handled.
        if await _suspend() == RESUME_RESULT:
            return
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
    if ns.__class__ is not int or not 0 <= ns < 1 << 64:
        in_range(ns, 0, (1 << 64) - 1, "compute(ns): nanoseconds of work", hex_=True)
    cur = running()
    k = cur.kernel
    while True:
        status = k._lib.sys_compute(k._k, cur.ref, ns)
        if status == SYS_GONE:
            raise ThreadGone()
        if status not in (SYS_SUSPEND, SYS_UPCALL):
            return
        # A vCPU upcall parks the computation; resumed, it burns what was left.
        if await _suspend() != _abi.RESUME_REPEAT:
            return
        ns = cur.compute_left
