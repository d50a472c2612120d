/*
 * trace.c: the trace ring's memory and its reading side (pyl4re.h; docs/trace.md).
 *
 * The ring is `size` slots allocated once at boot; recording (trace.h) fills slot `head`
 * (where `next` points) and moves on, overwriting the oldest. Sequence numbers are not
 * stored: the newest entry is number total = wraps * size + head and sits just before
 * `head`, so the entry with number n is at (head - (total - n + 1)) mod size while it is
 * still held. A clear only moves `cleared`. Reading changes nothing. What must not happen here: allocation or
 * failure after boot.
 */
#include "kernel.h"
#include "heap.h"
#include "trace.h"

_Static_assert(sizeof(struct trace_slot) == TRACE_SLOT_BYTES, "a slot is TRACE_SLOT_BYTES");
_Static_assert(TRACE_KIND_COUNT <= 32, "trace_ring.off has a bit per kind");

int trace_init(kernel_t *k, uint32_t size)
{
    k->trace = (struct trace_ring){ 0 };
    if (!size)
        return 0;
    if (size > TRACE_MAX_ENTRIES)
        return -L4_EINVAL;
    k->trace.buf = heap_alloc_array(size, sizeof(struct trace_slot));
    if (!k->trace.buf)
        return -L4_ENOMEM;          /* kernel_create's cleanup calls trace_fini */
    k->trace.size = size;
    k->trace.next = k->trace.buf;
    k->trace.end = k->trace.buf + size;
    return 0;
}

void trace_fini(kernel_t *k)
{
    heap_free(k->trace.buf);
    k->trace = (struct trace_ring){ 0 };
}

static uint32_t head(const struct trace_ring *r)
{
    return (uint32_t)(r->next - r->buf);
}

static uint64_t total(const struct trace_ring *r)
{
    return r->wraps * r->size + head(r);
}

/* The oldest sequence number still held (total + 1 when none is). */
static uint64_t first_held(const struct trace_ring *r)
{
    uint64_t first = total(r) > r->size ? total(r) - r->size + 1 : 1;
    return first > r->cleared ? first : r->cleared + 1;
}

int trace_stats(const kernel_t *k, struct trace_stats *out)
{
    const struct trace_ring *r = &k->trace;
    out->capacity = r->size;
    out->recorded = total(r);
    out->first = first_held(r);
    return 0;
}

int trace_read(const kernel_t *k, uint64_t from, struct trace_record *out, uint32_t max,
               uint32_t *count)
{
    const struct trace_ring *r = &k->trace;
    uint32_t n = 0;
    uint64_t seq = first_held(r);
    if (from > seq)
        seq = from;
    uint64_t last = total(r);
    for (; seq <= last && n < max; seq++, n++) {
        uint64_t back = last - seq + 1;                /* 1 = the newest */
        const struct trace_slot *s = &r->buf[(head(r) + r->size - back % r->size) % r->size];
        out[n] = (struct trace_record){ .seq = seq, .time_ns = s->time_ns,
                                        .kind = (uint32_t)s->kind_cpu,
                                        .cpu = (uint32_t)(s->kind_cpu >> 32),
                                        .thread = { s->thread }, .a = s->a, .b = s->b,
                                        .c = s->c };
    }
    *count = n;
    return 0;
}

int trace_clear(kernel_t *k)
{
    k->trace.cleared = total(&k->trace);
    return 0;
}

int trace_kind_switch(kernel_t *k, uint32_t kind, uint32_t on)
{
    if (kind == TRACE_NONE || kind >= TRACE_KIND_COUNT || kind == TRACE_KE
        || kind == TRACE_KE_REG || kind == TRACE_KE_BIN)
        return -L4_EINVAL;                       /* the µApps' own records stay on */
    if (on)
        k->trace.off &= ~(1u << kind);
    else
        k->trace.off |= 1u << kind;
    return 0;
}

uint32_t trace_kinds_off(const kernel_t *k)
{
    return k->trace.off;
}

int trace_add(kernel_t *k, kobj_id_t thread, uint32_t kind, uint64_t a, uint64_t b,
              uint64_t c)
{
    if (kind != TRACE_KE && kind != TRACE_KE_REG && kind != TRACE_KE_BIN && kind != TRACE_IRQ)
        return -L4_EINVAL;
    struct thread *t = thread_get(k, thread);
    if (!t)
        return -L4_EINVAL;
    if (k->trace.size)
        trace_event(k, kind, trace_cpu(k, t), thread.raw, a, b, c);
    return 0;
}
