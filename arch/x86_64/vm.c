/*
 * vm.c (x86_64): the extended vCPU area of a VMX guest (§11.1; docs/vm.md): the infos page
 * part (the VMX capability MSRs the VMM reads) and the software VMCS, whose fields live
 * where its offset table says, as l4sys' __vm-vmx.h defines the encoding (width = bits
 * 14:13, group = bits 11:10, index = bits 9:1). Same function order in every
 * arch/<arch>/vm.c; the generic core (kernel_c/vm.c, vcpu.c) calls only these.
 *
 * Entry checks are the guest-state checks of Intel SDM vol. 3 26.3.1.1 that concern the
 * fields a VMM sets (CR0, CR4, EFER, RFLAGS, the IA-32e-mode entry control); a failed
 * entry reports exit reason 0x80000021 (entry failure, invalid guest state) as the
 * hardware does. Exits: EPT violation 48 (qualification bits 0..2 the access, 3..5 the
 * rights there; guest-physical address 0x2400), VMCALL 18, HLT 12, external interrupt 1,
 * triple fault 2 (a guest program that cannot go on).
 *
 * An EPT violation with a decoded access (the model's; the SDM leaves the instruction
 * information undefined there) has in 0x440E bits 1:0 log2(size), bit 2 "decoded", bits
 * 6:3 the register in the x86 encoding (rax 0 .. r15 15), bit 7 "the store's operand is an
 * immediate" (its value in the software field 0x688A), and in 0x440C the instruction's
 * length: 3 for a guest program's access (register rax), the decoder's for machine code
 * (pyl4re/guest/cpu_x86_64.py: struct vm_access reg = the x86 number or 16, info = the
 * length).
 *
 * The guest's own paging (CR0.PG in IA-32e mode: 4-level, CR3 the PML4's guest-physical
 * address; SDM vol. 3 4.5) is walked in the stage-1 format of paging.c. The guest is its
 * kernel (CPL0: no segment state is modelled): reads need P, writes W at every level when
 * CR0.WP is set; bit 63 is XD with EFER.NXE, else reserved, and address bits 51:48 are
 * reserved (the model's guest-physical width is 48 bits). Faults are #PF (vector 14, the
 * error code's P, W/R, RSVD, I/D bits, CR2 into the software VMCS field 0x6880) and a
 * non-canonical address #GP(0). 32-bit and PAE paging and 5-level paging are not walked.
 */
#include <string.h>

#include "pyl4re.h"
#include "arch_ops.h"
#include "pte.h"

/* The model's offset table: 64-byte units from the software VMCS's start, per width
 * (16-bit, 64-bit, 32-bit, natural) and group (control, exit info, guest, host). */
enum {
    VMCS_OFFSETS = 0x20, VMCS_LIMITS = 0x30, VMCS_SHIFTS = 0x40, VMCS_BASE = 0x44,
    VMCS_SIZE = 0x45, VMCS_VALUES = 0xC0, VMCS_VALUES_UNITS = 40,
};
static const uint8_t vmcs_offsets[4][4] = { { 3, 4, 5, 6 }, { 7, 11, 12, 21 },
                                            { 22, 24, 25, 27 }, { 28, 29, 30, 39 } };
static const uint8_t vmcs_limits[4][4] = { { 1, 1, 1, 1 }, { 4, 1, 9, 1 },
                                           { 2, 1, 2, 1 }, { 1, 1, 9, 2 } };
static const uint8_t vmcs_shifts[4] = { 0, 2, 1, 2 };

enum vmx_field {
    VMX_ENTRY_CTLS = 0x4012, VMX_ENTRY_INTR_INFO = 0x4016, VMX_EXIT_REASON = 0x4402,
    VMX_EXIT_INSN_LEN = 0x440C, VMX_EXIT_INSN_INFO = 0x440E, VMX_GUEST_PHYS = 0x2400,
    VMX_EXIT_QUAL = 0x6400, VMX_GUEST_LINEAR = 0x640A, VMX_GUEST_EFER = 0x2806,
    VMX_GUEST_CR0 = 0x6800, VMX_GUEST_CR3 = 0x6802, VMX_GUEST_CR4 = 0x6804,
    VMX_GUEST_RSP = 0x681C, VMX_GUEST_RIP = 0x681E, VMX_GUEST_RFLAGS = 0x6820,
    VMX_SW_GUEST_CR2 = 0x6880,                 /* l4sys: a software-only field */
    VMX_SW_EXIT_IMM = 0x688A,                  /* the model's: a decoded store's immediate */
};
#define CR0_PG 0x80000000u
#define RFLAGS_RESERVED ((1u << 3) | (1u << 5) | (1u << 15) | 0xFFC00000u)
#define EXIT_ENTRY_FAILED_GUEST 0x80000021u     /* entry failure | invalid guest state */
#define INTR_INFO_VALID 0x80000000u
enum {
    CR0_PE = 1u << 0, CR0_NE = 1u << 5, CR0_WP = 1u << 16, CR4_PAE = 1u << 5,
    CR4_LA57 = 1u << 12, EFER_NXE = 1u << 11,
    CR4_VMXE = 1u << 13, CR4_PCIDE = 1u << 17, EFER_LME = 1u << 8, EFER_LMA = 1u << 10,
    ENTRY_IA32E = 1u << 9, RFLAGS_FIXED1 = 1u << 1,
    EXIT_EXT_INTR = 1, EXIT_TRIPLE_FAULT = 2, EXIT_HLT = 12,
    EXIT_VMCALL = 18, EXIT_EPT_VIOLATION = 48,
    R_RAX = 15, R_RBX = 12, R_RCX = 14, R_RDX = 13, R_TRAPNO = 16, R_ERR = 17, R_IP = 18,
    R_FLAGS = 20, R_SP = 21,
    X86_REG_IMM = 16,                          /* a syndrome's "register": an immediate */
    INFO_IMM = 1u << 7,                        /* the instruction information's flag */
};
/* The r word of each general register in the x86 encoding (rax 0, rcx 1, ..., r15 15):
 * l4_vcpu_regs_t's l4_exc_regs_t order (r15 first, pfa where a pusha frame has rsp). */
static const uint8_t x86_word[16] = { 15, 14, 13, 12, 21, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 };
/* VMX capability MSR values the infos offer (IA32_VMX_*; l4_vm_vmx_vcpu_infos_t.caps). */
enum { CAP_CR0_FIXED0 = 6, CAP_CR0_FIXED1 = 7, CAP_CR4_FIXED0 = 8, CAP_CR4_FIXED1 = 9,
       CAP_EPT_VPID = 12 };

const struct vm_layout *arch_vm_layout(void)
{
    static const struct vm_layout l = {
        .data_reg = R_RAX, .hc_regs = { R_RAX, R_RBX, R_RCX, R_RDX },
        .len_access = 3, .len_hypercall = 3, .len_halt = 1, .hypercall_ip_after = 0,
        .ip_field = VMX_GUEST_RIP,
    };
    return &l;
}

static uint8_t *vmcs(uint8_t *area)
{
    return area + arch_vcpu_layout()->ext_state;
}

/* Where field enc lives and how wide it is (bytes), or NULL outside the table. */
static uint8_t *field(uint8_t *area, uint32_t enc, unsigned *bytes)
{
    static const unsigned width_bytes[4] = { 2, 8, 4, 8 };
    unsigned w = (enc >> 13) & 3, g = (enc >> 10) & 3, idx = enc & 0x3fe;
    uint32_t off = (uint32_t)(idx << vmcs_shifts[w]);
    if (off >= vmcs_limits[w][g] * 64u)
        return NULL;
    *bytes = width_bytes[w];
    return vmcs(area) + vmcs_offsets[w][g] * 64u + off;
}

static uint64_t rd(uint8_t *area, uint32_t enc)
{
    unsigned n;
    uint8_t *p = field(area, enc, &n);
    uint64_t v = 0;
    if (p)
        memcpy(&v, p, n);
    return v;
}

static void wr(uint8_t *area, uint32_t enc, uint64_t v)
{
    unsigned n;
    uint8_t *p = field(area, enc, &n);
    if (p)
        memcpy(p, &v, n);
}

void arch_vm_init(uint8_t *area)
{
    uint8_t *v = vmcs(area);
    memset(v, 0, arch_vcpu_layout()->ext_size - arch_vcpu_layout()->ext_state);
    memcpy(v + VMCS_OFFSETS, vmcs_offsets, sizeof(vmcs_offsets));
    memcpy(v + VMCS_LIMITS, vmcs_limits, sizeof(vmcs_limits));
    memcpy(v + VMCS_SHIFTS, vmcs_shifts, sizeof(vmcs_shifts));
    v[VMCS_BASE] = VMCS_VALUES / 64;
    v[VMCS_SIZE] = VMCS_VALUES_UNITS;
    uint64_t caps[14] = { 0 };
    caps[CAP_CR0_FIXED0] = CR0_NE;                  /* unrestricted guest: PE, PG free */
    caps[CAP_CR0_FIXED1] = 0xffffffffu;
    caps[CAP_CR4_FIXED0] = CR4_VMXE;
    caps[CAP_CR4_FIXED1] = 0x003727ffu;
    caps[CAP_EPT_VPID] = (1u << 6) | (1u << 8) | (1u << 14) | (1u << 16) | (1u << 17);
    memcpy(area + arch_vcpu_layout()->ext_infos, caps, sizeof(caps));
    wr(area, VMX_GUEST_CR0, CR0_NE);
    wr(area, VMX_GUEST_CR4, CR4_VMXE);
    wr(area, VMX_GUEST_RFLAGS, RFLAGS_FIXED1);
}

static int fail(uint8_t *area, const char **why, const char *what)
{
    wr(area, VMX_EXIT_REASON, EXIT_ENTRY_FAILED_GUEST);
    wr(area, VMX_EXIT_QUAL, 0);
    *why = what;
    return -L4_EINVAL;
}

int arch_vm_entry(uint8_t *area, uint64_t *r, const char **why)
{
    uint64_t cr0 = rd(area, VMX_GUEST_CR0), cr4 = rd(area, VMX_GUEST_CR4);
    uint64_t efer = rd(area, VMX_GUEST_EFER), fl = rd(area, VMX_GUEST_RFLAGS);
    int ia32e = (rd(area, VMX_ENTRY_CTLS) & ENTRY_IA32E) != 0;
    if ((cr0 & CR0_PG) && !(cr0 & CR0_PE))
        return fail(area, why, "vm entry: guest CR0.PG without CR0.PE");
    if (!(cr0 & CR0_NE) || !(cr4 & CR4_VMXE))
        return fail(area, why, "vm entry: guest CR0/CR4 violate the fixed bits (NE, VMXE)");
    if (ia32e && (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE)))
        return fail(area, why, "vm entry: IA-32e mode guest without CR0.PG and CR4.PAE");
    if (!ia32e && (cr4 & CR4_PCIDE))
        return fail(area, why, "vm entry: CR4.PCIDE outside IA-32e mode");
    if (((efer & EFER_LMA) != 0) != ia32e || ((cr0 & CR0_PG) && ((efer & EFER_LME) != 0) != ia32e))
        return fail(area, why, "vm entry: guest EFER.LMA/LME disagree with IA-32e mode");
    if (!(fl & RFLAGS_FIXED1) || (fl & RFLAGS_RESERVED))
        return fail(area, why, "vm entry: guest RFLAGS reserved bits");
    r[R_IP] = rd(area, VMX_GUEST_RIP);
    r[R_SP] = rd(area, VMX_GUEST_RSP);
    r[R_FLAGS] = fl;
    return 0;
}

uint64_t arch_vm_exit(uint8_t *area, uint64_t *r, uint32_t exit, const struct vm_access *a,
                      uint64_t imm, int ran)
{
    (void)imm;
    uint64_t reason = EXIT_EXT_INTR, qual = 0, len = 0, info = 0;
    switch (exit) {
    case VM_EXIT_STAGE2:
        reason = EXIT_EPT_VIOLATION;
        qual = ((a->access & L4_FPAGE_RO) ? 1u : 0u) | ((a->access & L4_FPAGE_W) ? 2u : 0u)
               | ((a->access & L4_FPAGE_X) ? 4u : 0u);
        if (a->present)
            qual |= ((a->rights & L4_FPAGE_RO) ? 8u : 0u) | ((a->rights & L4_FPAGE_W) ? 16u : 0u)
                    | ((a->rights & L4_FPAGE_X) ? 32u : 0u);
        qual |= 1u << 7;                           /* the guest-linear address is valid */
        if (!a->walk)
            qual |= 1u << 8;                       /* ... and this is its translation */
        wr(area, VMX_GUEST_PHYS, a->gpa);
        wr(area, VMX_GUEST_LINEAR, a->gva_valid ? a->gva : a->gpa);   /* paging off: equal */
        len = a->info ? (a->info & 15) : 3;        /* machine code: the decoded length */
        if (a->size) {                             /* the model's decoded mov (docs/vm.md) */
            uint32_t reg = a->reg == VM_REG_DEFAULT ? 0 : a->reg;
            info = (uint64_t)(__builtin_ctz(a->size) | 4u);
            if (reg == X86_REG_IMM)
                info |= INFO_IMM;
            else
                info |= (uint64_t)(reg & 15) << 3;
            if (a->access & L4_FPAGE_W) {
                if (a->reg == VM_REG_DEFAULT)      /* a guest program: rax carries it */
                    r[R_RAX] = a->value;
                else if (reg == X86_REG_IMM)
                    wr(area, VMX_SW_EXIT_IMM, a->value);
            }                                      /* else: it is in its register */
        }
        break;
    case VM_EXIT_HYPERCALL:
        reason = EXIT_VMCALL, len = 3;
        break;
    case VM_EXIT_HALT:
        reason = EXIT_HLT, len = 1;
        break;
    case VM_EXIT_FAULT:
        reason = EXIT_TRIPLE_FAULT;
        break;
    default:
        break;
    }
    wr(area, VMX_EXIT_REASON, reason);
    wr(area, VMX_EXIT_QUAL, qual);
    wr(area, VMX_EXIT_INSN_LEN, len);
    wr(area, VMX_EXIT_INSN_INFO, info);
    if (exit != VM_EXIT_IRQ)
        r[R_TRAPNO] = r[R_ERR] = 0;                /* no IPC upcall (trapno 0xfe) */
    if (ran) {                                     /* the guest's state back to the VMCS */
        wr(area, VMX_GUEST_RIP, r[R_IP]);
        wr(area, VMX_GUEST_RSP, r[R_SP]);
        wr(area, VMX_GUEST_RFLAGS, r[R_FLAGS]);
    }
    return reason;
}

int64_t arch_vm_injection(uint8_t *area, const uint64_t *r)
{
    (void)r;
    uint64_t info = rd(area, VMX_ENTRY_INTR_INFO);
    if (!(info & INTR_INFO_VALID))
        return -1;
    wr(area, VMX_ENTRY_INTR_INFO, info & ~(uint64_t)INTR_INFO_VALID);  /* consumed by entry */
    return (int64_t)(info & 0xff);
}

void arch_vm_decode(uint8_t *area, const uint64_t *r, struct vm_exit_desc *out)
{
    uint64_t reason = rd(area, VMX_EXIT_REASON), qual = rd(area, VMX_EXIT_QUAL);
    out->code = reason;
    out->advance = (uint32_t)rd(area, VMX_EXIT_INSN_LEN);
    switch (reason) {
    case EXIT_EPT_VIOLATION: {
        uint64_t info = rd(area, VMX_EXIT_INSN_INFO);
        out->exit = VM_EXIT_STAGE2;
        out->gpa = rd(area, VMX_GUEST_PHYS);
        out->write = (qual & 2) != 0;
        out->exec = (qual & 4) != 0;
        out->reg = (info & INFO_IMM) ? R_RAX : x86_word[(info >> 3) & 15];
        if (info & 4)
            out->size = 1u << (info & 3);
        if (out->write) {
            uint64_t v = (info & INFO_IMM) ? rd(area, VMX_SW_EXIT_IMM) : r[out->reg];
            out->value = out->size && out->size < 8 ? v & ((1ull << (8 * out->size)) - 1) : v;
        }
        break;
    }
    case EXIT_VMCALL:
        out->exit = VM_EXIT_HYPERCALL;
        out->imm = r[R_RAX];
        break;
    case EXIT_HLT:
        out->exit = VM_EXIT_HALT;
        break;
    case EXIT_EXT_INTR:
        out->exit = VM_EXIT_IRQ;
        break;
    case EXIT_TRIPLE_FAULT:
        out->exit = VM_EXIT_FAULT;
        break;
    default:
        break;
    }
}

uint8_t *arch_vm_field(uint8_t *area, uint32_t id, unsigned *bytes)
{
    return id & ~(uint32_t)0xffff || id & 1 ? NULL : field(area, id, bytes);
}

/* Event injection of an external interrupt (type 0) through the VM-entry interruption
 * information field; one event per entry. */
int arch_vm_inject(uint8_t *area, uint32_t vector, int raise)
{
    if (vector > 0xff)
        return -L4_EINVAL;
    uint64_t info = rd(area, VMX_ENTRY_INTR_INFO);
    if (!raise) {
        if ((info & INTR_INFO_VALID) && (info & 0xff) == vector)
            wr(area, VMX_ENTRY_INTR_INFO, 0);
        return 0;
    }
    if (info & INTR_INFO_VALID)
        return -L4_EBUSY;
    wr(area, VMX_ENTRY_INTR_INFO, INTR_INFO_VALID | vector);
    return 0;
}

/* ---- the guest's own paging (IA-32e, 4-level) */

int arch_vm_s1(uint8_t *area, const uint64_t *r, uint64_t va, struct vm_s1 *s1)
{
    (void)r;
    uint64_t cr0 = rd(area, VMX_GUEST_CR0), cr4 = rd(area, VMX_GUEST_CR4);
    uint64_t efer = rd(area, VMX_GUEST_EFER);
    if (!(cr0 & CR0_PG))
        return 0;
    if (!(cr4 & CR4_PAE) || !(efer & EFER_LMA) || (cr4 & CR4_LA57))
        return -L4_ENOSYS;                         /* 32-bit, PAE or 5-level paging */
    int64_t top = (int64_t)va >> 47;
    *s1 = (struct vm_s1){ .root = rd(area, VMX_GUEST_CR3) & X86_ADDR,
                          .wp = (cr0 & CR0_WP) != 0, .nxe = (efer & EFER_NXE) != 0,
                          .fault = top != 0 && top != -1 ? VM_S1_NONCANONICAL : 0 };
    return 1;
}

uint32_t arch_vm_s1_entry(const struct vm_s1 *s1, unsigned level, uint64_t e, int leaf,
                          uint32_t *rights)
{
    static const unsigned shift[] = { 39, 30, 21, 12 };
    if ((e & 0x000f000000000000ull) || ((e & X86_XD) && !s1->nxe))
        return VM_S1_RESERVED;
    if (leaf && level < X86_LAST_LEVEL                 /* a large page: bits shift-1..13 */
        && (e & ((((uint64_t)1 << shift[level]) - 1) & ~(uint64_t)0x1fff)))
        return VM_S1_RESERVED;
    *rights = L4_FPAGE_RO;
    if ((e & X86_W) || (!s1->wp && !s1->user))
        *rights |= L4_FPAGE_W;
    if (!(e & X86_XD))
        *rights |= L4_FPAGE_X;
    if (s1->user && !(e & X86_U))
        *rights = 0;
    return 0;
}

void arch_vm_s1_fault(uint8_t *area, const struct vm_s1 *s1, uint64_t va, uint32_t access,
                      struct vm_guest_fault *out)
{
    if (out->kind == VM_S1_NONCANONICAL) {
        out->vector = 13, out->code = 0, out->addr = va;   /* #GP(0): no CR2 */
        return;
    }
    out->vector = 14;
    out->code = (out->kind != VM_S1_TRANSLATION ? 1u : 0u)      /* P: a protection fault */
                | ((access & L4_FPAGE_W) ? 2u : 0u) | (s1->user ? 4u : 0u)
                | (out->kind == VM_S1_RESERVED ? 8u : 0u)
                | ((access & L4_FPAGE_X) ? 16u : 0u);
    out->addr = va;
    wr(area, VMX_SW_GUEST_CR2, va);
}
