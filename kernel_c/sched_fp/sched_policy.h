/*
 * sched_policy.h (fixed priority): which scheduling class this build offers (included by
 * pyl4re.h, so part of the cffi cdef). Same file in kernel_c/sched_wfq/.
 */
#ifndef PYL4RE_SCHED_POLICY_H
#define PYL4RE_SCHED_POLICY_H

enum sched_policy {
    SCHED_BUILD_CLASSES = 0x2,     /* L4_SCHEDULER_CLASS_FIXED_PRIO (§8.7) */
};

#endif
