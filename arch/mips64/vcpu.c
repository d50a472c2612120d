/*
 * vcpu.c (mips64): the vCPU state area as MIPS lays it out (§11.1) and the register frame
 * of an upcall (§11.3). Same function order in every arch/<arch>/vcpu.c; the generic core
 * (kernel_c/vcpu.c) and Python (pyl4re/vcpu.py) read every offset from here.
 *
 * l4_vcpu_regs_t is the 41-word l4_exc_regs_t; the IPC registers are utcb, dest, timeout,
 * tag (+24) and label (+32) (kernkonzept/l4re-core l4sys/include/ARCH-mips/__vcpu-arch.h).
 * The trap is the cause register (err): exception code in bits 2..6, L4 codes 0x1xx.
 */
#include "pyl4re.h"
#include "arch_ops.h"

const struct vcpu_layout *arch_vcpu_layout(void)
{
    static const struct vcpu_layout l = {
        .version = 0x12, .state_size = 0x200, .struct_size = 0x1e0,
        .r = 0x040, .r_words = 41, .i = 0x188, .i_tag = 0x1a0, .i_label = 0x1a8,
        .state = 0x1b0, .saved_state = 0x1b2, .sticky_flags = 0x1b4, .user_task = 0x1b8,
        .entry_sp = 0x1c0, .entry_ip = 0x1c8, .reserved_sp = 0x1d0, .arch_state = 0x1d8,
        .ext_infos = 0x200, .ext_state = 0x400, .ext_size = 1u << ARCH_PAGE_SHIFT,
        .r_ip = 39, .r_sp = 31, .r_flags = 38, .r_pfa = 36, .r_err = 37, .r_trapno = 0xff,
        .r_trapno_shift = 2,
    };
    return &l;
}

/* libvcpu's classifiers on MIPS: exception code 0 an IPC/IRQ, 1..3 and 19..20 a TLB
 * fault; cause 0x102 the system-call upcall. */
uint32_t arch_vcpu_classify(const uint64_t *r)
{
    uint64_t cause = r[37], code = (cause >> 2) & 0x1f;
    if (cause == 0x102)
        return VCPU_EVENT_SYSCALL;
    if (code == 0)
        return VCPU_EVENT_IPC;
    if ((code >= 1 && code <= 3) || code == 19 || code == 20)
        return VCPU_EVENT_PAGE_FAULT;
    return VCPU_EVENT_EXCEPTION;
}

/* An IPC or IRQ upcall: cause 0x100 (Fiasco's C_l4_ipc_upcall). */
void arch_vcpu_ipc_upcall(uint64_t *r)
{
    r[37] = 0x100;
}

/* A page fault: exception code TLB modified (1) for a store to a read-only page, TLBS (3)
 * a store miss, XI (20) an execute-inhibit fault, else TLBL (2); the address in BadVAddr. */
void arch_vcpu_page_fault(uint64_t *r, uint64_t va, int present, int write, int exec)
{
    uint64_t code = write ? (present ? 1 : 3) : exec && present ? 20 : 2;
    r[37] = code << 2;
    r[36] = va;
}

/* A system call in vCPU user mode: cause 0x102 (Fiasco's C_l4_syscall_upcall). */
void arch_vcpu_syscall(uint64_t *r)
{
    r[37] = 0x102;
}
