/*
 * ready_queue.h (WFQ build, PYL4RE_SCHED=wfq): weighted fair queueing in virtual time, as
 * Fiasco's SCHED_WFQ (kernkonzept/fiasco src/kern/ready_queue_wfq.cpp,
 * src/kern/sched_context-wfq.cpp). Same file name and functions in kernel_c/sched_fp/.
 *
 * Every thread has a weight w, a quantum q and a virtual deadline dl. The thread with the
 * smallest dl runs; when its quantum is used up it is refilled and dl grows by q / w, so
 * over time each thread gets CPU time in proportion to its weight. A thread that wakes
 * with a deadline behind the running one's catches up to it (Fiasco's deblock_refill: a
 * sleeper banks no credit), its time slice growing by the difference times w, up to q.
 * Priorities mean nothing here. The queue is one list sorted by dl (FIFO among equals) on
 * level 0 of the per-CPU queue arrays; the model's threads per CPU are few, and Fiasco's
 * binary heap orders the same way. Internal; included by sched.c only.
 */
#ifndef PYL4RE_READY_QUEUE_H
#define PYL4RE_READY_QUEUE_H

#include "thread.h"

/* front: a preempted thread keeps its place before others of the same deadline. */
static inline void rq_push(struct cpu *c, struct thread *t, int front)
{
    struct thread *after = NULL, *at = c->rq_head[0];
    while (at && (at->wfq_dl < t->wfq_dl || (!front && at->wfq_dl == t->wfq_dl))) {
        after = at;
        at = at->rq_next;
    }
    t->rq_prev = after;
    t->rq_next = at;
    if (after)
        after->rq_next = t;
    else
        c->rq_head[0] = t;
    if (at)
        at->rq_prev = t;
    else
        c->rq_tail[0] = t;
    c->rq_words = 1;
    t->state |= TS_QUEUED;
}

static inline void rq_remove(struct cpu *c, struct thread *t)
{
    if (t->rq_prev)
        t->rq_prev->rq_next = t->rq_next;
    else
        c->rq_head[0] = t->rq_next;
    if (t->rq_next)
        t->rq_next->rq_prev = t->rq_prev;
    else
        c->rq_tail[0] = t->rq_prev;
    if (!c->rq_head[0])
        c->rq_words = 0;
    t->rq_next = t->rq_prev = NULL;
    t->state &= ~TS_QUEUED;
}

static inline int rq_empty(const struct cpu *c)
{
    return !c->rq_words;
}

static inline struct thread *rq_first(const struct cpu *c)
{
    return c->rq_head[0];
}

/* Sched_context::dominates: an earlier deadline takes the CPU. */
static inline int rq_dominates(const struct thread *t, const struct thread *cur)
{
    return !cur || t->wfq_dl < cur->wfq_dl;
}

static inline int rq_preempts(const struct cpu *c, const struct thread *cur)
{
    return c->rq_head[0] && c->rq_head[0]->wfq_dl < cur->wfq_dl;
}

/* Sched_context::replenish: a new quantum, and the deadline moves on by q / w. */
static inline void rq_replenish(struct thread *t)
{
    t->left_ns = t->quantum_ns;
    t->wfq_dl += t->wfq_qdw;
}

/* Ready_queue_wfq::deblock_refill. */
static inline void rq_wakeup(const struct cpu *c, struct thread *t)
{
    uint64_t da = c->current ? c->current->wfq_dl : 0;
    if (t->wfq_dl >= da)
        return;
    uint64_t gap = da - t->wfq_dl;
    uint64_t room = t->quantum_ns - (t->left_ns < t->quantum_ns ? t->left_ns : t->quantum_ns);
    uint64_t credit = gap > room / (t->wfq_weight ? t->wfq_weight : 1)
                      ? room : gap * t->wfq_weight;
    t->left_ns += credit;
    t->wfq_dl = da;
}

/* kernel_check's view: one list on level 0, sorted by deadline, of this CPU's ready
 * threads. NULL if all is well, else what is wrong (*bad: the thread to blame). */
static inline const char *rq_check(const kernel_t *k, const struct cpu *cpu, uint32_t c,
                                   uint8_t *in_rq, const struct thread **bad)
{
    const struct thread *prev = NULL;
    for (const struct thread *t = cpu->rq_head[0]; t; prev = t, t = t->rq_next) {
        *bad = t;
        if (!thread_get(k, thread_id(t)) || t->cpu != c || !(t->state & TS_QUEUED)
            || !(t->state & TS_READY) || t->rq_prev != prev || in_rq[t->hdr.slot]++)
            return "ready queue holds a wrong thread";
        if (prev && prev->wfq_dl > t->wfq_dl)
            return "ready queue out of deadline order";
    }
    *bad = NULL;
    if (cpu->rq_tail[0] != prev || (cpu->rq_words != 0) != (prev != NULL))
        return "ready-queue tail or summary wrong";
    for (int p = 1; p < PRIO_LEVELS; p++)
        if (cpu->rq_head[p])
            return "a WFQ queue uses a priority level";
    return NULL;
}

#endif
