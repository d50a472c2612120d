/*
 * ipc.c: synchronous IPC between threads (§3, §4, §5.2-§5.4, §6.3, §9), Fiasco's way.
 *
 * A send meets a receiver that is ready for this sender (open wait with no one queued
 * ahead, or closed wait for exactly this sender) and the message is copied at once;
 * otherwise the sender queues on the receiver by priority, or fails at once with a zero
 * send timeout. A receive takes the first queued sender (or the named one in a closed
 * wait), else blocks. A call's receive phase is a closed wait on the callee, who gets the
 * implicit reply capability. Errors land in the error TCR with the phase in bit 0.
 * Nothing here decides scheduling policy; it asks sched.c to block, ready and switch.
 */
#include <string.h>

#include "kernel.h"
#include "cspace.h"
#include "fpage.h"
#include "ipc_fast.h"
#include "mapdb.h"
#include "thread.h"
#include "iospace.h"
#include "trace.h"

enum { TO_NEVER = IPC_TO_NEVER, TO_ZERO = IPC_TO_ZERO, TO_AT = IPC_TO_AT };

static uint64_t now_of(const kernel_t *k, const struct thread *t)
{
    return cpu_now(k, k->running_cpu != CPU_NONE ? k->running_cpu : t->cpu);
}

/* §4: when a 16-bit timeout expires, for thread t at time now. */
int ipc_timeout_at(const struct thread *t, uint32_t to, uint64_t now, uint64_t *at)
{
    if (to == 0)
        return TO_NEVER;
    uint64_t ns;
    if (to & 0x8000) {                       /* absolute, in a BR (µs of the clock) */
        unsigned br = to & 0x3F;
        if (br > UTCB_BRS - 1)
            br = UTCB_BRS - 1;
        uint64_t us = t->utcb[UTCB_BR0 + br];
        if (us > UINT64_MAX / 1000)
            return TO_NEVER;
        ns = us * 1000;
        if (ns <= now)
            return TO_ZERO;
    } else {
        uint64_t m = to & 0x3FF, e = (to >> 10) & 0x1F;
        if (m == 0)
            return TO_ZERO;                  /* 0x400, and every m = 0 with e != 0 */
        ns = now + ((m << e) * 1000);
    }
    *at = ns;
    return TO_AT;
}

/* ---- wait queues: priority order, FIFO among equals */

void waitq_enqueue(struct wait_q *q, struct thread *t)
{
    struct thread *after = q->tail;
    while (after && after->prio < t->prio)
        after = after->wq_prev;
    t->wq = q;
    t->wq_prev = after;
    t->wq_next = after ? after->wq_next : q->head;
    if (t->wq_next)
        t->wq_next->wq_prev = t;
    else
        q->tail = t;
    if (after)
        after->wq_next = t;
    else
        q->head = t;
    if (q->owner && q->owner->vcpu.area)
        vcpu_sticky_update(q->owner);
}

void waitq_remove(struct thread *t)
{
    struct wait_q *q = t->wq;
    if (!q)
        return;
    if (t->wq_prev)
        t->wq_prev->wq_next = t->wq_next;
    else
        q->head = t->wq_next;
    if (t->wq_next)
        t->wq_next->wq_prev = t->wq_prev;
    else
        q->tail = t->wq_prev;
    t->wq = NULL;
    t->wq_next = t->wq_prev = NULL;
    if (q->owner && q->owner->vcpu.area)
        vcpu_sticky_update(q->owner);
}

/* ---- results */

static void set_ipc_error(struct thread *t, uint32_t err)
{
    if (t->utcb)
        t->utcb[UTCB_TCR_ERROR] = err;
}

void ipc_fail_send(struct thread *self, uint32_t err)
{
    set_ipc_error(self, err);
    self->ret_tag = L4_MSGTAG_ERROR;
    self->ret_label = 0;
}

static void fail_receive(struct thread *t, uint32_t err)
{
    set_ipc_error(t, err);
    t->ret_tag |= L4_MSGTAG_ERROR;
}

/* ---- message transfer */

/* The next receive buffer for one item type, walking that type's BR list (§5.3). */
struct buf_iter {
    unsigned br;       /* index into the BRs; past the end = none */
};

static int buf_get(const struct thread *r, const struct buf_iter *it, uint64_t *word,
                   uint64_t *window, unsigned *len)
{
    if (it->br >= UTCB_BRS)
        return 0;
    uint64_t w = r->utcb[UTCB_BR0 + it->br];
    if (!w || !(w & L4_ITEM_MAP))
        return 0;
    *word = w;
    if (w & L4_RCV_ITEM_SINGLE_CAP & 2) {          /* small object item: one word */
        *window = 0;
        *len = 1;
    } else {
        if (it->br + 1 >= UTCB_BRS)
            return 0;
        *window = r->utcb[UTCB_BR0 + it->br + 1];
        *len = 2 + (w & L4_RCV_ITEM_FORWARD_MAPPINGS ? 1 : 0);
    }
    return 1;
}

/* Transfers the object capability item (ctl, fp) into the buffer; 0 or an IPC error. */
static uint32_t transfer_obj_item(kernel_t *k, struct thread *s, struct thread *r,
                                  uint64_t ctl, uint64_t fp, uint32_t rights,
                                  uint64_t buf, uint64_t window, uint64_t *rcv_words)
{
    /* Rights are diminished when sending through a restricted capability (§5.2, §9). */
    uint32_t mask = fpage_rights(fp) & (rights | L4_CAP_FPAGE_R | L4_CAP_FPAGE_W | L4_CAP_FPAGE_D);
    uint64_t sidx = fpage_base(fp);
    if ((buf & 2) && (buf & L4_RCV_ITEM_LOCAL_ID)) {
        if (s->task == r->task) {                 /* same task: the flexpage itself */
            rcv_words[0] |= 6;
            rcv_words[1] = fp;
            return 0;
        }
        struct cap_slot *cs = sidx < CSPACE_SLOTS ? cspace_slot(s->task, cap_index((uint32_t)sidx)) : NULL;
        struct kobj *o = cspace_slot_obj(k, cs);
        if (o && o->type == KOBJ_GATE) {
            struct thread *bound = thread_get(k, ((struct gate *)o)->thread);
            if (bound && bound->task == r->task) {   /* local to the receiver: its id */
                rcv_words[0] |= 4;
                rcv_words[1] = ((struct gate *)o)->label | (cs->rights & mask & 3);
                return 0;
            }
        }
    }
    uint64_t rb;
    unsigned ro;
    if (buf & 2) {
        rb = buf >> 12;
        ro = 0;
    } else if (fpage_is_all(window) || fpage_type(window) == FPAGE_OBJ) {
        rb = fpage_is_all(window) ? 0 : fpage_base(window);
        ro = fpage_is_all(window) ? CAP_SPACE_ORDER : fpage_order(window);
    } else
        return L4_IPC_SEMSGCUT;                    /* a window of another type */
    unsigned so = fpage_order(fp);
    if (so > CAP_SPACE_ORDER)
        so = CAP_SPACE_ORDER;
    if (ro > CAP_SPACE_ORDER)
        ro = CAP_SPACE_ORDER;
    struct placement p = fpage_place(sidx, so, ctl >> 12, rb, ro);
    uint32_t mapped = 0;
    int rc = cspace_map_range(k, r->task, p.dst, s->task, p.src, p.count, mask, ctl & 0xF0,
                              (ctl & L4_MAP_ITEM_GRANT) != 0, &mapped);
    charge_entry(k, (uint64_t)mapped * k->cost.item_ns);
    if (!mapped)
        rcv_words[0] |= 2;                          /* Rcv_map_nothing */
    return rc < 0 ? L4_IPC_SEMAPFAILED : 0;
}

/* Typed items (§5.2-§5.4); 0 or the IPC error (send-phase code). */
static uint32_t transfer_items(kernel_t *k, struct thread *s, struct thread *r, uint64_t tag,
                               uint32_t rights)
{
    unsigned words = tag_words(tag), items = tag_items(tag);
    uint64_t bdr = r->utcb[UTCB_BDR];
    struct buf_iter it[4] = {
        [FPAGE_MEMORY] = { (bdr >> L4_BDR_MEM_SHIFT) & 0x1F },
        [FPAGE_IO] = { (bdr >> L4_BDR_IO_SHIFT) & 0x1F },
        [FPAGE_OBJ] = { (bdr >> L4_BDR_OBJ_SHIFT) & 0x1F },
    };
    for (unsigned pos = words; items; items--, pos += 2) {
        if (pos + 1 >= UTCB_MRS)
            return L4_IPC_SEMSGCUT;                /* more items than MRs */
        uint64_t ctl = s->utcb[pos], fp = s->utcb[pos + 1];
        if (!ctl) {                                /* a void item */
            r->utcb[pos] = 0;
            continue;
        }
        unsigned type = fpage_type(fp);
        if (!(ctl & L4_ITEM_MAP) || type == FPAGE_SPECIAL)
            return L4_IPC_SEMSGCUT;
        uint64_t buf, window;
        unsigned len;
        if (!buf_get(r, &it[type], &buf, &window, &len))
            return L4_IPC_SEMSGCUT;
        if (type != FPAGE_OBJ) {
            if (buf & 2)                           /* small buffers hold objects only */
                return L4_IPC_SEMSGCUT;
            r->utcb[pos] = (ctl & ~(uint64_t)0x0FF6) | (fp & 0x0FF0);
            if (r->pf.active && !r->pf.item_seen) {  /* a pager's answer: kept to say why */
                r->pf.item_seen = 1;
                r->pf.item_ctl = ctl;
                r->pf.item_fpage = fp;
                r->pf.item_from = kobj_id_of(&s->task->hdr);
            }
            uint32_t mapped = 0;
            int rc = type == FPAGE_IO ? io_map(k, s->task, fp, r->task, window, &mapped)
                                      : mem_map(k, s->task, fp, r->task, window, ctl, &mapped);
            charge_entry(k, (uint64_t)mapped * k->cost.item_ns);
            if (!mapped)
                r->utcb[pos] |= 2;                  /* Rcv_map_nothing */
            if (rc < 0)
                return L4_IPC_SEMAPFAILED;
            if (!(ctl & L4_ITEM_CONT))
                it[type].br += len;
            continue;
        }
        if ((buf & 2) && type != FPAGE_OBJ)
            return L4_IPC_SEMSGCUT;
        r->utcb[pos] = (ctl & ~(uint64_t)0x0FF6) | (fp & 0x0FF0);
        uint32_t e = transfer_obj_item(k, s, r, ctl, fp, rights, buf, window, &r->utcb[pos]);
        if (e)
            return e;
        if (!(ctl & L4_ITEM_CONT))
            it[type].br += len;
    }
    return 0;
}

/* transfer() of a message without items, which cannot fail: the common case, inline. */
__attribute__((always_inline))
static inline void transfer_words(kernel_t *k, struct thread *s, struct thread *r,
                                  uint64_t tag, uint64_t label)
{
    unsigned words = tag_words(tag);
    copy_mrs(s, r, words);
    charge_entry(k, k->cost.ipc_ns + (uint64_t)words * k->cost.word_ns);
    if (k->trace.size) trace_ipc(k, s, r, tag, label, 0);
    r->ret_tag = tag & ~(uint64_t)L4_MSGTAG_ERROR;
    r->ret_label = label;
}

/* Copies s's message to r and sets r's result; 1 on success. */
static int transfer(kernel_t *k, struct thread *s, struct thread *r, uint64_t tag,
                    uint64_t label, uint32_t rights)
{
    if (!tag_items(tag)) {
        transfer_words(k, s, r, tag, label);
        return 1;
    }
    unsigned words = tag_words(tag);
    copy_mrs(s, r, words);
    charge_entry(k, k->cost.ipc_ns + (uint64_t)words * k->cost.word_ns);
    uint32_t err = transfer_items(k, s, r, tag, rights);
    if (k->trace.size) trace_ipc(k, s, r, tag, label, err);
    r->ret_tag = (tag & ~(uint64_t)L4_MSGTAG_ERROR) | (err ? L4_MSGTAG_ERROR : 0);
    r->ret_label = label;
    if (err) {
        set_ipc_error(s, err);
        set_ipc_error(r, err | 1);
        s->ret_tag = L4_MSGTAG_ERROR;
        s->ret_label = 0;
    }
    return !err;
}

/* ---- the protocol */

/* Blocks t in the receive phase with its receive timeout; or fails it right away. */
static void start_receive_wait(kernel_t *k, struct thread *t, uint32_t rcv_to, uint64_t now)
{
    uint64_t at;
    switch (ipc_timeout_at(t, rcv_to, now, &at)) {
    case TO_ZERO:
        if (t->partner.raw == thread_id(t).raw)
            sched_yield(k, t);                    /* receive from self, zero: a yield */
        fail_receive(t, L4_IPC_RETIMEOUT);
        if (k->trace.size) trace_ipc_failed(k, t);
        return;
    case TO_AT:
        t->state = (t->state & ~TS_READY) | TS_RECV;
        sched_block(k, t);
        timeout_arm(k, t, at);
        return;
    default:
        t->state = (t->state & ~TS_READY) | TS_RECV;
        sched_block(k, t);
    }
}

/* r takes queued sender s; returns whether s went on to wait for a message itself. */
static void accept_sender(kernel_t *k, struct thread *r, struct thread *s)
{
    waitq_remove(s);
    timeout_disarm(k, s);
    s->state &= ~TS_SEND;
    int ok = transfer(k, s, r, s->snd.tag, s->snd.label, s->snd.rights);
    r->state &= ~TS_RECV;
    if (ok && s->snd.rcv == RCV_CLOSED)
        set_caller(k, r, s, s->snd.rights);
    if (!ok || s->snd.rcv == RCV_NONE) {
        if (ok) {
            s->ret_tag = s->snd.tag;
            s->ret_label = 0;
        }
        sched_ready(k, s);
        return;
    }
    /* Its receive phase starts now, on the receiver's clock. */
    s->partner = s->snd.rcv == RCV_CLOSED ? thread_id(r) : (kobj_id_t){ 0 };
    if (!s->partner.raw)
        forget_caller(k, s);
    s->ret_tag = s->snd.tag;
    uint64_t at;
    int kind = ipc_timeout_at(s, s->snd.rcv_to_raw, now_of(k, r), &at);
    if (kind == TO_ZERO) {
        fail_receive(s, L4_IPC_RETIMEOUT);
        if (k->trace.size) trace_ipc_failed(k, s);
        sched_ready(k, s);
        return;
    }
    s->state |= TS_RECV;
    if (kind == TO_AT)
        timeout_arm(k, s, at);
}

static struct thread *next_sender(kernel_t *k, struct thread *self)
{
    struct thread *s = self->senders.head;
    if (!s || !self->partner.raw)
        return s;
    for (; s; s = s->wq_next)                     /* closed wait: only the partner */
        if (thread_id(s).raw == self->partner.raw)
            return s;
    (void)k;
    return NULL;
}

/* Lets every thread that just entered an open wait take its first queued sender; a taken
 * sender may itself have entered an open wait, hence the loop. */
static void drain_open_waits(kernel_t *k, struct thread *t)
{
    if (t && (t->state & (TS_RECV | TS_SEND)) == TS_RECV && irq_take(k, t)) {
        t->state &= ~TS_RECV;
        timeout_disarm(k, t);
        sched_ready(k, t);
        return;
    }
    while (t && (t->state & (TS_RECV | TS_SEND)) == TS_RECV && !t->partner.raw
           && t->senders.head) {
        struct thread *s = t->senders.head;
        accept_sender(k, t, s);
        timeout_disarm(k, t);
        sched_ready(k, t);
        t = (s->state & TS_RECV) ? s : NULL;
    }
}

void ipc_op(kernel_t *k, struct thread *self, const struct ipc_op *op)
{
    uint64_t now = now_of(k, self), at;
    struct thread *woken = NULL;

    if (op->have_send) {
        struct thread *dst = op->dst;
        int queue = dst ? !receiver_ready(k, dst, self) : 1;
        /* A vCPU with its interrupt flag set takes the message at once, as an upcall. */
        int upcall = queue && dst && dst != self && vcpu_async_ready(k, dst);
        uint64_t interrupted[2] = { 0, 0 };
        if (upcall) {
            queue = 0;
            interrupted[0] = dst->ret_tag;
            interrupted[1] = dst->ret_label;
        }
        if (queue) {
            int kind = ipc_timeout_at(self, op->snd_to, now, &at);
            if (kind == TO_ZERO) {
                ipc_fail_send(self, L4_IPC_SETIMEOUT);
                if (k->trace.size) trace_ipc_failed(k, self);
                return;
            }
            self->snd = (struct pending_send){
                .tag = op->tag, .label = op->label, .rights = op->rights, .rcv = op->rcv,
                .rcv_to_raw = op->rcv_to, .restart = dst == NULL,
            };
            self->partner = op->rcv == RCV_CLOSED ? op->rcv_from : (kobj_id_t){ 0 };
            waitq_enqueue(dst ? &dst->senders : op->gate_q, self);
            self->state = (self->state & ~TS_READY) | TS_SEND;
            sched_block(k, self);
            if (kind == TO_AT)
                timeout_arm(k, self, at);
            return;
        }
        timeout_disarm(k, dst);
        int sent = transfer(k, self, dst, op->tag, op->label, op->rights);
        if (upcall)
            vcpu_async_delivered(k, dst, interrupted);
        if (!sent) {
            dst->state &= ~TS_RECV;
            sched_ready(k, dst);
            return;
        }
        dst->state &= ~TS_RECV;
        if (op->rcv == RCV_CLOSED && op->rcv_from.raw == thread_id(dst).raw)
            set_caller(k, dst, self, op->rights);
        woken = dst;
        self->ret_tag = op->tag;
        self->ret_label = 0;
    }

    if (op->rcv != RCV_NONE) {
        self->partner = op->rcv == RCV_CLOSED ? op->rcv_from : (kobj_id_t){ 0 };
        if (op->rcv == RCV_OPEN)
            forget_caller(k, self);           /* an open wait ends the reply capability */
        if (!op->have_send)
            self->ret_tag = op->tag;
        struct thread *s;
        if (irq_take(k, self))
            ;                                 /* an IRQ message (priority 255) was waiting */
        else if ((s = next_sender(k, self))) {
            self->state |= TS_RECV;
            accept_sender(k, self, s);
            drain_open_waits(k, s);
        } else
            start_receive_wait(k, self, op->rcv_to, now);
    }

    if (woken) {
        /* A sender about to block hands its CPU to the receiver (§12), unless asked not to. */
        int blocked = !(self->state & TS_READY);
        if (blocked && woken->cpu == self->cpu && woken->cpu != CPU_NONE
            && !(op->tag & L4_MSGTAG_SCHEDULE))
            sched_switch_to(k, self, woken);
        else
            sched_ready(k, woken);
        drain_open_waits(k, woken);
    }
}

int ipc_take_pending(kernel_t *k, struct thread *t)
{
    t->partner.raw = 0;
    if (irq_take(k, t))
        return 1;
    struct thread *s = t->senders.head;
    if (!s)
        return 0;
    t->state |= TS_RECV;
    accept_sender(k, t, s);
    drain_open_waits(k, s);
    return 1;
}

/* ---- ending waits from outside */

static void end_wait(kernel_t *k, struct thread *t, uint32_t snd_err, uint32_t rcv_err)
{
    if (t->state & TS_SEM) {                       /* a semaphore down: the receive timeout */
        waitq_remove(t);
        t->state &= ~TS_SEM;
        set_ipc_error(t, rcv_err);
        t->ret_tag = L4_MSGTAG_ERROR;
    } else if (t->state & TS_SEND) {
        waitq_remove(t);
        t->state &= ~TS_SEND;
        ipc_fail_send(t, snd_err);
    } else if (t->state & TS_RECV) {
        t->state &= ~TS_RECV;
        fail_receive(t, rcv_err);
    } else
        return;
    if (k->trace.size) trace_ipc_failed(k, t);
    timeout_disarm(k, t);
    sched_ready(k, t);
}

void ipc_timeout_expired(kernel_t *k, struct thread *t)
{
    end_wait(k, t, L4_IPC_SETIMEOUT, L4_IPC_RETIMEOUT);
}

void ipc_cancel(kernel_t *k, struct thread *t)
{
    end_wait(k, t, L4_IPC_SECANCELED, L4_IPC_RECANCELED);
}

void ipc_release_waiters(kernel_t *k, struct wait_q *q, int restart)
{
    while (q->head) {
        struct thread *t = q->head;
        waitq_remove(t);
        timeout_disarm(k, t);
        t->state &= ~TS_SEND;
        if (restart)
            t->ret_restart = 1;
        else
            ipc_fail_send(t, L4_IPC_ENOT_EXISTENT);
        if (k->trace.size && !restart) trace_ipc_failed(k, t);
        sched_ready(k, t);
    }
}

void ipc_thread_dies(kernel_t *k, struct thread *t)
{
    waitq_remove(t);                               /* first: it may be its own sender */
    t->state &= ~(TS_IPC_MASK | TS_SEM);
    while (t->senders.head) {                      /* its senders are aborted */
        struct thread *s = t->senders.head;
        waitq_remove(s);
        timeout_disarm(k, s);
        s->state &= ~TS_SEND;
        ipc_fail_send(s, L4_IPC_SECANCELED);
        if (k->trace.size) trace_ipc_failed(k, s);
        sched_ready(k, s);
    }
    forget_caller(k, t);
    struct thread *h = thread_get(k, t->reply_holder);
    if (h && h->caller.raw == thread_id(t).raw)
        h->caller.raw = 0;
    t->reply_holder.raw = 0;
}
