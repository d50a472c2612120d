/*
 * iospace.h: what the IPC path, sigma0 and task death call in iospace.c (internal; the
 * boundary is pyl4re.h).
 */
#ifndef PYL4RE_IOSPACE_H
#define PYL4RE_IOSPACE_H

#include "kernel.h"

/* Maps the I/O ports of snd_fpage that `from` has to `to`, within the receive window (an
 * I/O fpage or l4_fpage_all()); ports keep their numbers. *mapped = ports mapped. 0, or
 * -L4_ENOMEM (quota or heap) with nothing changed. */
int io_map(kernel_t *k, struct task *from, uint64_t snd_fpage, struct task *to,
           uint64_t window, uint32_t *mapped);
/* A dying task's ports go, and everything mapped from them (kobject.c). */
void io_task_release(kernel_t *k, struct task *t);

#endif
