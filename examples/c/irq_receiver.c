/*
 * irq_receiver.c: an interrupt handler thread as a C µApp. It creates an Irq object,
 * binds it to its own thread and to line IRQ_LINE of the ICU, and handles COUNT
 * interrupts: l4_irq_receive unmasks the line and waits for the next one. Each is
 * stamped with the KIP clock (virtual µs).
 */
#include <stdio.h>
#include <l4/sys/factory.h>
#include <l4/sys/irq.h>
#include <l4/sys/icu.h>
#include <l4/sys/kip.h>
#include <l4/sys/err.h>
#include <l4/re/env.h>
#include <l4/re/c/util/cap_alloc.h>

#ifndef IRQ_LINE
#define IRQ_LINE 5
#endif
#define COUNT 3

int main(void)
{
    l4re_env_t *env = l4re_env();
    l4_cap_idx_t irq = l4re_util_cap_alloc();
    long err = l4_error(l4_factory_create_irq(env->factory, irq));
    if (!err)
        err = l4_error(l4_rcv_ep_bind_thread(irq, env->main_thread, 0x40));
    if (!err)
        err = l4_error(l4_icu_bind(l4re_env_get_cap("icu"), IRQ_LINE, irq));
    if (err < 0) {
        printf("irq setup failed: %s\n", l4sys_errtostr(err));
        return 1;
    }
    printf("waiting for line %d\n", IRQ_LINE);
    for (int i = 1; i <= COUNT; i++) {
        l4_msgtag_t tag = l4_irq_receive(irq, L4_IPC_NEVER);
        if ((err = l4_error(tag)) < 0) {
            printf("receive failed: %s\n", l4sys_errtostr(err));
            return 2;
        }
        printf("irq %d of %d at %llu us\n", i, COUNT,
               (unsigned long long)l4_kip_clock(l4_kip()));
    }
    return 0;
}
