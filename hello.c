
#include <stdio.h>
#include <l4/sys/ipc.h>
#include <l4/re/env.h>
int main(void)
{
    l4_utcb_mr()->mr[0] = 6;                 /* the model's UTCB */
    l4_msgtag_t t = l4_ipc_call(l4re_env_get_cap("svc"), l4_utcb(),
                                l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER);
    printf("6 * 7 = %lu (error %ld)\n", l4_utcb_mr()->mr[0], l4_error(t));
    return 0;
}
