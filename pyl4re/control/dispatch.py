"""The control plane's front door: a slow-path kernel entry, dispatched by object type.

When C answers a µApp's kernel entry with SYS_SLOWPATH, the trap hands it here. The
handler for the invoked object's kind decodes the message in the caller's UTCB by the
real protocol and opcode (§8), acts through C, writes the reply words, and returns the
reply; `invoke()` then finishes the entry in C (sys_complete) so time, scheduling and the
caller's result go the one way every other entry goes.
"""
from .. import _core
from . import debugger, factory, gate, icu, irq, log, scheduler, task, thread
from .invocation import Invocation, reply

_lib = _core.abi()


class ControlPlane:
    """Routes slow-path entries of one kernel to the handler of the invoked object's kind."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.handlers = {
            _lib.KOBJ_FACTORY: factory.invoke,
            _lib.KOBJ_TASK: task.invoke,
            _lib.KOBJ_THREAD: thread.invoke,
            _lib.KOBJ_GATE: gate.invoke,
            _lib.KOBJ_SCHEDULER: scheduler.invoke,
            _lib.KOBJ_ICU: icu.invoke,
            _lib.KOBJ_IRQ: irq.invoke,
            _lib.KOBJ_SEMAPHORE: irq.invoke,
            _lib.KOBJ_LOG: log.invoke,
            _lib.KOBJ_DEBUGGER: debugger.invoke,
        }

    def register(self, kind, handler):
        self.handlers[kind] = handler

    def invoke(self, cur, res, dest, tag):
        """Handles the entry described by `res` (the selector word `dest` and the `tag` it
        was made with) for the running thread `cur`; returns the kernel entry's status as
        sys_complete gives it."""
        k = self.kernel
        inv = Invocation(k, cur, res, dest, tag)
        handler = self.handlers.get(inv.type, unsupported)
        answer = handler(inv)
        err = 0
        if isinstance(answer, tuple):
            err, answer = answer[1], 0
        if err:
            k._note_error(inv, err)
        elif answer >> 63 and (answer >> 16) & 0xFFFF:
            k._note_error(inv, None, result=(answer >> 16) - (1 << 48))
        # sys_complete also ends the entry of a caller the operation took off its CPU
        # (SYS_SUSPEND) or deleted (SYS_GONE).
        return k._lib.sys_complete(k._k, [inv.thread], answer, err, cur.result)


def unsupported(inv):
    """Kernel objects whose protocols arrive with later work answer -L4_ENOSYS."""
    return reply(-_lib.L4_ENOSYS)
