/*
 * thread_ops.c: the thread operations beyond control, ex_regs, switch and stats (§8.2):
 * modify_senders, the gate-deletion IRQ, ex_regs' triggered exceptions, alien threads and
 * the arch thread registers.
 *
 * Each checks everything first and changes nothing on a refusal. What it must not do:
 * queue or dequeue senders (ipc.c owns the queues; modify_senders only relabels), or tell
 * an exception itself (exception.c does; the run loop asks for it at the next resume).
 */
#include "kernel.h"
#include "arch_ops.h"
#include "cspace.h"
#include "fpage.h"
#include "thread.h"

/* ---- modify_senders (kernkonzept/fiasco src/kern/thread_object.cpp sys_modify_senders,
 * Sender::modify_label): the first matching group rewrites a label. */

static uint64_t relabel(uint64_t label, const uint64_t *rules, uint32_t groups)
{
    for (uint32_t i = 0; i < groups; i++) {
        const uint64_t *g = rules + 4 * i;       /* match mask, match, delete, add */
        if ((label & g[0]) == g[1])
            return (label & ~g[2]) | g[3];
    }
    return label;
}

int thread_modify_senders(kernel_t *k, kobj_id_t thread, kobj_id_t caller,
                          const uint64_t *rules, uint32_t words)
{
    struct thread *t = thread_get(k, thread);
    if (!t || caller.raw != thread.raw)
        return -L4_EINVAL;                       /* only the thread walks its sender list */
    if (words < 5 || words > UTCB_MRS)
        return 0;
    if (!rules)
        return -L4_EINVAL;
    uint32_t groups = (words - 1) / 4;
    for (struct thread *s = t->senders.head; s; s = s->wq_next)
        s->snd.label = relabel(s->snd.label, rules, groups);
    for (struct irq *q = t->irq_head; q; q = q->next)
        q->label = relabel(q->label, rules, groups);   /* an Irq is a sender too */
    return 0;
}

/* ---- the gate-deletion IRQ (sys_register_delete_irq, Thread::ipc_gate_deleted) */

static struct kobj *del_irq_of(const kernel_t *k, const struct thread *t)
{
    return t->del_irq.raw ? kobj_get(k, t->del_irq) : NULL;
}

int thread_register_del_irq(kernel_t *k, kobj_id_t thread, kobj_id_t irq)
{
    struct thread *t = thread_get(k, thread);
    struct kobj *o = kobj_get(k, irq);
    if (!t || !o || (o->type != KOBJ_IRQ && o->type != KOBJ_SEMAPHORE))
        return -L4_EINVAL;
    if (del_irq_of(k, t))
        return -L4_EBUSY;
    t->del_irq = irq;                            /* no reference: a dead Irq frees the slot */
    return 0;
}

kobj_id_t thread_del_irq(const kernel_t *k, kobj_id_t thread)
{
    struct thread *t = thread_get(k, thread);
    struct kobj *o = t ? del_irq_of(k, t) : NULL;
    return o ? t->del_irq : (kobj_id_t){ 0 };
}

void thread_gate_deleted(kernel_t *k, struct thread *t)
{
    struct kobj *o = del_irq_of(k, t);
    if (!o)
        return;
    if (o->type == KOBJ_IRQ)
        irq_raise(k, (struct irq *)o);
    else
        semaphore_up(k, (struct semaphore *)o);
}

/* Nobody to tell: as in Fiasco (send_exception) the thread calls itself, and waits for
 * ever. */
static int wait_on_self(kernel_t *k, struct thread *t)
{
    sched_block(k, t);
    t->state |= TS_RECV;
    t->partner = thread_id(t);
    k->running_cpu = CPU_NONE;
    return SYS_SUSPEND;
}

/* ---- triggered exceptions (Thread_object::ex_regs, Exr_trigger_exception) */

int thread_trigger_exception(kernel_t *k, kobj_id_t thread, uint32_t cancel)
{
    struct thread *t = thread_get(k, thread);
    if (!t || !t->task)
        return -L4_EINVAL;
    if (t->exc.active && !cancel)
        return 0;                                /* in an exception: registers only read */
    t->exc_triggered = 1;
    return 1;
}

int thread_raise_triggered(kernel_t *k, kobj_id_t thread)
{
    struct thread *t = thread_get(k, thread);
    if (!t || !thread_exception_due(t))
        return -L4_EINVAL;
    t->exc_triggered = 0;
    if (t->exc_handler == L4_INVALID_CAP)
        return wait_on_self(k, t);
    const struct exc_layout *l = arch_exc_layout();
    return thread_exception(k, thread, l->trigger_trapno, l->trigger_err, 0);
}

/* ---- alien threads (kernkonzept/fiasco src/kern/thread_object.cpp sys_control
 * Ctl_alien_thread, thread-ipc.cpp Thread::exception, the arch syscall entries) */

static int alien_exception(kernel_t *k, struct thread *t, unsigned after,
                           const uint64_t *regs, unsigned nregs)
{
    const struct exc_layout *l = arch_exc_layout();
    t->alien_told = after + 1;
    if (!cspace_sel_obj(k, t->task, t->exc_handler)) {   /* Fiasco: blocks on itself */
        wait_on_self(k, t);
        return SYS_SUSPEND;
    }
    return thread_exception_regs(k, thread_id(t), l->alien_trapno, l->alien_err[after], 0,
                                 regs, nregs);
}

int thread_alien_entry(kernel_t *k, struct thread *t, const struct sys_call *c)
{
    if (!arch_exc_layout()->alien_traps)
        return SYS_DONE;                         /* MIPS: the entry does not look */
    if (t->alien_pass) {                         /* allowed once: it runs, then traps */
        t->alien_pass = 0;
        t->alien_after = 1;
        return SYS_DONE;
    }
    uint64_t regs[4] = { c->tag, c->label, c->dest, c->timeout };
    int status = alien_exception(k, t, 0, regs, 4);
    return status == SYS_SUSPEND ? SYS_ALIEN : status;
}

int thread_alien_after(kernel_t *k, kobj_id_t thread, uint64_t tag, uint64_t label)
{
    struct thread *t = sys_running(k, thread);
    if (!t)
        return -L4_EINVAL;
    if (!t->alien_after) {
        k->running_cpu = CPU_NONE;
        return SYS_DONE;
    }
    t->alien_after = 0;
    t->alien_result[0] = tag;
    t->alien_result[1] = label;
    uint64_t regs[2] = { tag, label };           /* where the call's result is returned */
    return alien_exception(k, t, 1, regs, 2);
}

int thread_alien_done(kernel_t *k, kobj_id_t thread, struct exc_result *exc,
                      struct sys_result *res, uint64_t *call)
{
    struct thread *t = sys_running(k, thread);
    if (!t || !exc || !res || !call || !t->alien_told)
        return -L4_EINVAL;
    unsigned after = t->alien_told == 2;
    t->alien_told = 0;
    const struct exc_layout *l = arch_exc_layout();
    if (!t->exc.active) {                        /* it waited on itself and was cancelled */
        *exc = (struct exc_result){ .handled = 0, .ip_changed = 0, .ip = t->ip };
        res->tag = t->alien_result[0];
        res->label = t->alien_result[1];
        k->running_cpu = CPU_NONE;
        return 0;
    }
    uint64_t tag = t->ret_tag;
    int full = !(tag & L4_MSGTAG_ERROR) && tag_words(tag) >= l->words;
    res->tag = full ? t->utcb[l->sys_regs[0]] : t->alien_result[0];
    res->label = full ? t->utcb[l->sys_regs[1]] : t->alien_result[1];
    if (!after && t->alien && !(tag & L4_MSGTAG_ERROR)
        && tag_label(tag) == L4_PROTO_ALLOW_SYSCALL)
        t->alien_pass = 1;                       /* Thread_dis_alien */
    if (!after && full)                          /* the handler set the call's registers */
        for (unsigned i = 0; i < 4; i++)
            call[i] = t->utcb[l->sys_regs[i]];
    thread_exception_done(k, thread, exc);      /* the call's MRs back, too */
    return 0;
}

/* ---- arch thread registers */

int thread_arch_op(kernel_t *k, kobj_id_t thread, uint64_t mr0, uint64_t mr1, uint32_t words)
{
    struct thread *t = thread_get(k, thread);
    if (!t)
        return -L4_EINVAL;
    unsigned reg;
    uint64_t value;
    int rc = arch_thread_op(mr0, mr1, words, &reg, &value);
    if (rc < 0)
        return rc;
    t->tls[reg & 1] = value;
    return 0;
}

int thread_tls(const kernel_t *k, kobj_id_t thread, uint64_t *out)
{
    struct thread *t = thread_get(k, thread);
    if (!t || !out)
        return -L4_EINVAL;
    out[0] = t->tls[0];
    out[1] = t->tls[1];
    return 0;
}

/* ---- WFQ parameters (kernkonzept/fiasco src/kern/sched_context-wfq.cpp check_param, set) */

int thread_run_wfq(kernel_t *k, kobj_id_t thread, cpu_number_t cpu, uint64_t quantum_ns,
                   uint64_t weight)
{
    if (!(SCHED_BUILD_CLASSES & L4_SCHEDULER_CLASS_WFQ))
        return -L4_ERANGE;                       /* the class this build does not offer */
    struct thread *t = thread_get(k, thread);
    if (!t || cpu.raw >= k->cpus || !k->cpu[cpu.raw].online || !quantum_ns || !weight
        || weight > UINT32_MAX)
        return -L4_EINVAL;
    int requeue = t->cpu != CPU_NONE && (t->state & TS_QUEUED);
    if (requeue)
        sched_block(k, t);                       /* out of the sorted queue first */
    t->wfq_weight = (uint32_t)weight;
    t->wfq_qdw = quantum_ns / weight;
    t->wfq_dl = 0;
    t->quantum_ns = t->left_ns = quantum_ns;
    if (requeue)
        t->state |= TS_READY;
    sched_migrate(k, t, cpu.raw);
    return 0;
}

int thread_wfq_info(const kernel_t *k, kobj_id_t thread, struct wfq_info *out)
{
    struct thread *t = thread_get(k, thread);
    if (!t || !out)
        return -L4_EINVAL;
    out->dl = t->wfq_dl;
    out->qdw = t->wfq_qdw;
    out->weight = t->wfq_weight;
    return 0;
}
