/*
 * native.h: built-in thread programs that run entirely in C (an echo server, a call loop),
 * through the same kernel entry as µApps, so the pure C IPC path runs with no Python in
 * between. A thread runs one when ex_regs sets its ip to the program's address.
 */
#ifndef PYL4RE_NATIVE_H
#define PYL4RE_NATIVE_H

#include "pyl4re.h"

struct thread;

/* Which program lives at ip: PROGRAM_PYTHON for any address outside the native text. */
uint32_t native_program_at(uint64_t ip);
/* Runs the thread's program up to and including its next kernel entry. */
void native_step(kernel_t *k, struct thread *t);

/* sigma0 (sigma0.c): its bookkeeping, and one step of its server loop. */
int sigma0_init(kernel_t *k, struct thread *t);
void sigma0_fini(struct thread *t);
void sigma0_step(kernel_t *k, struct thread *t);

#endif
