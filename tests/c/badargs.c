/* badargs.c: garbage arguments to l4sys calls; prints the error each one got. */
#include <stdio.h>
#include <l4/sys/ipc.h>
#include <l4/sys/factory.h>
#include <l4/sys/thread.h>
#include <l4/sys/err.h>
#include <l4/re/env.h>
#include <l4/sys/kip.h>

static void report(const char *what, l4_msgtag_t tag)
{
    printf("%s: %ld\n", what, l4_error(tag));
}

int main(void)
{
    report("call empty slot", l4_ipc_call(0x123000, l4_utcb(), l4_msgtag(0, 1, 0, 0),
                                          L4_IPC_NEVER));
    report("too many words", l4_ipc_call(L4_BASE_THREAD_CAP, l4_utcb(),
                                         l4_msgtag(0, 63, 1, 0), L4_IPC_NEVER));
    report("selector out of range", l4_ipc_send(~0UL << 40, l4_utcb(), l4_msgtag(0, 0, 0, 0),
                                                L4_IPC_NEVER));
    report("factory of no protocol", l4_factory_create(l4re_env()->factory, 12345,
                                                       0x200000));
    report("ex_regs on a log", l4_thread_ex_regs(L4_BASE_LOG_CAP, 0, 0, 0));
    report("receive timeout", l4_ipc_receive(L4_BASE_THREAD_CAP, l4_utcb(),
                                             L4_IPC_RECV_TIMEOUT_0));
    printf("kip magic: %x\n", l4_kip_magic(l4_kip()));
    printf("errtostr: %s\n", l4sys_errtostr(-L4_EINVAL));
    return 0;
}
