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

__attribute__((always_inline))
static inline void trace_write(struct trace_ring *r, uint64_t kind_cpu, uint64_t time_ns,
                               uint64_t thread, uint64_t a, uint64_t b, uint64_t c)
{
    struct trace_slot *s = r->next;
    if (++r->next == r->end) {
        r->next = r->buf;
        r->wraps++;
    }
    s->time_ns = time_ns;
    s->thread = thread;
    s->a = a;
    s->b = b;
    s->c = c;
    s->kind_cpu = kind_cpu;
}

/* Records one entry at time_ns (the clock of `cpu`, as trace_time gives it). */
__attribute__((always_inline))
static inline void trace_put(kernel_t *k, uint32_t kind, uint32_t cpu, uint64_t time_ns,
                             uint64_t thread, uint64_t a, uint64_t b, uint64_t c)
{
    if (k->trace.off & (1u << kind))
        return;                                  /* switched off (trace_kind_switch) */
    trace_write(&k->trace, kind | (uint64_t)cpu << 32, time_ns, thread, a, b, c);
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

/* `cpu` now runs `to` (NULL: it idles from its clock's time on). The thread it switched
 * from is the one its last switch record put there, so a thread that blocks needs no
 * record of its own: the CPU either switches on at once (IPC's direct switch: one record,
 * sender -> receiver) or idles, and idling is recorded where its clock jumps (sched.c). */
__attribute__((always_inline))
static inline void trace_switch(kernel_t *k, uint32_t cpu, const struct thread *to)
{
    struct cpu *c = &k->cpu[cpu];
    uint64_t from = c->trace_last, to_id = thread_id(to).raw;
    if (from == to_id)
        return;
    c->trace_last = to_id;
    trace_put(k, TRACE_SWITCH, cpu, c->clock_ns, to_id, from, 0, 0);
}

/* The IPC fast path's two records: the message from s to r arrived (trace_ipc), and `cpu`
 * switched to r directly (trace_switch), both at `now`, the CPU's clock, as the general path
 * records them. The common case, both kinds on and room for both before the ring's end,
 * writes the two slots at once. */
__attribute__((always_inline))
static inline void trace_ipc_handoff(kernel_t *k, uint32_t cpu, uint64_t now,
                                     const struct thread *s, struct thread *r, uint64_t tag,
                                     uint64_t label)
{
    struct trace_ring *ring = &k->trace;
    struct cpu *c = &k->cpu[cpu];
    uint64_t s_id = thread_id(s).raw, r_id = thread_id(r).raw, from = c->trace_last;
    struct trace_slot *slot = ring->next;
    if (from == r_id || (ring->off & (1u << TRACE_IPC | 1u << TRACE_SWITCH))
        || ring->end - slot < 2) {
        trace_put(k, TRACE_IPC, cpu, now, s_id, r_id, tag, label);
        trace_switch(k, cpu, r);
        return;
    }
    c->trace_last = r_id;
    struct trace_slot *after = slot + 2;
    if (after == ring->end) {
        after = ring->buf;
        ring->wraps++;
    }
    ring->next = after;
    uint64_t on_cpu = (uint64_t)cpu << 32;
    slot[0] = (struct trace_slot){ .time_ns = now, .thread = s_id, .a = r_id, .b = tag,
                                   .c = label, .kind_cpu = TRACE_IPC | on_cpu };
    slot[1] = (struct trace_slot){ .time_ns = now, .thread = r_id, .a = from, .b = 0, .c = 0,
                                   .kind_cpu = TRACE_SWITCH | on_cpu };
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

/* t receives the message of Irq q (irq.c). */
static inline void trace_irq(kernel_t *k, const struct thread *t, const struct irq *q)
{
    trace_event(k, TRACE_IRQ, trace_cpu(k, t), thread_id(t).raw, q->label,
                kobj_id_of(&q->hdr).raw, 0);
}

/* A mapping of 2^shift bytes at va arrived in (TRACE_MAP) or left (TRACE_UNMAP) task t's
 * space (mapdb.c); the thread is the one whose kernel entry did it (0: the harness). */
static inline void trace_mapping(kernel_t *k, uint32_t kind, const struct task *t, uint64_t va,
                                 unsigned shift)
{
    uint32_t cpu = k->running_cpu;
    const struct thread *cur = cpu != CPU_NONE ? k->cpu[cpu].current : NULL;
    trace_event(k, kind, cpu, thread_id(cur).raw, kobj_id_of(&t->hdr).raw, va, shift);
}

/* t faulted at va for `access` (L4_FPAGE_RO / W / X); c = its ip. */
static inline void trace_fault(kernel_t *k, const struct thread *t, uint64_t va,
                               uint32_t access)
{
    trace_event(k, TRACE_PAGE_FAULT, trace_cpu(k, t), thread_id(t).raw, va, access, t->ip);
}

#endif
