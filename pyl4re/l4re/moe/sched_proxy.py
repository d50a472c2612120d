"""moe's scheduler proxies (l4re-core `moe/server/src/sched_proxy.cc`): a program gets one
as its `scheduler`; `run_thread` passes the thread on to the kernel scheduler with
prio = min(requested + offset, limit) and the requested CPUs narrowed to the proxy's;
`info` reports only the proxy's CPUs; `idle_time` is not offered.
"""
from ...l4sys import (
    L4_ENOSYS, L4_FP_ALL_SPACES, L4_CAP_FPAGE_RWSD, L4_SCHEDULER_INFO_OP,
    L4_SCHEDULER_RUN_THREAD_OP, l4_error, l4_obj_fpage, l4_sched_cpu_set, l4_sched_param,
    l4_scheduler_info, l4_scheduler_run_thread, l4_task_unmap,
)
from ..protocols import PROTO_SCHEDULER
from ..rpc import Packer, RpcError


def requested_cpus(gran_offset, cpu_map, count=64):
    """The CPUs 0..count-1 an l4_sched_cpu_set_t names, as a bitmap: bit i of the map
    covers offset + i * 2^granularity ... + 2^granularity - 1 (granularity at most 24)."""
    gran, offset = min((gran_offset >> 24) & 0xFF, 24), gran_offset & 0xFFFFFF
    out = 0
    for cpu in range(offset, count):
        if cpu_map >> ((cpu - offset) >> gran) & 1:
            out |= 1 << cpu
    return out


class SchedProxy:
    INTERFACES = [(PROTO_SCHEDULER, "L4::Scheduler")]

    def __init__(self, moe, limit, offset, cpus=None):
        self.moe = moe
        self.limit, self.offset = limit, offset
        self.cpus = cpus                       # bitmap; None: every CPU

    def protocols(self):
        return {PROTO_SCHEDULER: self.dispatch}

    async def dispatch(self, req):
        op = req.word(0)
        if op == L4_SCHEDULER_RUN_THREAD_OP:
            return await self.run_thread(req)
        if op == L4_SCHEDULER_INFO_OP:
            env = self.moe.env
            tag, cpu_max, cpus = await l4_scheduler_info(env.scheduler)
            if cpu_max is None:
                return l4_error(tag)
            mask = cpus.map if self.cpus is None else cpus.map & self.cpus
            return (0, Packer().u64(mask).u64(cpu_max).words(), ())
        raise RpcError(L4_ENOSYS, "not offered by a proxy")

    async def run_thread(self, req):
        gran_offset, cpu_map, prio, quantum = (req.word(1), req.word(2), req.word(3),
                                               req.word(4))
        it = req.item(0)
        if it is None or it[0] != "cap":
            raise RpcError(22, "run_thread needs a thread")          # -L4_EINVAL
        thread = req.take_cap()
        mine = self.cpus if self.cpus is not None else (1 << 64) - 1
        cpus = requested_cpus(gran_offset, cpu_map) & mine
        prio = min(prio + self.offset, self.limit)
        sp = l4_sched_param(prio, quantum)
        if cpus:
            sp.affinity = l4_sched_cpu_set(0, 0, cpus & (1 << 64) - 1)
        tag = await l4_scheduler_run_thread(self.moe.env.scheduler, thread, sp)
        err = l4_error(tag)
        await l4_task_unmap(self.moe.env.task, l4_obj_fpage(thread, 0, L4_CAP_FPAGE_RWSD),
                            L4_FP_ALL_SPACES)
        self.moe.server.cap_alloc.free(thread)
        return err
