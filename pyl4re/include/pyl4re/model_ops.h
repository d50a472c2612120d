/*
 * pyl4re/model_ops.h: the table through which a C µApp reaches the model's kernel.
 *
 * Every C µApp carries one `pyl4re_model_ops` (defined in its runtime, crt/runtime.c).
 * Before the program's first instruction runs, the loader (pyl4re/cprog.py) asks the
 * kernel extension to fill it in (cthread_link, kernel_c/cthread.c): plain C function
 * pointers into the kernel of the architecture the program runs on. So `l4_ipc` and the
 * UTCB getter are C calling C; Python is never in between, and never called from C.
 * The kernel and the runtime include this one header, so they cannot disagree on it.
 */
#ifndef PYL4RE_MODEL_OPS_H
#define PYL4RE_MODEL_OPS_H

#include <stdint.h>

#define PYL4RE_MODEL_OPS_VERSION 1u

struct pyl4re_model_ops {
    uint32_t version, size;        /* the runtime's; the kernel refuses a table it does not know */
    /* The one kernel entry (l4_ipc): dest | flags, send label, tag, timeout pair; returns
     * the result tag and stores the received label in *rlabel (if not NULL). It runs for
     * the calling thread and returns when the entry completes (the thread may have
     * waited, and other threads run, in between). */
    uint64_t (*ipc)(uint64_t dest_flags, uint64_t slabel, uint64_t tag, uint64_t timeout,
                    uint64_t *rlabel);
    uint64_t *(*utcb)(void);       /* the running thread's UTCB: the model's own words */
    void *(*kip)(void);            /* the kernel info page, in the model's memory */
    uint64_t (*clock_us)(void);    /* the running thread's CPU clock (virtual µs) */
    void (*exit)(int64_t code) __attribute__((noreturn));  /* this thread ends */
};

#endif
