/*
 * ipc_fast.h: the IPC fast path (§12) and the kernel entry around it, inline, for the two
 * places that enter the kernel most: kernel_entry (syscall.c), and the native programs'
 * entry (native.c), so that a native round trip runs without a call between the program,
 * the entry and the switch. Also the pieces of the IPC protocol the fast path shares with
 * the general one (ipc.c): the reply capability, the word copy, who is ready to receive.
 * Internal; included by ipc.c, syscall.c and native.c only. Nothing here may decide what
 * the general path would decide differently: it only does, in one line, what it would do.
 */
#ifndef PYL4RE_IPC_FAST_H
#define PYL4RE_IPC_FAST_H

#include "kernel.h"
#include "cspace.h"
#include "fpage.h"
#include "thread.h"
#include "trace.h"

/* ---- the reply capability */

__attribute__((always_inline))
static inline void forget_caller(kernel_t *k, struct thread *holder)
{
    struct thread *c = thread_get(k, holder->caller);
    if (c && c->reply_holder.raw == thread_id(holder).raw)
        c->reply_holder.raw = 0;
    holder->caller.raw = 0;
}

__attribute__((always_inline))
static inline void set_caller(kernel_t *k, struct thread *holder, struct thread *caller,
                              uint32_t rights)
{
    forget_caller(k, holder);
    struct thread *old = thread_get(k, caller->reply_holder);
    if (old && old->caller.raw == thread_id(caller).raw)
        old->caller.raw = 0;                 /* a thread waits for one reply at a time */
    holder->caller = thread_id(caller);
    holder->caller_rights = rights;
    caller->reply_holder = thread_id(holder);
}

/* Copies the message registers word by word, first to last, as a CPU would: UTCBs may
 * overlap (Fiasco only asks that each lies 8-byte aligned in one ku-mem area), so this
 * must not be memcpy. Mostly a few words: no call either. The UTCB pointers are read
 * once: a store through one of them cannot move them. */
__attribute__((always_inline))
static inline void copy_mrs(const struct thread *s, struct thread *r, unsigned words)
{
    const uint64_t *from = s->utcb, *end = from + words;
    uint64_t *to = r->utcb;
    while (from != end)
        *to++ = *from++;
}

/* r waits for a message from s, so it can take it at once. */
static inline int receiver_ready(kernel_t *k, const struct thread *r, const struct thread *s)
{
    (void)k;
    if ((r->state & (TS_RECV | TS_SEND)) != TS_RECV || !r->utcb)
        return 0;
    if (!r->partner.raw)
        return !r->senders.head || r->senders.head == s;
    return r->partner.raw == thread_id(s).raw;
}

/* ---- the direct switch */

/* sched_block(from) then sched_switch_to(from, to) where from is the current thread and
 * `to`, waiting in IPC on the same CPU, is in no ready queue and has no timeout armed: the
 * fast path's direct switch, which touches no ready queue (Fiasco's lazy queueing). Its
 * switch record the fast path writes with the IPC's (trace_ipc_handoff). */
__attribute__((always_inline))
static inline void sched_handoff(kernel_t *k, struct thread *from, struct thread *to)
{
    struct cpu *c = &k->cpu[from->cpu];
    from->state &= ~TS_READY;
    to->state = (to->state & ~(TS_IPC_MASK | TS_DEAD)) | TS_READY;
    c->current = to;
    c->need_resched = 0;
    charge_switch(k, from->cpu, to);
}

/* ---- the fast path (§12): a call or a reply-and-wait whose partner waits */

/*
 * The two halves of every round trip, when the partner already waits for this very
 * message on the same CPU, in one straight line (seL4's fastpath.c). First the guards,
 * which change nothing: anything they do not cover (items, a receive timeout, no time-slice
 * donation, queued senders or IRQ messages to take, another CPU, an entry outside its
 * CPU's turn, a control protocol) returns 0 and the entry takes the general path, whose
 * effects this path repeats exactly and in the same order (clock, KIP clock, trace
 * records): kernel_entry's decode and charge, then ipc_op. It also charges the entry
 * itself, the system call and the IPC in one: both go to self, whose time slice ends
 * after the sum exactly when it would have ended after one of them (the CPU's
 * need_resched it would set is cleared by the switch that follows either way). `native`
 * (a constant, see kernel_entry_inline) drops the guards its caller answers and leaves
 * the KIP clock to the scheduler.
 */
__attribute__((always_inline))
static inline int ipc_fast(kernel_t *k, struct thread *self, const struct sys_call *c,
                           int native)
{
    uint64_t flags = c->dest & 0xF, sel = c->dest & ~(uint64_t)0xF, tag = c->tag;
    uint32_t cpu = self->cpu;
    if ((tag & ((L4_MSGTAG_ITEMS_MASK << L4_MSGTAG_ITEMS_SHIFT) | L4_MSGTAG_SCHEDULE))
        || (c->timeout & 0xFFFF) || self->senders.head || self->irq_head
        || (!native && (cpu != k->running_cpu || cpu == CPU_NONE)))
        return 0;
    struct cpu *cp = &k->cpu[cpu];
    struct thread *dst;
    uint64_t label = c->label;
    uint32_t rights;                             /* W and S of what is invoked */
    if (flags == L4_SYSF_CALL && !(sel & (L4_INVALID_CAP_BIT | L4_REPLY_CAP_BIT))) {
        uint64_t idx = sel >> L4_CAP_SHIFT;
        struct cap_slot *cs = idx < CSPACE_SLOTS ? cspace_slot(self->task, cap_index((uint32_t)idx))
                                                 : NULL;
        struct kobj *o = cspace_slot_obj(k, cs);
        if (!o)
            return 0;
        rights = cs->rights & (L4_CAP_FPAGE_W | L4_CAP_FPAGE_S);
        if (o->type == KOBJ_THREAD && tag_label(tag) != L4_PROTO_THREAD)
            dst = (struct thread *)o;
        else if (o->type == KOBJ_GATE
                 && !(tag_label(tag) == L4_PROTO_KOBJECT && (cs->attrs & L4_FPAGE_C_IPCGATE_SVR))) {
            dst = thread_get(k, ((struct gate *)o)->thread);
            label = ((struct gate *)o)->label | rights;
        } else
            return 0;
    } else if (flags == L4_SYSF_REPLY_AND_WAIT && (sel & L4_INVALID_CAP_BIT)) {
        dst = thread_get(k, self->caller);
        rights = self->caller_rights;
    } else
        return 0;
    if (!dst || dst->cpu != cpu || !receiver_ready(k, dst, self)
        || (!native && cp->current != self) || (dst->state & TS_QUEUED))
        return 0;                                /* (sched_handoff's conditions) */

    /* The point of no return. */
    uint64_t self_id = kobj_id_of(&self->hdr).raw;
    if (flags == L4_SYSF_REPLY_AND_WAIT) {       /* the reply capability is used up */
        if (dst->reply_holder.raw == self_id)
            dst->reply_holder.raw = 0;
        self->caller.raw = 0;
    }
    timeout_disarm(k, dst);
    unsigned words = tag_words(tag);
    copy_mrs(self, dst, words);
    const struct cost_table *cost = &k->cost;
    uint64_t syscall_ns = cost->syscall_ns;
    uint64_t ipc_ns = cost->ipc_ns + (uint64_t)words * cost->word_ns;
    uint64_t entered = cp->clock_ns + syscall_ns, now = entered + ipc_ns;
    uint64_t ns = syscall_ns + ipc_ns;
    if (native)                                  /* as the general path ticks it */
        kip_defer(k, entered);
    else
        kip_set_clock(k, entered);
    cp->clock_ns = now;
    self->consumed_ns += ns;
    self->left_ns = self->left_ns > ns ? self->left_ns - ns : 0;
    if (k->trace.size) trace_ipc_handoff(k, cpu, now, self, dst, tag, label);
    dst->ret_tag = tag & ~(uint64_t)L4_MSGTAG_ERROR;
    dst->ret_label = label;
    if (flags == L4_SYSF_CALL)
        set_caller(k, dst, self, rights);
    self->ret_tag = tag;
    self->ret_label = 0;
    self->partner = flags == L4_SYSF_CALL ? kobj_id_of(&dst->hdr) : (kobj_id_t){ 0 };
    self->state |= TS_RECV;                      /* waits now; the handoff blocks it */
    sched_handoff(k, self, dst);
    return 1;
}

/* The general path of the kernel entry (syscall.c): every operation, decoded in full. */
int kernel_general_entry(kernel_t *k, struct thread *t, const struct sys_call *c);

/* The kernel entry, "invoke capability" (§6.3): the fast path if it applies, else the
 * general one. SYS_FAST (the fast path's handoff: done), SYS_DONE, or SYS_SLOWPATH for
 * the control plane. native (a constant): the entry of a native program's step in the
 * scheduler's loop (native.c), where t is the current thread of the running CPU (so the
 * fast path need not ask), and the KIP clock can wait for the scheduler (kip_flush). */
enum { SYS_FAST = 0x100 };     /* internal: SYS_DONE, by the fast path */
__attribute__((always_inline))
static inline int kernel_entry_inline(kernel_t *k, struct thread *t, struct sys_call c,
                                      int native)
{
    t->slow.pending = 0;                         /* the rest is read only once it is set */
    if (ipc_fast(k, t, &c, native))              /* the partner waits already; it charges */
        return SYS_FAST;                         /* the entry as the general path would */
    struct sys_call general = c;                 /* only this one lives in memory */
    return kernel_general_entry(k, t, &general);
}

#endif
