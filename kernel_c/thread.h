/*
 * thread.h: threads, CPUs and wait queues: the state the IPC path and the scheduler share.
 *
 * References between threads that may outlive one side (closed-wait partner, implicit
 * reply capability, a gate's bound thread) are kept as generation-checked object ids, never
 * as pointers, so a thread that dies cannot leave a dangling pointer behind. Queue links
 * are pointers; a dying thread unlinks itself from every queue (thread_kill_cleanup()).
 */
#ifndef PYL4RE_THREAD_H
#define PYL4RE_THREAD_H

#include <string.h>

#include "kernel.h"
#include "kobject.h"
#include "vcpu.h"

enum thread_state {
    TS_READY = 0x01,      /* wants the CPU: queued, or current */
    TS_SEND = 0x02,       /* queued as a sender on a thread or an unbound gate */
    TS_RECV = 0x04,       /* waiting for a message (partner set: closed wait) */
    TS_DEAD = 0x08,       /* not started yet (no ex_regs), or ended */
    TS_QUEUED = 0x10,     /* in its CPU's ready queue */
    TS_SEM = 0x20,        /* waiting in a semaphore's queue (semaphore.c) */
    TS_IPC_MASK = TS_SEND | TS_RECV,
};

/* UTCB word indices (§2). */
enum utcb_word {
    UTCB_MR0 = 0,
    UTCB_MRS = 63,
    UTCB_BDR = 64,
    UTCB_BR0 = 65,
    UTCB_BRS = 58,
    UTCB_TCR_ERROR = 123,
    UTCB_TCR_USER0 = 125,
    UTCB_WORDS = 128,
};

enum { CPU_NONE = UINT32_MAX, PRIO_LEVELS = 256 };

/* struct wait_q (kobject.h): a priority-ordered queue of threads (senders, gate waiters),
 * FIFO within a priority. */

/* What a queued sender will send once the receiver takes it. */
struct pending_send {
    uint64_t tag;
    uint64_t label;       /* what the receiver gets in its label register */
    uint32_t rights;      /* rights of the invoked capability (item transfer, §9) */
    uint32_t rcv;         /* RCV_NONE, RCV_CLOSED (call) or RCV_OPEN (send and wait) */
    uint32_t rcv_to_raw;  /* 16-bit receive timeout for the following receive phase */
    uint32_t restart;     /* queued on an unbound gate: the syscall restarts once bound */
};
enum { RCV_NONE = 0, RCV_CLOSED = 1, RCV_OPEN = 2 };

/* The UTCB words a call the kernel makes for a thread (page fault, exception) borrows. */
struct borrowed {
    uint64_t bdr, br[2];
};

struct thread {
    struct kobj hdr;
    uint32_t state;
    uint32_t program;          /* PROGRAM_PYTHON or a native program (native.c) */
    uint32_t py_index;         /* the run loop's index of its record (0: none): sys_enter */
    struct task *task;         /* bound task (holds a counted reference), NULL before bind */
    struct thread *task_next, *task_prev;   /* the task's list of bound threads */
    uint64_t *utcb;            /* the UTCB in physical memory, NULL before bind */
    virt_addr_t utcb_va;

    /* scheduling */
    uint32_t cpu;              /* home CPU; CPU_NONE until run_thread */
    uint32_t prio;
    uint64_t quantum_ns, left_ns;
    struct thread *rq_next, *rq_prev;
    uint64_t consumed_ns;
    uint64_t compute_left_ns;  /* pyl4re.compute() still to burn */
    uint64_t wfq_dl;           /* WFQ build: virtual deadline (ready_queue.h) */
    uint64_t wfq_qdw;          /* ... how far it moves per quantum: quantum / weight */
    uint32_t wfq_weight;       /* ... share of the CPU, 1 by default */

    /* timed events: an IPC timeout, or a wake-up still travelling from another CPU */
    uint64_t deadline_ns;      /* 0 = nothing armed */
    uint32_t wake_pending;     /* the armed event is a cross-CPU wake-up, not a timeout */
    struct thread *to_next, *to_prev;

    /* IPC */
    kobj_id_t partner;         /* closed wait: the only thread we accept */
    kobj_id_t caller;          /* implicit reply capability: who waits for our reply */
    uint32_t caller_rights;
    kobj_id_t reply_holder;    /* the thread holding *our* reply capability */
    struct wait_q *wq;         /* the queue we are in as a sender */
    struct thread *wq_next, *wq_prev;
    struct wait_q senders;     /* senders waiting for us */
    struct irq *irq_head, *irq_tail;   /* IRQ messages waiting for us (irq.c) */
    struct pending_send snd;

    /* result of the last kernel entry, delivered when the thread runs again */
    uint64_t ret_tag, ret_label;
    uint32_t ret_restart;      /* the syscall must be issued again */
    uint32_t start_pending;    /* ex_regs set a new ip: start the code there */

    /* a kernel entry waiting for the control plane (SYS_SLOWPATH) */
    struct slow_entry {
        uint32_t pending;
        kobj_id_t obj;
        uint32_t type, rights, attrs, flags;
        uint64_t timeout, selector;
    } slow;

    /* a page fault being resolved by page-fault IPC (memaccess.c) */
    struct pf_state {
        uint32_t active, access;
        uint64_t va;
        uint64_t saved_mr[2];
        struct borrowed borrowed;
        /* the reply's first memory map item, as it arrived (ipc.c): why a fault stayed */
        uint32_t item_seen;
        uint64_t item_ctl, item_fpage;
        kobj_id_t item_from;       /* the task it was mapped from */
    } pf;

    /* an exception being told to the handler (exception.c) */
    struct exc_state {
        uint32_t active;
        struct borrowed borrowed;
        /* the MRs the frame overlays: Fiasco sends the frame from the trap state and
         * leaves the thread's UTCB as it was, so they are put back when it is over */
        uint64_t saved_mr[ARCH_EXC_REGS_WORDS];
    } exc;

    /* thread operations beyond control and ex_regs (thread_ops.c) */
    kobj_id_t del_irq;         /* Irq or semaphore hit when a gate bound to us is deleted */
    uint32_t exc_triggered;    /* ex_regs raised an exception: told when it next runs */
    uint64_t tls[2];           /* arch thread registers (amd64 FS/GS base, arm64 TPIDRURO) */
    /* alien threads (Fiasco's Thread_alien, Thread_dis_alien): every system call traps */
    uint32_t alien;            /* an alien: its system calls go to its exception handler */
    uint32_t alien_pass;       /* ... the handler allowed the next one (L4_PROTO_ALLOW_SYSCALL) */
    uint32_t alien_after;      /* the call allowed is running: the second exception is due */
    uint32_t alien_told;       /* 1 before, 2 after the call: an alien exception is told */
    uint64_t alien_result[2];  /* the allowed call's result tag and label, while told */

    /* registers (ex_regs) and exception/pager selectors */
    uint64_t ip, sp, flags;
    uint64_t pager, exc_handler;
    uint32_t native_pc;        /* native programs: where their loop stands */
    uint64_t native_count;
    void *native_state;        /* a native program's own data (sigma0's bookkeeping) */

    struct vcpu_ctx vcpu;      /* vcpu.c: the state area, user task, upcall in flight */
};

/* One entry of a CPU's software TLB (memaccess.c): a 4 KiB page of one task. */
struct tlb_entry {
    kobj_id_t task;
    uint64_t vpage, ppage;
    uint32_t rights;
    uint64_t epoch;            /* k->tlb_epoch when filled: any unmap since makes it stale */
};
enum { TLB_ENTRIES = 64 };

struct cpu {
    struct tlb_entry tlb[TLB_ENTRIES];
    uint64_t clock_ns;
    uint64_t idle_ns;
    uint32_t need_resched;     /* a higher-priority thread woke, or the quantum ran out */
    struct thread *current;
    struct thread *rq_head[PRIO_LEVELS], *rq_tail[PRIO_LEVELS];
    uint64_t rq_bits[PRIO_LEVELS / 64];
    uint32_t rq_words;         /* bit w set: rq_bits[w] is not 0 */
    struct thread *timeouts;   /* sorted by deadline */
    uint32_t online;
    uint64_t space;            /* id of the task whose address space is loaded (0: none) */
    uint64_t trace_last;       /* the thread the last switch record put here (trace.h) */
};

/* Virtual time (§12): inline, as every IPC charges several times. */
static inline uint64_t cpu_now(const kernel_t *k, uint32_t cpu)
{
    return k->cpu[cpu].clock_ns;
}

/* Sets the KIP clock (µs) to the time clock_ns; a value a native entry left to be written
 * (kip_defer) is older, so it is dropped. */
static inline void kip_set_clock(kernel_t *k, uint64_t clock_ns)
{
    uint64_t us = clock_ns / 1000;
    memcpy(k->mem + k->kip_pa.raw + KIP_CLOCK, &us, sizeof(us));
    k->kip_due = 0;
}

/* kip_set_clock(clock_ns), left for kip_flush: for the native programs' entries, whose KIP
 * clock no code can read before the next one is set, unless the scheduler returns first
 * (sched.c flushes it then). */
static inline void kip_defer(kernel_t *k, uint64_t clock_ns)
{
    k->kip_due_ns = clock_ns;
    k->kip_due = 1;
}

/* Writes the KIP clock a native entry left (kip_defer), if any. */
static inline void kip_flush(kernel_t *k)
{
    if (k->kip_due)
        kip_set_clock(k, k->kip_due_ns);
}

/* Brings the KIP clock up to cpu's time: at every kernel entry, so inline. */
static inline void kip_tick(kernel_t *k, uint32_t cpu)
{
    kip_set_clock(k, k->cpu[cpu].clock_ns);
}

__attribute__((always_inline))
static inline void cpu_charge(kernel_t *k, uint32_t cpu, uint64_t ns)
{
    struct cpu *c = &k->cpu[cpu];
    c->clock_ns += ns;
    struct thread *t = c->current;
    if (!t)
        return;
    t->consumed_ns += ns;
    if (t->left_ns > ns)
        t->left_ns -= ns;
    else {
        t->left_ns = 0;            /* quantum used up: to the tail at the next pick */
        c->need_resched = 1;
    }
}

/* Work is charged to the CPU doing it: the one running the current kernel entry (none
 * outside an entry: harness set-up costs no virtual time). */
static inline void charge_entry(kernel_t *k, uint64_t ns)
{
    if (k->running_cpu != CPU_NONE)
        cpu_charge(k, k->running_cpu, ns);
}

/* A context switch on cpu to `to`; one into another task's address space costs more. */
__attribute__((always_inline))
static inline void charge_switch(kernel_t *k, uint32_t cpu, const struct thread *to)
{
    uint64_t ns = k->cost.switch_ns;
    if (k->cost.space_ns) {                  /* the model table has none: nothing to track */
        struct cpu *c = &k->cpu[cpu];
        uint64_t space = to->task ? kobj_id_of(&to->task->hdr).raw : 0;
        if (space != c->space) {
            c->space = space;
            ns += k->cost.space_ns;
        }
    }
    cpu_charge(k, cpu, ns);
}

__attribute__((always_inline))
static inline struct thread *thread_get(const kernel_t *k, kobj_id_t id)
{
    struct kobj *o = id.raw ? kobj_get(k, id) : NULL;
    return o && o->type == KOBJ_THREAD ? (struct thread *)o : NULL;
}

static inline kobj_id_t thread_id(const struct thread *t)
{
    return t ? kobj_id_of(&t->hdr) : (kobj_id_t){ 0 };
}

/* Wait queues (sched.c) */
void waitq_enqueue(struct wait_q *q, struct thread *t);
void waitq_remove(struct thread *t);

/* Scheduler (sched.c) */
void sched_yield(kernel_t *k, struct thread *t);
void sched_migrate(kernel_t *k, struct thread *t, uint32_t cpu);
int sched_init(kernel_t *k);
void sched_fini(kernel_t *k);
void sched_ready(kernel_t *k, struct thread *t);       /* make runnable; may preempt */
void sched_block(kernel_t *k, struct thread *t);       /* leave the CPU */
void sched_switch_to(kernel_t *k, struct thread *from, struct thread *to);
void timeout_arm(kernel_t *k, struct thread *t, uint64_t deadline_ns);
void timeout_unlink(kernel_t *k, struct thread *t);     /* an armed one: sched.c */
/* Disarms t's timed event, if any: inline, as mostly none is armed. */
static inline void timeout_disarm(kernel_t *k, struct thread *t)
{
    if (t->deadline_ns)
        timeout_unlink(k, t);
}
/* Whether the current thread of `cpu` may go on after a kernel entry, or must let the
 * scheduler act first (preemption, an expired timeout or quantum, another CPU behind). */
int sched_may_continue(const kernel_t *k, struct thread *t);
/* A µApp's kernel entry that must wait schedules at once, if sched_limits() allowed it:
 * SYS_DONE when the choice is the waiting thread itself as it stands (a native partner or
 * pager answered; its result is in *next), SYS_SWITCH when it is anything else (*next says
 * what), SYS_SUSPEND when the run loop is to ask the scheduler itself. */
int sched_wait_in_entry(kernel_t *k, kobj_id_t self, struct sched_out *next);

/* Threads, gates and ku-mem (thread.c) */
void thread_init(struct thread *t);
void thread_kill_cleanup(kernel_t *k, struct thread *t);
void thread_unbind(kernel_t *k, struct thread *t);
void task_release(kernel_t *k, struct task *t);
int task_kumem_add(kernel_t *k, struct task *t, uint64_t va, unsigned order);
void gate_release(kernel_t *k, struct gate *g);

/* Thread operations (thread_ops.c) */
/* A gate bound to t is being deleted: t's deletion IRQ fires (§8.4). */
void thread_gate_deleted(kernel_t *k, struct thread *t);
/* Whether the scheduler resumes t with its triggered exception first: not while a page
 * fault or another exception of it is still being told. Inline: every resume asks. */
static inline int thread_exception_due(const struct thread *t)
{
    return t->exc_triggered && !t->pf.active && !t->exc.active;
}

/* An alien thread's system call (thread_ops.c, from sys_invoke): SYS_DONE if it runs now,
 * else its handler hears of it first (SYS_ALIEN, or SYS_GONE). */
int thread_alien_entry(kernel_t *k, struct thread *t, const struct sys_call *c);
/* thread_exception with the system call's registers (sys_regs) set in the message. */
int thread_exception_regs(kernel_t *k, kobj_id_t thread, uint64_t trapno, uint64_t err,
                          uint64_t pfa, const uint64_t *sys, unsigned nsys);

/* The kernel entry (syscall.c): SYS_DONE, or SYS_SLOWPATH for the control plane. */
int kernel_entry(kernel_t *k, struct thread *t, const struct sys_call *c);
/* A call the kernel makes on a thread's behalf to its pager or exception handler
 * (§10.1, §10.2): the receive window is every space; the buffer words it borrows are
 * saved in *b and put back by kcall_return. Never/never timeouts; tag as given. */
void kcall_start(kernel_t *k, struct thread *t, uint64_t sel, uint64_t tag, struct borrowed *b);
void kcall_return(struct thread *t, const struct borrowed *b);
/* Ends a page fault in progress, putting back the UTCB words it borrowed (memaccess.c). */
void pf_restore(struct thread *t);
/* A page fault or exception the thread's old code was in is dropped: its UTCB words are
 * put back. For ex_regs, and for the start ex_regs asked for when it is taken. */
void thread_abandon_kcalls(struct thread *t);
/* The running Python thread with this id (and its CPU made the running one), or NULL. */
struct thread *sys_running(kernel_t *k, kobj_id_t tid);
/* After an entry: SYS_DONE if the thread may go on, else SYS_SUSPEND (or SYS_GONE). */
int sys_exit(kernel_t *k, kobj_id_t tid, int status, struct sys_result *out);

/* Timeouts (§4) as the kernel reads them: never, at once, or at an absolute time. */
enum { IPC_TO_NEVER, IPC_TO_ZERO, IPC_TO_AT };
int ipc_timeout_at(const struct thread *t, uint32_t to, uint64_t now, uint64_t *at);

/* IRQs and semaphores (irq.c, semaphore.c) */
void irq_raise(kernel_t *k, struct irq *q);
struct irq *irq_take(kernel_t *k, struct thread *t);   /* a waiting IRQ message, if any */
void irq_release(kernel_t *k, struct irq *q);
void irq_thread_dies(struct thread *t);
void semaphore_down(kernel_t *k, struct thread *t, struct semaphore *s, uint32_t rcv_to,
                    uint64_t now);
void semaphore_up(kernel_t *k, struct semaphore *s);
void semaphore_release(kernel_t *k, struct semaphore *s);

/* An open receive with zero timeout for t (vcpu.c): the first IRQ message or queued
 * sender lands in t's UTCB and ret_*; 0 if nothing waits (then RETIMEOUT). */
int ipc_take_pending(kernel_t *k, struct thread *t);

/* IPC (ipc.c) */
struct ipc_op {
    struct thread *dst;        /* send to this thread ... */
    struct wait_q *gate_q;     /* ... or wait here for an unbound gate to be bound */
    uint64_t tag;
    uint64_t label;            /* what the receiver finds in its label register */
    uint32_t rights;           /* of the invoked capability: W, S (§9) */
    uint32_t have_send;
    uint32_t rcv;              /* RCV_NONE, RCV_CLOSED, RCV_OPEN */
    kobj_id_t rcv_from;        /* closed wait: the partner */
    uint32_t snd_to, rcv_to;   /* 16-bit timeouts (§4) */
};
/* Runs one IPC for `self`, the running thread. Its outcome lands in self->ret_* (and the
 * UTCB) now, or later if self blocks. */
void ipc_op(kernel_t *k, struct thread *self, const struct ipc_op *op);
/* self's send failed in the send phase with IPC error `err` (§3.1). */
void ipc_fail_send(struct thread *self, uint32_t err);
void ipc_cancel(kernel_t *k, struct thread *t);
void ipc_timeout_expired(kernel_t *k, struct thread *t);
/* Wakes a gate's waiting senders: to try again (bound) or with ENOT_EXISTENT (deleted). */
void ipc_release_waiters(kernel_t *k, struct wait_q *q, int restart);
/* A dying thread: aborts its senders and forgets its reply relations. */
void ipc_thread_dies(kernel_t *k, struct thread *t);

#endif
