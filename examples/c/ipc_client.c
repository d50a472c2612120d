/*
 * ipc_client.c: the client of L4Re's sys/ipc example, as a C µApp: it sends the
 * numbers 1..ROUNDS to the squaring server behind "svc", one call each, sleeping 1 ms
 * of virtual time between rounds, and prints what it sent and what came back.
 */
#include <stdio.h>
#include <l4/sys/ipc.h>
#include <l4/sys/err.h>
#include <l4/re/env.h>
#include <l4/util/util.h>

#ifndef ROUNDS
#define ROUNDS 5
#endif

int main(void)
{
    l4_cap_idx_t server = l4re_env_get_cap("svc");
    if (l4_is_invalid_cap(server)) {
        puts("client: no capability named svc");
        return 1;
    }
    for (l4_umword_t n = 1; n <= ROUNDS; n++) {
        printf("Sending:  %lu\n", n);
        l4_utcb_mr()->mr[0] = n;
        l4_msgtag_t tag = l4_ipc_call(server, l4_utcb(), l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER);
        long err = l4_error(tag);
        if (err < 0) {
            printf("client: call failed: %s\n", l4sys_errtostr(err));
            return 2;
        }
        printf("Received: %lu\n", l4_utcb_mr()->mr[0]);
        l4_sleep(1);
    }
    return 0;
}
