/*
 * pte.h (mips64): Fiasco's software page-table entry (§14.3; kernkonzept/fiasco
 * src/kern/mips/paging-mips.cpp), shared by paging.c (the format) and mmu.c (the TLB
 * model). Same file name in every arch folder; internal.
 *
 * A PTE is an EntryLo value shifted left by 6 (PWField.PTEI = 6), so the physical address
 * sits at bits 12 and up, with XI and RI moved down to bits 4 and 5. Directory entries hold
 * the next table's physical address; 0 is an empty entry at every level.
 */
#ifndef PYL4RE_ARCH_PTE_H
#define PYL4RE_ARCH_PTE_H

enum mips_pte {
    MIPS_PTE_LEAF = 0x001,      /* software marker: a PTE, not a directory (PWCtl.PSn = 0) */
    MIPS_PTE_XI = 0x010,        /* execute inhibit */
    MIPS_PTE_RI = 0x020,        /* read inhibit */
    MIPS_PTE_G = 0x040,         /* global (never for user mappings) */
    MIPS_PTE_V = 0x080,         /* valid */
    MIPS_PTE_D = 0x100,         /* dirty = writable */
    MIPS_PTE_C_SHIFT = 9,       /* cache coherency attribute, 3 bits */
    MIPS_PTE_C_MASK = 0xe00,
    MIPS_PTE_EXTRA_SHIFT = 4,   /* bits below XI that EntryLo does not have */
    MIPS_CCA_UNCACHED = 2,      /* also "buffered": Fiasco does not use UCA */
    MIPS_CCA_CACHED = 3,        /* Config0.K0 the model assumes (cacheable, write-back) */
    MIPS_LAST_LEVEL = 3,
};
#define MIPS_PTE_ADDR 0x00fffffffffff000   /* bits 55:12 */

/* EntryLo (MIPS64 PRA): G 0, V 1, D 2, C 3..5, PFN from 6, XI 62, RI 63. */
enum mips_entrylo {
    MIPS_LO_G = 0x1, MIPS_LO_V = 0x2, MIPS_LO_D = 0x4, MIPS_LO_PFN_SHIFT = 6,
};
#define MIPS_LO_XI 0x4000000000000000
#define MIPS_LO_RI 0x8000000000000000
#define MIPS_LO_PFN 0x3fffffffffffffc0

#endif
