"""The run loop: asks C which Python thread runs next and resumes its coroutine.

The pass is fixed: `sched_next()` (C: timeouts, native threads, compute bursts, the choice
of CPU and thread) -> resume that thread's coroutine with the result of its last kernel
entry -> the coroutine runs until it has to wait (its trap yields) or ends. The loop keeps
no queue of its own: C decides who runs; Python only owns the coroutines.
"""
from dataclasses import dataclass, field

from . import traps
from .code import code_at
from .utcb import Utcb

_U64 = (1 << 64) - 1


class MicroAppError(RuntimeError):
    """A µApp raised: names the task and thread; the original exception is the cause."""


@dataclass
class RunResult:
    """What `Kernel.run()` ended with."""
    reason: str                                   # "idle", "limit", "steps", "shutdown"
    now_ns: int
    exited: dict = field(default_factory=dict)    # thread name -> return value
    failed: dict = field(default_factory=dict)    # thread name -> exception
    blocked: dict = field(default_factory=dict)   # thread name -> what it waits for
    deleted: list = field(default_factory=list)   # threads whose object was deleted
    shutdown: str = None                          # "poweroff" or "reboot" (platform control)


class ThreadRecord:
    """Python's side of one thread: its name, coroutine and UTCB view."""
    __slots__ = ("id", "ref", "_ref_owner", "name", "coro", "env", "main_ip", "utcb", "task",
                 "ended", "value", "error", "failing")

    def __init__(self, ffi, tid, name, env=None, main_ip=None):
        self.id = tid
        # The id as the C struct every kernel entry passes: converted once, here, instead
        # of on each entry (a Python list costs ~80 ns per call on the µApp path).
        self._ref_owner = ffi.new("kobj_id_t *", [tid])
        self.ref = self._ref_owner[0]
        self.name = name
        self.coro = None
        self.env = env                 # passed to the code at main_ip: the task's main
        self.main_ip = main_ip
        self.utcb = None
        self.task = None
        self.ended = False
        self.value = None
        self.error = None
        self.failing = None        # an exception its handler is being told about


class RunLoop:
    """Runs one kernel's µApps (see module doc)."""

    def __init__(self, kernel):
        self.k = kernel
        self.threads = {}            # thread id -> ThreadRecord
        self.schedule_log = [] if kernel.log_schedule else None

    def record(self, tid, name=None, env=None, main_ip=None):
        rec = self.threads.get(tid)
        if rec is None:
            rec = self.threads[tid] = ThreadRecord(self.k._ffi, tid,
                                                   name or f"thread#{tid:x}", env, main_ip)
        return rec

    def _bind(self, rec):
        """The UTCB view and task of a thread, once it is bound."""
        k = self.k
        info = k._thread_info(rec.id)
        rec.task = info.task.raw
        rec.utcb = Utcb(k.physmem, info.utcb.raw, info.utcb_va.raw)

    def run(self, until_ns=None, max_steps=None, raise_errors=True):
        k = self.k
        lib, kk = k._lib, k._k
        out = k._ffi.new("struct sched_out *")
        cur = traps.current
        result = RunResult("idle", 0)
        budget = max_steps or 0             # scheduling steps left; 0 = no limit
        hw = k.hw
        while True:
            if max_steps and budget <= 0:
                result.reason = "steps"
                break
            # Harness events (k.hw.at) are deadlines too: C stops there, the event runs.
            event = hw.next_event()
            until = until_ns or 0
            if event is not None and (not until or event < until):
                until = max(event, 1)
            status = lib.sched_next(kk, until, budget, out)
            if (event is not None and until == max(event, 1)
                    and status in (lib.SCHED_LIMIT, lib.SCHED_IDLE)):
                lib.kernel_advance_idle(kk, event)
                hw.fire_due(event)
                continue
            if max_steps:
                budget -= out.steps
            if status != lib.SCHED_RUN:
                result.reason = {lib.SCHED_IDLE: "idle", lib.SCHED_LIMIT: "limit",
                                 lib.SCHED_STEPS: "steps", lib.SCHED_SHUTDOWN: "shutdown"}[status]
                if status == lib.SCHED_SHUTDOWN:
                    result.shutdown = {lib.SHUTDOWN_POWEROFF: "poweroff", lib.SHUTDOWN_REBOOT:
                                       "reboot"}[lib.kernel_shutdown_state(kk)]
                break
            rec = self.record(out.thread.raw)
            if self.schedule_log is not None:
                self.schedule_log.append((out.cpu, lib.kernel_now_ns(kk), rec.name))
            ip = out.ip
            if rec.failing is not None:
                # Its code raised and its exception handler has answered (§10.2).
                if not self._after_exception(rec):
                    if raise_errors:
                        exc = rec.error
                        raise MicroAppError(f"µApp thread {rec.name!r} raised "
                                            f"{type(exc).__name__}: {exc}") from exc
                    continue
                ip = k._thread_info(rec.id).ip        # where the handler sent it
            if out.start or rec.coro is None:
                if not self._start(rec, ip):
                    continue
                value = None
            else:
                value = (out.tag, out.label, out.restart)
            cur.kernel, cur.thread, cur.ref = k, rec.id, rec.ref
            cur.utcb, cur.task = rec.utcb, rec.task
            cur.call, cur.result = k._call, k._result
            try:
                yielded = rec.coro.send(value)
            except StopIteration as stop:
                self._end(rec, value=stop.value)
            except traps.ThreadGone:
                self._end(rec, gone=True)
            except traps.JumpTo:
                rec.coro = None                # the handler moved it: new code at its ip
            except BaseException as exc:       # the µApp's own failure
                if self._raise_exception(rec, exc):
                    continue                   # its exception handler hears of it first
                self._end(rec, error=exc)
                if raise_errors:
                    cur.kernel = None
                    raise MicroAppError(f"µApp thread {rec.name!r} raised "
                                        f"{type(exc).__name__}: {exc}") from exc
            else:
                if yielded is not traps.SUSPEND:
                    exc = TypeError(f"µApp thread {rec.name!r} awaited {yielded!r}; µApps may "
                                    "only await pyl4re operations")
                    rec.coro.close()
                    self._end(rec, error=exc)
                    if raise_errors:
                        cur.kernel = None
                        raise MicroAppError(str(exc)) from exc
            finally:
                cur.kernel = None

        result.now_ns = lib.kernel_now_ns(kk)
        for rec in self.threads.values():
            if not k._thread_alive(rec.id):
                result.deleted.append(rec.name)
            elif rec.ended:
                (result.failed if rec.error else result.exited)[rec.name] = \
                    rec.error if rec.error else rec.value
            else:
                what = k._describe_wait(rec.id)
                if what:
                    result.blocked[rec.name] = what
        return result

    def _raise_exception(self, rec, exc):
        """An exception escaped the µApp's code: as an illegal instruction would, it goes
        to the thread's exception handler (§10.2). False if it has none."""
        k = self.k
        if isinstance(exc, traps.UnhandledTrap):
            return False
        status = k._lib.thread_exception(k._k, [rec.id], k._lib.arch_illegal_trapno(), 0, 0)
        if status != k._lib.SYS_SUSPEND:
            return False
        rec.coro.close()
        rec.coro, rec.failing = None, exc
        return True

    def _after_exception(self, rec):
        """The handler answered: the thread goes on at a new ip, or (same ip: there is no
        code left to return to) ends with its original error."""
        k = self.k
        out = k._exc_result
        k._lib.thread_exception_done(k._k, [rec.id], out)
        exc, rec.failing = rec.failing, None
        if out.ip_changed:
            return True
        self._end(rec, error=exc)
        return False

    def _start(self, rec, ip):
        """A fresh coroutine for the code at ip; a thread with no code there ends."""
        if rec.coro is not None:
            rec.coro.close()
        fn = code_at(ip, self.k._code)
        if fn is None:
            self._end(rec, error=RuntimeError(f"no code at ip {ip:#x}"))
            return False
        self._bind(rec)
        rec.coro = fn(rec.env) if rec.env is not None and ip == rec.main_ip else fn()
        rec.ended = False
        return True

    def _end(self, rec, value=None, error=None, gone=False):
        rec.ended, rec.value, rec.error = True, value, error
        if rec.coro is not None:
            rec.coro.close()
        rec.coro = None
        if not gone:
            self.k._lib.thread_exit(self.k._k, [rec.id])
