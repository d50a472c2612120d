/*
 * arch_abi.h (arm64): the ABI facts that differ between architectures, under the same names
 * in every arch/<arch>/arch_abi.h. Part of the cffi boundary (see kernel_c/pyl4re.h), so
 * enums and integer #defines only. The generic core reads these; it never asks which
 * architecture it is.
 */
#ifndef PYL4RE_ARCH_ABI_H
#define PYL4RE_ARCH_ABI_H

enum arch_abi {
    ARCH_MWORD_BITS = 64,
    ARCH_EXC_REGS_WORDS = 40,   /* l4_exc_regs_t words (§2, §10.3) */
    ARCH_UTCB_SIZE = 1024,      /* L4_UTCB_OFFSET (§2) */
    ARCH_PAGE_SHIFT = 12,       /* smallest user page (§14) */
};
#define ARCH_USER_MAX 0x0000ff7fffffffff   /* highest user virtual address (§14) */

#endif
