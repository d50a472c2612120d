/* crash.c: a C µApp that fails in the way CRASH (a -D at build time) names, after
 * printing one line; the tests check the thread is reported and the rest goes on. */
#include <stdio.h>
#include <stdlib.h>
#include <l4/sys/ipc.h>
#include <l4/sys/thread.h>
#include <l4/re/env.h>

#define SEGV 1
#define ABORT 2
#define OVERFLOW 3
#define EXIT 4
#define DIVIDE 5
#define HANDLED 6       /* a segfault with "exc" as the exception handler */

static int deep(volatile int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return n ? deep(n + 1) + pad[0] : 0;          /* never ends: runs off the stack */
}

int main(void)
{
#if CRASH == HANDLED
    l4_thread_control_start();
    l4_thread_control_exc_handler(l4re_env_get_cap("exc"));
    if (l4_error(l4_thread_control_commit(l4re_env()->main_thread)) < 0)
        return 3;
#endif
    puts("before");
#if CRASH == SEGV || CRASH == HANDLED
    *(volatile int *)16 = 1;
#elif CRASH == ABORT
    abort();
#elif CRASH == OVERFLOW
    return deep(1);
#elif CRASH == EXIT
    exit(7);
#elif CRASH == DIVIDE
    volatile int zero = 0, seven = 7;
    return seven / zero;
#endif
    puts("after");
    return 0;
}
