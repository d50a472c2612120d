/* echo.c: the C µApp echo server of the benchmark: it answers every message with the
 * words it got, as they are (the C µApp twin of the native echo program). */
#include <l4/sys/ipc.h>

int main(void)
{
    l4_umword_t label;
    l4_msgtag_t tag = l4_ipc_wait(l4_utcb(), &label, L4_IPC_NEVER);
    for (;;)
        tag = l4_ipc_reply_and_wait(l4_utcb(), l4_msgtag(0, l4_msgtag_words(tag), 0, 0),
                                    &label, L4_IPC_NEVER);
}
