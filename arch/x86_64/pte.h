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

#endif
