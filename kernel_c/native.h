/*
 * native.h: built-in thread programs that run entirely in C (echo and sink servers, call
 * and send loops, a page toucher), through the same kernel entry as µApps, so the pure C
 * IPC path runs with no Python in between. A thread runs one when ex_regs sets its ip to
 * the program's address.
 */
#ifndef PYL4RE_NATIVE_H
#define PYL4RE_NATIVE_H

#include "pyl4re.h"

struct thread;

/* Which program lives at ip: PROGRAM_PYTHON for any address outside the native text. */
uint32_t native_program_at(uint64_t ip);
/* Runs the thread's program up to and including its next kernel entry. 1 if that entry
 * was the whole step and the IPC fast path finished it (its direct switch), else 0. */
int native_step(kernel_t *k, struct thread *t);

/* Memory access for native programs (memaccess.c), through the same TLB and page-fault
 * IPC as µApps': 1 when va is mapped for the access, 0 when a page-fault IPC to the
 * thread's pager was started (the thread runs again when it is over, and calls
 * native_fault_done), -1 when nobody can resolve the fault (no pager, not user space). */
int native_mem_access(kernel_t *k, struct thread *t, uint64_t va, uint32_t access);
/* Ends the page fault in progress: 1 if the pager resolved it (access again), else 0. */
int native_fault_done(struct thread *t);

/* sigma0 (sigma0.c): its bookkeeping, and one step of its server loop. */
int sigma0_init(kernel_t *k, struct thread *t);
void sigma0_fini(struct thread *t);
void sigma0_step(kernel_t *k, struct thread *t);
/* Why sigma0 refuses the page at pa to `owner` (a FAULT_SIGMA0_* reason, *holder the owner
 * that has it), or 0 if it would map it. */
uint32_t sigma0_why(const kernel_t *k, uint64_t pa, uint16_t owner, uint32_t *holder);

#endif
