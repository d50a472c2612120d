/* call_loop.c: the C µApp client of the benchmark. Its TCR user words, set by the
 * harness before it starts, say what to do, as for the native call loop: user[1] calls
 * of user[2] words to the capability named "svc". It counts the calls that came back in
 * user[0], where the benchmark reads them. */
#include <l4/sys/ipc.h>
#include <l4/re/env.h>

int main(void)
{
    l4_cap_idx_t svc = l4re_env_get_cap("svc");
    l4_thread_regs_t *tcr = l4_utcb_tcr();
    l4_umword_t rounds = tcr->user[1];
    unsigned words = tcr->user[2] > L4_UTCB_GENERIC_DATA_SIZE ? L4_UTCB_GENERIC_DATA_SIZE
                                                              : (unsigned)tcr->user[2];
    tcr->user[0] = 0;
    for (l4_umword_t i = 0; i < rounds; i++) {
        l4_msgtag_t tag = l4_ipc_call(svc, l4_utcb(), l4_msgtag(0, words, 0, 0), L4_IPC_NEVER);
        if (l4_msgtag_has_error(tag))
            return 1;
        tcr->user[0]++;
    }
    return 0;
}
