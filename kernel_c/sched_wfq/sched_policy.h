/*
 * sched_policy.h (WFQ): which scheduling class this build offers (included by pyl4re.h,
 * so part of the cffi cdef). Same file in kernel_c/sched_fp/.
 */
#ifndef PYL4RE_SCHED_POLICY_H
#define PYL4RE_SCHED_POLICY_H

enum sched_policy {
    SCHED_BUILD_CLASSES = 0x4,     /* L4_SCHEDULER_CLASS_WFQ (§8.7) */
};

#endif
