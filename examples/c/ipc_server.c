/*
 * ipc_server.c: the squaring server of L4Re's sys/ipc example, as a C µApp.
 *
 * It binds the IPC gate its environment names "svc" to its own thread, then answers
 * every call with the square of MR0, forever.
 */
#include <stdio.h>
#include <l4/sys/ipc.h>
#include <l4/sys/rcv_endpoint.h>
#include <l4/sys/err.h>
#include <l4/re/env.h>

int main(void)
{
    l4_cap_idx_t svc = l4re_env_get_cap("svc");
    if (l4_is_invalid_cap(svc)) {
        puts("server: no capability named svc");
        return 1;
    }
    long err = l4_error(l4_rcv_ep_bind_thread(svc, l4re_env()->main_thread, 0x10));
    if (err < 0) {
        printf("server: binding svc failed: %s\n", l4sys_errtostr(err));
        return 1;
    }
    l4_umword_t label;
    l4_msgtag_t tag = l4_ipc_wait(l4_utcb(), &label, L4_IPC_NEVER);
    for (;;) {
        if (l4_ipc_error(tag, l4_utcb())) {
            printf("server: IPC error %ld\n", (long)l4_ipc_error(tag, l4_utcb()));
            tag = l4_ipc_wait(l4_utcb(), &label, L4_IPC_NEVER);
            continue;
        }
        l4_umword_t n = l4_utcb_mr()->mr[0];
        l4_utcb_mr()->mr[0] = n * n;
        tag = l4_ipc_reply_and_wait(l4_utcb(), l4_msgtag(0, 1, 0, 0), &label, L4_IPC_NEVER);
    }
}
