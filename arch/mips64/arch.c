/*
 * arch.c (mips64): describes this build's architecture to the generic core and to Python.
 * Same function order in every arch/<arch>/arch.c.
 */
#include "pyl4re.h"
#include "arch_ops.h"

const struct arch_info *arch_describe(void)
{
    static const struct arch_info info = {
        .name = "mips64",
        .mword_bits = ARCH_MWORD_BITS,
        .exc_regs_words = ARCH_EXC_REGS_WORDS,
        .utcb_size = ARCH_UTCB_SIZE,
        .page_shift = ARCH_PAGE_SHIFT,
        .user_max = ARCH_USER_MAX,
    };
    return &info;
}

/* §10.1: MR0 of a page fault. Bit 0 is set for a TLB miss (nothing mapped), bit 1 for a
 * store, bit 2 for an execute-inhibit (XI) fault. */
uint64_t arch_pf_msgword(uint64_t va, int present, int write, int exec)
{
    return (va & ~(uint64_t)7) | (present ? 0 : 1) | (write ? 2 : 0) | (exec && present ? 4 : 0);
}
