/*
 * pte.h (x86_64): the amd64 page-table entry bits (Intel SDM vol. 3 ch. 4), shared by paging.c
 * (the format) and mmu.c (the TLB model). Same file name in every arch folder; internal.
 */
#ifndef PYL4RE_ARCH_PTE_H
#define PYL4RE_ARCH_PTE_H

enum x86_pte {
    X86_P = 0x001, X86_W = 0x002, X86_U = 0x004, X86_PWT = 0x008, X86_PCD = 0x010,
    X86_A = 0x020, X86_D = 0x040, X86_PS = 0x080, X86_G = 0x100,
    X86_LAST_LEVEL = 3,
};
#define X86_XD 0x8000000000000000
#define X86_ADDR 0x000ffffffffff000       /* bits 51:12 */

/* VT-d second-level paging entries (Intel VT-d spec ch. 9.8; kernkonzept/fiasco
 * src/kern/ia32/dmar_space.cpp): R, W, and the super-page bit above the last level. */
enum vtd_pte {
    VTD_R = 0x001, VTD_W = 0x002, VTD_SP = 0x080,
};
#define VTD_VA_MAX 0x0000ffffffffffff     /* 48-bit (4-level) address width */
/* EPT entries (Intel SDM vol. 3 ch. 29.3.2; the same low bits as VT-d second-level
 * tables): R, W, X (supervisor execute), the EPT memory type in bits 5:3 (0 UC, 1 WC,
 * 6 WB), ignore-PAT, and the large-page bit above the last level. An entry with none of
 * R/W/X is not present. */
enum ept_pte {
    EPT_R = 0x001, EPT_W = 0x002, EPT_X = 0x004, EPT_RWX = 0x007,
    EPT_MT_MASK = 0x038, EPT_MT_UC = 0 << 3, EPT_MT_WC = 1 << 3, EPT_MT_WB = 6 << 3,
    EPT_IPAT = 0x040, EPT_LARGE = 0x080,
};
#define EPT_VA_MAX 0x0000ffffffffffff     /* 4-level EPT: 48-bit guest-physical addresses */

#endif
