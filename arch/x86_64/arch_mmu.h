/*
 * arch_mmu.h (x86_64): boundary declarations of this architecture's MMU model (included by
 * kernel_c/vspace_api.h, so cdef-parsable). Same file name in every arch folder.
 *
 * amd64 walks page tables in hardware; the model has no software TLB to expose.
 */
#ifndef PYL4RE_ARCH_MMU_H
#define PYL4RE_ARCH_MMU_H

#endif
