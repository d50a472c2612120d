/*
 * check.c: a consistency check of the scheduler and IPC state, for property tests.
 *
 * Every live thread must be accounted for exactly once: running, ready in its CPU's queue
 * (or a wake-up on its way), queued as a sender in the queue of a live thread or gate,
 * waiting for a message, or dead. Queues and timeout lists must hold only live threads in
 * the right order. It reads and never changes anything.
 *
 * The reference audit (check_refs) recounts what holds a counted reference: capability
 * slots marked counted, a thread bound to its task, a gate or IRQ bound to its thread.
 * Each live object's count must equal that recount plus what dec_refcnt moved it by
 * (kobj.ref_bias), and every IOMMU binding must name a live DMA space (bindings hold no
 * reference: a dying space is unbound first).
 */
#include <stdio.h>
#include <string.h>

#include "kernel.h"
#include "heap.h"
#include "cspace.h"
#include "thread.h"
#include "iommu_api.h"
#include "ready_queue.h"

struct seen {
    uint8_t *in_rq, *in_wq, *in_to;
};

static int fail(struct check_out *out, const struct thread *t, const char *what)
{
    out->thread = t ? thread_id(t) : (kobj_id_t){ 0 };
    snprintf(out->what, sizeof(out->what), "%s", what);
    return -L4_EINVAL;
}

static int walk_waitq(const kernel_t *k, const struct wait_q *q, struct seen *s,
                      struct check_out *out)
{
    const struct thread *prev = NULL;
    for (const struct thread *t = q->head; t; prev = t, t = t->wq_next) {
        if (!thread_get(k, thread_id(t)))
            return fail(out, t, "a dead thread in a sender queue");
        if (t->wq != q || t->wq_prev != prev || !(t->state & (TS_SEND | TS_SEM)))
            return fail(out, t, "sender queue links or state wrong");
        if (prev && prev->prio < t->prio)
            return fail(out, t, "sender queue out of priority order");
        if (s->in_wq[t->hdr.slot]++)
            return fail(out, t, "a thread in two sender queues");
    }
    if (q->tail != prev)
        return fail(out, prev, "sender queue tail wrong");
    return 0;
}

static void count_ref(const kernel_t *k, uint32_t *refs, const struct kobj *o)
{
    if (o && k->objs.ents[o->slot].obj == o)
        refs[o->slot]++;
}

static const struct kobj *bound_thread(const kernel_t *k, kobj_id_t id)
{
    const struct thread *t = thread_get(k, id);
    return t ? &t->hdr : NULL;
}

static void count_caps(const kernel_t *k, const struct task *t, uint32_t *refs)
{
    for (unsigned i = 0; i < (1u << CAP_TOP_BITS); i++) {
        const struct cap_dir *d = t->cap_top[i];
        for (unsigned j = 0; d && j < CAP_DIR_LEAVES; j++) {
            const struct cap_leaf *l = d->leaf[j];
            for (unsigned s = 0; l && s < CAP_LEAF_SLOTS; s++)
                if (l->slot[s].attrs & CAP_COUNTED)
                    count_ref(k, refs, cspace_slot_obj(k, &l->slot[s]));
        }
    }
}

static int check_refs(const kernel_t *k, struct check_out *out)
{
    uint32_t n = k->objs.cap;
    uint32_t *refs = heap_alloc((size_t)(n ? n : 1) * sizeof(*refs));
    if (!refs)
        return -L4_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        const struct kobj *o = k->objs.ents[i].obj;
        if (!o)
            continue;
        if (o->type == KOBJ_TASK)
            count_caps(k, (const struct task *)o, refs);
        else if (o->type == KOBJ_THREAD && ((const struct thread *)o)->task)
            count_ref(k, refs, &((const struct thread *)o)->task->hdr);
        else if (o->type == KOBJ_GATE)
            count_ref(k, refs, bound_thread(k, ((const struct gate *)o)->thread));
        else if (o->type == KOBJ_IRQ)
            count_ref(k, refs, bound_thread(k, ((const struct irq *)o)->thread));
    }
    int rc = 0;
    for (uint32_t i = 0; !rc && i < n; i++) {
        const struct kobj *o = k->objs.ents[i].obj;
        if (o && o->counted_refs != refs[i] + o->ref_bias) {
            out->thread = kobj_id_of(o);
            snprintf(out->what, sizeof(out->what), "reference count %lld of a type-%u object, "
                     "but %lld counted references", (long long)(int64_t)o->counted_refs,
                     o->type, (long long)(int64_t)(refs[i] + o->ref_bias));
            rc = -L4_EINVAL;
        }
    }
    heap_free(refs);
    kobj_id_t space;
    for (uint32_t d = 0; !rc && k->iommu && d < IOMMU_DEVICES; d++) {
        if (iommu_device_space(k, d, &space) < 0)
            continue;
        const struct kobj *o = kobj_get(k, space);
        if (!o || o->type != KOBJ_DMA_SPACE) {
            out->thread = space;
            snprintf(out->what, sizeof(out->what), "IOMMU device %#x bound to a DMA space "
                     "that is gone", d);
            rc = -L4_EINVAL;
        }
    }
    return rc;
}

int kernel_check(const kernel_t *k, struct check_out *out)
{
    memset(out, 0, sizeof(*out));
    uint32_t n = k->objs.cap;
    struct seen s = { heap_alloc(n ? n : 1), heap_alloc(n ? n : 1), heap_alloc(n ? n : 1) };
    int rc = (!s.in_rq || !s.in_wq || !s.in_to) ? -L4_ENOMEM : 0;

    for (uint32_t c = 0; !rc && c < k->cpus; c++) {
        const struct cpu *cpu = &k->cpu[c];
        const struct thread *bad = NULL;
        const char *why = rq_check(k, cpu, c, s.in_rq, &bad);
        if (why)
            rc = fail(out, bad, why);
        const struct thread *prev = NULL;
        for (const struct thread *t = cpu->timeouts; !rc && t; prev = t, t = t->to_next) {
            if (!thread_get(k, thread_id(t)) || !t->deadline_ns || t->cpu != c
                || t->to_prev != prev || (prev && prev->deadline_ns > t->deadline_ns)
                || s.in_to[t->hdr.slot]++)
                rc = fail(out, t, "timeout list holds a wrong thread");
        }
        const struct thread *cur = cpu->current;
        if (!rc && cur && (!thread_get(k, thread_id(cur)) || !(cur->state & TS_READY)
                           || (cur->state & TS_QUEUED) || cur->cpu != c))
            rc = fail(out, cur, "the current thread is not a ready thread of this CPU");
    }
    for (uint32_t i = 0; !rc && i < n; i++) {
        const struct kobj *o = k->objs.ents[i].obj;
        if (o && o->type == KOBJ_THREAD)
            rc = walk_waitq(k, &((const struct thread *)o)->senders, &s, out);
        else if (o && o->type == KOBJ_GATE)
            rc = walk_waitq(k, &((const struct gate *)o)->waiters, &s, out);
        else if (o && o->type == KOBJ_SEMAPHORE)
            rc = walk_waitq(k, &((const struct semaphore *)o)->waiters, &s, out);
    }
    for (uint32_t i = 0; !rc && i < n; i++) {
        const struct kobj *o = k->objs.ents[i].obj;
        if (!o || o->type != KOBJ_THREAD)
            continue;
        const struct thread *t = (const struct thread *)o;
        uint32_t st = t->state;
        int current = t->cpu != CPU_NONE && k->cpu[t->cpu].current == t;
        if ((st & TS_SEND) && (st & TS_RECV))
            rc = fail(out, t, "both sending and receiving");
        else if (((st & (TS_SEND | TS_SEM)) != 0) != (s.in_wq[i] != 0))
            rc = fail(out, t, "a sender that is in no queue, or queued without sending");
        else if ((st & TS_READY) && (st & TS_IPC_MASK))
            rc = fail(out, t, "ready while waiting in IPC");
        else if (((st & TS_QUEUED) != 0) != (s.in_rq[i] != 0))
            rc = fail(out, t, "queued flag disagrees with the ready queue");
        else if ((t->deadline_ns != 0) != (s.in_to[i] != 0))
            rc = fail(out, t, "an armed timeout that is in no list");
        else if ((st & TS_READY) && t->cpu != CPU_NONE && !current && !(st & TS_QUEUED)
                 && !t->wake_pending)
            rc = fail(out, t, "ready but neither running, queued nor arriving: lost");
        else if (!(st & (TS_READY | TS_IPC_MASK | TS_DEAD | TS_SEM)))
            rc = fail(out, t, "in no state at all: lost");
        else if ((st & TS_DEAD) && (current || (st & TS_QUEUED)))
            rc = fail(out, t, "dead but scheduled");
        else if (t->wake_pending && !(st & TS_READY))
            rc = fail(out, t, "a wake-up for a thread that is not ready");
    }
    heap_free(s.in_rq);
    heap_free(s.in_wq);
    heap_free(s.in_to);
    return rc ? rc : check_refs(k, out);
}

int check_skew_refs(kernel_t *k, kobj_id_t obj, int32_t delta)
{
    struct kobj *o = kobj_get(k, obj);
    if (!o)
        return -L4_EINVAL;
    o->counted_refs += (uint64_t)(int64_t)delta;
    return 0;
}
