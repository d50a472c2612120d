/*
 * paging.c (arm64): the VMSAv8-64 translation-table formats (Arm ARM D8; §14.2), encoded as
 * Fiasco encodes them (kernkonzept/fiasco src/kern/arm/: the Pte_long_attribs and
 * Pte_stage2_attribs mix-ins). Same function order in every arch/<arch>/paging.c; only hardware
 * facts differ.
 *
 * 4 KiB granule, 48-bit input addresses, 4 levels indexing bits 39/30/21/12. Table
 * descriptor = phys | 0b11; block (1 GiB at level 1, 2 MiB at level 2) = 0b01; page (level
 * 3) = 0b11; level 0 holds tables only. Every leaf has AF (0x400, no hardware AF
 * management) and SH = inner shareable (0x300).
 * Stage 1 (user tasks at EL0): AttrIndx into MAIR 0x00FF4400 (0 device-nGnRnE = uncached,
 * 1 normal non-cacheable = buffered, 2 normal write-back = cached), nG for every user
 * mapping, AP[2] when W is absent, AP[1] for EL0 access, UXN for kernel-only pages, and
 * UXN | PXN when X is absent.
 * Stage 2 (VMs, IPA -> PA, 48-bit IPA): MemAttr 0xF normal WB, 0x5 normal NC, 0x0 device;
 * S2AP bit 6 read, bit 7 write; XN (bit 54) when X is absent.
 * DMA spaces (the SMMU's stage-2 translation of device streams) use the stage-2 format
 * with 4 KiB, 2 MiB and 1 GiB pages, as Fiasco's ARM Dmar_space does. The SMMU's TLB is
 * not modelled: every device access walks the table.
 * Neither reports access flags on unmap.
 */
#include "ptab.h"
#include "pte.h"

static const unsigned arm_shift[] = { 39, 30, 21, 12 };

/* ---- stage 1 (user tasks) */

static enum pt_entry_type s1_type(unsigned level, uint64_t e)
{
    if (!(e & ARM_VALID))
        return PTE_NONE;
    if (level == ARM_LAST_LEVEL)
        return (e & ARM_TYPE_MASK) == ARM_PAGE ? PTE_LEAF : PTE_NONE;
    if ((e & ARM_TYPE_MASK) == ARM_TABLE)
        return PTE_TABLE;
    return level == 0 ? PTE_NONE : PTE_LEAF;       /* no level-0 blocks with 4 KiB granule */
}

static uint64_t s1_make_table(phys_addr_t next)
{
    return next.raw | ARM_TABLE;
}

static phys_addr_t s1_table_addr(uint64_t e)
{
    return phys_addr(e & ARM_ADDR);
}

static uint64_t s1_attribs(uint32_t rights, uint32_t cache)
{
    uint64_t a = ARM_SH_INNER | ARM_NG;            /* user mappings are never global */
    if (cache == VSPACE_CACHE_NORMAL)
        a |= ARM_ATTR_NORMAL_WB;
    else if (cache == VSPACE_CACHE_BUFFERED)
        a |= ARM_ATTR_NORMAL_NC;
    else
        a |= ARM_ATTR_DEVICE;
    if (!(rights & L4_FPAGE_W))
        a |= ARM_AP2_RO;
    if (rights & VSPACE_RIGHT_U)
        a |= ARM_AP1_EL0;
    else
        a |= ARM_UXN;                              /* kernel pages never run at EL0 */
    if (!(rights & L4_FPAGE_X))
        a |= ARM_UXN | ARM_PXN;
    return a;
}

static uint64_t s1_make_leaf(unsigned level, phys_addr_t pa, uint32_t rights, uint32_t cache)
{
    uint64_t type = level == ARM_LAST_LEVEL ? ARM_PAGE : ARM_BLOCK;
    return pa.raw | s1_attribs(rights, cache) | ARM_AF | type;
}

static uint32_t s1_cache(uint64_t e)
{
    switch (e & ARM_ATTRINDX_MASK) {
    case ARM_ATTR_NORMAL_NC:
        return VSPACE_CACHE_BUFFERED;
    case ARM_ATTR_DEVICE:
        return VSPACE_CACHE_UNCACHED;
    default:
        return VSPACE_CACHE_NORMAL;
    }
}

static void s1_read_leaf(unsigned level, uint64_t e, struct pt_leaf *out)
{
    out->pa = phys_addr(e & ARM_ADDR & ~(((uint64_t)1 << arm_shift[level]) - 1));
    out->rights = L4_FPAGE_RO;                     /* R is presence */
    if (!(e & ARM_AP2_RO))
        out->rights |= L4_FPAGE_W;
    if (e & ARM_AP1_EL0)
        out->rights |= VSPACE_RIGHT_U;
    if (!(e & (ARM_PXN | ARM_UXN)))
        out->rights |= L4_FPAGE_X;
    out->cache = s1_cache(e);
    out->flags = 0;
}

static uint64_t s1_revoke(uint64_t e, uint32_t rights)
{
    if (rights & L4_FPAGE_W)
        e |= ARM_AP2_RO;
    if (rights & L4_FPAGE_X)
        e |= ARM_UXN | ARM_PXN;
    return e;
}

static uint64_t s1_clear_flags(uint64_t e)
{
    return e;                                      /* no hardware access flags reported */
}

/* ---- stage 2 (VMs): same descriptors, other attribute bits */

static uint64_t s2_attribs(uint32_t rights, uint32_t cache)
{
    uint64_t a = ARM_SH_INNER;
    if (cache == VSPACE_CACHE_NORMAL)
        a |= ARM_S2_NORMAL_WB;
    else if (cache == VSPACE_CACHE_BUFFERED)
        a |= ARM_S2_NORMAL_NC;
    else
        a |= ARM_S2_DEVICE;
    if (rights & L4_FPAGE_RO)
        a |= ARM_S2AP_R;
    if (rights & L4_FPAGE_W)
        a |= ARM_S2AP_W;
    if (!(rights & L4_FPAGE_X))
        a |= ARM_UXN;
    return a;
}

static uint64_t s2_make_leaf(unsigned level, phys_addr_t pa, uint32_t rights, uint32_t cache)
{
    uint64_t type = level == ARM_LAST_LEVEL ? ARM_PAGE : ARM_BLOCK;
    return pa.raw | s2_attribs(rights, cache) | ARM_AF | type;
}

static uint32_t s2_cache(uint64_t e)
{
    switch (e & ARM_S2_MEMATTR_MASK) {
    case ARM_S2_NORMAL_NC:
        return VSPACE_CACHE_BUFFERED;
    case ARM_S2_DEVICE:
        return VSPACE_CACHE_UNCACHED;
    default:
        return VSPACE_CACHE_NORMAL;
    }
}

static void s2_read_leaf(unsigned level, uint64_t e, struct pt_leaf *out)
{
    out->pa = phys_addr(e & ARM_ADDR & ~(((uint64_t)1 << arm_shift[level]) - 1));
    out->rights = VSPACE_RIGHT_U;                  /* a guest's memory is all "user" */
    if (e & ARM_S2AP_R)
        out->rights |= L4_FPAGE_RO;
    if (e & ARM_S2AP_W)
        out->rights |= L4_FPAGE_W;
    if (!(e & ARM_UXN))
        out->rights |= L4_FPAGE_X;
    out->cache = s2_cache(e);
    out->flags = 0;
}

static uint64_t s2_revoke(uint64_t e, uint32_t rights)
{
    if (rights & L4_FPAGE_W)
        e &= ~(uint64_t)ARM_S2AP_W;
    if (rights & L4_FPAGE_X)
        e |= ARM_UXN;
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

/* ---- the formats this architecture offers */

static const struct pt_format arm_user = {
    .name = "VMSAv8-64 stage 1, 4 KiB granule",
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

static const struct pt_format arm_vm = {
    .name = "VMSAv8-64 stage 2, 4 KiB granule, 48-bit IPA",
    .levels = 4,
    .level = { { 39, 9, 0 }, { 30, 9, 1 }, { 21, 9, 1 }, { 12, 9, 1 } },
    .va_max = ARM_S2_VA_MAX,
    .type = s1_type,
    .make_table = s1_make_table,
    .table_addr = s1_table_addr,
    .make_leaf = s2_make_leaf,
    .read_leaf = s2_read_leaf,
    .revoke = s2_revoke,
    .clear_flags = s1_clear_flags,
    .tlb_flush_page = arch_mmu_flush_page,
    .tlb_forget_space = arch_mmu_forget_space,
};

static const struct pt_format arm_dma = {
    .name = "SMMU stage 2 (VMSAv8-64 stage-2 descriptors), 4 KiB granule",
    .levels = 4,
    .level = { { 39, 9, 0 }, { 30, 9, 1 }, { 21, 9, 1 }, { 12, 9, 1 } },
    .va_max = ARM_S2_VA_MAX,
    .type = s1_type,
    .make_table = s1_make_table,
    .table_addr = s1_table_addr,
    .make_leaf = s2_make_leaf,
    .read_leaf = s2_read_leaf,
    .revoke = s2_revoke,
    .clear_flags = s1_clear_flags,
    .tlb_flush_page = iotlb_flush_page,
    .tlb_forget_space = iotlb_forget_space,
};

const struct pt_format *arch_pt_format(uint32_t kind)
{
    switch (kind) {
    case VSPACE_KIND_USER:
        return &arm_user;
    case VSPACE_KIND_VM:
        return &arm_vm;
    case VSPACE_KIND_DMA:
        return &arm_dma;
    default:
        return NULL;
    }
}
