/*
 * vm.c (mips64): the extended vCPU area of a MIPS VZ guest (§11.1; docs/vm.md): the
 * l4_vm_state_t at +0x400 (kernkonzept/l4re-core l4sys/include/ARCH-mips/vm.h): control
 * words (version, size, GuestCtl0Ext, GTOffset, GuestCtl1, GuestCtl2, the clean and
 * modified CP0 maps, GuestCtl0), then the guest CP0 registers, each a machine word. Same
 * function order in every arch/<arch>/vm.c.
 *
 * Exits are root exceptions taken in guest mode, in r's cause (r.err) with BadVAddr in
 * r.pfa and the faulting instruction in g_bad_instr: a root TLB miss or fault on a
 * guest-physical address (TLBL 2, TLBS 3, Mod 1, XI 20) with the load or store that did
 * it, a guest exit (GE, ExcCode 27) with GuestCtl0.GExcCode 2 (hypercall: HYPCALL) or 0
 * (GPSI: the WAIT instruction); an IRQ is the vCPU's IPC upcall (cause 0x100); a guest
 * program that cannot go on is a reserved-instruction exception (10).
 */
#include <string.h>

#include "pyl4re.h"
#include "arch_ops.h"

enum {
    S_VERSION = 0x00, S_SIZE = 0x08, S_GUEST_CTL_2 = 0x28, S_GUEST_CTL_0 = 0x38,
    S_G_STATUS = 0x40, S_G_BAD_INSTR = 0x140, S_END = 0x390, VM_STATE_VERSION = 1,
    GCTL0_GEXC_SHIFT = 2, GCTL0_GEXC_MASK = 0x1f << 2, GCTL0_CP0 = 1u << 28,
    GEXC_GPSI = 0, GEXC_HC = 2, EXC_GE = 27, EXC_RI = 10,
    ST_IE = 1u << 0, ST_EXL = 1u << 1, ST_ERL = 1u << 2, VIP_SHIFT = 10,
    R_DATA = 2, R_PFA = 36, R_CAUSE = 37,
    INSN_WAIT = 0x42000020, INSN_HYPCALL = 0x42000028,
};

const struct vm_layout *arch_vm_layout(void)
{
    static const struct vm_layout l = {
        .data_reg = R_DATA, .hc_regs = { 2, 4, 5, 6 },
        .len_access = 4, .len_hypercall = 4, .len_halt = 4, .hypercall_ip_after = 0,
        .ip_field = 0,
    };
    return &l;
}

static uint8_t *state(uint8_t *area)
{
    return area + arch_vcpu_layout()->ext_state;
}

static uint64_t rd(uint8_t *area, uint32_t off)
{
    uint64_t v;
    memcpy(&v, state(area) + off, sizeof(v));
    return v;
}

static void wr(uint8_t *area, uint32_t off, uint64_t v)
{
    memcpy(state(area) + off, &v, sizeof(v));
}

void arch_vm_init(uint8_t *area)
{
    memset(state(area), 0, S_END);
    wr(area, S_VERSION, VM_STATE_VERSION);
    wr(area, S_SIZE, S_END);
    wr(area, S_GUEST_CTL_0, GCTL0_CP0);            /* the guest has its own CP0 */
}

/* Fiasco's VZ entry loads what the modified map names and has no refusal the model
 * knows of; the kernel keeps GuestCtl0.CP0 set (a guest without CP0 is no VZ guest). */
int arch_vm_entry(uint8_t *area, uint64_t *r, const char **why)
{
    (void)r, (void)why;
    wr(area, S_GUEST_CTL_0, rd(area, S_GUEST_CTL_0) | GCTL0_CP0);
    return 0;
}

/* The MIPS load or store of `size` bytes through the data register (base $0, offset 0). */
static uint32_t access_insn(uint32_t size, int store)
{
    static const uint32_t load_op[9] = { 0, 0x24, 0x25, 0, 0x27, 0, 0, 0, 0x37 };
    static const uint32_t store_op[9] = { 0, 0x28, 0x29, 0, 0x2b, 0, 0, 0, 0x3f };
    uint32_t op = size <= 8 ? (store ? store_op[size] : load_op[size]) : 0;
    return op ? (op << 26) | ((uint32_t)R_DATA << 16) : 0;
}

uint64_t arch_vm_exit(uint8_t *area, uint64_t *r, uint32_t exit, const struct vm_access *a,
                      uint64_t imm, int ran)
{
    (void)ran;
    uint64_t ctl0 = rd(area, S_GUEST_CTL_0) & ~(uint64_t)GCTL0_GEXC_MASK;
    uint64_t code;
    switch (exit) {
    case VM_EXIT_STAGE2: {
        int w = (a->access & L4_FPAGE_W) != 0, x = (a->access & L4_FPAGE_X) != 0;
        code = w ? (a->present ? 1 : 3) : x && a->present ? 20 : 2;
        r[R_CAUSE] = code << 2;
        r[R_PFA] = a->gpa;
        wr(area, S_G_BAD_INSTR, a->size && !x ? access_insn(a->size, w) : 0);
        if (a->size && w)
            r[R_DATA] = a->value;
        return r[R_CAUSE];
    }
    case VM_EXIT_HYPERCALL:
        wr(area, S_GUEST_CTL_0, ctl0 | ((uint64_t)GEXC_HC << GCTL0_GEXC_SHIFT));
        wr(area, S_G_BAD_INSTR, INSN_HYPCALL | ((imm & 0x3ff) << 11));
        break;
    case VM_EXIT_HALT:
        wr(area, S_GUEST_CTL_0, ctl0 | ((uint64_t)GEXC_GPSI << GCTL0_GEXC_SHIFT));
        wr(area, S_G_BAD_INSTR, INSN_WAIT);
        break;
    case VM_EXIT_FAULT:
        r[R_CAUSE] = (uint64_t)EXC_RI << 2;        /* reserved instruction */
        return r[R_CAUSE];
    default:
        return r[R_CAUSE];                         /* the IPC upcall's 0x100 */
    }
    r[R_CAUSE] = (uint64_t)EXC_GE << 2;
    return r[R_CAUSE];
}

/* Guest interrupt pending bits GuestCtl2.VIP (IP2..IP7, bits 10..15) are levels the VMM
 * sets and clears; the lowest one the guest's Status lets through (IE, IM, no EXL/ERL) is
 * delivered at this entry. */
int64_t arch_vm_injection(uint8_t *area, const uint64_t *r)
{
    (void)r;
    uint64_t st = rd(area, S_G_STATUS), vip = rd(area, S_GUEST_CTL_2) >> VIP_SHIFT;
    if (!(st & ST_IE) || (st & (ST_EXL | ST_ERL)))
        return -1;
    for (unsigned ip = 2; ip < 8; ip++)
        if ((vip >> (ip - 2) & 1) && (st >> (8 + ip) & 1))
            return (int64_t)ip;
    return -1;
}

void arch_vm_decode(uint8_t *area, const uint64_t *r, struct vm_exit_desc *out)
{
    uint64_t cause = r[R_CAUSE], code = (cause >> 2) & 0x1f;
    uint32_t insn = (uint32_t)rd(area, S_G_BAD_INSTR), op = insn >> 26;
    out->code = cause;
    out->advance = 4;
    if (cause == 0x100) {
        out->exit = VM_EXIT_IRQ;
        out->advance = 0;
    } else if (code == 1 || code == 2 || code == 3 || code == 20) {
        out->exit = VM_EXIT_STAGE2;
        out->gpa = r[R_PFA];
        out->write = code == 1 || code == 3;
        out->exec = code == 20 || (code == 2 && !insn);
        static const uint8_t size_of_op[64] = {
            [0x24] = 1, [0x25] = 2, [0x27] = 4, [0x37] = 8,
            [0x28] = 1, [0x29] = 2, [0x2b] = 4, [0x3f] = 8 };
        if (insn && size_of_op[op]) {              /* uvmm decodes the load or store */
            out->size = size_of_op[op];
            out->reg = (insn >> 16) & 0x1f;
            if (out->write)
                out->value = r[out->reg];
        }
    } else if (code == EXC_RI) {
        out->exit = VM_EXIT_FAULT;
    } else if (code == EXC_GE) {
        uint64_t gexc = (rd(area, S_GUEST_CTL_0) & GCTL0_GEXC_MASK) >> GCTL0_GEXC_SHIFT;
        if (gexc == GEXC_HC && (insn & ~(0x3ffu << 11)) == INSN_HYPCALL) {
            out->exit = VM_EXIT_HYPERCALL;
            out->imm = (insn >> 11) & 0x3ff;
        } else if (gexc == GEXC_GPSI && insn == INSN_WAIT)
            out->exit = VM_EXIT_HALT;
    }
}

/* The model's ids: byte offsets into l4_vm_state_t, machine words except the two CP0
 * maps (u32 at 0x30 and 0x34). */
uint8_t *arch_vm_field(uint8_t *area, uint32_t id, unsigned *bytes)
{
    *bytes = (id == 0x30 || id == 0x34) ? 4 : 8;
    if (id >= S_END || id % *bytes)
        return NULL;
    return state(area) + id;
}

/* GuestCtl2.VIP bit of guest interrupt line IP2..IP7: a level, until withdrawn. */
int arch_vm_inject(uint8_t *area, uint32_t vector, int raise)
{
    if (vector < 2 || vector > 7)
        return -L4_EINVAL;
    uint64_t bit = (uint64_t)1 << (VIP_SHIFT + vector - 2), v = rd(area, S_GUEST_CTL_2);
    wr(area, S_GUEST_CTL_2, raise ? v | bit : v & ~bit);
    return 0;
}

/* ---- the guest's own MMU: the VZ guest TLB (guest CP0 Index/EntryHi/EntryLo, tlbwi in
 * guest mode). The model's guest programs address memory as kseg0/kseg1 code does,
 * unmapped: their addresses are guest-physical, so there is nothing to walk (docs/vm.md). */

int arch_vm_s1(uint8_t *area, const uint64_t *r, uint64_t va, struct vm_s1 *s1)
{
    (void)area, (void)r, (void)va, (void)s1;
    return 0;
}

uint32_t arch_vm_s1_entry(const struct vm_s1 *s1, unsigned level, uint64_t e, int leaf,
                          uint32_t *rights)
{
    (void)s1, (void)level, (void)e, (void)leaf;
    *rights = 0;
    return VM_S1_TRANSLATION;
}

void arch_vm_s1_fault(uint8_t *area, const struct vm_s1 *s1, uint64_t va, uint32_t access,
                      struct vm_guest_fault *out)
{
    (void)area, (void)s1, (void)access;
    out->vector = 0, out->code = 0, out->addr = va;
}
