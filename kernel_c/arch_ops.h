/*
 * arch_ops.h: the functions every arch/<arch>/arch.c provides to the generic core, beyond
 * arch_describe() (pyl4re.h). Internal; the generic code calls only these.
 */
#ifndef PYL4RE_ARCH_OPS_H
#define PYL4RE_ARCH_OPS_H

#include <stdint.h>

/* The page-fault message word MR0 for an access to va (§10.1, per architecture). */
uint64_t arch_pf_msgword(uint64_t va, int present, int write, int exec);

#endif
