/*
 * vcpu.c (arm64): the vCPU state area as arm64 lays it out (§11.1) and the register frame
 * of an upcall (§11.3). Same function order in every arch/<arch>/vcpu.c; the generic core
 * (kernel_c/vcpu.c) and Python (pyl4re/vcpu.py) read every offset from here.
 *
 * l4_vcpu_regs_t is the 40-word l4_exc_regs_t; the IPC registers are tag (+0), label
 * (+8) and three reserved words (kernkonzept/l4re-core l4sys/include/ARCH-arm64/
 * __vcpu-arch.h). The trap is the ESR (err): exception class in bits 26..31.
 */
#include "pyl4re.h"
#include "arch_ops.h"

enum { ESR_IL = 1u << 25, ESR_EC_SHIFT = 26 };

const struct vcpu_layout *arch_vcpu_layout(void)
{
    static const struct vcpu_layout l = {
        .version = 0x38, .state_size = 0x200, .struct_size = 0x1d8,
        .r = 0x040, .r_words = 40, .i = 0x180, .i_tag = 0x180, .i_label = 0x188,
        .state = 0x1a8, .saved_state = 0x1aa, .sticky_flags = 0x1ac, .user_task = 0x1b0,
        .entry_sp = 0x1b8, .entry_ip = 0x1c0, .reserved_sp = 0x1c8, .arch_state = 0x1d0,
        .ext_infos = 0x200, .ext_state = 0x280, .ext_size = 0x800,
        .r_ip = 36, .r_sp = 35, .r_flags = 37, .r_pfa = 34, .r_err = 33, .r_trapno = 0xff,
        .r_trapno_shift = ESR_EC_SHIFT,
    };
    return &l;
}

/* libvcpu's classifiers on arm64: EC 0x3f an IPC/IRQ, EC 0x20..0x2f an abort. */
uint32_t arch_vcpu_classify(const uint64_t *r)
{
    uint64_t ec = r[33] >> ESR_EC_SHIFT;
    if (ec == 0x3f)
        return VCPU_EVENT_IPC;
    if ((ec & 0x30) == 0x20)
        return VCPU_EVENT_PAGE_FAULT;
    if (ec == 0x15)
        return VCPU_EVENT_SYSCALL;
    return VCPU_EVENT_EXCEPTION;
}

/* An IPC or IRQ upcall: ESR.EC 0x3f (Fiasco's arm64 Trex::set_ipc_upcall). */
void arch_vcpu_ipc_upcall(uint64_t *r)
{
    r[33] = (uint64_t)0x3f << ESR_EC_SHIFT;
}

/* A page fault: an abort from a lower exception level, EC 0x24 (data) or 0x20
 * (instruction), WnR in bit 6, fault status translation (0x07) or permission (0x0f) at
 * level 3; the address in pfa (FAR). */
void arch_vcpu_page_fault(uint64_t *r, uint64_t va, int present, int write, int exec)
{
    uint64_t ec = exec ? 0x20 : 0x24;
    r[33] = (ec << ESR_EC_SHIFT) | ESR_IL | (write && !exec ? 1u << 6 : 0u)
            | (present ? 0x0fu : 0x07u);
    r[34] = va;
}

/* A system call in vCPU user mode: SVC from AArch64, EC 0x15. */
void arch_vcpu_syscall(uint64_t *r)
{
    r[33] = ((uint64_t)0x15 << ESR_EC_SHIFT) | ESR_IL;
}
