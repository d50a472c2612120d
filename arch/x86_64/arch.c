/*
 * arch.c (x86_64): describes this build's architecture to the generic core and to Python.
 * Same function order in every arch/<arch>/arch.c.
 */
#include "pyl4re.h"
#include "arch_ops.h"
#include "iommu.h"

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

/* An unresolved page fault is trap 14 (#PF) with the x86 error code: P (the page was
 * present: a protection fault), W, U (a user access, always here) and I/D (a fetch). */
void arch_pf_exception(int present, int write, int exec, uint64_t *trapno, uint64_t *err)
{
    *trapno = 14;
    *err = (present ? 1 : 0) | (write ? 2 : 0) | 4 | (exec ? 0x10 : 0);
}

/* An in/out without the port in the task's I/O bitmap is a general-protection fault,
 * trap 13 with error code 0 (Fiasco without I/O page faults, kernkonzept/l4re-core
 * l4sys/include/pager). */
void arch_io_exception(uint64_t *trapno, uint64_t *err)
{
    *trapno = 13;
    *err = 0;
}

/* §10.3: l4_exc_regs_t on amd64 (26 words): trapno and error code have words of their
 * own; an illegal instruction is trap 6 (#UD). */
const struct exc_layout *arch_exc_layout(void)
{
    static const struct exc_layout l = {
        .words = ARCH_EXC_REGS_WORDS, .ip = 18, .sp = 21, .flags = 20, .pfa = 11,
        .trapno = 16, .err = 17, .illegal_trapno = 6,
        .trigger_trapno = 0xFF, .trigger_err = 0, .tls = { 23, 24 },
        /* Alien syscalls: trap 253, error 0 before the call and 1 after it (kernkonzept/
         * fiasco src/kern/ia32/64/low_level.h PRE_/POST_ALIEN_IPC); rax, rsi, rdx, r8. */
        .alien_traps = 1, .alien_trapno = 253, .alien_err = { 0, 1 },
        .sys_regs = { 15, 9, 13, 7 },
    };
    return &l;
}

/* IOMMU source ids as Fiasco's VT-d driver reads them (kernkonzept/fiasco
 * src/kern/ia32/intel_dmar.cpp Src_id): bits 0..15 the PCI requester id (bus << 8 | devfn),
 * bits 18..19 the match type (only 1, "requester id", is supported: bus matching answers
 * -L4_EINVAL), bits 32..47 the IOMMU index (the model has IOMMU 0 only). */
int arch_iommu_device(uint64_t src_id, uint32_t *device)
{
    if (((src_id >> 18) & 3) != 1 || ((src_id >> 32) & 0xFFFF) != 0)
        return -L4_EINVAL;
    *device = (uint32_t)(src_id & 0xFFFF);
    return 0;
}

uint64_t arch_iommu_source_id(uint32_t device)
{
    return ((uint64_t)1 << 18) | (device & 0xFFFF);
}

/* §8.2 amd64: set segment base (0x12): MR0 = 0x12 | segment << 16 (FS 0, GS 1), MR1 = a
 * canonical base (kernkonzept/fiasco src/kern/ia32/64/thread-ia32-64.cpp invoke_arch). The
 * GDT (0x10) and segment-info (0x13) operations hand out descriptors and selectors, which
 * have no meaning without a modelled GDT: -L4_ENOSYS. */
int arch_thread_op(uint64_t mr0, uint64_t mr1, uint32_t words, unsigned *reg, uint64_t *value)
{
    if ((mr0 & L4_THREAD_OPCODE_MASK) != L4_THREAD_AMD64_SET_SEGMENT_BASE_OP)
        return -L4_ENOSYS;
    if (words < 2)
        return -L4_EMSGTOOSHORT;
    uint64_t top = mr1 >> 47;                     /* canonical: bits 63..47 all equal */
    if ((top != 0 && top != 0x1FFFF) || (mr0 >> 16) > 1)
        return -L4_EINVAL;
    *reg = (unsigned)(mr0 >> 16);
    *value = mr1;
    return 0;
}

/* MSIs through VT-d interrupt remapping (Intel VT-d spec 5.1.5.2; kernkonzept/fiasco
 * src/kern/ia32/intel_iommu.cpp): a remappable-format message, address 0xFEE00000 with
 * the interrupt-format bit 4, SHV (bit 3) and the remapping-table index in bits 5..19
 * (its bit 15 in address bit 2); data = the subhandle, 0. A compatibility-format message
 * (bit 4 clear) is blocked. */
void arch_msi_message(uint32_t msi, uint64_t *addr, uint32_t *data)
{
    *addr = 0xFEE00000u | ((uint64_t)(msi & 0x7FFF) << 5) | ((uint64_t)((msi >> 15) & 1) << 2)
            | 0x18;
    *data = 0;
}

int arch_msi_decode(uint64_t addr, uint32_t data, uint32_t *msi)
{
    if ((addr & ~(uint64_t)0xFFFFF) != 0xFEE00000u || !(addr & 0x10))
        return -L4_EFAULT;
    uint32_t index = (uint32_t)((addr >> 5) & 0x7FFF) | (uint32_t)(((addr >> 2) & 1) << 15);
    *msi = index + ((addr & 0x8) ? (data & 0xFFFF) : 0);
    return 0;
}
