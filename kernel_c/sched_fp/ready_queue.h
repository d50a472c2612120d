/*
 * ready_queue.h (fixed priority, the default build): a CPU's ready queue as Fiasco's
 * SCHED_FIXED_PRIO keeps it (kernkonzept/fiasco src/kern/ready_queue_fp.cpp; §12): 256
 * priority levels, round robin within a level, the highest non-empty level found through
 * a two-level bitmap. Same file name and functions in kernel_c/sched_wfq/; the build
 * picks one folder (PYL4RE_SCHED), so sched.c never asks which policy it is.
 * Internal; included by sched.c only.
 */
#ifndef PYL4RE_READY_QUEUE_H
#define PYL4RE_READY_QUEUE_H

#include "thread.h"

static inline void rq_push(struct cpu *c, struct thread *t, int front)
{
    uint32_t p = t->prio;
    if (front) {
        t->rq_prev = NULL;
        t->rq_next = c->rq_head[p];
        if (c->rq_head[p])
            c->rq_head[p]->rq_prev = t;
        else
            c->rq_tail[p] = t;
        c->rq_head[p] = t;
    } else {
        t->rq_next = NULL;
        t->rq_prev = c->rq_tail[p];
        if (c->rq_tail[p])
            c->rq_tail[p]->rq_next = t;
        else
            c->rq_head[p] = t;
        c->rq_tail[p] = t;
    }
    c->rq_bits[p / 64] |= (uint64_t)1 << (p % 64);
    c->rq_words |= 1u << (p / 64);
    t->state |= TS_QUEUED;
}

static inline void rq_remove(struct cpu *c, struct thread *t)
{
    uint32_t p = t->prio;
    if (t->rq_prev)
        t->rq_prev->rq_next = t->rq_next;
    else
        c->rq_head[p] = t->rq_next;
    if (t->rq_next)
        t->rq_next->rq_prev = t->rq_prev;
    else
        c->rq_tail[p] = t->rq_prev;
    if (!c->rq_head[p]) {
        c->rq_bits[p / 64] &= ~((uint64_t)1 << (p % 64));
        if (!c->rq_bits[p / 64])
            c->rq_words &= ~(1u << (p / 64));
    }
    t->rq_next = t->rq_prev = NULL;
    t->state &= ~TS_QUEUED;
}

/* Asked on every scheduling step, mostly of an empty queue: one test then. */
static inline int rq_top_prio(const struct cpu *c)
{
    if (!c->rq_words)
        return -1;
    int w = 31 - __builtin_clz(c->rq_words);
    return w * 64 + 63 - __builtin_clzll(c->rq_bits[w]);
}

static inline int rq_empty(const struct cpu *c)
{
    return !c->rq_words;
}

/* The thread to run next (it stays queued), or NULL. */
static inline struct thread *rq_first(const struct cpu *c)
{
    int top = rq_top_prio(c);
    return top < 0 ? NULL : c->rq_head[top];
}

/* t, becoming ready, should take the CPU from cur (NULL: the CPU is idle). */
static inline int rq_dominates(const struct thread *t, const struct thread *cur)
{
    return !cur || t->prio > cur->prio;
}

/* The queue holds a thread that should take the CPU from cur now. */
static inline int rq_preempts(const struct cpu *c, const struct thread *cur)
{
    int top = rq_top_prio(c);
    return top >= 0 && (uint32_t)top > cur->prio;
}

/* cur's quantum ran out: refill it (it then goes to the tail of its level). */
static inline void rq_replenish(struct thread *t)
{
    t->left_ns = t->quantum_ns;
}

/* t wakes up while cur runs: nothing to adjust for fixed priorities. */
static inline void rq_wakeup(const struct cpu *c, struct thread *t)
{
    (void)c, (void)t;
}

/* kernel_check's view: every queued thread belongs here, levels and bitmaps agree. NULL
 * if all is well, else what is wrong (*bad: the thread, if one is to blame). */
static inline const char *rq_check(const kernel_t *k, const struct cpu *cpu, uint32_t c,
                                   uint8_t *in_rq, const struct thread **bad)
{
    for (int p = 0; p < PRIO_LEVELS; p++) {
        const struct thread *prev = NULL;
        for (const struct thread *t = cpu->rq_head[p]; t; prev = t, t = t->rq_next) {
            *bad = t;
            if (!thread_get(k, thread_id(t)) || t->cpu != c || (int)t->prio != p
                || !(t->state & TS_QUEUED) || !(t->state & TS_READY) || t->rq_prev != prev
                || in_rq[t->hdr.slot]++)
                return "ready queue holds a wrong thread";
        }
        *bad = NULL;
        int bit = (cpu->rq_bits[p / 64] >> (p % 64)) & 1;
        if (bit != (cpu->rq_head[p] != NULL))
            return "ready-queue bitmap disagrees with the queues";
    }
    for (int w = 0; w < PRIO_LEVELS / 64; w++)
        if (((cpu->rq_words >> w) & 1) != (cpu->rq_bits[w] != 0))
            return "ready-queue summary disagrees with the bitmap";
    return NULL;
}

#endif
