/*
 * pte.h (arm64): the VMSAv8-64 descriptor bits (Arm ARM D8), shared by paging.c
 * (the format) and mmu.c (the TLB model). Same file name in every arch folder; internal.
 */
#ifndef PYL4RE_ARCH_PTE_H
#define PYL4RE_ARCH_PTE_H

enum arm_pte {
    ARM_VALID = 0x1, ARM_TYPE_MASK = 0x3, ARM_TABLE = 0x3, ARM_BLOCK = 0x1, ARM_PAGE = 0x3,
    ARM_ATTRINDX_MASK = 0x1c, ARM_ATTR_DEVICE = 0 << 2, ARM_ATTR_NORMAL_NC = 1 << 2,
    ARM_ATTR_NORMAL_WB = 2 << 2,
    ARM_AP1_EL0 = 0x040, ARM_AP2_RO = 0x080, ARM_SH_INNER = 0x300, ARM_AF = 0x400,
    ARM_NG = 0x800,
    ARM_S2_MEMATTR_MASK = 0x3c, ARM_S2_DEVICE = 0x00, ARM_S2_NORMAL_NC = 0x14,
    ARM_S2_NORMAL_WB = 0x3c, ARM_S2AP_R = 0x040, ARM_S2AP_W = 0x080,
    ARM_LAST_LEVEL = 3,
};
#define ARM_PXN 0x0020000000000000         /* bit 53 */
#define ARM_UXN 0x0040000000000000         /* bit 54; stage 2: XN */
#define ARM_ADDR 0x0000fffffffff000        /* bits 47:12 */
#define ARM_S2_VA_MAX 0x0000ffffffffffff   /* 48-bit IPA (Fiasco's arm_pt48 stage 2) */

#endif
