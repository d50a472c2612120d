/*
 * vm.c (arm64): the extended vCPU area of an ARM hyp guest (§11.1; docs/vm.md): Vm_info at
 * +0x200 (version 0, the GIC version) and Vm_state at +0x280, whose fields the l4sys
 * L4_VCPU_E_* ids name (id & 0xfff = byte offset, bit 15 = 64 bits wide): guest HCR 0x8008,
 * SCTLR 0x0010, CNTV_CTL 0x0018, CNTVOFF 0x8020, VMPIDR 0x8028, VTCR 0x8038, the GIC's
 * HCR/VTR/VMCR/MISR/EISR/ELSR at 0x40..0x54 and four GICv3 list registers from 0x8058
 * (kernkonzept/l4re-core l4sys/include/__vcpu-arm.h; kernkonzept/fiasco
 * src/kern/arm/hyp_vm_state.cpp). Same function order in every arch/<arch>/vm.c.
 *
 * Exits are ESR_EL2 values in r.err with the IPA in r.pfa, as uvmm reads them: a data
 * abort (EC 0x24) with ISV, SAS, SSE, SRT, SF and WnR for a single load or store (SRT the
 * guest's Rt from vm_guest_syndrome, x1 for a guest program's access), an instruction
 * abort (0x20), HVC (0x16, imm16; the return address is past it), WFI (0x01); an IRQ is
 * the vCPU's IPC upcall (EC 0x3f); a guest program that cannot go on is EC 0 (unknown).
 * A stage-2 miss on a guest page-table entry sets S1PTW (ISS bit 7), without ISV.
 *
 * The guest's own stage 1 (SCTLR_EL1.M at E-field 0x0010; TCR_EL1 and TTBR0_EL1 in the
 * kernel-private part of Vm_state, at 0xa8 and 0xb0 as Fiasco's hyp_vm_state-64.cpp
 * orders it after the GICv3 user API; ESR_EL1 at 0xc4 and FAR_EL1 at 0xe8 likewise: the
 * model's reading of that order) is walked in paging.c's stage-1 format: 4 KiB granule,
 * T0SZ 16 (48-bit), TTBR0 only; the upper half (TTBR1) faults as with TCR.EPD1. The guest
 * runs at EL1 (PSTATE.M EL1t/h) or EL0 (EL0t); APTable, AP[2:1] and AF are honoured (no
 * hardware AF management: a leaf without AF is an access flag fault). Faults are data
 * aborts to the guest's EL1: EC 0x25 (0x24 from EL0), DFSC translation / access flag /
 * permission / address size with the level, WnR.
 */
#include <string.h>

#include "pyl4re.h"
#include "arch_ops.h"
#include "pte.h"

enum {
    E_GUEST_HCR = 0x08, E_SCTLR = 0x10, E_GIC_VTR = 0x44, E_GIC_ELSR = 0x54, E_GIC_LR = 0x58,
    E_TCR = 0xa8, E_TTBR0 = 0xb0, E_ESR_EL1 = 0xc4, E_FAR_EL1 = 0xe8,
    ESR_S1PTW = 1u << 7, SCTLR_M = 1u << 0, TCR_EPD0 = 1u << 7,
    NUM_LR = 4, GIC_VERSION = 3,
    HCR_VM = 1u << 0, HCR_SWIO = 1u << 1, HCR_FMO = 1u << 3, HCR_IMO = 1u << 4,
    HCR_AMO = 1u << 5, HCR_TWI = 1u << 13,
    ESR_EC_SHIFT = 26, ESR_IL = 1u << 25, ESR_ISV = 1u << 24, ESR_SSE = 1u << 21,
    ESR_SF = 1u << 15, ESR_WNR = 1u << 6,
    PSTATE_I = 1u << 7, PSTATE_M_MASK = 0x1f,
    R_DATA = 1, R_ERR = 33, R_PFA = 34, R_IP = 36, R_FLAGS = 37,
};
#define HCR_RW 0x80000000u
#define HCR_KERNEL (HCR_VM | HCR_SWIO | HCR_FMO | HCR_IMO | HCR_AMO | HCR_TWI | HCR_RW)
#define LR_STATE_SHIFT 62
#define LR_PENDING ((uint64_t)1 << LR_STATE_SHIFT)
#define LR_STATE_MASK ((uint64_t)3 << LR_STATE_SHIFT)

const struct vm_layout *arch_vm_layout(void)
{
    static const struct vm_layout l = {
        .data_reg = R_DATA, .hc_regs = { 0, 1, 2, 3 },
        .len_access = 4, .len_hypercall = 4, .len_halt = 4, .hypercall_ip_after = 1,
        .ip_field = 0,
    };
    return &l;
}

static uint8_t *state(uint8_t *area)
{
    return area + arch_vcpu_layout()->ext_state;
}

static uint64_t rd64(uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void wr64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

void arch_vm_init(uint8_t *area)
{
    const struct vcpu_layout *l = arch_vcpu_layout();
    memset(area + l->ext_infos, 0, l->ext_size - l->ext_infos);
    area[l->ext_infos + 1] = GIC_VERSION;          /* Vm_info: version 0, gic_version */
    uint8_t *s = state(area);
    wr64(s + E_GUEST_HCR, HCR_KERNEL);
    wr32(s + E_SCTLR, 0x30d00800u);                /* SCTLR_EL1's reset RES1 bits, MMU off */
    wr32(s + E_GIC_VTR, 0x90000000u | (NUM_LR - 1));
    wr32(s + E_GIC_ELSR, (1u << NUM_LR) - 1);      /* every list register empty */
}

/* Fiasco keeps the HCR bits that make the guest a guest (stage 2 on, IRQs and FIQs to the
 * hypervisor, WFI trapped, AArch64 EL1); a VMM cannot clear them. A PSTATE naming EL2 or
 * AArch32 is refused (the model's reading of the entry's state check: docs/vm.md). */
int arch_vm_entry(uint8_t *area, uint64_t *r, const char **why)
{
    uint8_t *s = state(area);
    uint64_t m = r[R_FLAGS] & PSTATE_M_MASK;
    if (m != 0x0 && m != 0x4 && m != 0x5) {
        *why = "vm entry: guest PSTATE.M names no AArch64 EL0/EL1 mode";
        return -L4_EINVAL;
    }
    wr64(s + E_GUEST_HCR, rd64(s + E_GUEST_HCR) | HCR_KERNEL);
    return 0;
}

uint64_t arch_vm_exit(uint8_t *area, uint64_t *r, uint32_t exit, const struct vm_access *a,
                      uint64_t imm, int ran)
{
    (void)ran;
    (void)area;
    uint64_t esr = (uint64_t)0x3f << ESR_EC_SHIFT;
    switch (exit) {
    case VM_EXIT_STAGE2:
        if (a->access & L4_FPAGE_X) {
            esr = ((uint64_t)0x20 << ESR_EC_SHIFT) | ESR_IL | (a->present ? 0x0fu : 0x07u);
        } else {
            esr = ((uint64_t)0x24 << ESR_EC_SHIFT) | ESR_IL | (a->present ? 0x0fu : 0x07u);
            if (a->access & L4_FPAGE_W)
                esr |= ESR_WNR;
            if (a->walk)
                esr |= ESR_S1PTW;                  /* reading a guest table: no syndrome */
            if (a->size && !a->walk) {             /* ISV: SAS, SSE, SRT, SF */
                uint32_t srt = a->reg == VM_REG_DEFAULT ? R_DATA : a->reg;
                esr |= ESR_ISV | ((uint64_t)__builtin_ctz(a->size) << 22)
                       | ((uint64_t)srt << 16);
                if (a->info & 1)
                    esr |= ESR_SSE;
                if (a->info & 2)
                    esr |= ESR_SF;
                if ((a->access & L4_FPAGE_W) && srt != 31)     /* SRT 31: xzr */
                    r[srt] = a->value;
            }
        }
        r[R_PFA] = a->gpa;
        break;
    case VM_EXIT_HYPERCALL:
        esr = ((uint64_t)0x16 << ESR_EC_SHIFT) | ESR_IL | (imm & 0xffff);
        r[R_IP] += 4;                              /* ELR_EL2: the instruction after HVC */
        break;
    case VM_EXIT_HALT:
        esr = ((uint64_t)0x01 << ESR_EC_SHIFT) | ESR_IL;   /* TI = 0: WFI */
        break;
    case VM_EXIT_FAULT:
        esr = ESR_IL;                              /* EC 0: unknown reason */
        break;
    default:
        return r[R_ERR];                           /* the IPC upcall's EC 0x3f */
    }
    r[R_ERR] = esr;
    return esr;
}

/* The first pending GICv3 list register, while the guest has IRQs unmasked: its vINTID.
 * The model's guest acknowledges and ends it by running its handler: the register goes
 * back to invalid and its ELSR bit is set. */
int64_t arch_vm_injection(uint8_t *area, const uint64_t *r)
{
    uint8_t *s = state(area);
    if (r[R_FLAGS] & PSTATE_I)
        return -1;
    for (unsigned i = 0; i < NUM_LR; i++) {
        uint8_t *lr = s + E_GIC_LR + 8 * i;
        uint64_t v = rd64(lr);
        if ((v & LR_STATE_MASK) == LR_PENDING) {
            wr64(lr, v & ~LR_STATE_MASK);
            uint32_t elsr;
            memcpy(&elsr, s + E_GIC_ELSR, sizeof(elsr));
            wr32(s + E_GIC_ELSR, elsr | (1u << i));
            return (int64_t)(v & 0xffffffffu);
        }
    }
    return -1;
}

void arch_vm_decode(uint8_t *area, const uint64_t *r, struct vm_exit_desc *out)
{
    (void)area;
    uint64_t esr = r[R_ERR], ec = esr >> ESR_EC_SHIFT;
    out->code = esr;
    out->advance = 4;
    switch (ec) {
    case 0x24:
    case 0x20:
        out->exit = VM_EXIT_STAGE2;
        out->gpa = r[R_PFA];
        out->exec = ec == 0x20;
        out->write = ec == 0x24 && (esr & ESR_WNR);
        if (ec == 0x24 && (esr & ESR_ISV)) {       /* uvmm's decode_mmio: SAS, SRT */
            out->size = 1u << ((esr >> 22) & 3);
            out->reg = (uint32_t)((esr >> 16) & 0x1f);
            if (out->write)                        /* SRT 31 is xzr: a store of 0 */
                out->value = out->reg == 31 ? 0 : r[out->reg];
        }
        break;
    case 0x16:
        out->exit = VM_EXIT_HYPERCALL;
        out->imm = esr & 0xffff;
        out->advance = 0;                          /* ELR is past the HVC already */
        break;
    case 0x01:
        out->exit = VM_EXIT_HALT;
        break;
    case 0x3f:
        out->exit = VM_EXIT_IRQ;
        out->advance = 0;
        break;
    case 0x00:
        out->exit = VM_EXIT_FAULT;
        break;
    default:
        break;
    }
}

/* L4_VCPU_E_* ids: the byte offset in Vm_state (bits 11:0), 64 bits wide with bit 15. */
uint8_t *arch_vm_field(uint8_t *area, uint32_t id, unsigned *bytes)
{
    const struct vcpu_layout *l = arch_vcpu_layout();
    uint32_t off = id & 0xfff;
    *bytes = (id & 0x8000) ? 8 : 4;
    if (id & ~(uint32_t)0x8fff || off % *bytes || off + *bytes > l->ext_size - l->ext_state)
        return NULL;
    return state(area) + off;
}

/* A pending group-1 GICv3 list register for vINTID `vector`, in a free (ELSR) slot. */
int arch_vm_inject(uint8_t *area, uint32_t vector, int raise)
{
    uint8_t *s = state(area);
    uint32_t elsr;
    memcpy(&elsr, s + E_GIC_ELSR, sizeof(elsr));
    if (vector >= 1u << 24)
        return -L4_EINVAL;
    for (unsigned i = 0; i < NUM_LR; i++) {
        uint8_t *lr = s + E_GIC_LR + 8 * i;
        uint64_t v = rd64(lr);
        if (!raise) {
            if ((v & LR_STATE_MASK) && (v & 0xffffffffu) == vector) {
                wr64(lr, 0);
                wr32(s + E_GIC_ELSR, elsr | (1u << i));
            }
            continue;
        }
        if (elsr & (1u << i)) {
            wr64(lr, LR_PENDING | ((uint64_t)1 << 60) | vector);
            wr32(s + E_GIC_ELSR, elsr & ~(1u << i));
            return 0;
        }
    }
    return raise ? -L4_EBUSY : 0;
}

/* ---- the guest's own stage 1 (TTBR0_EL1, 4 KiB granule, 48-bit) */

int arch_vm_s1(uint8_t *area, const uint64_t *r, uint64_t va, struct vm_s1 *s1)
{
    uint8_t *s = state(area);
    uint32_t sctlr;
    memcpy(&sctlr, s + E_SCTLR, sizeof(sctlr));
    if (!(sctlr & SCTLR_M))
        return 0;
    uint64_t tcr = rd64(s + E_TCR);
    if ((tcr & 0x3f) != 16 || ((tcr >> 14) & 3) != 0)
        return -L4_ENOSYS;                         /* T0SZ 16 and TG0 4 KiB only */
    *s1 = (struct vm_s1){ .root = rd64(s + E_TTBR0) & ARM_ADDR, .wp = 1,
                          .user = (r[R_FLAGS] & PSTATE_M_MASK) == 0 };
    if ((va >> 48) != 0 || (tcr & TCR_EPD0))       /* TTBR1 (not walked), or no walks */
        s1->fault = VM_S1_TRANSLATION;
    return 1;
}

uint32_t arch_vm_s1_entry(const struct vm_s1 *s1, unsigned level, uint64_t e, int leaf,
                          uint32_t *rights)
{
    (void)level;
    if (e & 0x000f000000000000ull)                 /* beyond the 48-bit output size */
        return VM_S1_RESERVED;
    if (leaf && !(e & ARM_AF))
        return VM_S1_ACCESS_FLAG;
    uint32_t rw = L4_FPAGE_RO | L4_FPAGE_W | L4_FPAGE_X;
    uint64_t no_x = s1->user ? ARM_UXN : ARM_PXN;
    if (leaf) {
        if (e & ARM_AP2_RO)
            rw &= ~(uint32_t)L4_FPAGE_W;
        if (s1->user && !(e & ARM_AP1_EL0))
            rw = 0;
    } else {                                       /* APTable 62:61, UXN/PXNTable 60:59 */
        if (e >> 62 & 1)
            rw &= ~(uint32_t)L4_FPAGE_W;
        if (s1->user && (e >> 61 & 1))
            rw = 0;
        no_x = s1->user ? (uint64_t)1 << 60 : (uint64_t)1 << 59;
    }
    if (e & no_x)
        rw &= ~(uint32_t)L4_FPAGE_X;
    *rights = rw;
    return 0;
}

void arch_vm_s1_fault(uint8_t *area, const struct vm_s1 *s1, uint64_t va, uint32_t access,
                      struct vm_guest_fault *out)
{
    static const uint32_t dfsc[] = { [VM_S1_TRANSLATION] = 0x04, [VM_S1_PERMISSION] = 0x0c,
                                     [VM_S1_RESERVED] = 0x00, [VM_S1_ACCESS_FLAG] = 0x08,
                                     [VM_S1_NONCANONICAL] = 0x04 };
    uint64_t ec = s1->user ? 0x24 : 0x25;
    uint32_t esr = (uint32_t)(ec << ESR_EC_SHIFT) | ESR_IL | dfsc[out->kind] | (out->level & 3);
    if (access & L4_FPAGE_W)
        esr |= ESR_WNR;
    out->vector = ec;
    out->code = esr;
    out->addr = va;
    wr32(state(area) + E_ESR_EL1, esr);
    wr64(state(area) + E_FAR_EL1, va);
}
