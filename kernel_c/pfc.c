/*
 * pfc.c: what platform control (§8.8) does to the machine: shutdown, and CPUs going
 * offline and online again, suspend and wake-up (docs/platform.md).
 *
 * The control plane (pyl4re/control/pfc.py) decodes the requests; here only the effect on
 * the scheduler's state. Shutdown is a flag sched_next answers with SCHED_SHUTDOWN before
 * it runs anything. An offline CPU has no next event (sched.c next_event), so it is never
 * picked, never holds back the other CPUs, and its clock stands still. Nothing here
 * moves threads between CPUs: a thread of an offline CPU waits for it.
 */
#include "kernel.h"
#include "thread.h"

int kernel_shutdown(kernel_t *k, uint32_t how)
{
    if (how != SHUTDOWN_POWEROFF && how != SHUTDOWN_REBOOT)
        return -L4_EINVAL;
    k->shutdown = how;
    /* The caller must not go on after its entry: sched_may_continue says no. */
    for (uint32_t i = 0; i < k->cpus; i++)
        k->cpu[i].need_resched = 1;
    return 0;
}

uint32_t kernel_shutdown_state(const kernel_t *k)
{
    return k->shutdown;
}

int cpu_set_online(kernel_t *k, cpu_number_t cpu, uint32_t online)
{
    if (cpu.raw >= k->cpus || online > 1)
        return -L4_EINVAL;
    struct cpu *c = &k->cpu[cpu.raw];
    if (c->online == online)
        return 0;
    if (!online) {
        uint32_t up = 0;
        for (uint32_t i = 0; i < k->cpus; i++)
            up += k->cpu[i].online;
        if (up == 1)
            return -L4_EBUSY;          /* someone has to run the system */
        c->online = 0;
        c->need_resched = 1;           /* a caller on this CPU stops after its entry */
        return 0;
    }
    /* Its clock stood still while it was off: it comes back at the enabler's time, so
     * nothing it runs can happen before it was enabled. */
    uint64_t now = k->running_cpu != CPU_NONE ? k->cpu[k->running_cpu].clock_ns
                                              : kernel_now_ns(k);
    if (c->clock_ns < now)
        c->clock_ns = now;
    c->online = 1;
    c->need_resched = 1;
    return 0;
}

/* Suspend-to-RAM: every CPU stops (their clocks stand still, timeouts wait) until an edge
 * on an ICU line marked L4_IRQ_F_SET_WAKEUP; then the clocks move up to that moment and the
 * system goes on, the caller with result 0. Without a wakeup source the system could never
 * come back: -L4_EBUSY. */
int platform_suspend(kernel_t *k)
{
    int any = 0;
    for (uint32_t i = 0; i < ICU_ALL_LINES && !any; i++)
        any = k->icu_lines[i].wakeup;
    if (!any)
        return -L4_EBUSY;
    k->suspended = 1;
    for (uint32_t i = 0; i < k->cpus; i++)
        k->cpu[i].need_resched = 1;              /* the caller stops after its entry */
    return 0;
}

void platform_wake(kernel_t *k)
{
    k->suspended = 0;
}

uint32_t kernel_suspended(const kernel_t *k)
{
    return k->suspended;
}
