/*
 * l4/sys/scheduler.h (pyl4re): scheduling parameters and run_thread (label
 * L4_PROTO_SCHEDULER).
 */
#ifndef PYL4RE_L4_SYS_SCHEDULER_H
#define PYL4RE_L4_SYS_SCHEDULER_H

#include <l4/sys/ipc.h>

/* CPUs offset .. offset + 64 << granularity; bit i of map stands for 1 << granularity CPUs. */
typedef struct l4_sched_cpu_set_t {
    l4_umword_t gran_offset;       /* offset | granularity << 24 */
    l4_umword_t map;
} l4_sched_cpu_set_t;

typedef struct l4_sched_param_t {
    l4_sched_cpu_set_t affinity;
    l4_umword_t prio;
    l4_umword_t quantum;           /* µs; 0: the default */
} l4_sched_param_t;

L4_INLINE l4_sched_cpu_set_t l4_sched_cpu_set(l4_umword_t offset, unsigned granularity,
                                              l4_umword_t map)
{
    l4_sched_cpu_set_t s = { (offset & 0xffffff) | ((l4_umword_t)(granularity & 0xFF) << 24), map };
    return s;
}
/* Priority prio, time slice quantum µs (0: the default), on any CPU (granularity 0xFF). */
L4_INLINE l4_sched_param_t l4_sched_param(unsigned prio, l4_umword_t quantum)
{
    l4_sched_param_t p = { l4_sched_cpu_set(0, 0xFF, 1), prio, quantum };
    return p;
}

L4_INLINE l4_msgtag_t l4_scheduler_run_thread(l4_cap_idx_t scheduler, l4_cap_idx_t thread,
                                              l4_sched_param_t const *sp)
{
    l4_utcb_t *u = l4_utcb();
    l4_msg_regs_t *m = l4_utcb_mr_u(u);
    m->mr[0] = L4_SCHEDULER_RUN_THREAD_OP;
    m->mr[1] = sp->affinity.gran_offset;
    m->mr[2] = sp->affinity.map;
    m->mr[3] = sp->prio;
    m->mr[4] = sp->quantum;
    m->mr[5] = l4_map_obj_control(0, 0);
    m->mr[6] = l4_obj_fpage(thread, 0, L4_CAP_FPAGE_RWS).raw;
    return l4_ipc_call(scheduler, u, l4_msgtag(L4_PROTO_SCHEDULER, 5, 1, 0), L4_IPC_NEVER);
}

#endif
