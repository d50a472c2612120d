/*
 * thread.c: thread objects and the operations the control plane performs on them:
 * control (bind to a task and UTCB, pager, exception handler), ex_regs, run_thread,
 * switch, stats, and a thread's end. Also IPC-gate binding and task ku-mem, which a
 * thread's binding depends on (§8.1-§8.4, §8.7).
 *
 * The control plane has decoded the request and checked the capability rights; these
 * functions check the arguments themselves and change nothing when they fail.
 */
#include <string.h>

#include "kernel.h"
#include "cspace.h"
#include "heap.h"
#include "native.h"
#include "quota.h"
#include "thread.h"

enum { DEFAULT_PRIO = 1, DEFAULT_QUANTUM_NS = 10 * 1000 * 1000 };   /* §12 */

void thread_init(struct thread *t)
{
    t->state = TS_DEAD;
    t->cpu = CPU_NONE;
    t->prio = DEFAULT_PRIO;
    t->quantum_ns = t->left_ns = DEFAULT_QUANTUM_NS;
    t->wfq_weight = 1;                            /* Fiasco's default WFQ context */
    t->wfq_qdw = DEFAULT_QUANTUM_NS;
    t->pager = t->exc_handler = L4_INVALID_CAP;
    t->senders.owner = t;          /* its queue of senders drives the vCPU sticky flag */
}

static struct task *task_of(const kernel_t *k, kobj_id_t id)
{
    struct kobj *o = kobj_get(k, id);
    return o && o->type == KOBJ_TASK ? (struct task *)o : NULL;
}

/* ---- ku-mem (UTCB areas) */

int task_kumem_add(kernel_t *k, struct task *t, uint64_t va, unsigned order)
{
    if (order < FRAME_SHIFT || order - FRAME_SHIFT > FRAME_MAX_ORDER || (va & ((1ull << order) - 1))
        || va + (1ull << order) - 1 > ARCH_USER_MAX || va + (1ull << order) < va)
        return -L4_EINVAL;
    if (t->nkumem == KUMEM_MAX)
        return -L4_ENOMEM;
    for (uint32_t i = 0; i < t->nkumem; i++)
        if (va < t->kumem[i].va + t->kumem[i].size && t->kumem[i].va < va + (1ull << order))
            return -L4_EEXIST;
    uint64_t size = 1ull << order;
    if (t->hdr.quota && quota_alloc(t->hdr.quota, size) < 0)
        return -L4_ENOMEM;
    phys_addr_t pa;
    if (frames_alloc(k, order - FRAME_SHIFT, &pa) < 0) {
        if (t->hdr.quota)
            quota_free(k, t->hdr.quota, size);
        return -L4_ENOMEM;
    }
    t->kumem[t->nkumem++] = (struct kumem){ va, size, pa };
    return 0;
}

static void task_kumem_release(kernel_t *k, struct task *t)
{
    for (uint32_t i = 0; i < t->nkumem; i++) {
        unsigned order = (unsigned)__builtin_ctzll(t->kumem[i].size) - FRAME_SHIFT;
        frames_free(k, t->kumem[i].pa, order);
        if (t->hdr.quota)
            quota_free(k, t->hdr.quota, t->kumem[i].size);
    }
    t->nkumem = 0;
}

/* Where the UTCB at va lies in physical memory, if [va, va + UTCB) is inside ku-mem. */
static int kumem_lookup(const struct task *t, uint64_t va, phys_addr_t *pa)
{
    for (uint32_t i = 0; i < t->nkumem; i++) {
        const struct kumem *m = &t->kumem[i];
        if (va >= m->va && va - m->va <= m->size - ARCH_UTCB_SIZE) {
            *pa = phys_addr(m->pa.raw + (va - m->va));
            return 1;
        }
    }
    return 0;
}

/* A task going away takes its threads and ku-mem along (docs/design-notes.md). */
void task_release(kernel_t *k, struct task *t)
{
    while (t->threads) {
        struct thread *th = t->threads;
        kobj_kill(k, &th->hdr);
        thread_unbind(k, th);
    }
    task_kumem_release(k, t);
}

int task_kumem_find(const kernel_t *k, kobj_id_t task, virt_addr_t va, uint64_t size,
                    phys_addr_t *out)
{
    const struct kobj *o = kobj_get(k, task);
    if (!o || o->type != KOBJ_TASK || !size || va.raw + size < va.raw)
        return -L4_EINVAL;
    const struct task *t = (const struct task *)o;
    for (uint32_t i = 0; i < t->nkumem; i++) {
        const struct kumem *m = &t->kumem[i];
        if (va.raw >= m->va && va.raw + size <= m->va + m->size) {
            *out = phys_addr(m->pa.raw + (va.raw - m->va));
            return 0;
        }
    }
    return -L4_EINVAL;
}

int task_kumem(kernel_t *k, kobj_id_t task, virt_addr_t va, uint32_t order)
{
    struct task *t = task_of(k, task);
    if (!t)
        return -L4_EINVAL;
    return task_kumem_add(k, t, va.raw, order);
}

/* ---- binding and ending */

void thread_unbind(kernel_t *k, struct thread *t)
{
    struct task *task = t->task;
    if (!task)
        return;
    if (t->task_prev)
        t->task_prev->task_next = t->task_next;
    else
        task->threads = t->task_next;
    if (t->task_next)
        t->task_next->task_prev = t->task_prev;
    t->task_next = t->task_prev = NULL;
    t->task = NULL;
    t->utcb = NULL;
    kobj_put(k, &task->hdr);
}

void thread_kill_cleanup(kernel_t *k, struct thread *t)
{
    /* The IPC queues first: aborting its senders makes threads ready, and a thread that
     * sends to itself is one of them. Only then leave the CPU and the timer list, so that
     * nothing below can queue the dying thread again. */
    ipc_thread_dies(k, t);
    irq_thread_dies(t);
    vcpu_thread_dies(t);
    timeout_disarm(k, t);
    sched_block(k, t);
    t->state = TS_DEAD;
    thread_unbind(k, t);
    sigma0_fini(t);
}

int thread_control(kernel_t *k, kobj_id_t thread, const struct thread_ctl *c)
{
    struct thread *t = thread_get(k, thread);
    if (!t)
        return -L4_EINVAL;
    struct task *task = NULL;
    phys_addr_t upa = { 0 };
    if (c->flags & L4_THREAD_CONTROL_BIND_TASK) {
        task = task_of(k, c->task);
        if (!task || t->task || (c->utcb.raw & 7) || !kumem_lookup(task, c->utcb.raw, &upa))
            return -L4_EINVAL;
    }
    if (c->flags & L4_THREAD_CONTROL_SET_PAGER)
        t->pager = c->pager;
    if (c->flags & L4_THREAD_CONTROL_SET_EXC_HANDLER)
        t->exc_handler = c->exc_handler;
    if (c->flags & L4_THREAD_CONTROL_ALIEN) {    /* Fiasco: on clears Thread_dis_alien */
        if (c->alien)
            t->alien_pass = 0;
        t->alien = c->alien != 0;
    }
    if (task) {
        t->task = task;
        task->hdr.counted_refs++;                 /* a bound thread keeps its task */
        t->task_next = task->threads;
        if (task->threads)
            task->threads->task_prev = t;
        task->threads = t;
        t->utcb_va = c->utcb;
        t->utcb = (uint64_t *)(k->mem + upa.raw);
    }
    return 0;
}

void thread_abandon_kcalls(struct thread *t)
{
    if (t->pf.active)
        pf_restore(t);
    if (t->exc.active) {
        kcall_return(t, &t->exc.borrowed);
        memcpy(t->utcb, t->exc.saved_mr, sizeof t->exc.saved_mr);
        t->exc.active = 0;
    }
}

int thread_ex_regs(kernel_t *k, kobj_id_t thread, uint64_t ip, uint64_t sp, uint64_t flags,
                   struct thread_regs *old)
{
    struct thread *t = thread_get(k, thread);
    if (!t)
        return -L4_EINVAL;
    if (flags & L4_THREAD_EX_REGS_ARCH_MASK & ~ARCH_EX_REGS_ARCH_FLAGS)
        return -L4_EINVAL;
    old->ip = t->ip;
    old->sp = t->sp;
    old->flags = t->flags;
    if (flags & L4_THREAD_EX_REGS_CANCEL)
        ipc_cancel(k, t);
    if (ip != UINT64_MAX) {
        thread_abandon_kcalls(t);                 /* the faulting code is abandoned */
        t->ip = ip;
        t->program = native_program_at(ip);
        t->native_pc = 0;
        t->compute_left_ns = 0;
        t->start_pending = 1;
    }
    if (sp != UINT64_MAX)
        t->sp = sp;
    if (t->state & TS_DEAD) {                     /* a new (or ended) thread gets going */
        if (!t->task)
            return 0;
        t->ret_tag = t->ret_label = 0;
        sched_ready(k, t);
    }
    return 0;
}

int thread_run(kernel_t *k, kobj_id_t thread, cpu_number_t cpu, uint32_t prio,
               uint64_t quantum_ns)
{
    struct thread *t = thread_get(k, thread);
    if (!t || cpu.raw >= k->cpus || !k->cpu[cpu.raw].online || prio < 1)
        return -L4_EINVAL;
    if (prio > PRIO_LEVELS - 1)
        prio = PRIO_LEVELS - 1;
    int requeue = t->cpu != CPU_NONE && (t->state & TS_QUEUED);
    if (requeue)
        sched_block(k, t);                        /* leave the old level first */
    t->prio = prio;
    if (requeue)
        t->state |= TS_READY;
    if (t->wq) {                                  /* a waiting sender: re-sorted, as Fiasco */
        struct wait_q *q = t->wq;
        waitq_remove(t);
        waitq_enqueue(q, t);
    }
    t->quantum_ns = t->left_ns = quantum_ns ? quantum_ns : DEFAULT_QUANTUM_NS;
    t->wfq_qdw = t->quantum_ns / t->wfq_weight;
    sched_migrate(k, t, cpu.raw);
    return 0;
}

int thread_switch_to(kernel_t *k, kobj_id_t self_id, kobj_id_t target_id)
{
    struct thread *self = thread_get(k, self_id), *target = thread_get(k, target_id);
    if (!self || !target)
        return -L4_EINVAL;
    if (target != self && (target->state & TS_READY) && target->cpu == self->cpu
        && target->cpu != CPU_NONE) {
        sched_switch_to(k, self, target);         /* target runs; self waits its turn */
        sched_ready(k, self);
    } else
        sched_yield(k, self);
    return 0;
}

int thread_exit(kernel_t *k, kobj_id_t thread)
{
    struct thread *t = thread_get(k, thread);
    if (!t)
        return -L4_EINVAL;
    timeout_disarm(k, t);
    if (t->state & TS_IPC_MASK)
        ipc_cancel(k, t);
    sched_block(k, t);
    t->state = TS_DEAD;
    t->compute_left_ns = 0;
    return 0;
}

int thread_info(const kernel_t *k, kobj_id_t thread, struct thread_info *out)
{
    const struct thread *t = thread_get(k, thread);
    if (!t)
        return -L4_EINVAL;
    out->state = t->state;
    out->cpu = t->cpu;
    out->prio = t->prio;
    out->quantum_ns = t->quantum_ns;
    out->consumed_ns = t->consumed_ns;
    out->ip = t->ip;
    out->sp = t->sp;
    out->flags = t->flags;
    out->pager = t->pager;
    out->exc_handler = t->exc_handler;
    out->alien = (t->alien ? THREAD_ALIEN : 0) | (t->alien_pass ? THREAD_ALIEN_PASS : 0);
    out->task.raw = t->task ? kobj_id_of(&t->task->hdr).raw : 0;
    out->utcb = t->utcb ? phys_addr((uint64_t)((uint8_t *)t->utcb - k->mem)) : phys_addr(0);
    out->utcb_va = t->utcb_va;
    out->partner = t->partner;
    out->caller = t->caller;
    out->deadline_ns = t->wake_pending ? 0 : t->deadline_ns;
    out->waiting_on_gate = (t->state & TS_SEND) && t->snd.restart;
    out->native_count = t->native_count;
    out->program = t->program;
    out->left_ns = t->left_ns;
    return 0;
}

/* ---- IPC gates */

int gate_bind(kernel_t *k, kobj_id_t gate, kobj_id_t thread, uint64_t label)
{
    struct kobj *o = kobj_get(k, gate);
    struct thread *t = thread_get(k, thread);
    if (!o || o->type != KOBJ_GATE || !t || (label & 3))
        return -L4_EINVAL;
    struct gate *g = (struct gate *)o;
    struct thread *old = thread_get(k, g->thread);
    t->hdr.counted_refs++;                        /* the gate keeps its thread */
    g->thread = thread_id(t);
    g->label = label;
    if (old)
        kobj_put(k, &old->hdr);
    ipc_release_waiters(k, &g->waiters, 1);      /* blocked senders try again */
    kobj_reap(k);
    return 0;
}

int gate_info(const kernel_t *k, kobj_id_t gate, struct gate_info *out)
{
    struct kobj *o = kobj_get(k, gate);
    if (!o || o->type != KOBJ_GATE)
        return -L4_EINVAL;
    const struct gate *g = (const struct gate *)o;
    out->label = g->label;
    out->thread = thread_get(k, g->thread) ? g->thread : (kobj_id_t){ 0 };
    return 0;
}

void gate_release(kernel_t *k, struct gate *g)
{
    ipc_release_waiters(k, &g->waiters, 0);       /* deleted: ENOT_EXISTENT */
    struct thread *t = thread_get(k, g->thread);
    g->thread.raw = 0;
    if (t)
        thread_gate_deleted(k, t);
    if (t)
        kobj_put(k, &t->hdr);
}
