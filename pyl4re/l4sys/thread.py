"""Thread calls for µApps, with l4sys names and argument order (§8.2, §11): thread control
(pager, exception handler, bind), ex_regs, switch, stats_time, and the vCPU calls
(vcpu_control, vcpu_resume_start / _commit).

As in l4sys the thread-control message is built in the running thread's UTCB across
calls: l4_thread_control_start() writes MR0, the setters add flags and values, and
l4_thread_control_commit(thread) sends it; nothing that uses the UTCB may come between.
Each call returns the reply's l4_msgtag_t; l4sys out-parameters come back as a tuple
(documented per call). (l4_thread_yield is with the IPC calls: it is an IPC.)
"""
from . import _kobj
from .consts import (
    L4_CAP_FPAGE_RWS, L4_ITEM_MAP, L4_PROTO_THREAD, L4_THREAD_CONTROL_ALIEN,
    L4_THREAD_CONTROL_BIND_TASK, L4_THREAD_CONTROL_MR_IDX_BIND_TASK,
    L4_THREAD_CONTROL_MR_IDX_BIND_UTCB, L4_THREAD_CONTROL_MR_IDX_EXC_HANDLER,
    L4_THREAD_CONTROL_MR_IDX_FLAG_VALS, L4_THREAD_CONTROL_MR_IDX_FLAGS,
    L4_THREAD_CONTROL_MR_IDX_PAGER, L4_THREAD_CONTROL_OP, L4_THREAD_CONTROL_SET_EXC_HANDLER,
    L4_THREAD_CONTROL_SET_PAGER, L4_THREAD_EX_REGS_OP, L4_THREAD_STATS_OP,
    L4_THREAD_SWITCH_OP, L4_THREAD_VCPU_CONTROL_EXT_OP, L4_THREAD_VCPU_CONTROL_OP,
    L4_THREAD_VCPU_RESUME_OP, L4_THREAD_REGISTER_DELETE_IRQ_OP, L4_THREAD_MODIFY_SENDER_OP,
    L4_THREAD_ARM_TPIDRURO_OP, L4_THREAD_AMD64_SET_SEGMENT_BASE_OP,
)
from .errors import l4_error_u
from .fpage import l4_obj_fpage
from .msgtag import l4_msgtag, l4_msgtag_has_error
from .utcb import l4_utcb

_FLAGS = L4_THREAD_CONTROL_MR_IDX_FLAGS


def l4_thread_control_start():
    """Begin a thread-control message in the current UTCB."""
    l4_utcb().mr[_FLAGS] = L4_THREAD_CONTROL_OP


def l4_thread_control_pager(pager):
    """Set the pager: a selector, looked up in the thread's own task at fault time."""
    pager = _kobj.cap(pager, "l4_thread_control_pager", "pager")
    mr = l4_utcb().mr
    mr[_FLAGS] = int(mr[_FLAGS]) | L4_THREAD_CONTROL_SET_PAGER
    mr[L4_THREAD_CONTROL_MR_IDX_PAGER] = pager


def l4_thread_control_exc_handler(exc_handler):
    """Set the exception handler: a selector in the thread's own task."""
    exc_handler = _kobj.cap(exc_handler, "l4_thread_control_exc_handler", "exc_handler")
    mr = l4_utcb().mr
    mr[_FLAGS] = int(mr[_FLAGS]) | L4_THREAD_CONTROL_SET_EXC_HANDLER
    mr[L4_THREAD_CONTROL_MR_IDX_EXC_HANDLER] = exc_handler


def l4_thread_control_bind(thread_utcb, task):
    """Bind the thread to `task` with its UTCB at address `thread_utcb` (inside the task's
    ku-mem). Needs S on the task capability; a thread is bound at most once."""
    fn = "l4_thread_control_bind"
    thread_utcb = _kobj.word(thread_utcb, fn, "thread_utcb")
    item = l4_obj_fpage(_kobj.cap(task, fn, "task"), 0, L4_CAP_FPAGE_RWS).raw
    mr = l4_utcb().mr
    mr[_FLAGS] = int(mr[_FLAGS]) | L4_THREAD_CONTROL_BIND_TASK
    mr[L4_THREAD_CONTROL_MR_IDX_BIND_UTCB] = thread_utcb
    mr[L4_THREAD_CONTROL_MR_IDX_BIND_TASK] = L4_ITEM_MAP
    mr[L4_THREAD_CONTROL_MR_IDX_BIND_TASK + 1] = item


def l4_thread_control_alien(on):
    """Alien mode on or off: every system call of an alien thread goes to its exception
    handler first, and again once it ran if the handler allowed it (docs/threads.md)."""
    mr = l4_utcb().mr
    vals = L4_THREAD_CONTROL_MR_IDX_FLAG_VALS
    mr[_FLAGS] = int(mr[_FLAGS]) | L4_THREAD_CONTROL_ALIEN
    mr[vals] = int(mr[vals]) | (L4_THREAD_CONTROL_ALIEN if on else 0)


async def l4_thread_control_commit(thread):
    """Send the thread-control message to `thread` (needs S). On success MR1 and MR2
    hold the old pager and exception-handler selectors."""
    thread = _kobj.cap(thread, "l4_thread_control_commit", "thread")
    items = 1 if int(l4_utcb().mr[_FLAGS]) & L4_THREAD_CONTROL_BIND_TASK else 0
    return await _kobj.call(thread, l4_msgtag(L4_PROTO_THREAD, 6, items, 0).raw)


def _ex_regs_args(thread, ip, sp, flags, fn):
    return (_kobj.cap(thread, fn, "thread"), _kobj.word(ip, fn, "ip"),
            _kobj.word(sp, fn, "sp"), _kobj.word(flags, fn, "flags"))


async def _ex_regs(thread, ip, sp, flags):
    u = l4_utcb()
    u.mr[0] = L4_THREAD_EX_REGS_OP | flags
    u.mr[1] = ip
    u.mr[2] = sp
    return await _kobj.call(thread, l4_msgtag(L4_PROTO_THREAD, 3, 0, 0).raw)


async def l4_thread_ex_regs(thread, ip, sp, flags):
    """Set ip and sp (~0 leaves one unchanged) and apply L4_THREAD_EX_REGS_* flags; a
    bound thread that never ran starts (at ip, once it has a CPU). Returns the tag; MR0..2
    then hold the old flags, ip and sp."""
    args = _ex_regs_args(thread, ip, sp, flags, "l4_thread_ex_regs")
    return await _ex_regs(*args)


async def l4_thread_ex_regs_ret(thread, ip, sp, flags):
    """As l4_thread_ex_regs; returns (tag, ip, sp, flags): the thread's previous ip, sp
    and CPU flags on success, the values given (l4sys' in/out parameters untouched) on
    failure."""
    args = _ex_regs_args(thread, ip, sp, flags, "l4_thread_ex_regs_ret")
    tag = await _ex_regs(*args)
    u = l4_utcb()
    if l4_error_u(tag, u):
        return tag, ip, sp, flags
    return tag, int(u.mr[1]), int(u.mr[2]), int(u.mr[0])


async def l4_thread_switch(to_thread):
    """Give the rest of the time slice to `to_thread` if it is ready on this CPU, else
    just schedule."""
    to_thread = _kobj.cap(to_thread, "l4_thread_switch", "to_thread")
    l4_utcb().mr[0] = L4_THREAD_SWITCH_OP
    return await _kobj.call(to_thread, l4_msgtag(L4_PROTO_THREAD, 1, 0, 0).raw)


async def l4_thread_stats_time(thread):
    """(tag, us): the CPU time the thread has consumed in µs; None on an IPC error (as
    l4sys, a negative label still reads MR0)."""
    thread = _kobj.cap(thread, "l4_thread_stats_time", "thread")
    u = l4_utcb()
    u.mr[0] = L4_THREAD_STATS_OP
    tag = await _kobj.call(thread, l4_msgtag(L4_PROTO_THREAD, 1, 0, 0).raw)
    if l4_msgtag_has_error(tag):
        return tag, None
    return tag, int(u.mr[0])


async def l4_thread_vcpu_control(thread, vcpu_state):
    """Make `thread` a vCPU with its state area at address `vcpu_state` (in its task's
    ku-mem, 8-byte aligned; l4sys reserves L4_VCPU_STATE_SIZE). One-way. The kernel
    writes the area's version; pyl4re.vcpu.state() views it."""
    fn = "l4_thread_vcpu_control"
    thread = _kobj.cap(thread, fn, "thread")
    vcpu_state = _kobj.word(vcpu_state, fn, "vcpu_state")
    u = l4_utcb()
    u.mr[0] = L4_THREAD_VCPU_CONTROL_OP
    u.mr[1] = vcpu_state
    return await _kobj.call(thread, l4_msgtag(L4_PROTO_THREAD, 2, 0, 0).raw)


async def l4_thread_vcpu_control_ext(thread, ext_vcpu_state):
    """The extended (hardware-virtualization) vCPU (docs/vm.md): the state area at
    `ext_vcpu_state`, 4 KiB aligned, with the architecture's extended area after it, all
    in the task's ku-mem."""
    fn = "l4_thread_vcpu_control_ext"
    thread = _kobj.cap(thread, fn, "thread")
    ext_vcpu_state = _kobj.word(ext_vcpu_state, fn, "ext_vcpu_state")
    u = l4_utcb()
    u.mr[0] = L4_THREAD_VCPU_CONTROL_EXT_OP
    u.mr[1] = ext_vcpu_state
    return await _kobj.call(thread, l4_msgtag(L4_PROTO_THREAD, 2, 0, 0).raw)


def l4_thread_vcpu_resume_start():
    """Begin a resume in the current UTCB: MR0 = the opcode. Returns the tag; send items
    appended after MR0 (and counted in the tag) are mapped into the vCPU's user task."""
    l4_utcb().mr[0] = L4_THREAD_VCPU_RESUME_OP
    return l4_msgtag(L4_PROTO_THREAD, 1, 0, 0)


async def l4_thread_vcpu_resume_commit(thread, tag):
    """Resume the calling vCPU (`thread` = its own capability) into the state its area
    holds (§11.3). On success this never returns: the code at r.ip runs (in the user task
    with L4_VCPU_F_USER_MODE), or, with an IRQ pending, the entry point. A refusal
    returns the tag with -L4_EINVAL, -L4_ENOENT or -L4_EPERM."""
    fn = "l4_thread_vcpu_resume_commit"
    thread = _kobj.cap(thread, fn, "thread")
    raw = getattr(tag, "raw", tag)
    raw = _kobj.word(raw, fn, "tag")
    return await _kobj.call(thread, raw)


__all__ = ["l4_thread_control_start", "l4_thread_control_pager",
           "l4_thread_control_exc_handler", "l4_thread_control_bind", "l4_thread_control_alien",
           "l4_thread_control_commit", "l4_thread_ex_regs", "l4_thread_ex_regs_ret",
           "l4_thread_switch", "l4_thread_stats_time", "l4_thread_vcpu_control",
           "l4_thread_vcpu_control_ext", "l4_thread_vcpu_resume_start",
           "l4_thread_vcpu_resume_commit"]



# ---- deletion IRQ, modify_senders, arch registers (kernkonzept/l4re-core
# l4sys/include/thread.h, ARCH-arm64/thread.h, ARCH-amd64/segment.h)

async def l4_thread_register_del_irq(thread, irq):
    """Let `irq` (an Irq or semaphore capability, needs W) fire whenever an IPC gate bound
    to `thread` is deleted; -L4_EBUSY if one is registered already."""
    fn = "l4_thread_register_del_irq"
    thread = _kobj.cap(thread, fn, "thread")
    irq = _kobj.cap(irq, fn, "irq")
    u = l4_utcb()
    u.mr[0] = L4_THREAD_REGISTER_DELETE_IRQ_OP
    u.mr[1] = L4_ITEM_MAP
    u.mr[2] = l4_obj_fpage(irq, 0, L4_CAP_FPAGE_RWS).raw
    return await _kobj.call(thread, l4_msgtag(L4_PROTO_THREAD, 1, 1, 0).raw)


def l4_thread_modify_sender_start():
    """Begin a modify_senders message in the current UTCB."""
    l4_utcb().mr[0] = L4_THREAD_MODIFY_SENDER_OP
    return l4_msgtag(L4_PROTO_THREAD, 1, 0, 0)


def l4_thread_modify_sender_add(match_mask, match, del_bits, add_bits, tag):
    """Add a rule: a queued sender whose (label & match_mask) == match gets
    (label & ~del_bits) | add_bits (the first matching rule only). Returns the new tag."""
    fn = "l4_thread_modify_sender_add"
    words = [_kobj.word(v, fn, what) for v, what in ((match_mask, "match_mask"),
             (match, "match"), (del_bits, "del_bits"), (add_bits, "add_bits"))]
    n = tag.words
    if n + 4 > 63:
        raise ValueError(f"{fn}: the message holds at most 15 rules")
    u = l4_utcb()
    for i, v in enumerate(words):
        u.mr[n + i] = v
    return l4_msgtag(L4_PROTO_THREAD, n + 4, 0, 0)


async def l4_thread_modify_sender_commit(thread, tag):
    """Send the rules to `thread`: only the thread itself may relabel its senders."""
    thread = _kobj.cap(thread, "l4_thread_modify_sender_commit", "thread")
    return await _kobj.call(thread, tag.raw)


async def l4_thread_arm_set_tpidruro(thread, tpidruro):
    """arm64: the value the thread reads from TPIDRURO (its TLS pointer)."""
    fn = "l4_thread_arm_set_tpidruro"
    thread = _kobj.cap(thread, fn, "thread")
    u = l4_utcb()
    u.mr[0] = L4_THREAD_ARM_TPIDRURO_OP
    u.mr[1] = _kobj.word(tpidruro, fn, "tpidruro")
    return await _kobj.call(thread, l4_msgtag(L4_PROTO_THREAD, 2, 0, 0).raw)


L4_AMD64_SEGMENT_FS, L4_AMD64_SEGMENT_GS = 0, 1


async def fiasco_amd64_set_segment_base(thread, segr, base):
    """amd64: the FS (L4_AMD64_SEGMENT_FS) or GS base of the thread; returns l4_error
    of the reply (0, -L4_EINVAL for another segment or a non-canonical base)."""
    fn = "fiasco_amd64_set_segment_base"
    thread = _kobj.cap(thread, fn, "thread")
    segr = _kobj.word(segr, fn, "segr")
    if segr >= 1 << 48:
        raise ValueError(f"{fn}: segr {segr} does not fit the opcode word")
    u = l4_utcb()
    u.mr[0] = L4_THREAD_AMD64_SET_SEGMENT_BASE_OP | (segr << 16)
    u.mr[1] = _kobj.word(base, fn, "base")
    return l4_error_u(await _kobj.call(thread, l4_msgtag(L4_PROTO_THREAD, 2, 0, 0).raw), u)


async def fiasco_amd64_set_fs(thread, base):
    """fiasco_amd64_set_segment_base(thread, L4_AMD64_SEGMENT_FS, base)."""
    thread = _kobj.cap(thread, "fiasco_amd64_set_fs", "thread")
    return await fiasco_amd64_set_segment_base(thread, L4_AMD64_SEGMENT_FS, base)


__all__ += ["l4_thread_register_del_irq", "l4_thread_modify_sender_start",
            "l4_thread_modify_sender_add", "l4_thread_modify_sender_commit",
            "l4_thread_arm_set_tpidruro", "fiasco_amd64_set_segment_base",
            "fiasco_amd64_set_fs", "L4_AMD64_SEGMENT_FS", "L4_AMD64_SEGMENT_GS"]
