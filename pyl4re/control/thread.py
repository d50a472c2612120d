"""Thread control plane (§8.2): the thread-control RPCs (label L4_PROTO_THREAD with a send
phase; everything else on a thread capability is IPC and never arrives here).

Opcode = MR0 & L4_THREAD_OPCODE_MASK, per-operation flags above it. Implemented: control
(pager, exception handler, bind, alien mode), ex_regs (with triggered exceptions), switch,
stats_time, vcpu_control and vcpu_resume (§11; the kernel side is kernel_c/vcpu.c),
register_del_irq, modify_senders and the arch operations that have a meaning here (amd64
FS/GS base, arm64 TPIDRURO; C decides per architecture). What answers -L4_ENOSYS and why
is listed in docs/unmodelled.md. Each handler decodes and checks first
(may fail, changes nothing), then performs through C. What it must not do: keep thread
state of its own.
"""
from .. import _core
from .invocation import ipc_error, item_object, refuse, reply
from .task import _memory_fpage

_lib = _core.abi()

S = _lib.L4_CAP_FPAGE_S
_CONTROL_WORDS = 6                     # MR0..MR5; the bind item follows (MR6, MR7)
_ARCH_OPS = 0x10                       # opcodes from here on are the architecture's
_EX_REGS_FLAGS = (_lib.L4_THREAD_EX_REGS_CANCEL | _lib.L4_THREAD_EX_REGS_TRIGGER_EXCEPTION
                  | _lib.L4_THREAD_EX_REGS_ARCH_MASK)


def _info(k, tid):
    out = k._ffi.new("struct thread_info *")
    return out if k._lib.thread_info(k._k, [tid], out) == 0 else None


def invoke(inv):
    if inv.label != _lib.L4_PROTO_THREAD:
        return reply(-_lib.L4_EBADPROTO)   # (C sends other labels as IPC to the thread)
    # No size check here: Fiasco takes the opcode from MR0 whatever the tag says.
    op = inv.mr(0) & _lib.L4_THREAD_OPCODE_MASK
    if op == _lib.L4_THREAD_CONTROL_OP:
        return _control(inv)
    if op == _lib.L4_THREAD_EX_REGS_OP:
        return _ex_regs(inv)
    if op == _lib.L4_THREAD_SWITCH_OP:
        return _switch(inv)
    if op == _lib.L4_THREAD_STATS_OP:
        return _stats_time(inv)
    if op == _lib.L4_THREAD_VCPU_CONTROL_OP:
        ext = bool(inv.mr(0) & ~_lib.L4_THREAD_OPCODE_MASK & _lib.L4_THREAD_VCPU_CONTROL_EXT_OP)
        return _vcpu_control(inv, ext)
    if op == _lib.L4_THREAD_VCPU_RESUME_OP:
        return _vcpu_resume(inv)
    if op == _lib.L4_THREAD_REGISTER_DELETE_IRQ_OP:
        return _register_del_irq(inv)
    if op == _lib.L4_THREAD_MODIFY_SENDER_OP:
        return _modify_senders(inv)
    if op >= _ARCH_OPS:
        k = inv.kernel
        return reply(k._lib.thread_arch_op(k._k, [inv.obj], inv.mr(0), inv.mr(1), inv.words))
    return reply(-_lib.L4_ENOSYS)


def _control(inv):
    """MR0 = flags, MR1 pager, MR2 exception handler, MR4 flag values, MR5 UTCB address,
    item = task to bind. Replies the old pager and exception handler in MR1, MR2."""
    if not inv.rights & S:
        return refuse(inv, S)
    if inv.words < _CONTROL_WORDS:
        return reply(-_lib.L4_EINVAL)
    k = inv.kernel
    flags = inv.mr(0)
    ctl = k._ffi.new("struct thread_ctl *")
    ctl.flags = flags & (_lib.L4_THREAD_CONTROL_SET_PAGER | _lib.L4_THREAD_CONTROL_BIND_TASK
                         | _lib.L4_THREAD_CONTROL_SET_EXC_HANDLER)
    ctl.pager = inv.mr(1)                 # selectors, stored as given; looked up at use
    ctl.exc_handler = inv.mr(2)
    if flags & _lib.L4_THREAD_CONTROL_BIND_TASK:
        found, err = item_object(inv, 0, _lib.KOBJ_TASK)
        if err is not None:
            return err
        task, _, task_rights = found
        if not task_rights & S:
            return refuse(inv, S)
        ctl.task.raw = task
        ctl.utcb.raw = inv.mr(5)
        if _info(k, inv.obj).task.raw:
            return reply(-_lib.L4_EINVAL)   # bound already: a thread is bound at most once
    if flags & _lib.L4_THREAD_CONTROL_ALIEN:    # alien mode on or off (docs/threads.md)
        ctl.flags |= _lib.L4_THREAD_CONTROL_ALIEN
        ctl.alien = 1 if inv.mr(4) & _lib.L4_THREAD_CONTROL_ALIEN else 0
    old = _info(k, inv.obj)
    old_pager, old_exc = old.pager, old.exc_handler
    # C checks the UTCB (word aligned, inside the task's ku-mem) before it changes
    # anything, so a refusal there still leaves the thread untouched.
    rc = k._lib.thread_control(k._k, [inv.obj], ctl)
    if rc < 0:
        return reply(rc)
    inv.utcb.mr[1] = old_pager
    inv.utcb.mr[2] = old_exc
    return reply(0, 3)


def _ex_regs(inv):
    """MR0 = 1 | flags, MR1 = ip, MR2 = sp, exactly 3 words. Replies the old flags (the
    arch's rflags/pstate/status), ip and sp in MR0..MR2."""
    if inv.words != 3:
        return reply(-_lib.L4_EINVAL)
    k = inv.kernel
    flags = inv.mr(0) & _EX_REGS_FLAGS    # other bits mean nothing to Fiasco either
    info = _info(k, inv.obj)
    if not info.task.raw:
        return reply(-_lib.L4_EINVAL)     # not bound to a task: no registers to set
    old = k._ffi.new("struct thread_regs *")
    rc = k._lib.thread_ex_regs(k._k, [inv.obj], inv.mr(1), inv.mr(2), flags, old)
    if rc < 0:
        return reply(rc)                  # e.g. arch bits this architecture rejects
    if flags & _lib.L4_THREAD_EX_REGS_TRIGGER_EXCEPTION:
        # Raised when the thread next runs, after any kernel entry it is in (§8.2).
        k._lib.thread_trigger_exception(k._k, [inv.obj],
                                        flags & _lib.L4_THREAD_EX_REGS_CANCEL)
    inv.utcb.mr[0] = old.flags
    inv.utcb.mr[1] = old.ip
    inv.utcb.mr[2] = old.sp
    return reply(0, 3)


def _switch(inv):
    """Switch to the invoked thread if it is ready on the caller's CPU (the caller's time
    slice goes to it), else just schedule. MR0 = time slice left (µs), or 0 if used up."""
    k = inv.kernel
    if inv.obj == inv.thread:
        return reply(0)
    me, target = _info(k, inv.thread), _info(k, inv.obj)
    if target.cpu != me.cpu:
        return reply(0)                   # only a thread of our own CPU can be switched to
    ready = bool(target.state & _lib.THREAD_READY)
    inv.utcb.mr[0] = 0 if ready else me.left_ns // 1000
    k._lib.thread_switch_to(k._k, [inv.thread], [inv.obj])
    return reply(0, 1)


def _stats_time(inv):
    """MR0 = CPU time the thread consumed, in µs (one 64-bit word)."""
    info = _info(inv.kernel, inv.obj)
    inv.utcb.mr[0] = info.consumed_ns // 1000
    return reply(0, 1)


def _vcpu_control(inv, ext=False):
    """MR1 = the state area's address in the thread's task's ku-mem (8-byte aligned, the
    whole Vcpu_state inside it; extended: 4 KiB aligned, the whole extended area). Fiasco
    checks no right here, and a second call moves the area; vCPU mode itself cannot be
    switched off."""
    if inv.words < 2:
        return reply(-_lib.L4_EINVAL)       # no address: Fiasco's "disable" is refused
    k = inv.kernel
    enable = k._lib.vcpu_control_ext if ext else k._lib.vcpu_control
    rc = enable(k._k, [inv.obj], [inv.mr(1)])
    if rc == 0:
        rec = k._loop.threads.get(inv.obj)
        if rec is not None:
            rec.vcpu = None                 # the view follows the area (pyl4re.vcpu)
    return reply(rc)


def _vcpu_resume(inv):
    """Only the calling vCPU on itself (§11.3): the user_task field, the send items mapped
    into the user task (window: all of it), then the pending-IRQ check or the resume. A
    resume that goes through never returns to the caller's code."""
    k = inv.kernel
    lib = k._lib
    task = k._ffi.new("kobj_id_t *")
    rc = lib.vcpu_resume_user_task(k._k, [inv.obj], task)
    if rc < 0:
        return reply(rc)
    if task.raw:
        mapped = k._ffi.new("uint32_t *")
        for n in range(inv.items):
            pos = inv.words + 2 * n
            if pos + 1 >= 63:
                return ipc_error(lib.L4_IPC_SEMSGCUT)
            ctl, fp = inv.mr(pos), inv.mr(pos + 1)
            if not ctl & lib.L4_ITEM_MAP:
                break                          # Fiasco stops at the first non-item
            kind = (fp >> 4) & 3
            if kind == lib.L4_FPAGE_MEMORY:
                fp = _memory_fpage(fp)
                if fp is None:
                    continue                    # below a page: maps nothing (§5.1)
                rc = lib.task_map_mem(k._k, task[0], [inv.task], fp, ctl, mapped)
            elif kind == lib.L4_FPAGE_OBJ:
                rc = lib.task_map_obj(k._k, task[0], [inv.task], fp, ctl, 0xF, mapped)
            elif kind == lib.L4_FPAGE_IO:
                rc = lib.task_map_io(k._k, task[0], [inv.task], fp, mapped)
            else:
                continue                       # an invalid fpage maps nothing
            if rc == -lib.L4_ENOMEM:
                return ipc_error(lib.L4_IPC_SEMAPFAILED)
            if rc < 0:
                return reply(rc)
    rc = lib.vcpu_resume_commit(k._k, [inv.obj])
    return reply(min(rc, 0))


def _register_del_irq(inv):
    """Item = an Irq (or semaphore) capability with W: it fires whenever an IPC gate bound
    to this thread is deleted. -L4_EBUSY if one is registered already."""
    found, err = item_object(inv, 0)
    if err is not None:
        return err
    irq, kind, rights = found
    if not rights & _lib.L4_CAP_FPAGE_W:
        return refuse(inv, _lib.L4_CAP_FPAGE_W)
    k = inv.kernel
    return reply(k._lib.thread_register_del_irq(k._k, [inv.obj], [irq]))


def _modify_senders(inv):
    """MR1.. groups of (match mask, match, delete bits, add bits) relabel every sender
    queued at the thread; only the thread itself may (Fiasco: -L4_EINVAL otherwise)."""
    k = inv.kernel
    words = min(inv.words, 63)
    rules = [inv.mr(i) for i in range(1, words)] or [0]
    return reply(k._lib.thread_modify_senders(k._k, [inv.obj], [inv.thread], rules, words))
