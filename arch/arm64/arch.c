/*
 * arch.c (arm64): describes this build's architecture to the generic core and to Python.
 * Same function order in every arch/<arch>/arch.c.
 */
#include "pyl4re.h"
#include "arch_ops.h"
#include "iommu.h"

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

/* §10.1: MR0 of a page fault. Bit 0 is set for a translation fault (nothing mapped), bit 1
 * is ESR.WnR (a write), bit 2 marks an instruction abort. */
uint64_t arch_pf_msgword(uint64_t va, int present, int write, int exec)
{
    return (va & ~(uint64_t)7) | (present ? 0 : 1) | (write ? 2 : 0) | (exec ? 4 : 0);
}

/* An unresolved page fault is an abort from EL0: ESR.EC 0x24 (data) or 0x20 (instruction),
 * IL set, ISS = WnR (bit 6) for a write and the fault status: level-3 translation (0x07)
 * or permission (0x0F) fault. */
void arch_pf_exception(int present, int write, int exec, uint64_t *trapno, uint64_t *err)
{
    *trapno = exec ? 0x20 : 0x24;
    *err = ((uint64_t)1 << 25) | (write && !exec ? 0x40 : 0) | (present ? 0x0F : 0x07);
}

/* No I/O ports here (ARCH_IO_PORTS 0): an "in" would be an undefined instruction. */
void arch_io_exception(uint64_t *trapno, uint64_t *err)
{
    *trapno = 0;
    *err = 0;
}

/* §10.3: l4_exc_regs_t on arm64 (40 words): the trap is the ESR's exception class
 * (bits 26..31) in `err`; an unknown instruction is class 0. */
const struct exc_layout *arch_exc_layout(void)
{
    static const struct exc_layout l = {
        .words = ARCH_EXC_REGS_WORDS, .ip = 36, .sp = 35, .flags = 37, .pfa = 34,
        .trapno = EXC_NO_WORD, .err = 33, .trapno_shift = 26, .illegal_trapno = 0,
        .trigger_trapno = 0x3E, .trigger_err = 0, .tls = { 38, EXC_NO_WORD },
        /* Alien syscalls: the SVC's own exception (EC 0x15, IL), ESR bit 16 set after the
         * call (kernkonzept/fiasco src/kern/arm/64/thread-arm-64.cpp handle_svc); x0..x3. */
        .alien_traps = 1, .alien_trapno = 0x15, .alien_err = { 1u << 25, 1u << 25 | 1u << 16 },
        .sys_regs = { 1, 2, 3, 4 },
    };
    return &l;
}

/* IOMMU source ids as Fiasco's SMMU driver reads them (kernkonzept/fiasco
 * src/kern/arm/arm_dmar.cpp Src_id): bits 0..31 the stream id, bits 32..47 the SMMU index
 * (the model has SMMU 0 only, -L4_EINVAL otherwise). A stream id beyond the SMMU's is
 * -L4_ERANGE (Iommu::bind). */
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

/* §8.2 arm64: set TPIDRURO (0x10), MR1 = the value EL0 reads from that register
 * (kernkonzept/l4re-core l4sys/include/ARCH-arm64/thread.h). */
int arch_thread_op(uint64_t mr0, uint64_t mr1, uint32_t words, unsigned *reg, uint64_t *value)
{
    if ((mr0 & L4_THREAD_OPCODE_MASK) != L4_THREAD_ARM_TPIDRURO_OP)
        return -L4_ENOSYS;
    if (words < 2)
        return -L4_EMSGTOOSHORT;
    *reg = 0;
    *value = mr1;
    return 0;
}

/* MSIs through a GICv3 ITS (Arm GIC architecture spec ch. 5; kernkonzept/fiasco
 * src/kern/arm/gic_v3_its.cpp): the device writes the event id to the ITS's
 * GITS_TRANSLATER, which maps (device id, event) to the interrupt. The model's ITS frame
 * is at ARM_ITS_BASE; event n is MSI n. */
#define ARM_ITS_TRANSLATER (0x08080000u + 0x10040u)

void arch_msi_message(uint32_t msi, uint64_t *addr, uint32_t *data)
{
    *addr = ARM_ITS_TRANSLATER;
    *data = msi;
}

int arch_msi_decode(uint64_t addr, uint32_t data, uint32_t *msi)
{
    if (addr != ARM_ITS_TRANSLATER)
        return -L4_EFAULT;
    *msi = data;
    return 0;
}
