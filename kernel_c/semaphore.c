/*
 * semaphore.c: kernel semaphores (§8.5): down blocks with the receive timeout while the
 * count is 0; up (an IRQ-style trigger) wakes the first waiter by priority, or counts.
 * Deleting a semaphore wakes its waiters with ENOT_EXISTENT.
 */
#include "kernel.h"
#include "thread.h"

static uint64_t ok_tag(void) { return 0; }

/* Blocks t (the running thread) or takes one unit at once. */
void semaphore_down(kernel_t *k, struct thread *t, struct semaphore *s, uint32_t rcv_to,
                    uint64_t now)
{
    if (s->count) {
        s->count--;
        t->ret_tag = ok_tag();
        t->ret_label = 0;
        return;
    }
    uint64_t at;
    int kind = ipc_timeout_at(t, rcv_to, now, &at);
    if (kind == IPC_TO_ZERO) {
        t->utcb[UTCB_TCR_ERROR] = L4_IPC_RETIMEOUT;
        t->ret_tag = L4_MSGTAG_ERROR;
        return;
    }
    t->ret_tag = ok_tag();
    t->ret_label = 0;
    waitq_enqueue(&s->waiters, t);
    t->state = (t->state & ~TS_READY) | TS_SEM;
    sched_block(k, t);
    if (kind == IPC_TO_AT)
        timeout_arm(k, t, at);
}

void semaphore_up(kernel_t *k, struct semaphore *s)
{
    struct thread *t = s->waiters.head;
    if (!t) {
        if (s->count < UINT64_MAX)
            s->count++;
        return;
    }
    waitq_remove(t);
    timeout_disarm(k, t);
    t->state &= ~TS_SEM;
    t->ret_tag = ok_tag();
    t->ret_label = 0;
    sched_ready(k, t);
}

void semaphore_release(kernel_t *k, struct semaphore *s)
{
    while (s->waiters.head) {
        struct thread *t = s->waiters.head;
        waitq_remove(t);
        timeout_disarm(k, t);
        t->state &= ~TS_SEM;
        ipc_fail_send(t, L4_IPC_ENOT_EXISTENT);
        sched_ready(k, t);
    }
}
