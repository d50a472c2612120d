/*
 * paging.c (x86_64): the amd64 4-level page-table format (Intel SDM vol. 3 ch. 4; §14.1),
 * encoded as Fiasco encodes it (kernkonzept/fiasco src/kern/ia32/paging-ia32.cpp).
 * Same function order in every arch/<arch>/paging.c; only hardware facts differ.
 *
 * Levels index VA bits 39/30/21/12 (512 entries each); leaves of 1 GiB (PDPTE with PS),
 * 2 MiB (PDE with PS) and 4 KiB. Non-leaf entries are phys | P | U | W. A leaf is
 * phys | P | (W) | U | (PS above level 3) | cache bits | (XD unless X). Caching through the
 * PAT Fiasco programs (0x0007040600010406): normal = WB (index 0), buffered = PCD (index 2,
 * WC), uncached = PCD | PWT (index 3, UC). The CPU sets A/D; they read back as
 * Referenced/Dirty.
 * DMA spaces use VT-d's second-level format (EPT-like): entries are phys | R | W, tables
 * phys | R | W; Fiasco's Dmar_space offers 4 KiB pages only and never sets X, so a DMA
 * page is R or RW, always cached (snoop control is the IOMMU's), without access flags.
 * The IOTLB is not modelled: every device access walks the table.
 * VMs use EPT (Intel SDM vol. 3 ch. 29.3; Fiasco's Vm_vmx_ept, src/kern/ia32/vm_vmx_ept.cpp):
 * 4 levels over 48-bit guest-physical addresses, the same indices and leaf sizes; tables
 * are phys | R | W | X (permissions are the AND over the levels), a leaf is phys | R | (W)
 * | (X) | memory type (WB 6 normal, WC 1 buffered, UC 0 uncached) | (large page above the
 * last level). R is always there (L4 rights are never write- or execute-only here). The
 * accessed/dirty bits of EPT stay off (Fiasco does not enable them): no access flags.
 */
#include "ptab.h"
#include "pte.h"

static const unsigned x86_shift[] = { 39, 30, 21, 12 };

/* ---- stage 1 (user tasks) */

static enum pt_entry_type s1_type(unsigned level, uint64_t e)
{
    if (!(e & X86_P))
        return PTE_NONE;
    return level == X86_LAST_LEVEL || (e & X86_PS) ? PTE_LEAF : PTE_TABLE;
}

static uint64_t s1_make_table(phys_addr_t next)
{
    return next.raw | X86_P | X86_U | X86_W;
}

static phys_addr_t s1_table_addr(uint64_t e)
{
    return phys_addr(e & X86_ADDR);
}

static uint64_t s1_attribs(uint32_t rights, uint32_t cache)
{
    uint64_t a = 0;
    if (rights & L4_FPAGE_W)
        a |= X86_W;
    if (rights & VSPACE_RIGHT_U)
        a |= X86_U;
    if (!(rights & L4_FPAGE_X))
        a |= X86_XD;
    if (cache == VSPACE_CACHE_BUFFERED)
        a |= X86_PCD;
    else if (cache == VSPACE_CACHE_UNCACHED)
        a |= X86_PCD | X86_PWT;
    return a;
}

static uint64_t s1_make_leaf(unsigned level, phys_addr_t pa, uint32_t rights, uint32_t cache)
{
    uint64_t ps = level < X86_LAST_LEVEL ? X86_PS : 0;
    return pa.raw | s1_attribs(rights, cache) | ps | X86_P;
}

static void s1_read_leaf(unsigned level, uint64_t e, struct pt_leaf *out)
{
    out->pa = phys_addr(e & X86_ADDR & ~(((uint64_t)1 << x86_shift[level]) - 1));
    out->rights = L4_FPAGE_RO;                     /* R is presence */
    if (e & X86_W)
        out->rights |= L4_FPAGE_W;
    if (e & X86_U)
        out->rights |= VSPACE_RIGHT_U;
    if (!(e & X86_XD))
        out->rights |= L4_FPAGE_X;
    switch (e & (X86_PCD | X86_PWT)) {
    case X86_PCD:
        out->cache = VSPACE_CACHE_BUFFERED;
        break;
    case X86_PCD | X86_PWT:
        out->cache = VSPACE_CACHE_UNCACHED;
        break;
    default:
        out->cache = VSPACE_CACHE_NORMAL;
        break;
    }
    out->flags = ((e & X86_A) ? L4_FP_REFERENCED : 0) | ((e & X86_D) ? L4_FP_DIRTY : 0);
}

static uint64_t s1_revoke(uint64_t e, uint32_t rights)
{
    if (rights & L4_FPAGE_W)
        e &= ~(uint64_t)X86_W;
    if (rights & L4_FPAGE_X)
        e |= X86_XD;
    return e;
}

static uint64_t s1_clear_flags(uint64_t e)
{
    return e & ~(uint64_t)(X86_A | X86_D);
}

/* ---- VT-d second level (DMA spaces) */

static enum pt_entry_type sl_type(unsigned level, uint64_t e)
{
    if (!(e & (VTD_R | VTD_W)))
        return PTE_NONE;
    return level == X86_LAST_LEVEL || (e & VTD_SP) ? PTE_LEAF : PTE_TABLE;
}

static uint64_t sl_make_table(phys_addr_t next)
{
    return next.raw | VTD_R | VTD_W;
}

static uint64_t sl_make_leaf(unsigned level, phys_addr_t pa, uint32_t rights, uint32_t cache)
{
    (void)cache;
    uint64_t sp = level < X86_LAST_LEVEL ? VTD_SP : 0;
    return pa.raw | VTD_R | ((rights & L4_FPAGE_W) ? VTD_W : 0) | sp;
}

static void sl_read_leaf(unsigned level, uint64_t e, struct pt_leaf *out)
{
    out->pa = phys_addr(e & X86_ADDR & ~(((uint64_t)1 << x86_shift[level]) - 1));
    out->rights = VSPACE_RIGHT_U | ((e & VTD_R) ? L4_FPAGE_RO : 0)
                  | ((e & VTD_W) ? L4_FPAGE_W : 0);
    out->cache = VSPACE_CACHE_NORMAL;
    out->flags = 0;
}

static uint64_t sl_revoke(uint64_t e, uint32_t rights)
{
    return (rights & L4_FPAGE_W) ? e & ~(uint64_t)VTD_W : e;   /* no X to take */
}

static uint64_t sl_clear_flags(uint64_t e)
{
    return e;
}

static void iotlb_flush_page(kernel_t *k, phys_addr_t root, virt_addr_t va, unsigned shift)
{
    (void)k, (void)root, (void)va, (void)shift;
}

static void iotlb_forget_space(kernel_t *k, phys_addr_t root)
{
    (void)k, (void)root;
}

/* ---- EPT (VMs) */

static enum pt_entry_type ept_type(unsigned level, uint64_t e)
{
    if (!(e & EPT_RWX))
        return PTE_NONE;
    return level == X86_LAST_LEVEL || (e & EPT_LARGE) ? PTE_LEAF : PTE_TABLE;
}

static uint64_t ept_make_table(phys_addr_t next)
{
    return next.raw | EPT_RWX;
}

static uint64_t ept_make_leaf(unsigned level, phys_addr_t pa, uint32_t rights, uint32_t cache)
{
    uint64_t e = pa.raw | EPT_R;
    if (rights & L4_FPAGE_W)
        e |= EPT_W;
    if (rights & L4_FPAGE_X)
        e |= EPT_X;
    if (cache == VSPACE_CACHE_NORMAL)
        e |= EPT_MT_WB;
    else if (cache == VSPACE_CACHE_BUFFERED)
        e |= EPT_MT_WC;
    else
        e |= EPT_MT_UC;
    return e | (level < X86_LAST_LEVEL ? EPT_LARGE : 0);
}

static void ept_read_leaf(unsigned level, uint64_t e, struct pt_leaf *out)
{
    out->pa = phys_addr(e & X86_ADDR & ~(((uint64_t)1 << x86_shift[level]) - 1));
    out->rights = VSPACE_RIGHT_U                   /* a guest's memory is all "user" */
                  | ((e & EPT_R) ? L4_FPAGE_RO : 0) | ((e & EPT_W) ? L4_FPAGE_W : 0)
                  | ((e & EPT_X) ? L4_FPAGE_X : 0);
    switch (e & EPT_MT_MASK) {
    case EPT_MT_WB:
        out->cache = VSPACE_CACHE_NORMAL;
        break;
    case EPT_MT_WC:
        out->cache = VSPACE_CACHE_BUFFERED;
        break;
    default:
        out->cache = VSPACE_CACHE_UNCACHED;
        break;
    }
    out->flags = 0;
}

static uint64_t ept_revoke(uint64_t e, uint32_t rights)
{
    if (rights & L4_FPAGE_W)
        e &= ~(uint64_t)EPT_W;
    if (rights & L4_FPAGE_X)
        e &= ~(uint64_t)EPT_X;
    return e;
}

static uint64_t ept_clear_flags(uint64_t e)
{
    return e;                                      /* EPT A/D bits are not enabled */
}

/* ---- the formats this architecture offers */

static const struct pt_format x86_user = {
    .name = "amd64 4-level",
    .levels = 4,
    .level = { { 39, 9, 0 }, { 30, 9, 1 }, { 21, 9, 1 }, { 12, 9, 1 } },
    .va_max = ARCH_USER_MAX,
    .type = s1_type,
    .make_table = s1_make_table,
    .table_addr = s1_table_addr,
    .make_leaf = s1_make_leaf,
    .read_leaf = s1_read_leaf,
    .revoke = s1_revoke,
    .clear_flags = s1_clear_flags,
    .tlb_flush_page = arch_mmu_flush_page,
    .tlb_forget_space = arch_mmu_forget_space,
};

static const struct pt_format x86_dma = {
    .name = "VT-d second level, 4 KiB pages",
    .levels = 4,
    .level = { { 39, 9, 0 }, { 30, 9, 0 }, { 21, 9, 0 }, { 12, 9, 1 } },
    .va_max = VTD_VA_MAX,
    .type = sl_type,
    .make_table = sl_make_table,
    .table_addr = s1_table_addr,
    .make_leaf = sl_make_leaf,
    .read_leaf = sl_read_leaf,
    .revoke = sl_revoke,
    .clear_flags = sl_clear_flags,
    .tlb_flush_page = iotlb_flush_page,
    .tlb_forget_space = iotlb_forget_space,
};

static const struct pt_format x86_vm = {
    .name = "EPT 4-level, 48-bit guest-physical",
    .levels = 4,
    .level = { { 39, 9, 0 }, { 30, 9, 1 }, { 21, 9, 1 }, { 12, 9, 1 } },
    .va_max = EPT_VA_MAX,
    .type = ept_type,
    .make_table = ept_make_table,
    .table_addr = s1_table_addr,
    .make_leaf = ept_make_leaf,
    .read_leaf = ept_read_leaf,
    .revoke = ept_revoke,
    .clear_flags = ept_clear_flags,
    .tlb_flush_page = arch_mmu_flush_page,
    .tlb_forget_space = arch_mmu_forget_space,
};

const struct pt_format *arch_pt_format(uint32_t kind)
{
    switch (kind) {
    case VSPACE_KIND_USER:
        return &x86_user;
    case VSPACE_KIND_DMA:
        return &x86_dma;
    case VSPACE_KIND_VM:
        return &x86_vm;
    default:
        return NULL;
    }
}
