/*
 * vcpu.c (x86_64): the vCPU state area as amd64 lays it out (§11.1) and the register frame
 * of an upcall (§11.3). Same function order in every arch/<arch>/vcpu.c; the generic core
 * (kernel_c/vcpu.c) and Python (pyl4re/vcpu.py) read every offset from here.
 *
 * l4_vcpu_regs_t is the 26-word l4_exc_regs_t order; the IPC registers keep the label at
 * +8 and the tag at +56 (kernkonzept/l4re-core l4sys/include/ARCH-amd64/__vcpu-arch.h).
 */
#include "pyl4re.h"
#include "arch_ops.h"

const struct vcpu_layout *arch_vcpu_layout(void)
{
    static const struct vcpu_layout l = {
        .version = 0x26, .state_size = 0x200, .struct_size = 0x198,
        .r = 0x040, .r_words = 26, .i = 0x110, .i_tag = 0x148, .i_label = 0x118,
        .state = 0x150, .saved_state = 0x152, .sticky_flags = 0x154, .user_task = 0x158,
        .entry_sp = 0x160, .entry_ip = 0x168, .reserved_sp = 0x170, .arch_state = 0x178,
        .ext_infos = 0x200, .ext_state = 0x400, .ext_size = 0x1000,
        .r_ip = 18, .r_sp = 21, .r_flags = 20, .r_pfa = 11, .r_err = 17, .r_trapno = 16,
        .r_trapno_shift = 0,
    };
    return &l;
}

/* libvcpu's classifiers on amd64: trapno 0xfe an IPC/IRQ, 14 a page fault. */
uint32_t arch_vcpu_classify(const uint64_t *r)
{
    if (r[16] == 0xfe)
        return VCPU_EVENT_IPC;
    if (r[16] == 14)
        return VCPU_EVENT_PAGE_FAULT;
    if (r[16] == 13 && r[17] == ((0x80u << 3) | 2u))
        return VCPU_EVENT_SYSCALL;
    return VCPU_EVENT_EXCEPTION;
}

/* An IPC or IRQ upcall: trapno 0xfe, error 0 (Fiasco's Trex::set_ipc_upcall on amd64). */
void arch_vcpu_ipc_upcall(uint64_t *r)
{
    r[16] = 0xfe;
    r[17] = 0;
}

/* A page fault: trap 14, the x86 error code (P, W, U (always: vCPU code runs at user
 * level), I/D) and the address in pfa (the CPU's CR2). */
void arch_vcpu_page_fault(uint64_t *r, uint64_t va, int present, int write, int exec)
{
    r[16] = 14;
    r[17] = (present ? 1u : 0u) | (write ? 2u : 0u) | 4u | (exec ? 0x10u : 0u);
    r[11] = va;
}

/* A system call in vCPU user mode (int 0x80 through a kernel-only gate): #GP, trap 13,
 * with the IDT-vector error code (vector << 3 | 2), as L4Linux's user processes raise it. */
void arch_vcpu_syscall(uint64_t *r)
{
    r[16] = 13;
    r[17] = (0x80u << 3) | 2u;
}
