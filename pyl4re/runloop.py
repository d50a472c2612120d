"""The run loop: asks C which Python thread runs next and resumes its coroutine.

The pass is fixed: `sched_next()` (C: timeouts, native threads, compute bursts, the choice
of CPU and thread) -> resume that thread's coroutine with the result of its last kernel
entry -> the coroutine runs until it has to wait (its trap yields) or ends. The loop keeps
no queue of its own: C decides who runs; Python only owns the coroutines.

vCPUs (docs/vcpu.md): a RESUME_UPCALL parks the thread's coroutine under the continuation
ip the kernel put in r.ip and starts the entry function with the state area; a resume to
an ip (RESUME_START) continues the coroutine parked there, or starts the code registered
at it. Code that ends in vCPU user mode is an exception upcall, not the thread's end.
"""
import inspect
import weakref

from . import _entry, cprog, traps
from ._entry import chain as _chain
from .l4sys.msgtag import _interned as _interned_tags, _tag_of_raw, l4_msgtag_t
from .code import code_at, no_code
from .utcb import Utcb
from .vcpu import VcpuState, info as vcpu_info

_U64 = (1 << 64) - 1


class MicroAppError(RuntimeError):
    """A µApp raised: names the task and thread; the original exception is the cause."""


def _raised(rec, exc, message=None):
    err = MicroAppError(message or f"µApp thread {rec.name!r} raised "
                                   f"{type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err


class RunResult:
    """What `Kernel.run()` ended with: reason, now_ns and shutdown at once; the thread
    fields (exited, failed, blocked, deleted, hint) are gathered from the kernel when first
    read (one C call per known thread), so a run whose result is dropped costs nothing at
    its end. A result still alive when the kernel moves on (the next run()) is gathered
    before it does, so its fields always describe the state as its run ended."""
    _THREAD_FIELDS = ("exited", "failed", "blocked", "deleted", "hint")
    __slots__ = ("reason", "now_ns", "shutdown", "_gather", "_fields", "__weakref__")

    def __init__(self, reason, now_ns, exited=None, failed=None, blocked=None, deleted=None,
                 shutdown=None, hint=None, gather=None):
        self.reason, self.now_ns, self.shutdown = reason, now_ns, shutdown
        self._gather = gather
        self._fields = None if gather else {
            "exited": exited or {}, "failed": failed or {}, "blocked": blocked or {},
            "deleted": deleted or [], "hint": hint}

    def _thread_fields(self):
        if self._fields is None:
            gather, self._gather = self._gather, None
            self._fields = gather()
        return self._fields

    exited = property(lambda self: self._thread_fields()["exited"],
                      doc="thread name -> return value")
    failed = property(lambda self: self._thread_fields()["failed"],
                      doc="thread name -> exception")
    blocked = property(lambda self: self._thread_fields()["blocked"],
                       doc="thread name -> what it waits for")
    deleted = property(lambda self: self._thread_fields()["deleted"],
                       doc="threads whose object was deleted")
    hint = property(lambda self: self._thread_fields()["hint"],
                    doc="threads stay blocked after a failure: where to look "
                        "(explain_last_error)")

    def _astuple(self):
        f = self._thread_fields()
        return (self.reason, self.now_ns, f["exited"], f["failed"], f["blocked"],
                f["deleted"], self.shutdown, f["hint"])

    def __repr__(self):
        names = ("reason", "now_ns", "exited", "failed", "blocked", "deleted", "shutdown",
                 "hint")
        return "RunResult(" + ", ".join(f"{n}={v!r}" for n, v in
                                        zip(names, self._astuple())) + ")"

    def __eq__(self, other):
        if other.__class__ is not RunResult:
            return NotImplemented
        return self._astuple() == other._astuple()

    __hash__ = None


class ThreadRecord:
    """Python's side of one thread: its name, coroutine and UTCB view; while it runs, also
    the context its kernel entries use (traps.running())."""
    __slots__ = ("id", "thread", "ref", "_ref_owner", "name", "coro", "env", "main_ip", "utcb",
                 "task", "ended", "value", "error", "failing", "triggered", "vcpu",
                 "compute_left",
                 "kernel", "kk", "sys_invoke", "entry", "result", "next",
                 "mem_access", "mem_result")

    def __init__(self, kernel, tid, name, env=None, main_ip=None):
        self.id = self.thread = tid
        # The id as the C struct every kernel entry passes: converted once, here, instead
        # of on each entry (a Python list costs ~80 ns per call on the µApp path).
        self._ref_owner = kernel._ffi.new("kobj_id_t *", [tid])
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
        self.triggered = None      # (tag, label) kept while a triggered exception is told
        self.vcpu = None           # its VcpuState view, once it is a vCPU
        self.compute_left = 0      # a parked compute(): what is left to burn
        # What traps.enter() and pyl4re.mem need, one attribute away (every kernel entry).
        self.kernel, self.kk, self.sys_invoke = kernel, kernel._k, kernel._lib.sys_invoke
        self.entry = None              # the fast entry's kernel side (RunLoop.entry)
        self.result, self.next = kernel._result, kernel._next
        self.mem_access, self.mem_result = kernel._lib.mem_access, kernel._mem_result


# The µApp fast entry (traps.enter_tag, pyl4re/_entry.c) finds the running record in
# traps._current and its kernel side in the record's `entry` slot (and the l4sys calls
# it wraps compare a utcb argument with its `utcb`); the loop's µApp <-> µApp switch
# (_entry.chain) reads its `coro`, `failing` and `triggered`.
_entry.setup(current=traps._current, record_type=ThreadRecord, msgtag_type=l4_msgtag_t,
             interned=_interned_tags, tag_of_raw=_tag_of_raw, rest_tag=traps._rest_tag,
             rest_tag_label=traps._rest_tag_label, resume_result=traps.RESUME_RESULT,
             sys_switch=traps.SYS_SWITCH, switch_to=traps.SYS_SWITCH_TO)


class Parked:
    """vCPU code an upcall interrupted, waiting for a resume to its continuation ip: the
    coroutine, and how it goes on (enum vcpu_park: with its entry's result, making the
    entry again, or burning the compute time left)."""
    __slots__ = ("coro", "park", "tag", "label", "compute_ns")

    def __init__(self, coro, park, tag, label, compute_ns):
        self.coro, self.park = coro, park
        self.tag, self.label, self.compute_ns = tag, label, compute_ns

    def resume_value(self, k, rec, past=False):
        """What the parked code is sent: its result, or RESUME_REPEAT to make its entry
        again. `past`: resumed past the instruction that stopped it (a VMM that emulated
        a guest's access or hypercall advanced the guest's ip): RESUME_RESULT."""
        lib = k._lib
        if past:
            return lib.RESUME_RESULT
        if self.park == lib.VCPU_PARK_RESULT:
            k._next.tag, k._next.label = self.tag, self.label
            return lib.RESUME_RESULT
        rec.compute_left = self.compute_ns
        return lib.RESUME_REPEAT


class RunLoop:
    """Runs one kernel's µApps (see module doc)."""

    def __init__(self, kernel):
        self.k = kernel
        self.threads = {}            # thread id -> ThreadRecord
        self.parked = {}             # (thread id, continuation ip) -> Parked: vCPU code
        # Records by the index C knows them by (thread_set_py_index); below SYS_SWITCH_TO
        # no index (those are sys_enter's own answers).
        self.by_index = [None] * kernel._lib.SYS_SWITCH_TO
        # What the µApp fast entry (traps.enter_tag) needs of this kernel, as C pointers.
        ffi, lib = kernel._ffi, kernel._lib
        address = lambda ptr: int(ffi.cast("uintptr_t", ptr))     # noqa: E731
        self.entry = _entry.Entry(address(kernel._k), address(ffi.addressof(lib, "sys_enter")),
                                  address(kernel._result), address(kernel._next),
                                  self.by_index, (kernel._k, kernel._result, kernel._next, lib))
        self.schedule_log = [] if kernel.log_schedule else None
        self._running = False
        self._last_result = None     # weak reference to the last RunResult, not yet gathered

    def record(self, tid, name=None, env=None, main_ip=None):
        rec = self.threads.get(tid)
        if rec is None and self._last_result is not None:
            self.settle_last_result()          # a new thread is not part of the last run
        if rec is None:
            rec = self.threads[tid] = ThreadRecord(self.k, tid, name or self._name(tid),
                                                   env, main_ip)
            # Its index, for sys_enter's fast switch to it (a thread that is no Python
            # thread, as C says, has none: the loop's general path finds it by id).
            rec.entry = self.entry
            if self.k._lib.thread_set_py_index(self.k._k, rec.ref, len(self.by_index)) == 0:
                self.by_index.append(rec)
        return rec

    def _name(self, tid):
        """A thread a µApp made: the name its creator gave it or its task (debugger
        names), else thread#id."""
        k = self.k
        out = k._ffi.new("char[]", k._lib.KOBJ_NAME_MAX + 1)
        info = k._ffi.new("struct thread_info *")
        for oid in (tid, info.task.raw if k._lib.thread_info(k._k, [tid], info) == 0 else 0):
            if oid and k._lib.kobj_get_name(k._k, [oid], out) == 0 and out[0] != b"\0":
                return k._ffi.string(out).decode("utf-8", errors="replace")
        return f"thread#{tid:x}"

    def _bind(self, rec):
        """The UTCB view and task of a thread, once it is bound."""
        k = self.k
        info = k._thread_info(rec.id)
        rec.task = info.task.raw
        rec.utcb = Utcb(k.physmem, info.utcb.raw, info.utcb_va.raw)

    def run(self, until_ns=None, max_steps=None, raise_errors=True):
        # Refused before anything changes, so the µApp or event that asked goes on intact.
        if self._running or traps._current[0] is not None:
            raise RuntimeError("Kernel.run() is not reentrant: it was called while a run "
                               "loop runs (from a µApp or a k.hw.at() event). A µApp waits "
                               "with l4sys calls; the harness calls run() again once it "
                               "has returned.")
        self._running = True
        try:
            return self._run(until_ns, max_steps, raise_errors)
        finally:
            self._running = False

    def _run(self, until_ns, max_steps, raise_errors):
        k = self.k
        lib, kk = k._lib, k._k
        out = k._next
        threads = self.threads
        log = self.schedule_log
        self.settle_last_result()
        result = RunResult("idle", 0, gather=lambda: None)
        errors_before = k._harness.errors_noted()
        SCHED_RUN, SCHED_EVENT, RESUME_START = lib.SCHED_RUN, lib.SCHED_EVENT, lib.RESUME_START
        RESUME_UPCALL = lib.RESUME_UPCALL
        RESUME_EXCEPTION = lib.RESUME_EXCEPTION
        SUSPEND, SWITCHED = traps.SUSPEND, traps.SWITCHED
        running = traps._current            # set on every switch: a list item store
        # A waiting kernel entry may make the next scheduling decision itself (SWITCHED),
        # except when this loop must see and log every decision.
        lib.sched_limits(kk, until_ns or 0, max_steps or 0, log is None)
        status = None                          # None: ask the scheduler
        while True:
            if status is None:
                status = lib.sched_next(kk, out)
            if status != SCHED_RUN:
                if status == SCHED_EVENT:            # a harness event (k.hw.at) is due
                    event = k.hw.next_event()
                    lib.kernel_advance_idle(kk, event)
                    k.hw.fire_due(event)
                    status = None
                    continue
                result.reason = {lib.SCHED_IDLE: "idle", lib.SCHED_LIMIT: "limit",
                                 lib.SCHED_STEPS: "steps", lib.SCHED_SHUTDOWN: "shutdown"}[status]
                if status == lib.SCHED_SHUTDOWN:
                    result.shutdown = {lib.SHUTDOWN_POWEROFF: "poweroff", lib.SHUTDOWN_REBOOT:
                                       "reboot"}[lib.kernel_shutdown_state(kk)]
                break
            tid = out.thread.raw
            rec = threads.get(tid) or self.record(tid)
            if log is not None:
                log.append((out.cpu, lib.kernel_now_ns(kk), rec.name))
            status = None                      # after this thread: ask the scheduler
            resume, start_ip = out.resume, None
            if rec.failing is not None:
                # Its code raised and its exception handler has answered (§10.2).
                if not self._after_exception(rec):
                    if raise_errors:
                        raise _raised(rec, rec.error)
                    continue
                start_ip = k._thread_info(rec.id).ip  # where the handler sent it
            elif resume == RESUME_UPCALL:
                if not self._upcall(rec, out.ip, raise_errors):
                    continue
                resume = None
            elif resume == RESUME_EXCEPTION:
                self._raise_triggered(rec, out)    # its handler hears of it first
                continue
            else:
                if rec.triggered is not None:
                    start_ip = self._after_triggered(rec, out)
                if start_ip is None and (resume == RESUME_START or rec.coro is None):
                    start_ip = out.ip
            if start_ip is not None:
                resume = self._start(rec, start_ip, raise_errors)
                if resume is False:
                    continue
            # The coroutine learns how to go on; its trap reads the result from `out`.
            running[0] = rec
            try:
                try:
                    yielded = rec.coro.send(resume)
                    # The partner C chose is a µApp waiting for its result (the µApp<->µApp
                    # round trip): its entry yielded the partner's record, as sys_enter
                    # named it by index (SYS_SWITCH_TO), and it goes on at once, in C,
                    # without the general path here (pyl4re/_entry.c, chain).
                    if yielded.__class__ is ThreadRecord:
                        yielded = _chain(yielded)
                finally:
                    rec = running[0] or rec        # the µApp whose code ran last
            except StopIteration as stop:
                if not self._user_code_ended(rec):
                    self._end(rec, value=stop.value)
            except traps.ThreadGone:
                self._end(rec, gone=True)
            except traps.JumpTo:
                rec.coro = None                # the handler moved it: new code at its ip
            except BaseException as exc:       # the µApp's own failure
                running[0] = None
                if self._user_code_ended(rec):
                    continue
                if not self._raise_exception(rec, exc):    # no handler to hear of it first
                    self._fail(rec, exc, raise_errors)
            else:
                if yielded is SWITCHED or yielded.__class__ is ThreadRecord:  # C chose
                    status = out.status
                elif yielded is not SUSPEND:
                    running[0] = None
                    exc = TypeError(f"µApp thread {rec.name!r} awaited {yielded!r}; µApps may "
                                    "only await pyl4re operations")
                    rec.coro.close()
                    self._fail(rec, exc, raise_errors, message=str(exc))
            finally:
                running[0] = None

        result.now_ns = lib.kernel_now_ns(kk)
        self._drop_parked(lambda tid: lib.thread_info(kk, threads[tid].ref, k._ffi.new(
            "struct thread_info *")) < 0 if tid in threads else True)
        result._gather = lambda: self._gather_threads(errors_before)
        self._last_result = weakref.ref(result)
        return result

    def _gather_threads(self, errors_before):
        """The thread fields of a RunResult: one C call per thread the harness knows."""
        k = self.k
        lib, kk, threads = k._lib, k._k, self.threads
        exited, failed, blocked, deleted, hint = {}, {}, {}, [], None
        info, describe = k._ffi.new("struct thread_info *"), k._harness.describe_info
        for rec in threads.values():
            if lib.thread_info(kk, rec.ref, info) < 0:
                deleted.append(rec.name)
            elif rec.ended:
                if rec.error:
                    failed[rec.name] = rec.error
                else:
                    exited[rec.name] = rec.value
            else:
                what = describe(info)
                if what:
                    blocked[rec.name] = what
        if blocked:
            hint = k._harness.blocked_hint(blocked, errors_before)
        return {"exited": exited, "failed": failed, "blocked": blocked, "deleted": deleted,
                "hint": hint}

    def settle_last_result(self):
        """The last run's result, if still held and not yet read, is gathered now: the
        kernel is about to change (a new run)."""
        last = self._last_result() if self._last_result is not None else None
        self._last_result = None
        if last is not None:
            last._thread_fields()

    def _raise_exception(self, rec, exc):
        """An exception escaped the µApp's code: as an illegal instruction would, it goes
        to the thread's exception handler (§10.2). False if it has none."""
        k = self.k
        if isinstance(exc, traps.UnhandledTrap):
            return False
        status = k._lib.thread_exception(k._k, [rec.id], k._lib.arch_illegal_trapno(), 0, 0)
        if status == k._lib.SYS_UPCALL:         # a vCPU taking exceptions: its entry point
            rec.coro.close()
            rec.coro = None
            return True
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

    def _raise_triggered(self, rec, out):
        """ex_regs triggered an exception in the thread (§8.2): before it goes on, it calls
        its exception handler (without one it waits for ever, as in Fiasco); what its kernel
        entry returned waits in rec.triggered."""
        k = self.k
        rec.triggered = (out.tag, out.label)
        if k._lib.thread_raise_triggered(k._k, rec.ref) != k._lib.SYS_SUSPEND:
            rec.triggered = None

    def _after_triggered(self, rec, out):
        """The handler answered a triggered exception: a new ip starts new code there (the
        ip, else None); otherwise the thread goes on with its kernel entry's result."""
        k = self.k
        exc = k._exc_result
        k._lib.thread_exception_done(k._k, rec.ref, exc)
        saved, rec.triggered = rec.triggered, None
        if exc.ip_changed:
            return exc.ip
        out.tag, out.label = saved
        return None

    def _start(self, rec, ip, raise_errors):
        """The code at ip: a parked vCPU continuation goes on (returns what to send it),
        else a fresh coroutine starts (None; where there is no code, `no_code` faults as a
        CPU would); a thread whose code cannot be started ends as failed (False)."""
        parked = self.parked.pop((rec.id, ip), None)
        past = False
        stride = self.k._lib.VCPU_CONT_STRIDE
        if parked is None and ip >= self.k._lib.VCPU_CONT_BASE and ip % stride:
            parked = self.parked.pop((rec.id, ip - ip % stride), None)   # ip advanced
            past = parked is not None
        if rec.coro is not None:
            rec.coro.close()
            rec.coro = None
        if parked is not None:
            self._bind(rec)
            rec.coro, rec.ended = parked.coro, False
            return parked.resume_value(self.k, rec, past)
        fn = code_at(ip, self.k._code) or cprog.code_at(self.k, ip)
        self._bind(rec)
        try:
            if fn is None:
                coro = no_code(ip)
            else:
                coro = fn(rec.env) if rec.env is not None and ip == rec.main_ip else fn()
            if not (inspect.iscoroutine(coro) or inspect.isgenerator(coro)):
                raise TypeError(f"the code at ip {ip:#x} ({getattr(fn, '__name__', fn)!r}) "
                                f"is not an async function: it returned {coro!r}"[:200])
        except Exception as exc:               # calling it failed: the thread's failure
            self._fail(rec, exc, raise_errors)
            return False
        rec.coro = coro
        rec.ended = False
        return None

    def _upcall(self, rec, entry_ip, raise_errors):
        """A vCPU upcall: park the interrupted coroutine under its continuation ip and run
        the entry function with the state area. False if there is no code at entry_ip."""
        k = self.k
        up = k._ffi.new("struct vcpu_upcall *")
        k._lib.vcpu_take_upcall(k._k, rec.ref, up)
        if rec.coro is not None:
            if up.park != k._lib.VCPU_PARK_NONE:
                self.parked[(rec.id, up.cont_ip)] = Parked(rec.coro, up.park, up.tag,
                                                           up.label, up.compute_ns)
            else:
                rec.coro.close()
            rec.coro = None
        if rec.vcpu is None:
            rec.vcpu = VcpuState(k, vcpu_info(k, rec.id).state.raw)
        fn = code_at(entry_ip, k._code)
        self._bind(rec)
        try:                                   # an entry function takes the state area
            coro = fn(rec.vcpu) if fn is not None else no_code(entry_ip)
        except Exception as exc:
            self._fail(rec, exc, raise_errors)
            return False
        rec.coro, rec.ended = coro, False
        return True

    def _user_code_ended(self, rec):
        """Code running in vCPU user mode returned or raised: like an illegal instruction
        there, an exception upcall to the vCPU kernel (True); False if not in user mode."""
        if rec.vcpu is None or not vcpu_info(self.k, rec.id).user_mode:
            return False
        rec.coro = None
        status = self.k._lib.vcpu_user_exit(self.k._k, rec.ref)
        if status == self.k._lib.SYS_GONE:
            self._end(rec, gone=True)
        return True

    def _drop_parked(self, gone):
        """Closes the parked continuations of threads for which gone(tid) holds."""
        for key in [key for key in self.parked if gone(key[0])]:
            self.parked.pop(key).coro.close()

    def _fail(self, rec, exc, raise_errors, message=None):
        """The thread ends with its µApp's exception; MicroAppError unless it is recorded."""
        self._end(rec, error=exc)
        if raise_errors:
            raise _raised(rec, exc, message)

    def _end(self, rec, value=None, error=None, gone=False):
        rec.ended, rec.value, rec.error = True, value, error
        self._drop_parked(lambda tid: tid == rec.id)
        if rec.coro is not None:
            rec.coro.close()
        rec.coro = None
        if not gone:
            self.k._lib.thread_exit(self.k._k, [rec.id])
