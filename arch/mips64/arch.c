/*
 * arch.c (mips64): describes this build's architecture to the generic core and to Python.
 * Same function order in every arch/<arch>/arch.c.
 */
#include "pyl4re.h"
#include "arch_ops.h"
#include "iommu.h"

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

/* An unresolved page fault is a TLB exception: code 2 (TLBL, load or fetch), 3 (TLBS,
 * store), or 1 (TLB modified: a store to a present read-only page). */
void arch_pf_exception(int present, int write, int exec, uint64_t *trapno, uint64_t *err)
{
    (void)exec;
    *trapno = write ? (present ? 1 : 3) : 2;
    *err = 0;
}

/* No I/O ports here (ARCH_IO_PORTS 0): a reserved instruction. */
void arch_io_exception(uint64_t *trapno, uint64_t *err)
{
    *trapno = 10;
    *err = 0;
}

/* §10.3: l4_exc_regs_t on MIPS (41 words): the trap is the exception code of `cause`
 * (bits 2..6); sp is r29 (word 2 + 29); a reserved instruction is code 10. */
const struct exc_layout *arch_exc_layout(void)
{
    static const struct exc_layout l = {
        .words = ARCH_EXC_REGS_WORDS, .ip = 39, .sp = 31, .flags = 38, .pfa = 36,
        .trapno = EXC_NO_WORD, .err = 37, .trapno_shift = 2, .illegal_trapno = 10,
        .trigger_trapno = 0x40, .trigger_err = 1,   /* cause 0x101 */ .tls = { EXC_NO_WORD, EXC_NO_WORD },
        /* Fiasco's MIPS syscall entry goes straight to sys_ipc_wrapper (src/kern/mips/
         * exception.S): alien threads' system calls do not trap. s3, s4, s1, s2. */
        .alien_traps = 0, .sys_regs = { 2 + 19, 2 + 20, 2 + 17, 2 + 18 },
    };
    return &l;
}

/* IOMMU source ids: Fiasco has no MIPS IOMMU; the model reads them as the SMMU's are read
 * (docs/iommu.md): bits 0..31 the device (stream) id, bits 32..47 the IOMMU index (0). */
int arch_iommu_device(uint64_t src_id, uint32_t *device)
{
    if (((src_id >> 32) & 0xFFFF) != 0)
        return -L4_EINVAL;
    if ((src_id & 0xFFFFFFFF) >= IOMMU_DEVICES)
        return -L4_ERANGE;
    *device = (uint32_t)(src_id & 0xFFFFFFFF);
    return 0;
}

uint64_t arch_iommu_source_id(uint32_t device)
{
    return device;
}

/* §8.2 mips: l4sys has no arch thread operation for MIPS. */
int arch_thread_op(uint64_t mr0, uint64_t mr1, uint32_t words, unsigned *reg, uint64_t *value)
{
    (void)mr0, (void)mr1, (void)words, (void)reg, (void)value;
    return -L4_ENOSYS;
}

/* MSIs: Fiasco has no MIPS MSI controller; the model's doorbell (docs/interrupts.md) is a
 * word at MIPS_MSI_DOORBELL, the data the MSI number, checked against the device as an
 * ITS does. */
#define MIPS_MSI_DOORBELL 0x1BE00000u

void arch_msi_message(uint32_t msi, uint64_t *addr, uint32_t *data)
{
    *addr = MIPS_MSI_DOORBELL;
    *data = msi;
}

int arch_msi_decode(uint64_t addr, uint32_t data, uint32_t *msi)
{
    if (addr != MIPS_MSI_DOORBELL)
        return -L4_EFAULT;
    *msi = data;
    return 0;
}
