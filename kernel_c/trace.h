/*
 * trace.h: the recording side of the trace ring (JDB's tbuf): what the kernel's trace
 * points call. Never seen by cffi; the reading side is in pyl4re.h (trace.c).
 *
 * Every trace point is one line, `if (k->trace.size) trace_xxx(...)`, so tracing that is
 * off costs a load and a branch. Recording never allocates and never fails: it writes one
 * fixed-size slot and overwrites the oldest when the ring is full. Nothing here may change
 * kernel state other than the ring, or charge time.
 */
#ifndef PYL4RE_TRACE_H
#define PYL4RE_TRACE_H

#include "kernel.h"
#include "thread.h"

/* One entry: 48 bytes. Its sequence number is implicit in its position (trace.c). */
struct trace_slot {
    uint64_t time_ns;
    uint64_t thread;
    uint64_t a, b, c;
    uint64_t kind_cpu;         /* kind | cpu << 32: one store on the hot path */
};

int trace_init(kernel_t *k, uint32_t size);
void trace_fini(kernel_t *k);

static inline void trace_write(struct trace_ring *r, uint64_t kind_cpu, uint64_t time_ns,
                               uint64_t thread, uint64_t a, uint64_t b, uint64_t c)
{
    struct trace_slot *s = &r->buf[r->head];
    if (++r->head == r->size)
        r->head = 0;
    r->total++;
    s->time_ns = time_ns;
    s->thread = thread;
    s->a = a;
    s->b = b;
    s->c = c;
    s->kind_cpu = kind_cpu;
}

/* Writes the pending switch to idle (kernel.h, struct trace_ring), if there is one. */
static inline void trace_flush(struct trace_ring *r)
{
    if (r->pend_thread) {
        trace_write(r, TRACE_SWITCH | (uint64_t)r->pend_cpu << 32, r->pend_time, 0,
                    r->pend_thread, 0, 0);
        r->pend_thread = 0;
    }
}

/* Records one entry at time_ns (the clock of `cpu`, as trace_time gives it). */
static inline void trace_put(kernel_t *k, uint32_t kind, uint32_t cpu, uint64_t time_ns,
                             uint64_t thread, uint64_t a, uint64_t b, uint64_t c)
{
    struct trace_ring *r = &k->trace;
    trace_flush(r);
    trace_write(r, kind | (uint64_t)cpu << 32, time_ns, thread, a, b, c);
}

static inline uint64_t trace_time(const kernel_t *k, uint32_t cpu)
{
    return cpu < k->cpus ? k->cpu[cpu].clock_ns : kernel_now_ns(k);
}

static inline void trace_event(kernel_t *k, uint32_t kind, uint32_t cpu, uint64_t thread,
                               uint64_t a, uint64_t b, uint64_t c)
{
    trace_put(k, kind, cpu, trace_time(k, cpu), thread, a, b, c);
}

/* The CPU an event belongs to: the one doing the current kernel entry, else t's own. */
static inline uint32_t trace_cpu(const kernel_t *k, const struct thread *t)
{
    return k->running_cpu != CPU_NONE ? k->running_cpu : t->cpu;
}

/* A message went from s to r (ipc.c, transfer); err != 0: it failed with that IPC error. */
static inline void trace_ipc(kernel_t *k, const struct thread *s, const struct thread *r,
                             uint64_t tag, uint64_t label, uint32_t err)
{
    uint32_t cpu = trace_cpu(k, s);
    uint64_t now = trace_time(k, cpu);
    trace_put(k, TRACE_IPC, cpu, now, thread_id(s).raw, thread_id(r).raw, tag, label);
    if (err)
        trace_put(k, TRACE_IPC_ERROR, cpu, now, thread_id(s).raw, err, thread_id(r).raw, 0);
}

/* t's IPC failed with `err` (a value for its error TCR). */
static inline void trace_ipc_error(kernel_t *k, const struct thread *t, uint64_t err)
{
    trace_event(k, TRACE_IPC_ERROR, trace_cpu(k, t), thread_id(t).raw, err, t->partner.raw, 0);
}

/* t's IPC failed with the error its error TCR now holds. */
static inline void trace_ipc_failed(kernel_t *k, const struct thread *t)
{
    trace_ipc_error(k, t, t->utcb ? t->utcb[UTCB_TCR_ERROR] : 0);
}

/* CPU c switched from `from` to `to` (either NULL: idle). A thread that blocks and hands
 * its CPU on in the same instant (IPC's direct switch) leaves one record, not two: its
 * switch to idle waits as pending and becomes "from -> to". */
static inline void trace_switch(kernel_t *k, const struct cpu *c, const struct thread *from,
                                const struct thread *to)
{
    struct trace_ring *r = &k->trace;
    uint32_t cpu = (uint32_t)(c - k->cpu);
    if (from && !to) {
        trace_flush(r);
        r->pend_thread = thread_id(from).raw;
        r->pend_time = c->clock_ns;
        r->pend_cpu = cpu;
        return;
    }
    if (!from && r->pend_thread && r->pend_cpu == cpu && r->pend_time == c->clock_ns) {
        uint64_t blocked = r->pend_thread;
        r->pend_thread = 0;
        trace_write(r, TRACE_SWITCH | (uint64_t)cpu << 32, c->clock_ns, thread_id(to).raw,
                    blocked, 0, 0);
        return;
    }
    trace_put(k, TRACE_SWITCH, cpu, c->clock_ns, thread_id(to).raw, thread_id(from).raw, 0, 0);
}

/* t faulted at va for `access` (L4_FPAGE_RO / W / X); c = its ip. */
static inline void trace_fault(kernel_t *k, const struct thread *t, uint64_t va,
                               uint32_t access)
{
    trace_event(k, TRACE_PAGE_FAULT, trace_cpu(k, t), thread_id(t).raw, va, access, t->ip);
}

#endif
