"""Scheduler control plane (§8.7, §12): info, run_thread and idle_time on the scheduler
capability (label L4_PROTO_SCHEDULER).

CPU sets are decoded as Fiasco's L4_cpu_set does (granularity clamped to 24, offset
rounded down to a multiple of 2^granularity); scheduling parameters in the legacy
l4_sched_param_t layout or in the class form (fixed priority only: that is the one
scheduling class the model's C scheduler has). Each handler decodes and checks first (may
fail, changes nothing), then performs through C. What it must not do: keep queues or
clocks of its own.
"""
from .. import _core
from .invocation import item_object, reply, signed

_lib = _core.abi()

MAX_CPUS = _lib.KERNEL_MAX_CPUS                  # Fiasco's Config::Max_num_cpus
SCHED_CLASSES = _lib.L4_SCHEDULER_CLASS_FIXED_PRIO
_WORD = 8
_LEGACY_WORDS = 5                                # opcode + l4_sched_param_t (4 words)
# The class form's fixed-priority structure: cpus (2 words), sched_class, length, quantum,
# prio (a 16-bit field padded to a word): 6 words.
_FIXED_PRIO_SIZE = 6 * _WORD
_NO_CPU = 0xFFFFFFFF


def invoke(inv):
    if inv.label == _lib.L4_PROTO_IRQ:
        return reply(-_lib.L4_ENOSYS)    # its ICU protocol (hotplug IRQ) comes with the ICU
    if inv.label != _lib.L4_PROTO_SCHEDULER:
        return reply(-_lib.L4_EBADPROTO)
    if inv.words < 1:
        return reply(-_lib.L4_EMSGTOOSHORT)
    op = inv.mr(0)
    if op == _lib.L4_SCHEDULER_INFO_OP:
        return _info(inv)
    if op == _lib.L4_SCHEDULER_RUN_THREAD_OP:
        return _run_thread(inv)
    if op == _lib.L4_SCHEDULER_IDLE_TIME_OP:
        return _idle_time(inv)
    return reply(-_lib.L4_ENOSYS)


class CpuSet:
    """An l4_sched_cpu_set_t as the kernel reads it: gran_offset and map words."""
    __slots__ = ("granularity", "offset", "map")

    def __init__(self, gran_offset, cpu_map=0):
        self.granularity = min((gran_offset >> 24) & 0xFF, 24)
        self.offset = (gran_offset & 0xFFFFFF) & ~((1 << self.granularity) - 1)
        self.map = cpu_map

    def contains(self, cpu):
        if cpu < self.offset:
            return False
        bit = (cpu - self.offset) >> self.granularity
        return bit < 64 and bool(self.map >> bit & 1)

    def first(self, present, limit=MAX_CPUS):
        """The first CPU below `limit` in the set for which present(cpu) holds, or None."""
        for cpu in range(self.offset, limit):
            if self.contains(cpu) and present(cpu):
                return cpu
        return None


def _cpu(k, cpu):
    out = k._ffi.new("struct cpu_info *")
    return out if cpu < k.cpus and k._lib.cpu_info(k._k, [cpu], out) == 0 else None


def _online(k):
    """A predicate: is this CPU online (the model's CPUs are all present)?"""
    def online(cpu):
        info = _cpu(k, cpu)
        return info is not None and bool(info.online)
    return online


def _present(k):
    """A predicate: is this CPU present (one of the kernel's CPUs)?"""
    return lambda cpu: cpu < k.cpus


def _fits(inv, words):
    """Fiasco's RPC size check: enough words, and words + items within the MRs."""
    return inv.words >= words and inv.words + inv.items <= _lib.L4_UTCB_GENERIC_DATA_SIZE


def _info(inv):
    """MR1 = gran_offset. Replies MR0 = present CPUs as a map of that window, MR1 = the
    maximum number of CPUs, MR2 = the scheduling classes offered."""
    if not _fits(inv, 2):
        return reply(-_lib.L4_EMSGTOOSHORT)
    s = CpuSet(inv.mr(1))
    if s.offset >= MAX_CPUS:
        return reply(-_lib.L4_ERANGE)
    k = inv.kernel
    # Fiasco also bounds the window by (offset + MWORD_BITS) << granularity; with at most
    # 64 CPUs that bound never bites, and every bit index stays below 64.
    present = _present(k)
    cpu_map = 0
    for i in range(MAX_CPUS - s.offset):
        if present(i + s.offset):
            cpu_map |= 1 << (i >> s.granularity)
    inv.utcb.mr[0] = cpu_map
    inv.utcb.mr[1] = MAX_CPUS
    inv.utcb.mr[2] = SCHED_CLASSES
    return reply(0, 3)


def _sched_param(inv):
    """(prio, quantum_us) from MR1.. in either layout, or an error reply."""
    size = (inv.words - 1) * _WORD                 # bytes of parameters sent
    sched_class = signed(inv.mr(3))
    if sched_class >= 0:                           # legacy: the word is the priority
        prio, quantum = sched_class, inv.mr(4)
    else:
        length = inv.mr(4)
        if length > size:
            return None, reply(-_lib.L4_EINVAL)
        if sched_class != _lib.L4_SCHED_CLASS_FIXED_PRIO:
            return None, reply(-_lib.L4_ERANGE)    # WFQ or unknown: not offered
        if length < _FIXED_PRIO_SIZE:
            return None, reply(-_lib.L4_EINVAL)
        quantum, prio = inv.mr(5), inv.mr(6) & 0xFFFF
    if prio <= 0:
        return None, reply(-_lib.L4_EINVAL)        # 0 is the kernel's (idle) priority
    return (min(prio, _lib.L4_SCHED_MAX_PRIO), quantum), None


def _run_thread(inv):
    """MR1.. = scheduling parameters, item = thread. Moves the thread to its CPU and
    applies priority and quantum (0: the default)."""
    if inv.words < _LEGACY_WORDS:
        return reply(-_lib.L4_EINVAL)
    found, err = item_object(inv, 0, _lib.KOBJ_THREAD)
    if err is not None:
        return err
    thread = found[0]
    param, err = _sched_param(inv)
    if err is not None:
        return err
    prio, quantum_us = param
    k = inv.kernel
    s = CpuSet(inv.mr(1), inv.mr(2))
    info = k._ffi.new("struct thread_info *")
    k._lib.thread_info(k._k, [thread], info)
    me = k._ffi.new("struct thread_info *")
    k._lib.thread_info(k._k, [inv.thread], me)
    online = _online(k)
    # Target CPU (Scheduler::sys_run): the thread's home CPU if online and in the set,
    # else the caller's CPU if in the set, else the first present CPU of the set.
    if info.cpu != _NO_CPU and online(info.cpu) and s.contains(info.cpu):
        cpu = info.cpu
    elif s.contains(me.cpu):
        cpu = me.cpu
    else:
        cpu = s.first(_present(k))
    if cpu is None or not online(cpu):
        # Fiasco moves the thread to that (invalid or offline) CPU, where it never runs;
        # the model has no such place, so the thread stays as it is.
        return reply(0)
    quantum_ns = min(quantum_us * 1000, (1 << 64) - 1)

    def run():
        return k._lib.thread_run(k._k, [thread], [cpu], prio, quantum_ns)

    rc = run()
    return reply(rc if rc < 0 else 0)


def _idle_time(inv):
    """MR1 = gran_offset, MR2 = map. MR0 = idle time (µs) of the set's first online CPU."""
    if not _fits(inv, 3):
        return reply(-_lib.L4_EMSGTOOSHORT)
    k = inv.kernel
    cpu = CpuSet(inv.mr(1), inv.mr(2)).first(_online(k))
    if cpu is None:
        return reply(-_lib.L4_EINVAL)
    inv.utcb.mr[0] = _cpu(k, cpu).idle_ns // 1000
    return reply(0, 1)
