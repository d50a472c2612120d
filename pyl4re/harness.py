"""Setting up a system from a test: gates, tasks with their first µApp thread, native
threads, and explanations of failures. The harness acts as the root task: it creates
objects through the root factory into root-task slots and maps what each new task needs,
exactly what a loader (moe, ned) does with capabilities, but without IPC.
"""
import inspect
from collections.abc import Mapping
from dataclasses import dataclass

from . import _args, _core
from .code import kernel_entry
from .control import factory as factory_ctl
from .env import Env
from .errors import check
from .l4sys import l4_fpage
from .objects import _KIND_NAMES as _KINDS

_lib = _core.abi()

R, W, S, D = (_lib.L4_CAP_FPAGE_R, _lib.L4_CAP_FPAGE_W, _lib.L4_CAP_FPAGE_S,
              _lib.L4_CAP_FPAGE_D)
SVR = _lib.L4_FPAGE_C_IPCGATE_SVR
FIRST_NAMED_CAP = 0x16          # where a loader puts named caps (user-level §3.2)
ROOT_FIRST_FREE = 0x100         # root-task slots the harness hands out
UTCB_AREA_ORDER = 14            # 16 UTCBs; a whole page on every arch (MIPS: 16 KiB)
NATIVE = {"echo": _lib.PROGRAM_ECHO, "sink": _lib.PROGRAM_SINK,
          "call_loop": _lib.PROGRAM_CALL_LOOP, "send_loop": _lib.PROGRAM_SEND_LOOP,
          "cap_call_loop": _lib.PROGRAM_CAP_CALL_LOOP, "touch": _lib.PROGRAM_TOUCH}


def _takes_no_arguments(fn, what):
    """A thread's function is called with no argument: refuse one that needs some now,
    rather than fail when the thread starts."""
    if not callable(fn):
        raise TypeError(f"{what} must be an async function, not {type(fn).__name__}")
    try:
        inspect.signature(fn).bind()
    except TypeError:
        raise TypeError(f"{what}: {getattr(fn, '__name__', fn)!r} needs arguments, but a "
                        "thread's function is called with none (a µApp main(env) is for "
                        "start_task)") from None
    except ValueError:
        pass                                  # no signature to read (a builtin): let it be


@dataclass(frozen=True)
class Capability:
    """A capability the harness holds (a root-task slot), and the rights and attribute
    bits it gives when mapped into a task. The plain handle maps as a client: R|W."""
    kernel: object
    index: int
    rights: int = R | W
    attrs: int = 0

    def svr(self):
        """The server side: S right and the IPC-gate server attribute (may bind)."""
        return Capability(self.kernel, self.index, R | W | S, SVR)

    def mode(self, rights):
        """These rights, as ned's `:m("rws")`: a string of r, w, s, d."""
        _args.text(rights, "mode(rights)")
        bits = {"r": R, "w": W, "s": S, "d": D}
        value = R
        for ch in rights.lower():
            if ch not in bits:
                raise ValueError(f"unknown right {ch!r} in {rights!r}; use r, w, s, d")
            value |= bits[ch]
        return Capability(self.kernel, self.index, value, self.attrs)

    @property
    def object(self):
        from .types import CapIndex
        return self.kernel.root_task.object_at(CapIndex(self.index))

    def bind(self, handle, label):
        """Bind this IPC gate to the first thread of a started task (`handle`) with
        `label`, as the server would with l4_rcv_ep_bind_thread: for native servers, which
        cannot, and for set-ups that need no bind handshake. Raises L4Error if refused."""
        k = self.kernel
        _args.instance(handle, TaskHandle, "bind(handle)", k)
        _args.word(label, "bind(label)")
        check(k._lib.gate_bind(k._k, [self.object.id], [handle.thread_id], label),
              "binding the gate")


@dataclass
class TaskHandle:
    """A task started by the harness: its objects, its env, and its first thread."""
    name: str
    task: object          # objects.Task handle
    thread_id: int
    env: Env
    kernel: object
    task_slot: int        # the harness's (root task's) capabilities to them
    thread_slot: int

    @property
    def pt_root(self):
        return self.task.pt_root

    def translate(self, va):
        return self.task.translate(va)

    @property
    def thread(self):
        """The first thread's state (pyl4re's view: state, cpu, prio, consumed time)."""
        return self.kernel._thread_info(self.thread_id)


class Harness:
    def __init__(self, kernel):
        self.k = kernel
        self.next_root = ROOT_FIRST_FREE
        self.names = {}                           # thread id -> name
        self.task_names = {}                      # task id -> name
        self.next_sigma0_owner = 12               # sigma0 gate owners (user-level §1.4)
        self.sigma0_owners = {}                   # owner id -> name of the task it pages
        self._error_count = kernel._ffi.new("struct error_info *")   # reused by every run

    def _root_slot(self):
        slot = self.next_root
        self.next_root += 1
        return slot

    def _create(self, proto, **kw):
        k = self.k
        slot = self._root_slot()
        check(factory_ctl.create(k, k.root_factory.id, proto, k.root_task.id, slot, **kw),
              f"creating protocol {proto}")
        return slot, self._lookup(slot)

    def _lookup(self, slot):
        k = self.k
        info = k._ffi.new("struct cap_info *")
        check(k._lib.cspace_lookup(k._k, [k.root_task.id], [slot], info))
        return info.obj.raw

    def _give(self, task_id, dst_index, root_index, rights, attrs=0):
        k = self.k
        rc = check(k._lib.cspace_copy(k._k, [task_id], [dst_index], [k.root_task.id],
                                      [root_index], rights, attrs | _lib.L4_FPAGE_C_REF_CNT),
                   f"mapping a capability to slot {dst_index:#x}")
        if rc:
            raise ValueError(f"capability for slot {dst_index:#x} carries no R right")

    def create_gate(self, label=0):
        if isinstance(label, bool) or not isinstance(label, int) or label & 3 or label < 0:
            raise ValueError(f"a gate label is a word with bits 0 and 1 clear, not {label!r}")
        slot, _ = self._create(_lib.L4_PROTO_KOBJECT, label=label)
        return Capability(self.k, slot)

    def sigma0_owner(self, owner):
        """How to name a sigma0 owner id in a message: the task it pages, if known."""
        name = self.sigma0_owners.get(owner)
        return f"task {name!r} (sigma0 owner {owner})" if name else f"sigma0 owner {owner}"

    def _sigma0_gate(self, name):
        """A new gate to sigma0 with an owner id of its own (user-level §1.1, §1.4)."""
        k = self.k
        owner = self.next_sigma0_owner
        self.next_sigma0_owner += 1
        self.sigma0_owners[owner] = name
        slot, gate_id = self._create(_lib.L4_PROTO_KOBJECT, label=owner << 4)
        check(k._lib.gate_bind(k._k, [gate_id], [k._lib.kernel_sigma0_thread(k._k).raw],
                               owner << 4), "binding a sigma0 gate")
        return Capability(k, slot)

    def _new_thread(self, task_id, utcb_va, name, prio, cpu, ip, env=None):
        k = self.k
        thread_slot, thread_id = self._create(_lib.L4_PROTO_THREAD)
        ctl = k._ffi.new("struct thread_ctl *", {
            "flags": _lib.L4_THREAD_CONTROL_BIND_TASK | _lib.L4_THREAD_CONTROL_SET_PAGER,
            "pager": _lib.L4_BASE_PAGER_CAP, "task": [task_id], "utcb": [utcb_va]})
        check(k._lib.thread_control(k._k, [thread_id], ctl), f"binding thread {name!r}")
        old = k._ffi.new("struct thread_regs *")
        check(k._lib.thread_ex_regs(k._k, [thread_id], ip, 0, 0, old))
        check(k._lib.thread_run(k._k, [thread_id], [cpu], prio, 0), f"running {name!r}")
        self.names[thread_id] = name
        k._loop.record(thread_id, name, env, ip)
        return thread_slot, thread_id

    def _check_placement(self, prio, cpu):
        if isinstance(prio, bool) or not isinstance(prio, int) or not 1 <= prio <= 255:
            raise ValueError(f"prio must be 1..255, not {prio!r}")
        if isinstance(cpu, bool) or not isinstance(cpu, int) or not 0 <= cpu < self.k.cpus:
            raise ValueError(f"cpu must be 0..{self.k.cpus - 1}, not {cpu!r}")

    def _launch(self, name, caps, prio, cpu, ip, python, pager=None):
        """A task with its base and named capabilities and a first thread at ip, as a
        loader makes one (user-level §3.2); `python` threads get their Env passed in."""
        k = self.k
        self._check_placement(prio, cpu)
        _args.text(name, "the task's name")
        if caps is not None and not isinstance(caps, Mapping):
            raise TypeError(f"caps must be a dict of name -> Capability, not "
                            f"{type(caps).__name__} {caps!r}"[:200])
        caps = dict(caps or {})
        for cname, cap in caps.items():
            _args.text(cname, "a capability's name")
            _args.instance(cap, Capability, f"caps[{cname!r}]", k)
        if pager is not None and (not isinstance(pager, Capability) or pager.kernel is not k):
            raise TypeError("pager must be a Capability of this kernel (a gate to the pager)")
        pager = pager or self._sigma0_gate(name)
        base = k._lib.ARCH_UTCB_AREA_DEFAULT
        area = l4_fpage(base, UTCB_AREA_ORDER, _lib.L4_FPAGE_RW)
        task_slot, task_id = self._create(_lib.L4_PROTO_TASK, utcb_area=area.raw)
        self.task_names[task_id] = name
        named, index = {}, FIRST_NAMED_CAP
        for cname, cap in caps.items():
            self._give(task_id, index, cap.index, cap.rights, cap.attrs)
            named[cname] = index << _lib.L4_CAP_SHIFT
            index += 1
        utcb_size = k.arch_info["utcb_size"]
        env = Env(caps=named, utcb_area=area, first_free_utcb=base + utcb_size,
                  first_free_cap=index, utcb_size=utcb_size)
        thread_slot, thread_id = self._new_thread(task_id, base, name, prio, cpu, ip,
                                                  env if python else None)
        rws = R | W | S
        base_caps = [(_lib.L4_BASE_TASK_CAP_INDEX, task_slot),
                     (_lib.L4_BASE_FACTORY_CAP_INDEX, _lib.L4_BASE_FACTORY_CAP_INDEX),
                     (_lib.L4_BASE_THREAD_CAP_INDEX, thread_slot)]
        base_caps += [(i, i) for i in (_lib.L4_BASE_LOG_CAP_INDEX, _lib.L4_BASE_ICU_CAP_INDEX,
                                       _lib.L4_BASE_SCHEDULER_CAP_INDEX,
                                       _lib.L4_BASE_DEBUGGER_CAP_INDEX,
                                       _lib.L4_BASE_IOMMU_CAP_INDEX)]
        for dst, src in base_caps:
            self._give(task_id, dst, src, rws)
        self._give(task_id, _lib.L4_BASE_PAGER_CAP_INDEX, pager.index, pager.rights, pager.attrs)
        return TaskHandle(name, k.object(task_id), thread_id, env, k, task_slot, thread_slot)

    def start_thread(self, task, fn, name, prio=1, cpu=0):
        """Another thread in a started task, running `await fn()` (its next free UTCB)."""
        k = self.k
        _args.instance(task, TaskHandle, "start_thread(task)", k)
        _args.text(name, "the thread's name")
        _takes_no_arguments(fn, "start_thread(fn)")
        self._check_placement(prio, cpu)
        try:
            va = task.env.utcb_alloc()
        except ValueError:
            raise ValueError(f"task {task.name!r} has no free UTCB left") from None
        ip = kernel_entry(k._code, k._code_ips, fn)
        _, thread_id = self._new_thread(task.task.id, va, name, prio, cpu, ip)
        return thread_id

    def start_task(self, main, name=None, caps=None, prio=1, cpu=0, pager=None):
        ip = kernel_entry(self.k._code, self.k._code_ips, main)
        return self._launch(name or getattr(main, "__name__", "task"), caps, prio, cpu, ip,
                            python=True, pager=pager)

    def start_native(self, program, name, caps=None, prio=1, cpu=0, user=(0, 0, 0),
                     pager=None):
        """A task whose thread runs a built-in C program (kernel_c/native.c); `user` goes
        to its TCR user words:
          echo            (receive item offered as BR0 before each wait or 0, -, -)
          sink            unused
          call_loop       (selector to call, rounds, words)
          send_loop       (selector to send to, rounds, words)
          cap_call_loop   (selector to call, rounds, selector of the first of the two
                           capabilities it sends in turn)
          touch           (first address, pages to read)"""
        if not isinstance(program, str) or program not in NATIVE:
            raise ValueError(f"unknown native program {program!r}; choose from {sorted(NATIVE)}")
        if not isinstance(user, (tuple, list)):
            raise TypeError(f"user must be a tuple of three 64-bit words, not {user!r}"[:200])
        if len(user) != 3:
            raise ValueError(f"user must be three 64-bit words, not {len(user)}")
        user = [_args.word(v, f"user[{i}]") for i, v in enumerate(user)]
        ip = _lib.NATIVE_TEXT_BASE + NATIVE[program] * _lib.NATIVE_TEXT_STRIDE
        handle = self._launch(name, caps, prio, cpu, ip, python=False, pager=pager)
        k = self.k
        info = k._thread_info(handle.thread_id)
        words = k.physmem[info.utcb.raw:info.utcb.raw + 1024].view("uint64")
        words[125:128] = list(user)
        return handle

    def describe_wait(self, tid):
        k = self.k
        out = k._ffi.new("struct thread_info *")
        if k._lib.thread_info(k._k, [tid], out) < 0:
            return "deleted"
        return self.describe_info(out)

    def describe_info(self, out):
        """What a live thread waits for, from its thread_info; None if it does not."""
        state = out.state
        until = f" until {out.deadline_ns} ns" if out.deadline_ns else ""
        if state & _lib.THREAD_SEND:
            if out.waiting_on_gate:
                return f"send through an unbound gate{until}"
            return f"send to {self._name(out.partner.raw) if out.partner.raw else 'a receiver'}{until}"
        if state & _lib.THREAD_SEMAPHORE:
            return f"semaphore down{until}"
        if state & _lib.THREAD_RECV:
            if out.partner.raw:
                return f"receive from {self._partner_name(out.partner.raw)}{until}"
            return f"receive (open wait){until}"
        if state & _lib.THREAD_READY and out.cpu == 0xFFFFFFFF:
            return "ready, but on no CPU (no run_thread)"
        return None

    def _partner_name(self, oid):
        """A closed wait's partner: a thread, or an Irq."""
        k = self.k
        info = k._ffi.new("struct kobj_info *")
        if k._lib.kobj_info(k._k, [oid], info) == 0 and info.type == _lib.KOBJ_IRQ:
            return f"irq#{oid:x}"
        return self._name(oid)

    def task_name(self, task_id):
        """The name a task was started with; else its debugger name, else task#<id>."""
        if task_id in self.task_names:
            return self.task_names[task_id]
        k = self.k
        out = k._ffi.new("char[]", _lib.KOBJ_NAME_MAX + 1)
        if k._lib.kobj_get_name(k._k, [task_id], out) == 0 and out[0] != b"\0":
            return k._ffi.string(out).decode("utf-8", errors="replace")
        return "root" if task_id == k.root_task.id else f"task#{task_id:x}"

    def _name(self, tid):
        rec = self.k._loop.threads.get(tid)
        return rec.name if rec else self.names.get(tid, f"thread#{tid:x}")

    def errors_noted(self):
        """How many kernel operations (and page faults) have failed so far."""
        self.k._lib.kernel_last_error(self.k._k, self._error_count)
        return self._error_count.count

    def blocked_hint(self, blocked, errors_before):
        """What to look at when a run ends with threads blocked: a gate nobody bound, or
        a kernel operation that failed during the run (its explanation); None if neither."""
        hints = [f"{name!r} sends through a gate no thread is bound to: the server binds it "
                 f"with l4_rcv_ep_bind_thread (or the harness with gate.bind(task))"
                 for name, what in blocked.items() if "unbound gate" in what][:1]
        if self.errors_noted() != errors_before:
            hints.append("a kernel operation failed during this run; k.explain_last_error():"
                         "\n" + self.explain_last_error())
        return "\n".join(hints) or None

    def explain_fault(self, out):
        """An unresolved page fault, from the kernel's record of it."""
        from .mem import fault_reason
        k = self.k
        access = {4: "read", 2: "write", 1: "instruction fetch"}.get(out.fault_access, "access")
        why = fault_reason(k, out.fault_reason, out.fault_addr, out.fault_access,
                           out.fault_label, out.fault_ctl, out.fault_fpage, out.fault_owner)
        lines = [f"thread {self._name(out.thread.raw)!r}: unresolved page fault at "
                 f"{out.fault_addr:#x} ({access}), pager selector {out.selector:#x}",
                 f"  why: {why}"]
        if out.fault_ctl or out.fault_fpage:
            from .l4sys import l4_fpage_t
            lines.append(f"  the pager's map item: control word {out.fault_ctl:#x}, "
                         f"{l4_fpage_t(out.fault_fpage)!r}")
        lines.append("  (docs/pager.md: the page-fault message and what a reply must hold)")
        return "\n".join(lines)

    def explain_last_error(self):
        k = self.k
        out = k._ffi.new("struct error_info *")
        if k._lib.kernel_last_error(k._k, out) < 0:
            return "no kernel operation has failed"
        if out.fault_reason:
            return self.explain_fault(out)
        from .errors import ERROR_NAMES
        from .l4sys import l4sys_errtostr
        code = out.code
        if 0 < code <= 0x1F:
            err = f"IPC error {code:#x} ({l4sys_errtostr(-(2000 + code))})"
        else:
            err = f"{ERROR_NAMES.get(-code, code)}"
        rights = lambda r: "".join(c for c, b in zip("rwsd", (R, W, S, D)) if r & b) or "-"
        what = k._ffi.string(out.what).decode() if out.what else ""
        lines = [f"thread {self._name(out.thread.raw)!r} invoked selector {out.selector:#x}",
                 f"  object: {_KINDS[out.obj_type] if out.obj_type < len(_KINDS) else '?'}, "
                 f"capability rights {rights(out.rights_had)}"
                 + (f", needed {rights(out.rights_needed)}" if out.rights_needed else ""),
                 f"  label {out.label}, opcode (MR0) {out.opcode:#x}",
                 f"  result: {err}" + (f": {what}" if what else "")]
        return "\n".join(lines)
