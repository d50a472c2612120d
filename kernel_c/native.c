/*
 * native.c: the built-in C thread programs (see native.h).
 *
 *   echo server   wait; then forever reply_and_wait with the message it got
 *   call loop     call TCR user0 (a selector) TCR user1 times with TCR user2 words,
 *                 counting successful calls in native_count, then end
 *   sigma0        the root pager (sigma0.c); only the thread the kernel boots runs it
 *
 * Each step looks at the result of the program's previous kernel entry (ret_*) and makes
 * the next one, exactly like user code between two system calls.
 */
#include "kernel.h"
#include "fpage.h"
#include "native.h"
#include "thread.h"

uint32_t native_program_at(uint64_t ip)
{
    if (ip < NATIVE_TEXT_BASE || (ip - NATIVE_TEXT_BASE) % NATIVE_TEXT_STRIDE)
        return PROGRAM_PYTHON;
    uint64_t n = (ip - NATIVE_TEXT_BASE) / NATIVE_TEXT_STRIDE;
    return n > 0 && n < PROGRAM_COUNT ? (uint32_t)n : PROGRAM_PYTHON;
}

static void enter(kernel_t *k, struct thread *t, uint64_t dest, uint64_t tag, uint64_t timeout)
{
    struct sys_call c = { .dest = dest, .tag = tag, .label = 0, .timeout = timeout };
    if (kernel_entry(k, t, &c) == SYS_SLOWPATH)
        ipc_fail_send(t, L4_IPC_ENOT_EXISTENT);   /* native programs only do IPC */
}

static void echo_step(kernel_t *k, struct thread *t)
{
    int have_msg = t->native_pc && !(t->ret_tag & L4_MSGTAG_ERROR);
    t->native_pc = 1;
    if (!have_msg) {
        enter(k, t, L4_INVALID_CAP | L4_SYSF_WAIT, 0, L4_IPC_NEVER);
        return;
    }
    t->native_count++;
    uint64_t reply = tag_make(0, tag_words(t->ret_tag), 0, 0);
    enter(k, t, L4_INVALID_CAP | L4_SYSF_REPLY_AND_WAIT, reply, L4_IPC_SEND_TIMEOUT_0);
}

static void call_loop_step(kernel_t *k, struct thread *t)
{
    if (t->native_pc && !(t->ret_tag & L4_MSGTAG_ERROR))
        t->native_count++;
    uint64_t dest = t->utcb[UTCB_TCR_USER0], rounds = t->utcb[UTCB_TCR_USER0 + 1];
    unsigned words = (unsigned)t->utcb[UTCB_TCR_USER0 + 2];
    if (t->native_pc >= rounds) {
        thread_exit(k, thread_id(t));
        return;
    }
    t->native_pc++;
    enter(k, t, (dest & L4_CAP_MASK) | L4_SYSF_CALL, tag_make(0, words > 63 ? 63 : words, 0, 0),
          L4_IPC_NEVER);
}

void native_step(kernel_t *k, struct thread *t)
{
    if (t->ret_restart) {
        t->ret_restart = 0;      /* an unbound gate got bound: the same step once more */
        t->ret_tag = L4_MSGTAG_ERROR;            /* ... which has no result to count */
        if (t->native_pc)
            t->native_pc--;
    }
    switch (t->program) {
    case PROGRAM_ECHO:
        echo_step(k, t);
        break;
    case PROGRAM_CALL_LOOP:
        call_loop_step(k, t);
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
}
