"""Scheduler calls for µApps, with l4sys names and argument order (§8.7): query CPUs,
run a thread with scheduling parameters, read idle time.

`l4_sched_cpu_set_t` and `l4_sched_param_t` are plain mutable objects with the C structs'
fields; `l4_sched_cpu_set()` and `l4_sched_param()` build them as l4sys does;
`l4_sched_param_wfq()` gives the WFQ class's parameters (for a WFQ build). Each call
returns the reply's l4_msgtag_t, plus what l4sys returns through pointers (per call).
"""
from dataclasses import dataclass, field

from . import _check, _kobj
from .consts import (
    L4_CAP_FPAGE_RWS, L4_PROTO_SCHEDULER, L4_SCHEDULER_IDLE_TIME_OP, L4_SCHEDULER_INFO_OP,
    L4_SCHEDULER_RUN_THREAD_OP, L4_SCHED_CLASS_WFQ,
)
from .fpage import l4_map_obj_control, l4_obj_fpage
from .msgtag import l4_msgtag, l4_msgtag_has_error, l4_msgtag_label
from .utcb import l4_utcb

_OFFSET_MASK = 0xFFFFFF


@dataclass
class l4_sched_cpu_set_t:
    """A CPU set: gran_offset = granularity << 24 | offset; bit i of map covers the CPUs
    offset + i * 2^granularity ... + 2^granularity - 1."""
    gran_offset: int = 0
    map: int = 0

    def granularity(self):
        return (self.gran_offset >> 24) & 0xFF

    def offset(self):
        return self.gran_offset & _OFFSET_MASK


def l4_sched_cpu_set(offset, granularity, map=1):    # noqa: A002 - l4sys' name
    """A CPU set from its offset (a multiple of 2^granularity), granularity (log2, an
    unsigned char: 0..255; values above 24 count as 24) and map."""
    offset = _check.in_range(offset, 0, _OFFSET_MASK, "l4_sched_cpu_set: offset", hex_=True)
    granularity = _check.in_range(granularity, 0, 0xFF, "l4_sched_cpu_set: granularity")
    cpu_map = _kobj.word(map, "l4_sched_cpu_set", "map")
    return l4_sched_cpu_set_t((granularity << 24) | offset, cpu_map)


@dataclass
class l4_sched_param_t:
    """Scheduling parameters in l4sys' (legacy) layout: affinity, prio, quantum (µs)."""
    affinity: l4_sched_cpu_set_t = field(default_factory=l4_sched_cpu_set_t)
    prio: int = 0
    quantum: int = 0


def l4_sched_param(prio, quantum=0):
    """Priority `prio` (1..255; above is clamped by the kernel), time slice `quantum` µs
    (0: the default), on any CPU (l4_sched_cpu_set(0, ~0, 1): granularity 0xFF)."""
    prio = _kobj.word(prio, "l4_sched_param", "prio")
    quantum = _kobj.word(quantum, "l4_sched_param", "quantum")
    return l4_sched_param_t(l4_sched_cpu_set(0, 0xFF, 1), prio, quantum)


@dataclass
class l4_sched_param_wfq_t:
    """Scheduling parameters of the WFQ class (§8.7, class L4_SCHED_CLASS_WFQ = -2): the
    kernel's L4_sched_param_wfq (kernkonzept/fiasco src/kern/ready_queue_wfq.cpp): affinity,
    time slice `quantum` (µs) and `weight`, the thread's share of its CPU. Only a WFQ build
    (Kernel(sched="wfq")) takes it; l4sys has no C helper for it."""
    affinity: l4_sched_cpu_set_t = field(default_factory=l4_sched_cpu_set_t)
    weight: int = 1
    quantum: int = 10000


def l4_sched_param_wfq(weight, quantum=10000):
    """WFQ parameters: `weight` (1..2^32-1) and `quantum` µs (> 0), on any CPU."""
    weight = _kobj.word(weight, "l4_sched_param_wfq", "weight")
    quantum = _kobj.word(quantum, "l4_sched_param_wfq", "quantum")
    return l4_sched_param_wfq_t(l4_sched_cpu_set(0, 0xFF, 1), weight, quantum)


_WFQ_PARAM_BYTES = 6 * 8          # cpus (2 words), sched_class, length, quantum, weight


def _cpu_set(cpus, fn):
    if not isinstance(cpus, l4_sched_cpu_set_t):
        raise TypeError(f"{fn}: cpus must be an l4_sched_cpu_set_t (l4_sched_cpu_set()), "
                        f"not {type(cpus).__name__}")
    return (_kobj.word(cpus.gran_offset, fn, "cpus.gran_offset"),
            _kobj.word(cpus.map, fn, "cpus.map"))


async def l4_scheduler_run_thread(scheduler, thread, sp):
    """Move `thread` to a CPU of sp.affinity and give it sp.prio and sp.quantum: the
    thread's current CPU if in the set, else the caller's, else the set's first."""
    fn = "l4_scheduler_run_thread"
    scheduler = _kobj.cap(scheduler, fn, "scheduler")
    item = l4_obj_fpage(_kobj.cap(thread, fn, "thread"), 0, L4_CAP_FPAGE_RWS).raw
    if not isinstance(sp, (l4_sched_param_t, l4_sched_param_wfq_t)):
        raise TypeError(f"{fn}: sp must be an l4_sched_param_t (l4_sched_param()) or "
                        f"l4_sched_param_wfq_t, not {type(sp).__name__}")
    gran_offset, cpu_map = _cpu_set(sp.affinity, fn)
    quantum = _kobj.word(sp.quantum, fn, "sp.quantum")
    u = l4_utcb()
    u.mr[0] = L4_SCHEDULER_RUN_THREAD_OP
    u.mr[1] = gran_offset
    u.mr[2] = cpu_map
    if isinstance(sp, l4_sched_param_wfq_t):          # the class form (§8.7)
        u.mr[3] = L4_SCHED_CLASS_WFQ & _kobj.U64
        u.mr[4] = _WFQ_PARAM_BYTES
        u.mr[5] = quantum
        u.mr[6] = _kobj.word(sp.weight, fn, "sp.weight")
        words = 7
    else:
        u.mr[3] = _kobj.word(sp.prio, fn, "sp.prio")
        u.mr[4] = quantum
        words = 5
    u.mr[words] = l4_map_obj_control(0, 0)
    u.mr[words + 1] = item
    return await _kobj.call(scheduler, l4_msgtag(L4_PROTO_SCHEDULER, words, 1, 0).raw)


async def _info(scheduler, cpus, fn):
    scheduler = _kobj.cap(scheduler, fn, "scheduler")
    if cpus is None:
        cpus = l4_sched_cpu_set_t()
    gran_offset, _ = _cpu_set(cpus, fn)
    u = l4_utcb()
    u.mr[0] = L4_SCHEDULER_INFO_OP
    u.mr[1] = gran_offset
    tag = await _kobj.call(scheduler, l4_msgtag(L4_PROTO_SCHEDULER, 2, 0, 0).raw)
    if l4_msgtag_has_error(tag):
        return tag, None, cpus, None
    cpus.map = int(u.mr[0])                # as l4sys, also after a negative label
    return tag, int(u.mr[1]), cpus, int(u.mr[2])


async def l4_scheduler_info(scheduler, cpus=None):
    """(tag, cpu_max, cpus): cpus.map becomes the map of present CPUs from
    cpus.gran_offset on (the set is updated in place, as l4sys' in/out parameter; a new
    one from CPU 0 is used if none is given); cpu_max is the most CPUs there can be.
    cpu_max is None (cpus untouched) on an IPC error."""
    tag, cpu_max, cpus, _ = await _info(scheduler, cpus, "l4_scheduler_info")
    return tag, cpu_max, cpus


async def l4_scheduler_info_with_classes(scheduler, cpus=None):
    """(tag, cpu_max, cpus, sched_classes): as l4_scheduler_info, plus the bitmap of
    scheduling classes (L4_SCHEDULER_CLASS_*)."""
    return await _info(scheduler, cpus, "l4_scheduler_info_with_classes")


async def l4_scheduler_idle_time(scheduler, cpus):
    """(tag, us): idle time in µs of the first online CPU in `cpus`; None on an IPC
    error."""
    fn = "l4_scheduler_idle_time"
    scheduler = _kobj.cap(scheduler, fn, "scheduler")
    gran_offset, cpu_map = _cpu_set(cpus, fn)
    u = l4_utcb()
    u.mr[0] = L4_SCHEDULER_IDLE_TIME_OP
    u.mr[1] = gran_offset
    u.mr[2] = cpu_map
    tag = await _kobj.call(scheduler, l4_msgtag(L4_PROTO_SCHEDULER, 3, 0, 0).raw)
    if l4_msgtag_has_error(tag):
        return tag, None
    return tag, int(u.mr[0])


async def l4_scheduler_is_online(scheduler, cpu):
    """Whether CPU `cpu` is online (False also when the query fails)."""
    cpu = _check.in_range(cpu, 0, _OFFSET_MASK, "l4_scheduler_is_online: cpu")
    s = l4_sched_cpu_set_t(cpu, 0)
    tag, _, s, _ = await _info(scheduler, s, "l4_scheduler_is_online")
    if l4_msgtag_has_error(tag) or l4_msgtag_label(tag) < 0:
        return False
    return bool(s.map & 1)


__all__ = ["l4_sched_cpu_set_t", "l4_sched_cpu_set", "l4_sched_param_t", "l4_sched_param",
           "l4_sched_param_wfq_t", "l4_sched_param_wfq", "l4_scheduler_run_thread",
           "l4_scheduler_info", "l4_scheduler_info_with_classes",
           "l4_scheduler_idle_time", "l4_scheduler_is_online"]
