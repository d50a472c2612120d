/*
 * paging.c (mips64): Fiasco's software-walked MIPS64 page table (§14.3; kernkonzept/fiasco
 * src/kern/mips/paging-mips.cpp), laid out for the hardware page-table walker's
 * PWField/PWSize. Same function order in every arch/<arch>/paging.c; only hardware facts
 * differ.
 *
 * 4 levels indexing VA bits 39/30/21/PAGE_SHIFT, 9 bits each except the last, which has
 * 21 - PAGE_SHIFT bits (7 with the default 16 KiB pages, 9 with 4 KiB). Leaves only at the
 * last level: Fiasco's MIPS port maps no user superpages. A leaf is
 * pa | C << 9 | D (W) | V | RI (no R) | XI (no X) | leaf marker; G never for user pages.
 * Cached = Config0.K0 (3 here); uncached = 2; buffered falls back to uncached, so it reads
 * back as uncached. No hardware access flags. The TLB is refilled from this table in
 * software (mmu.c).
 * DMA spaces: Fiasco has no MIPS IOMMU driver, so the model gives DMA spaces this same
 * table format (its own choice, documented in docs/iommu.md), walked by the simulated
 * IOMMU directly (no TLB).
 * VMs (MIPS VZ): Fiasco keeps a VM's guest-physical space in the same software table as a
 * task's (a Vm is a Task with a Mem_space), and the root TLB is refilled from it with the
 * VM's GuestID (GuestCtl1.RID) in each entry: there is no second hardware table format,
 * so the VM kind is this format over guest-physical addresses.
 */
#include "ptab.h"
#include "pte.h"

/* ---- the one entry format (tasks and VMs) */

static enum pt_entry_type s1_type(unsigned level, uint64_t e)
{
    if (level < MIPS_LAST_LEVEL)
        return e && !(e & MIPS_PTE_LEAF) ? PTE_TABLE : PTE_NONE;
    return (e & MIPS_PTE_V) ? PTE_LEAF : PTE_NONE;
}

static uint64_t s1_make_table(phys_addr_t next)
{
    return next.raw;
}

static phys_addr_t s1_table_addr(uint64_t e)
{
    return phys_addr(e);
}

static uint64_t s1_attribs(uint32_t rights, uint32_t cache)
{
    uint64_t cca = cache == VSPACE_CACHE_NORMAL ? MIPS_CCA_CACHED : MIPS_CCA_UNCACHED;
    uint64_t a = cca << MIPS_PTE_C_SHIFT;
    if (rights & L4_FPAGE_W)
        a |= MIPS_PTE_D;
    if (!(rights & L4_FPAGE_RO))
        a |= MIPS_PTE_RI;
    if (!(rights & L4_FPAGE_X))
        a |= MIPS_PTE_XI;
    return a;
}

static uint64_t s1_make_leaf(unsigned level, phys_addr_t pa, uint32_t rights, uint32_t cache)
{
    (void)level;
    return pa.raw | s1_attribs(rights, cache) | MIPS_PTE_V | MIPS_PTE_LEAF;
}

static void s1_read_leaf(unsigned level, uint64_t e, struct pt_leaf *out)
{
    (void)level;
    out->pa = phys_addr(e & MIPS_PTE_ADDR & ~(((uint64_t)1 << ARCH_PAGE_SHIFT) - 1));
    out->rights = VSPACE_RIGHT_U;                  /* the PTE has no user bit: xuseg is user */
    if (!(e & MIPS_PTE_RI))
        out->rights |= L4_FPAGE_RO;
    if (e & MIPS_PTE_D)
        out->rights |= L4_FPAGE_W;
    if (!(e & MIPS_PTE_XI))
        out->rights |= L4_FPAGE_X;
    uint64_t cca = (e & MIPS_PTE_C_MASK) >> MIPS_PTE_C_SHIFT;
    out->cache = cca == MIPS_CCA_UNCACHED ? VSPACE_CACHE_UNCACHED : VSPACE_CACHE_NORMAL;
    out->flags = 0;
}

static uint64_t s1_revoke(uint64_t e, uint32_t rights)
{
    if (rights & L4_FPAGE_W)
        e &= ~(uint64_t)MIPS_PTE_D;
    if (rights & L4_FPAGE_X)
        e |= MIPS_PTE_XI;
    return e;
}

static uint64_t s1_clear_flags(uint64_t e)
{
    return e;                                      /* no hardware access flags */
}

static void iotlb_flush_page(kernel_t *k, phys_addr_t root, virt_addr_t va, unsigned shift)
{
    (void)k, (void)root, (void)va, (void)shift;
}

static void iotlb_forget_space(kernel_t *k, phys_addr_t root)
{
    (void)k, (void)root;
}

/* ---- the formats this architecture offers */

static const struct pt_format mips_user = {
    .name = "MIPS64 Fiasco software table",
    .levels = 4,
    .level = { { 39, 9, 0 }, { 30, 9, 0 }, { 21, 9, 0 },
               { ARCH_PAGE_SHIFT, 21 - ARCH_PAGE_SHIFT, 1 } },
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

static const struct pt_format mips_dma = {
    .name = "MIPS64 Fiasco software table (the model's DMA format)",
    .levels = 4,
    .level = { { 39, 9, 0 }, { 30, 9, 0 }, { 21, 9, 0 },
               { ARCH_PAGE_SHIFT, 21 - ARCH_PAGE_SHIFT, 1 } },
    .va_max = ARCH_USER_MAX,
    .type = s1_type,
    .make_table = s1_make_table,
    .table_addr = s1_table_addr,
    .make_leaf = s1_make_leaf,
    .read_leaf = s1_read_leaf,
    .revoke = s1_revoke,
    .clear_flags = s1_clear_flags,
    .tlb_flush_page = iotlb_flush_page,
    .tlb_forget_space = iotlb_forget_space,
};

static const struct pt_format mips_vm = {
    .name = "MIPS64 Fiasco software table, guest-physical (root TLB tagged by GuestID)",
    .levels = 4,
    .level = { { 39, 9, 0 }, { 30, 9, 0 }, { 21, 9, 0 },
               { ARCH_PAGE_SHIFT, 21 - ARCH_PAGE_SHIFT, 1 } },
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

const struct pt_format *arch_pt_format(uint32_t kind)
{
    switch (kind) {
    case VSPACE_KIND_USER:
        return &mips_user;
    case VSPACE_KIND_DMA:
        return &mips_dma;
    case VSPACE_KIND_VM:
        return &mips_vm;
    default:
        return NULL;
    }
}
