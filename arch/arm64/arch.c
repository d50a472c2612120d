/*
 * arch.c (arm64): describes this build's architecture to the generic core and to Python.
 * Same function order in every arch/<arch>/arch.c.
 */
#include "pyl4re.h"

const struct arch_info *arch_describe(void)
{
    static const struct arch_info info = {
        .name = "arm64",
        .mword_bits = ARCH_MWORD_BITS,
        .exc_regs_words = ARCH_EXC_REGS_WORDS,
        .utcb_size = ARCH_UTCB_SIZE,
        .page_shift = ARCH_PAGE_SHIFT,
        .user_max = ARCH_USER_MAX,
    };
    return &info;
}
