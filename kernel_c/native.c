/*
 * native.c: the built-in C thread programs (see native.h).
 *
 *   echo server   wait; then forever reply_and_wait with the words it got. A nonzero TCR
 *                 user0 is a receive item it offers as BR0 before every wait (BDR 0), as
 *                 an L4Re server loop sets its buffers up: a capability sent along arrives
 *   sink          wait forever, counting the messages: the receiver of one-way sends
 *   call loop     call TCR user0 (a selector) TCR user1 times with TCR user2 words,
 *                 counting successful calls in native_count, then end
 *   send loop     the same with sends: nothing waits for an answer
 *   cap call loop call TCR user0 TCR user1 times with 2 words and a map item of the
 *                 capability at selector TCR user2 or of the next one, in turn: each call
 *                 then replaces what the last one left in the receiver's slot (the same
 *                 capability again would only update rights)
 *   toucher       read TCR user1 pages one after another (the smallest page apart) from
 *                 address TCR user0 on, counting them; a fault goes to the pager as
 *                 page-fault IPC, and the page is read again once the pager answered
 *   sigma0        the root pager (sigma0.c); only the thread the kernel boots runs it
 *
 * Each step looks at the result of the program's previous kernel entry (ret_*) and makes
 * the next one, exactly like user code between two system calls. That entry is the last
 * thing a step does, and nothing before it in the step changes what the scheduler sees:
 * sched.c lets a native partner go on at once after an entry the fast path finished.
 */
#include "kernel.h"
#include "fpage.h"
#include "ipc_fast.h"
#include "native.h"
#include "thread.h"

uint32_t native_program_at(uint64_t ip)
{
    if (ip < NATIVE_TEXT_BASE || (ip - NATIVE_TEXT_BASE) % NATIVE_TEXT_STRIDE)
        return PROGRAM_PYTHON;
    uint64_t n = (ip - NATIVE_TEXT_BASE) / NATIVE_TEXT_STRIDE;
    return n > 0 && n < PROGRAM_COUNT ? (uint32_t)n : PROGRAM_PYTHON;
}

/* The system call a step makes: it is always the step's last action (native_step makes
 * it), as for user code, whose step ends where it enters the kernel. */
static int make_call(struct sys_call *c, uint64_t dest, uint64_t tag, uint64_t timeout)
{
    *c = (struct sys_call){ .dest = dest, .tag = tag, .label = 0, .timeout = timeout };
    return 1;
}

static int got_message(const struct thread *t)
{
    return t->native_pc && !(t->ret_tag & L4_MSGTAG_ERROR);
}

static int echo_step(struct thread *t, struct sys_call *c)
{
    int have_msg = got_message(t);
    t->native_pc = 1;
    uint64_t rcv_item = t->utcb[UTCB_TCR_USER0];
    if (rcv_item) {
        t->utcb[UTCB_BDR] = 0;
        t->utcb[UTCB_BR0] = rcv_item;
        t->utcb[UTCB_BR0 + 1] = 0;                /* the buffer list ends */
    }
    if (!have_msg)
        return make_call(c, L4_INVALID_CAP | L4_SYSF_WAIT, 0, L4_IPC_NEVER);
    t->native_count++;
    uint64_t reply = tag_make(0, tag_words(t->ret_tag), 0, 0);
    return make_call(c, L4_INVALID_CAP | L4_SYSF_REPLY_AND_WAIT, reply, L4_IPC_SEND_TIMEOUT_0);
}

static int sink_step(struct thread *t, struct sys_call *c)
{
    if (got_message(t))
        t->native_count++;
    t->native_pc = 1;
    return make_call(c, L4_INVALID_CAP | L4_SYSF_WAIT, 0, L4_IPC_NEVER);
}

/* The loops: counts the last IPC if it succeeded; 1 if another one is due (its selector
 * in *dest), else the thread has ended. */
static inline int loop_next(kernel_t *k, struct thread *t, uint64_t *dest)
{
    if (got_message(t))
        t->native_count++;
    if (t->native_pc >= t->utcb[UTCB_TCR_USER0 + 1]) {
        thread_exit(k, thread_id(t));
        return 0;
    }
    t->native_pc++;
    *dest = t->utcb[UTCB_TCR_USER0] & L4_CAP_MASK;
    return 1;
}

static unsigned loop_words(const struct thread *t)
{
    uint64_t words = t->utcb[UTCB_TCR_USER0 + 2];
    return words > UTCB_MRS ? UTCB_MRS : (unsigned)words;
}

static int call_loop_step(kernel_t *k, struct thread *t, struct sys_call *c)
{
    uint64_t dest;
    return loop_next(k, t, &dest)
           && make_call(c, dest | L4_SYSF_CALL, tag_make(0, loop_words(t), 0, 0), L4_IPC_NEVER);
}

static int send_loop_step(kernel_t *k, struct thread *t, struct sys_call *c)
{
    uint64_t dest;
    return loop_next(k, t, &dest)
           && make_call(c, dest | L4_SYSF_SEND, tag_make(0, loop_words(t), 0, 0), L4_IPC_NEVER);
}

static int cap_call_step(kernel_t *k, struct thread *t, struct sys_call *c)
{
    uint64_t dest;
    if (!loop_next(k, t, &dest))
        return 0;
    /* Rounds 1, 3, ... send the first capability, 2, 4, ... the next one. */
    uint64_t index = (t->utcb[UTCB_TCR_USER0 + 2] >> L4_CAP_SHIFT) + !(t->native_pc & 1);
    t->utcb[2] = L4_ITEM_MAP;                     /* l4_map_obj_control(0, 0) */
    t->utcb[3] = (index << 12) | (FPAGE_OBJ << 4) | L4_CAP_FPAGE_RWS;   /* l4_obj_fpage */
    return make_call(c, dest | L4_SYSF_CALL, tag_make(0, 2, 1, 0), L4_IPC_NEVER);
}

static void touch_step(kernel_t *k, struct thread *t)
{
    if (t->pf.active && !native_fault_done(t)) {
        thread_exit(k, thread_id(t));             /* the pager did not resolve it */
        return;
    }
    uint64_t base = t->utcb[UTCB_TCR_USER0], pages = t->utcb[UTCB_TCR_USER0 + 1];
    while (t->native_count < pages) {
        uint64_t va = base + (t->native_count << ARCH_PAGE_SHIFT);
        int r = native_mem_access(k, t, va, L4_FPAGE_RO);
        if (r == 0)
            return;                               /* page-fault IPC: read again after it */
        if (r < 0)
            break;                                /* nobody can resolve it */
        t->native_count++;
    }
    thread_exit(k, thread_id(t));
}

int native_step(kernel_t *k, struct thread *t)
{
    if (t->ret_restart) {
        t->ret_restart = 0;      /* an unbound gate got bound: the same step once more */
        t->ret_tag = L4_MSGTAG_ERROR;            /* ... which has no result to count */
        if (t->native_pc)
            t->native_pc--;
        if (t->pf.active)
            pf_restore(t);       /* the fault IPC never went out: the access faults again */
    }
    struct sys_call c;
    int enters = 0;
    /* The two ends of every round trip first, without a jump table's indirect branch. */
    if (t->program == PROGRAM_ECHO)
        enters = echo_step(t, &c);
    else if (t->program == PROGRAM_CALL_LOOP)
        enters = call_loop_step(k, t, &c);
    else switch (t->program) {
    case PROGRAM_SINK:
        enters = sink_step(t, &c);
        break;
    case PROGRAM_SEND_LOOP:
        enters = send_loop_step(k, t, &c);
        break;
    case PROGRAM_CAP_CALL_LOOP:
        enters = cap_call_step(k, t, &c);
        break;
    case PROGRAM_TOUCH:
        touch_step(k, t);
        break;
    case PROGRAM_SIGMA0:
        if (t->native_state)
            sigma0_step(k, t);
        else
            thread_exit(k, thread_id(t));       /* sigma0's code in a thread that is not */
        break;
    default:
        thread_exit(k, thread_id(t));
    }
    if (!enters)
        return 0;
    /* The one kernel entry of the C path's programs, with the fast path inlined. Its KIP
     * clock waits for the scheduler (kip_flush): no code runs before the next entry or the
     * scheduler's return. */
    int status = kernel_entry_inline(k, t, c, 1);
    if (status == SYS_SLOWPATH)
        ipc_fail_send(t, L4_IPC_ENOT_EXISTENT);   /* native programs only do IPC */
    return status == SYS_FAST;
}
