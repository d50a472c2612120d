/*
 * arch_ops.h: the functions every arch/<arch>/arch.c provides to the generic core, beyond
 * arch_describe() (pyl4re.h). Internal; the generic code calls only these.
 */
#ifndef PYL4RE_ARCH_OPS_H
#define PYL4RE_ARCH_OPS_H

#include <stdint.h>

/* Where l4_exc_regs_t keeps what the generic exception path reads and writes (§10.3). */
enum { EXC_NO_WORD = 0xFF };
struct exc_layout {
    unsigned words;            /* Msg_size */
    unsigned ip, sp, flags, pfa, err;
    unsigned trapno;           /* EXC_NO_WORD: the trap is encoded in err instead */
    unsigned trapno_shift;     /* ... at this bit */
    unsigned illegal_trapno;   /* what an illegal instruction raises here */
    unsigned trigger_trapno, trigger_err;   /* ex_regs' artificial exception (§8.2) */
    unsigned tls[2];           /* words of the arch thread registers, or EXC_NO_WORD */
    /* Alien threads (docs/threads.md): whether this architecture's syscall entry traps
     * them, the trap and its error word before and after the call, and the words of the
     * system call's tag, label, selector|flags and timeout registers (§6.4). */
    unsigned alien_traps, alien_trapno, alien_err[2];
    unsigned sys_regs[4];
};

/* An arch thread operation (MR0 opcode 0x10 and up, §8.2): which thread register (0, 1) it
 * sets to *value; -L4_ENOSYS, -L4_EINVAL or -L4_EMSGTOOSHORT as the kernel answers. */
int arch_thread_op(uint64_t mr0, uint64_t mr1, uint32_t words, unsigned *reg, uint64_t *value);
const struct exc_layout *arch_exc_layout(void);

/* The page-fault message word MR0 for an access to va (§10.1, per architecture). */
uint64_t arch_pf_msgword(uint64_t va, int present, int write, int exec);
/* The CPU exception an unresolved page fault becomes (§10.1, §10.3): the trap (amd64 trap
 * number; arm64 ESR.EC; MIPS cause exception code) and the error word beside it. */
void arch_pf_exception(int present, int write, int exec, uint64_t *trapno, uint64_t *err);
/* The CPU exception an I/O access without the port raises (x86: #GP; §10.1). */
void arch_io_exception(uint64_t *trapno, uint64_t *err);

/* The vCPU state area's layout and the upcall register frame (§11; arch/<arch>/vcpu.c):
 * the pseudo exception an IPC or IRQ upcall writes into r, a page fault's trap and
 * address, and what a kernel entry made in vCPU user mode looks like. r = the state
 * area's l4_vcpu_regs_t, already holding ip, sp and flags. */
void arch_vcpu_ipc_upcall(uint64_t *r);
void arch_vcpu_page_fault(uint64_t *r, uint64_t va, int present, int write, int exec);
void arch_vcpu_syscall(uint64_t *r);

/* Hardware VMs (arch/<arch>/vm.c): the extended state area's architecture part.
 * area = the whole vCPU state area (infos and state at the layout's ext offsets), r = its
 * l4_vcpu_regs_t, which holds the guest's general registers while it is in the VM. */
struct vm_access {             /* what a stage-2 exit reports */
    uint64_t gpa;
    uint32_t access;           /* L4_FPAGE_RO / W / X: what the guest tried */
    uint32_t present;          /* something was mapped there ... */
    uint32_t rights;           /* ... with these rights */
    uint32_t size;             /* 1, 2, 4, 8: a single load or store; 0: none known */
    uint64_t value;            /* what a store writes */
    uint64_t gva;              /* the guest-virtual address, if gva_valid (its stage 1 on) */
    uint32_t gva_valid;
    uint32_t walk;             /* the miss is on a guest page-table entry (x86: qualification
                                  bit 8 clear; arm64: ESR S1PTW); access is a read */
    uint32_t reg;              /* the register the syndrome names (the arch's numbering),
                                  VM_REG_DEFAULT: the layout's data register */
    uint32_t info;             /* the arch's extra syndrome bits (arm64: 1 SSE, 2 SF; x86-64:
                                  the instruction length, 0: the model's 3) */
};
void arch_vm_init(uint8_t *area);                     /* at vcpu_control_ext */
/* Before entering the guest: the entry checks (0, or -L4_EINVAL with the reason in the
 * area as the architecture reports a failed entry) and the guest ip/sp/flags into r. */
int arch_vm_entry(uint8_t *area, uint64_t *r, const char **why);
/* The exit: its information into the area (and r). Returns the architecture's exit code
 * (for the trace). a: for VM_EXIT_STAGE2; imm: a hypercall's immediate; ran: the guest ran
 * (r holds its ip), else the exit happened at the entry (a pending IRQ). */
uint64_t arch_vm_exit(uint8_t *area, uint64_t *r, uint32_t exit, const struct vm_access *a,
                      uint64_t imm, int ran);
/* The virtual interrupt this entry delivers (event injection, a pending list register,
 * guest interrupt-pending bits), consumed as the hardware does; -1 for none. */
int64_t arch_vm_injection(uint8_t *area, const uint64_t *r);
/* The VMM's side: decode the last exit, name a field, inject an interrupt. */
void arch_vm_decode(uint8_t *area, const uint64_t *r, struct vm_exit_desc *out);
uint8_t *arch_vm_field(uint8_t *area, uint32_t id, unsigned *bytes);
int arch_vm_inject(uint8_t *area, uint32_t vector, int raise);

/* The guest's own stage-1 translation, walked in the format of arch_pt_format(USER) by
 * the generic two-dimensional walk (kernel_c/vm.c), every table read through the VM's
 * nested table. arch_vm_s1: 0 when the guest's MMU is off (its addresses are guest-
 * physical), 1 with *s1 when it is on (s1->fault: va cannot be walked at all), or
 * -L4_ENOSYS for a translation regime the model does not walk. */
struct vm_s1 {
    uint64_t root;             /* guest-physical address of the top-level table */
    uint32_t user;             /* the guest runs at user privilege (arm64 EL0) */
    uint32_t wp;               /* supervisor writes honour read-only entries (x86 CR0.WP) */
    uint32_t nxe;              /* x86 EFER.NXE: bit 63 is XD (else reserved) */
    uint32_t fault;            /* enum vm_s1_fault_kind for va before any walk, or 0 */
};
int arch_vm_s1(uint8_t *area, const uint64_t *r, uint64_t va, struct vm_s1 *s1);
/* A present guest entry: 0 with *rights (the L4 rights it lets through at s1's privilege;
 * the walk ANDs them over the levels), or the enum vm_s1_fault_kind it causes. */
uint32_t arch_vm_s1_entry(const struct vm_s1 *s1, unsigned level, uint64_t e, int leaf,
                          uint32_t *rights);
/* The guest exception for a stage-1 fault: into *out and the guest's registers in the
 * area (x86 CR2; arm64 ESR_EL1, FAR_EL1). */
void arch_vm_s1_fault(uint8_t *area, const struct vm_s1 *s1, uint64_t va, uint32_t access,
                      struct vm_guest_fault *out);

#endif
