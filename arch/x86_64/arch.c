/*
 * arch.c (x86_64): describes this build's architecture to the generic core and to Python.
 * Same function order in every arch/<arch>/arch.c.
 */
#include "pyl4re.h"
#include "arch_ops.h"

const struct arch_info *arch_describe(void)
{
    static const struct arch_info info = {
        .name = "x86_64",
        .mword_bits = ARCH_MWORD_BITS,
        .exc_regs_words = ARCH_EXC_REGS_WORDS,
        .utcb_size = ARCH_UTCB_SIZE,
        .page_shift = ARCH_PAGE_SHIFT,
        .user_max = ARCH_USER_MAX,
    };
    return &info;
}

/* §10.1: MR0 of a page fault. Bit 0 is the x86 error code's P bit (the page was present:
 * a protection fault), bit 1 its W bit, bit 2 its I/D bit (an instruction fetch). */
uint64_t arch_pf_msgword(uint64_t va, int present, int write, int exec)
{
    return (va & ~(uint64_t)7) | (present ? 1 : 0) | (write ? 2 : 0) | (exec ? 4 : 0);
}

/* §10.3: l4_exc_regs_t on amd64 (26 words): trapno and error code have words of their
 * own; an illegal instruction is trap 6 (#UD). */
const struct exc_layout *arch_exc_layout(void)
{
    static const struct exc_layout l = {
        .words = ARCH_EXC_REGS_WORDS, .ip = 18, .sp = 21, .flags = 20, .pfa = 11,
        .trapno = 16, .err = 17, .illegal_trapno = 6,
    };
    return &l;
}
