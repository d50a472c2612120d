/*
 * irq.c: interrupts (§8.5, §8.6): Irq objects, the ICU's lines, and delivery.
 *
 * An Irq bound to a thread is an IPC sender of priority 255: its message (tag 0, the
 * bound label) is delivered as soon as the thread waits (openly, or closed on the Irq),
 * before any thread queued at a lower priority. An Irq holds at most one undelivered
 * message. A level-triggered line is masked once its message is delivered and stays so
 * until unmasked; an edge arriving while the line is unbound is remembered (and the line
 * masked), a level one is dropped. Lines are raised by the harness (k.hw) or a trigger.
 */
#include "kernel.h"
#include "heap.h"
#include "thread.h"
#include "trace.h"

int irq_init(kernel_t *k)
{
    k->icu_lines = heap_alloc_array(ICU_ALL_LINES, sizeof(struct icu_line));
    return k->icu_lines ? 0 : -L4_ENOMEM;
}

void irq_fini(kernel_t *k)
{
    heap_free(k->icu_lines);
    k->icu_lines = NULL;
}

static struct irq *irq_get(const kernel_t *k, kobj_id_t id)
{
    struct kobj *o = kobj_get(k, id);
    return o && o->type == KOBJ_IRQ ? (struct irq *)o : NULL;
}

static void irq_dequeue(struct irq *q)
{
    struct thread *t = q->queued_at;
    if (!t)
        return;
    if (q->prev)
        q->prev->next = q->next;
    else
        t->irq_head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        t->irq_tail = q->prev;
    q->next = q->prev = NULL;
    q->queued_at = NULL;
    if (t->vcpu.area)
        vcpu_sticky_update(t);
}

/* Hands the Irq's message to t, which waits for it now. */
static void deliver(kernel_t *k, struct irq *q, struct thread *t)
{
    t->state &= ~TS_RECV;
    t->ret_tag = 0;
    t->ret_label = q->label;
    if (k->trace.size) trace_irq(k, t, q);
    timeout_disarm(k, t);
    sched_ready(k, t);
    if (q->line != ICU_NO_LINE && (k->icu_lines[q->line].mode & L4_IRQ_F_LEVEL))
        k->icu_lines[q->line].masked = 1;        /* until the driver unmasks it */
}

/* Whether t waits for q's message right now. */
static int waits_for(const struct thread *t, const struct irq *q)
{
    if ((t->state & (TS_RECV | TS_SEND)) != TS_RECV || !t->utcb)
        return 0;
    return !t->partner.raw || t->partner.raw == kobj_id_of(&q->hdr).raw;
}

void irq_raise(kernel_t *k, struct irq *q)
{
    struct thread *t = thread_get(k, q->thread);
    if (!t) {
        q->pending = 1;                           /* unbound: kept for a later bind */
        return;
    }
    if (q->queued_at) {
        if (q->line != ICU_NO_LINE)
            k->icu_lines[q->line].masked = 1;     /* a second one while one is queued */
        return;
    }
    if (waits_for(t, q)) {
        deliver(k, q, t);
        return;
    }
    if (vcpu_async_ready(k, t)) {                 /* a vCPU with interrupts on: an upcall */
        uint64_t interrupted[2] = { t->ret_tag, t->ret_label };
        t->ret_tag = 0;
        t->ret_label = q->label;
        if (k->trace.size) trace_irq(k, t, q);
        if (q->line != ICU_NO_LINE && (k->icu_lines[q->line].mode & L4_IRQ_F_LEVEL))
            k->icu_lines[q->line].masked = 1;
        vcpu_async_delivered(k, t, interrupted);
        return;
    }
    q->queued_at = t;                             /* FIFO among IRQs, ahead of threads */
    q->prev = t->irq_tail;
    if (t->irq_tail)
        t->irq_tail->next = q;
    else
        t->irq_head = q;
    t->irq_tail = q;
    if (t->vcpu.area)
        vcpu_sticky_update(t);
}

struct irq *irq_take(kernel_t *k, struct thread *t)
{
    for (struct irq *q = t->irq_head; q; q = q->next)
        if (!t->partner.raw || t->partner.raw == kobj_id_of(&q->hdr).raw) {
            irq_dequeue(q);
            t->ret_tag = 0;
            t->ret_label = q->label;
            if (k->trace.size) trace_irq(k, t, q);
            if (q->line != ICU_NO_LINE && (k->icu_lines[q->line].mode & L4_IRQ_F_LEVEL))
                k->icu_lines[q->line].masked = 1;
            return q;
        }
    return NULL;
}

int irq_bind(kernel_t *k, kobj_id_t irq, kobj_id_t thread, uint64_t label)
{
    struct irq *q = irq_get(k, irq);
    struct thread *t = thread_get(k, thread);
    if (!q || !t)
        return -L4_EINVAL;
    struct thread *old = thread_get(k, q->thread);
    irq_dequeue(q);
    t->hdr.counted_refs++;
    q->thread = thread_id(t);
    q->label = label;
    if (old)
        kobj_put(k, &old->hdr);
    if (q->pending) {
        q->pending = 0;
        irq_raise(k, q);
    }
    kobj_reap(k);
    return 0;
}

int irq_detach(kernel_t *k, kobj_id_t irq)
{
    struct irq *q = irq_get(k, irq);
    if (!q)
        return -L4_EINVAL;
    struct thread *t = thread_get(k, q->thread);
    irq_dequeue(q);
    q->thread.raw = 0;
    q->pending = 0;
    if (t)
        kobj_put(k, &t->hdr);
    kobj_reap(k);
    return 0;
}

int irq_trigger(kernel_t *k, kobj_id_t irq)
{
    struct irq *q = irq_get(k, irq);
    if (!q)
        return -L4_EINVAL;
    irq_raise(k, q);
    return 0;
}

/* Unmask (EOI): the line may fire again; a level line still asserted does at once. */
int irq_info(const kernel_t *k, kobj_id_t irq, struct irq_info *out)
{
    const struct irq *q = irq_get(k, irq);
    if (!q)
        return -L4_EINVAL;
    out->label = q->label;
    out->thread = thread_get(k, q->thread) ? q->thread : (kobj_id_t){ 0 };
    out->line = q->line;
    return 0;
}

int irq_unmask(kernel_t *k, kobj_id_t irq)
{
    struct irq *q = irq_get(k, irq);
    if (!q)
        return -L4_EINVAL;
    if (q->line == ICU_NO_LINE || q->queued_at)
        return 0;                                 /* only when not already queued */
    return icu_unmask(k, q->line);
}

void irq_release(kernel_t *k, struct irq *q)
{
    irq_dequeue(q);
    if (q->line != ICU_NO_LINE)
        k->icu_lines[q->line].irq.raw = 0;
    struct thread *t = thread_get(k, q->thread);
    q->thread.raw = 0;
    if (t)
        kobj_put(k, &t->hdr);
}

void irq_thread_dies(struct thread *t)
{
    while (t->irq_head)
        irq_dequeue(t->irq_head);
}

/* ---- the ICU's lines */

int icu_bind(kernel_t *k, uint32_t line, kobj_id_t irq)
{
    struct irq *q = irq_get(k, irq);
    if (!q || line >= ICU_ALL_LINES)
        return -L4_EINVAL;
    if (q->line != ICU_NO_LINE)                   /* detached from its previous source */
        k->icu_lines[q->line].irq.raw = 0;
    struct irq *old = irq_get(k, k->icu_lines[line].irq);
    if (old && old != q)
        old->line = ICU_NO_LINE;
    k->icu_lines[line].irq = irq;
    k->icu_lines[line].masked = 0;
    q->line = line;
    return 0;
}

int icu_unbind(kernel_t *k, uint32_t line, kobj_id_t irq)
{
    struct irq *q = irq_get(k, irq);
    if (!q || line >= ICU_ALL_LINES || k->icu_lines[line].irq.raw != irq.raw)
        return -L4_EINVAL;
    k->icu_lines[line].irq.raw = 0;
    q->line = ICU_NO_LINE;
    return 0;
}

int icu_set_mode(kernel_t *k, uint32_t line, uint32_t mode)
{
    if (line >= ICU_ALL_LINES || (mode & ~(uint32_t)L4_IRQ_F_MASK & ~0x30u))
        return -L4_EINVAL;
    if (mode & L4_IRQ_F_SET_MODE)
        k->icu_lines[line].mode = mode & L4_IRQ_F_MASK;
    if (mode & L4_IRQ_F_SET_WAKEUP)
        k->icu_lines[line].wakeup = 1;
    else if (mode & L4_IRQ_F_CLEAR_WAKEUP)
        k->icu_lines[line].wakeup = 0;
    return 0;
}

int icu_mask(kernel_t *k, uint32_t line)
{
    if (line >= ICU_ALL_LINES)
        return -L4_EINVAL;
    k->icu_lines[line].masked = 1;
    return 0;
}

int icu_unmask(kernel_t *k, uint32_t line)
{
    if (line >= ICU_ALL_LINES)
        return -L4_EINVAL;
    struct icu_line *l = &k->icu_lines[line];
    l->masked = 0;
    struct irq *q = irq_get(k, l->irq);
    if (q && (l->mode & L4_IRQ_F_LEVEL) && l->asserted)
        irq_raise(k, q);                          /* still asserted: it fires again */
    else if (q && q->pending && thread_get(k, q->thread)) {
        q->pending = 0;                           /* an edge that came while masked */
        irq_raise(k, q);
    }
    return 0;
}

/* The harness's wire: level 1/0 for a level line, a pulse (an edge) for an edge line. */
static int line_set(kernel_t *k, uint32_t line, uint32_t level);

int hw_irq_set(kernel_t *k, uint32_t line, uint32_t level)
{
    if (line >= ICU_LINES || level > 1)
        return -L4_EINVAL;                        /* MSIs are messages, not wires */
    return line_set(k, line, level);
}

/* An MSI arrived (msi.c): an edge on its line. */
void icu_msi_edge(kernel_t *k, uint32_t line)
{
    line_set(k, line, 1);
    k->icu_lines[line].asserted = 0;
}

static int line_set(kernel_t *k, uint32_t line, uint32_t level)
{
    struct icu_line *l = &k->icu_lines[line];
    int rising = level && !l->asserted;
    if (rising && l->wakeup)
        platform_wake(k);                         /* a wakeup source ends a suspend */
    l->asserted = level;
    struct irq *q = irq_get(k, l->irq);
    if (!q || !rising)
        return 0;
    if (l->masked) {
        if (!(l->mode & L4_IRQ_F_LEVEL))
            q->pending = 1;                       /* an edge is remembered while masked */
        return 0;
    }
    if (!thread_get(k, q->thread) && (l->mode & L4_IRQ_F_LEVEL))
        return 0;                                 /* level, unbound: dropped */
    if (!thread_get(k, q->thread))
        l->masked = 1;                            /* edge, unbound: pending, line masked */
    irq_raise(k, q);
    return 0;
}

int hw_irq_pulse(kernel_t *k, uint32_t line)
{
    int rc = hw_irq_set(k, line, 1);
    if (rc == 0)
        k->icu_lines[line].asserted = 0;
    return rc;
}

int icu_line_info(const kernel_t *k, uint32_t line, struct icu_line_info *out)
{
    if (line >= ICU_ALL_LINES)
        return -L4_EINVAL;
    const struct icu_line *l = &k->icu_lines[line];
    out->irq = l->irq;
    out->mode = l->mode;
    out->masked = l->masked;
    out->asserted = l->asserted;
    return 0;
}
