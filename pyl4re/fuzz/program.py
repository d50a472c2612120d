"""Fuzz programs: random sequences of kernel invocations, and the µApp that runs one.

A program is plain data, a list of ops `(name, *ints)`, so a failing case can be shrunk
op by op and written out as a script. The µApp runs its ops in order through the l4sys
API like any other µApp: it holds capabilities and its UTCB, nothing else. What it
counts as a *refusal* is an argument the l4sys layer rejects before the kernel
(TypeError/ValueError), a page fault nobody resolves (PageFaultError) or a trap without
an exception handler (UnhandledTrap); everything else
that escapes is a finding the run records as the thread's failure.
"""
import pyl4re
import pyl4re.io
import pyl4re.vcpu
from pyl4re.l4sys import (
    L4_BASE_FACTORY_CAP, L4_BASE_ICU_CAP, L4_BASE_LOG_CAP,
    L4_BASE_SCHEDULER_CAP, L4_BASE_TASK_CAP, L4_BASE_THREAD_CAP, L4_PROTO_FACTORY,
    L4_PROTO_TASK, L4_RCV_ITEM_SINGLE_CAP, L4_VARG_TYPE_FPAGE, L4_VARG_TYPE_UMWORD,
    l4_debugger_set_object_name, l4_factory_create_factory, l4_factory_create_gate,
    l4_factory_create_irq, l4_factory_create_semaphore, l4_factory_create_task,
    l4_factory_create_thread, l4_factory_create_vm, l4_fpage, l4_fpage_t, l4_icu_bind, l4_icu_unbind,
    l4_icu_unmask, l4_ipc, l4_ipc_gate_get_infos, l4_ipc_sleep, l4_irq_detach,
    l4_irq_receive, l4_irq_trigger, l4_irq_unmask, l4_kobject_dec_refcnt,
    l4_map_obj_control, l4_msgtag, l4_obj_fpage, l4_rcv_ep_bind_thread, l4_sched_param,
    l4_sched_cpu_set, l4_scheduler_info, l4_scheduler_run_thread, l4_semaphore_down, l4_semaphore_up,
    l4_task_add_ku_mem, l4_task_cap_equal, l4_task_cap_valid, l4_task_delete_obj,
    l4_task_map, l4_task_release_cap, l4_task_unmap, l4_thread_control_bind,
    l4_thread_control_commit, l4_thread_control_exc_handler, l4_thread_control_pager,
    l4_thread_control_start, l4_thread_ex_regs, l4_thread_stats_time, l4_thread_switch,
    l4_thread_vcpu_control_ext,
    l4_timeout, l4_timeout_from_us, l4_utcb, l4_vcon_write,
    L4_BASE_IOMMU_CAP, L4_BASE_PAGER_CAP, L4_ICU_FLAG_MSI, L4_INVALID_CAP, L4_ITEM_MAP,
    L4_PROTO_DMA_SPACE, L4_PROTO_IO_PAGE_FAULT, L4_THREAD_EX_REGS_TRIGGER_EXCEPTION,
    l4_factory_create, l4_icu_info, l4_icu_mask, l4_icu_msi_info, l4_icu_set_mode,
    l4_iofpage, l4_iommu_bind, l4_iommu_unbind, l4_map_control, l4_scheduler_idle_time,
    l4_thread_modify_sender_add, l4_thread_modify_sender_commit,
    l4_thread_modify_sender_start, l4_thread_register_del_irq, l4_thread_vcpu_control,
    l4_thread_vcpu_resume_commit, l4_thread_vcpu_resume_start, l4_vcon_read,
)
from pyl4re.errors import L4NotSupportedError
from pyl4re.io import IoPortError
from pyl4re.mem import PageFaultError
from pyl4re.traps import UnhandledTrap

from . import words

OPS = ("ipc", "ipc", "ipc", "invoke", "invoke", "map", "unmap", "create", "delete",
       "mem", "mem", "sleep", "compute", "trap", "api", "api", "api", "api", "api", "io",
       "vcpu")
# A vCPU resume that succeeds ends the µApp's program (the thread goes to the state's ip):
# only this share of the "vcpu" draws are resumes, the rest become api ops.
VCPU_SHARE = 0.08

# Factory create opcodes as the factory protocol has them (§8.3): task, thread, gate,
# factory, irq, semaphore, and a few that are not.
CREATE_PROTOCOLS = (-11, -12, 0, -15, -18, -20, -16, -17, -17, -25, 7)


def draw(rnd, length):
    """A random program of `length` ops."""
    return [draw_op(rnd) for _ in range(length)]


def draw_op(rnd, op=None):
    """One random op: of a random kind, or of kind `op` (the mutator's fresh fields)."""
    if op is None:
        op = rnd.choice(OPS)
        if op == "vcpu" and rnd.random() >= VCPU_SHARE:
            op = "api"
    if op == "ipc":
        flags = rnd.choice((1, 2, 3, 6, 7, 15, 8, 4, 0, rnd.randrange(16)))
        return (op, words.selector(rnd), flags, words.word(rnd), words.label(rnd),
                rnd.choice((0, 0, 1, 2, 3, 8, 63, 64)), rnd.choice((0, 0, 0, 1, 2)),
                rnd.getrandbits(32), words.timeout(rnd))
    if op == "invoke":
        return (op, words.selector(rnd), words.label(rnd), rnd.randrange(0, 6),
                rnd.getrandbits(32), words.opcode(rnd), rnd.choice((0, 0, 1)),
                words.selector(rnd))
    if op == "map":
        return (op, words.selector(rnd), words.selector(rnd), words.fpage(rnd),
                rnd.choice((0, words.word(rnd), words.fpage(rnd) & ~0xFFF | 1)))
    if op == "unmap":
        return (op, words.selector(rnd), words.fpage(rnd),
                rnd.choice((0, 0x80000000, words.word(rnd))))
    if op == "create":
        return (op, words.selector(rnd), rnd.choice(CREATE_PROTOCOLS),
                words.selector(rnd), rnd.choice((0, 1, 4096, 1 << 20, words.word(rnd))))
    if op == "delete":
        return (op, rnd.choice(("delete_obj", "release")), words.selector(rnd))
    if op == "mem":
        base = rnd.choice(words.MEMORY_BASES + (0, 0xBFF00000, 1 << 47, words.word(rnd)))
        return (op, rnd.choice(("read", "write", "fetch")),
                (base + rnd.randrange(0, 0x20000)) & words.U64, rnd.randrange(1, 9))
    if op == "api":
        return (op, rnd.randrange(len(API)), words.selector(rnd), words.selector(rnd),
                words.word(rnd), words.timeout(rnd))
    if op == "io":
        return (op, rnd.choice((1, 2, 4)), rnd.choice((0, 1)), words.port(rnd),
                rnd.getrandbits(32))
    if op == "vcpu":
        return (op, rnd.getrandbits(16), words.selector(rnd), words.word(rnd),
                words.word(rnd), words.word(rnd), rnd.choice((0, 0, 1)))
    if op in ("sleep", "compute"):
        return (op, rnd.randrange(0, 300))
    return (op, rnd.choice((0, 3, 6, 13, 14, 0x101, words.word(rnd) & 0xFFFFFFFF)))


def _fill(u, n, seed):
    """Message registers 0..n-1 from a seed, cheaply: a 64-bit LCG."""
    x = seed | 1
    for i in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) & words.U64
        u.mr[i] = x if x & 0x300 else x & 0xFFFF  # a quarter of them small
    return x


async def child(*_):
    """What threads a fuzz µApp starts with ex_regs run: a few waits and sends."""
    u = l4_utcb()
    for i in range(4):
        await l4_ipc(L4_BASE_THREAD_CAP if i % 2 else 0x16 << 12, u, 7, 0,
                     l4_msgtag(0, i, 0, 0), 0x04000400 if i else 0)
    return "child done"


def _ip(word):
    """An instruction pointer: the child's code, or wherever the word points."""
    return pyl4re.entry(child) if word & 1 else word


def _thread_control(th, utcb, task, pager):
    l4_thread_control_start()
    if pager & 1:
        l4_thread_control_pager(pager & ~0xFFF)
    if pager & 2:
        l4_thread_control_exc_handler(pager & ~0xFFF)
    l4_thread_control_bind(utcb & ~7 if utcb & 8 else utcb, task)
    return l4_thread_control_commit(th)


def _utcb_of(a, area):
    """A UTCB address in the task's UTCB area `area` (mostly), for binds and ku-mem."""
    return area + (a & 0xF) * 0x400 if a & 0x10 else a


# One adapter per l4sys call with a plausible argument list drawn from four numbers.
API = (
    lambda a, b, c, t, x: l4_factory_create_thread(L4_BASE_FACTORY_CAP, a),
    lambda a, b, c, t, x: l4_factory_create_task(L4_BASE_FACTORY_CAP, a,
                                              l4_fpage(c & ~0xFFF, 12 + c % 4, 7)),
    lambda a, b, c, t, x: l4_factory_create_gate(L4_BASE_FACTORY_CAP, a, b, c & ~3),
    lambda a, b, c, t, x: l4_factory_create_irq(L4_BASE_FACTORY_CAP, a),
    lambda a, b, c, t, x: l4_factory_create_semaphore(L4_BASE_FACTORY_CAP, a),
    lambda a, b, c, t, x: l4_factory_create_factory(L4_BASE_FACTORY_CAP, a, c % (1 << 20)),
    lambda a, b, c, t, x: _thread_control(a, _utcb_of(c, x.area), b, t),
    lambda a, b, c, t, x: l4_thread_ex_regs(a, _ip(c), c, t & 0x30000),
    lambda a, b, c, t, x: l4_scheduler_run_thread(L4_BASE_SCHEDULER_CAP, a,
                                               l4_sched_param(1 + c % 255, t % 5000)),
    lambda a, b, c, t, x: l4_thread_switch(a),
    lambda a, b, c, t, x: l4_rcv_ep_bind_thread(a, b, c & ~3),
    lambda a, b, c, t, x: l4_ipc_gate_get_infos(a),
    lambda a, b, c, t, x: l4_irq_trigger(a),
    lambda a, b, c, t, x: l4_irq_receive(a, t),
    lambda a, b, c, t, x: l4_irq_unmask(a),
    lambda a, b, c, t, x: l4_irq_detach(a),
    lambda a, b, c, t, x: l4_icu_bind(L4_BASE_ICU_CAP, c % 40, a),
    lambda a, b, c, t, x: l4_icu_unbind(L4_BASE_ICU_CAP, c % 40, a),
    lambda a, b, c, t, x: l4_icu_unmask(L4_BASE_ICU_CAP, c % 40),
    lambda a, b, c, t, x: l4_semaphore_up(a),
    lambda a, b, c, t, x: l4_semaphore_down(a, t),
    lambda a, b, c, t, x: l4_task_add_ku_mem(a, l4_fpage(_utcb_of(c, x.area) & ~0xFFF, 12, 6)),
    lambda a, b, c, t, x: l4_task_cap_valid(L4_BASE_TASK_CAP, a),
    lambda a, b, c, t, x: l4_task_cap_equal(L4_BASE_TASK_CAP, a, b),
    lambda a, b, c, t, x: l4_debugger_set_object_name(a, "x" * (c % 20)),
    lambda a, b, c, t, x: l4_vcon_write(L4_BASE_LOG_CAP, b"fuzz\n"[: c % 6]),
    lambda a, b, c, t, x: l4_scheduler_info(L4_BASE_SCHEDULER_CAP),
    lambda a, b, c, t, x: l4_kobject_dec_refcnt(a, c % 3),
    lambda a, b, c, t, x: l4_thread_stats_time(a),
    lambda a, b, c, t, x: l4_task_map(a, L4_BASE_TASK_CAP, l4_obj_fpage(b, 0, 15),
                                   l4_map_obj_control(c & ~0xFFF, 0)),
    # hardware VMs (docs/vm.md): a VM, memory into it, an extended vCPU area
    lambda a, b, c, t, x: l4_factory_create_vm(L4_BASE_FACTORY_CAP, a),
    lambda a, b, c, t, x: l4_task_map(a, L4_BASE_TASK_CAP, l4_fpage(c & ~0xFFF, 12 + c % 9, 7),
                                   l4_map_obj_control(b & ~0xFFF, 0)),
    lambda a, b, c, t, x: l4_thread_vcpu_control_ext(a, _utcb_of(c, x.area) & ~(c & 0xFFF)),
    # DMA spaces and the IOMMU (§8.11, docs/iommu.md): a space, a device bound to it, memory
    # mapped into it at an I/O virtual address the harness's devices use (case.DMA_IOVAS)
    lambda a, b, c, t, x: l4_factory_create(L4_BASE_FACTORY_CAP, L4_PROTO_DMA_SPACE, a),
    lambda a, b, c, t, x: l4_iommu_bind(L4_BASE_IOMMU_CAP, _src_id(c, x), a),
    lambda a, b, c, t, x: l4_iommu_unbind(L4_BASE_IOMMU_CAP, _src_id(c, x), a),
    lambda a, b, c, t, x: l4_task_map(a, L4_BASE_TASK_CAP, _mem_fpage(c),
                                      l4_map_obj_control(_iova(t), 0)),
    # MSIs on the ICU (§8.6)
    lambda a, b, c, t, x: l4_icu_msi_info(L4_BASE_ICU_CAP, c % 36, _src_id(t, x)),
    lambda a, b, c, t, x: l4_icu_bind(L4_BASE_ICU_CAP, L4_ICU_FLAG_MSI | c % 36, a),
    lambda a, b, c, t, x: l4_icu_unbind(L4_BASE_ICU_CAP, L4_ICU_FLAG_MSI | c % 36, a),
    lambda a, b, c, t, x: l4_icu_info(L4_BASE_ICU_CAP),
    lambda a, b, c, t, x: l4_icu_mask(L4_BASE_ICU_CAP, c % 40),
    lambda a, b, c, t, x: l4_icu_set_mode(L4_BASE_ICU_CAP, c % 40, t & 0x3F),
    # x86 I/O ports (§5.1): from sigma0, mapped on, unmapped, in odd sizes
    lambda a, b, c, t, x: _ports_from_sigma0(c & 0xFFFF, t % 18),
    lambda a, b, c, t, x: l4_task_map(a, L4_BASE_TASK_CAP, l4_iofpage(c & 0xFFFF, t % 18),
                                      l4_map_control(0, 0, 0)),
    lambda a, b, c, t, x: l4_task_unmap(a, l4_iofpage(c & 0xFFFF, t % 18),
                                        (0x80000000, 0x40000000, 0)[t % 3]),
    # thread ops of §8.2 not reached above
    lambda a, b, c, t, x: _modify_senders(a, b, c, t),
    lambda a, b, c, t, x: l4_thread_register_del_irq(a, b),
    lambda a, b, c, t, x: l4_thread_ex_regs(a, ~0 & words.U64, ~0 & words.U64,
                                            L4_THREAD_EX_REGS_TRIGGER_EXCEPTION),
    lambda a, b, c, t, x: l4_scheduler_idle_time(L4_BASE_SCHEDULER_CAP,
                                                 l4_sched_cpu_set(c % 4, t % 3, c)),
    lambda a, b, c, t, x: l4_vcon_read(L4_BASE_LOG_CAP, c % 300),
)


def _src_id(word, x):
    """A source id: mostly one of the harness's devices (x.src), sometimes garbage."""
    return x.src[word % len(x.src)] if word & 3 else word


def _iova(word):
    return words.DMA_IOVAS[word % len(words.DMA_IOVAS)]


def _mem_fpage(word):
    """A page (or a few) of the fuzz memory areas, with random rights."""
    base = words.MEMORY_BASES[word % len(words.MEMORY_BASES)] + (word >> 2 & 15) * 0x1000
    return l4_fpage(base, 12 + (word >> 6) % 3, word >> 8 & 15)


async def _ports_from_sigma0(port, order):
    """Ask the pager (sigma0 for fuzz µApps) for I/O ports, as an I/O page fault does."""
    u = l4_utcb()
    u.bdr = 0
    u.br[0] = L4_ITEM_MAP
    u.br[1] = l4_iofpage(0, 16).raw
    u.mr[0] = (port << 12 | min(order, 63) << 6 | 2 << 4 | 3) & words.U64
    u.mr[1] = 0
    return await l4_ipc(L4_BASE_PAGER_CAP, u, 3, 0, l4_msgtag(L4_PROTO_IO_PAGE_FAULT, 2, 0, 0),
                        0)


async def _modify_senders(thread, b, c, t):
    tag = l4_thread_modify_sender_start()
    for i in range(c % 5):
        tag = l4_thread_modify_sender_add(t >> i & 0xFF, b & 0xFF, c >> i & 3, t & 0xC, tag)
    return await l4_thread_modify_sender_commit(thread, tag)


def _signed(label16):
    """A 16-bit label as l4_msgtag() takes it (protocol labels are negative)."""
    return label16 - (1 << 16) if label16 & 0x8000 else label16


async def _vcpu_resume(u, op, ctx):
    """Become a vCPU (at a state area in ku-mem, mostly) and resume into random state:
    user mode into whatever a slot names (a task, a VM, nothing), random ip, sp, IRQ and
    fault flags; with `items`, a map item for the user task. A resume that is not refused
    never returns: the thread goes on at the state's ip (the child's code or nowhere)."""
    _, state, user_task, ip, sp, where, items = op
    area = ctx.area + 0x1000 if where & 1 else where & ~7
    await l4_thread_vcpu_control(L4_BASE_THREAD_CAP, area)
    try:
        v = pyl4re.vcpu.state()
    except RuntimeError:
        raise ValueError("not a vCPU") from None       # control was refused: counted so
    v.state, v.sticky_flags = state & 0xFF, state >> 8 & 0xF
    v.user_task = user_task if user_task & 0x10000 else L4_INVALID_CAP
    v.ip, v.sp = _ip(ip), sp
    v.entry_ip, v.entry_sp = _ip(ip >> 1), sp ^ 0x1000
    tag = l4_thread_vcpu_resume_start()
    if items:
        u.mr[1], u.mr[2] = L4_ITEM_MAP, _mem_fpage(sp).raw
        tag = l4_msgtag(tag.label, 1, 1, 0)
    await l4_thread_vcpu_resume_commit(L4_BASE_THREAD_CAP, tag)
    return 2


async def run_op(u, op, ctx):
    """One op; the number of kernel invocations it made."""
    name = op[0]
    if name == "ipc":
        _, dest, flags, slabel, label, nwords, items, seed, timeout = op
        _fill(u, min(nwords + 2 * items, 63), seed)
        await l4_ipc(dest, u, flags, slabel, l4_msgtag(_signed(label), nwords, items, 0),
                     timeout)
        return 1
    if name == "invoke":
        _, dest, label, nwords, seed, opcode, items, obj = op
        _fill(u, nwords, seed)
        if nwords:
            u.mr[0] = opcode                       # an opcode of §8 (and its neighbours)
        if items:                                  # an object argument as a send item
            u.mr[nwords], u.mr[nwords + 1] = L4_ITEM_MAP, (obj & ~0xFFF) | 3 << 4 | 0xF
        await l4_ipc(dest, u, 3, 0, l4_msgtag(_signed(label), nwords, items, 0), 0x04000400)
        return 1
    if name == "io":
        _, size, out, port, value = op
        port = min(port, 0x10000 - size)
        fn = {1: (pyl4re.io.inb, pyl4re.io.outb), 2: (pyl4re.io.inw, pyl4re.io.outw),
              4: (pyl4re.io.inl, pyl4re.io.outl)}[size][out]
        try:
            await (fn(port, value & ((1 << 8 * size) - 1)) if out else fn(port))
        except (IoPortError, L4NotSupportedError):
            raise ValueError("no such port here") from None     # counted as refused
        return 1
    if name == "vcpu":
        return await _vcpu_resume(u, op, ctx)
    if name == "map":
        _, dst, src, fpage, base = op
        await l4_task_map(dst, src, l4_fpage_t(fpage), base)
        return 1
    if name == "unmap":
        _, task, fpage, mask = op
        await l4_task_unmap(task, l4_fpage_t(fpage), mask)
        return 1
    if name == "create":
        _, factory, proto, target, arg = op
        u.mr[0] = proto & words.U64                # as l4_factory_create_* builds it
        u.mr[1] = (L4_VARG_TYPE_FPAGE if proto == L4_PROTO_TASK else L4_VARG_TYPE_UMWORD) \
            | 8 << 16
        u.mr[2] = arg
        u.bdr = 0
        u.br[0] = target | L4_RCV_ITEM_SINGLE_CAP  # where the new capability goes
        await l4_ipc(factory, u, 3, 0, l4_msgtag(L4_PROTO_FACTORY, 3 if arg else 1, 0, 0), 0)
        return 1
    if name == "delete":
        _, how, sel = op
        fn = l4_task_delete_obj if how == "delete_obj" else l4_task_release_cap
        await fn(L4_BASE_TASK_CAP, sel)
        return 1
    if name == "mem":
        _, how, va, size = op
        if how == "read":
            await pyl4re.mem.read(va, size)
        elif how == "write":
            await pyl4re.mem.write(va, bytes(range(size)))
        else:
            await pyl4re.mem.fetch(va)
        return 1
    if name == "api":
        _, which, a, b, c, t = op
        await API[which % len(API)](a, b, c, t, ctx)
        return 1
    if name == "sleep":
        await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(op[1] + 1)))
        return 1
    if name == "compute":
        await pyl4re.compute(op[1] * 100)
        return 1
    if name == "trap":
        await pyl4re.trap(op[1])
        return 1
    raise ValueError(f"unknown fuzz op {name!r}")


class Context:
    """What a fuzz µApp's ops draw on besides their words: its UTCB area, the source ids
    of the harness's DMA devices, and the case's watch (the oracles that look between
    ops, case.Watch), called around every op with the op."""
    __slots__ = ("area", "src", "watch")

    def __init__(self, area, src, watch):
        self.area, self.src, self.watch = area, src, watch


def program(ops, stats, src=(0,), watch=None):
    """The µApp that runs `ops`; `stats` (a dict shared by the case) counts invocations
    and refusals; `src` are the devices' source ids; `watch(op, after, refused=False)` (if
    given) is called before (after=False) and after (after=True; refused: l4sys or the
    op itself turned it down) every op."""
    async def fuzz_main(env):
        if not hasattr(env, "utcb_area"):
            return "entered again"      # a vCPU resume or ex_regs sent a thread here
        u = l4_utcb()
        ctx = Context(env.utcb_area.raw & ~0xFFF, tuple(src), watch)
        for op in ops:
            if watch:
                watch(op, False)
            refused = False
            try:
                stats["invocations"] += await run_op(u, op, ctx)
            except (TypeError, ValueError, PageFaultError, UnhandledTrap):
                stats["refused"] += 1
                refused = True
            if watch:
                watch(op, True, refused)
        return len(ops)
    return fuzz_main

