/*
 * utcb_ipc.c: the shape of L4Re's sys/utcb-ipc example, as a C µApp.
 *
 * main makes a second thread by hand: l4_factory_create_thread, l4_thread_control_*
 * (pager, exception handler, bound to this task with the next free UTCB), then
 * l4_thread_ex_regs to start thread_func on a stack of this program's, and
 * l4_scheduler_run_thread. It then sends the thread three messages of all 63 message
 * registers; the thread adds the words up and answers with the sum.
 */
#include <stdio.h>
#include <l4/sys/factory.h>
#include <l4/sys/thread.h>
#include <l4/sys/scheduler.h>
#include <l4/sys/ipc.h>
#include <l4/sys/err.h>
#include <l4/re/env.h>
#include <l4/re/c/util/cap_alloc.h>

static char thread_stack[16 << 10] __attribute__((aligned(16)));

static void thread_func(void)
{
    l4_umword_t label;
    l4_msgtag_t tag = l4_ipc_wait(l4_utcb(), &label, L4_IPC_NEVER);
    for (;;) {
        l4_umword_t sum = 0;
        unsigned words = l4_msgtag_words(tag);
        for (unsigned i = 0; i < words; i++)
            sum += l4_utcb_mr()->mr[i];
        printf("thread: got %u words, sum %lu\n", words, sum);
        l4_utcb_mr()->mr[0] = sum;        /* after the printf, which uses the MRs too */
        tag = l4_ipc_reply_and_wait(l4_utcb(), l4_msgtag(0, 1, 0, 0), &label, L4_IPC_NEVER);
    }
}

static int check(const char *what, l4_msgtag_t tag)
{
    long err = l4_error(tag);
    if (err < 0)
        printf("%s failed: %s (%ld)\n", what, l4sys_errtostr(err), err);
    return err < 0;
}

int main(void)
{
    l4re_env_t *env = l4re_env();
    l4_cap_idx_t th = l4re_util_cap_alloc();
    if (check("create thread", l4_factory_create_thread(env->factory, th)))
        return 1;
    l4_thread_control_start();
    l4_thread_control_pager(L4_BASE_PAGER_CAP);
    l4_thread_control_exc_handler(L4_BASE_PAGER_CAP);
    l4_thread_control_bind((l4_utcb_t *)env->first_free_utcb, L4_BASE_TASK_CAP);
    if (check("thread control", l4_thread_control_commit(th)))
        return 1;
    if (check("ex_regs", l4_thread_ex_regs(th, (l4_addr_t)thread_func,
                                           (l4_addr_t)(thread_stack + sizeof(thread_stack)), 0)))
        return 1;
    l4_sched_param_t sp = l4_sched_param(2, 0);
    if (check("run thread", l4_scheduler_run_thread(env->scheduler, th, &sp)))
        return 1;

    for (unsigned round = 1; round <= 3; round++) {
        printf("main: sending 63 words, round %u\n", round);
        /* After the printf: it is IPC to the log, through these same registers. */
        for (unsigned i = 0; i < L4_UTCB_GENERIC_DATA_SIZE; i++)
            l4_utcb_mr()->mr[i] = round * 1000 + i;
        l4_msgtag_t tag = l4_ipc_call(th, l4_utcb(),
                                      l4_msgtag(0, L4_UTCB_GENERIC_DATA_SIZE, 0, 0),
                                      L4_IPC_NEVER);
        if (check("call", tag))
            return 2;
        printf("main: reply %lu\n", l4_utcb_mr()->mr[0]);
    }
    return 0;
}
