/*
 * ptab.h: the generic page-table walk and the per-architecture format it is parameterised
 * by (internal; the boundary is vspace_api.h).
 *
 * The generic walk never asks which architecture it is. A format describes its levels
 * (which VA bits index them, which may hold leaves) and converts between entries and
 * arch-neutral values (physical address, L4 rights, cacheability, access flags); the
 * instances live in arch/<arch>/paging.c. Tables are single frames in physical memory;
 * entries are 8 bytes, little-endian.
 */
#ifndef PYL4RE_PTAB_H
#define PYL4RE_PTAB_H

#include "kernel.h"

struct quota;
struct task;

enum pt_entry_type {
    PTE_NONE = 0,     /* nothing mapped (invalid entry) */
    PTE_TABLE = 1,    /* points to the next level's table */
    PTE_LEAF = 2,     /* maps a page of 1 << level shift bytes */
};

enum {
    PT_MAX_LEVELS = VSPACE_MAX_LEVELS,
    PT_ENTRY_BYTES = 8,
    PT_TABLE_BYTES = VSPACE_TABLE_BYTES,
    PTAB_ESHAPE = -L4_EEXIST,  /* a leaf or table of another size is in the way */
};

/* A leaf in arch-neutral terms. */
struct pt_leaf {
    phys_addr_t pa;           /* first byte of the page */
    uint32_t rights;          /* L4_FPAGE_{RO,W,X} | VSPACE_RIGHT_U */
    uint32_t cache;           /* enum vspace_cache */
    uint32_t flags;           /* L4_FP_REFERENCED | L4_FP_DIRTY */
};

struct pt_level {
    uint8_t shift;            /* lowest VA bit of this level's index */
    uint8_t bits;             /* index width; 8 << bits <= PT_TABLE_BYTES */
    uint8_t leaf_ok;          /* may hold a leaf of 1 << shift bytes */
};

/* One page-table format. Encoders get arch-neutral values that vspace.c already checked. */
struct pt_format {
    const char *name;
    unsigned levels;
    struct pt_level level[PT_MAX_LEVELS];
    uint64_t va_max;                                   /* highest mappable address */

    enum pt_entry_type (*type)(unsigned level, uint64_t e);
    uint64_t (*make_table)(phys_addr_t next);
    phys_addr_t (*table_addr)(uint64_t e);
    uint64_t (*make_leaf)(unsigned level, phys_addr_t pa, uint32_t rights, uint32_t cache);
    void (*read_leaf)(unsigned level, uint64_t e, struct pt_leaf *out);
    uint64_t (*revoke)(uint64_t e, uint32_t rights);   /* rights: subset of W|X */
    uint64_t (*clear_flags)(uint64_t e);               /* access flags read: clear them */

    /* The architecture's TLB after an entry changed or a table went away (arch/<arch>/mmu.c). */
    void (*tlb_flush_page)(kernel_t *k, phys_addr_t root, virt_addr_t va, unsigned shift);
    void (*tlb_forget_space)(kernel_t *k, phys_addr_t root);
};

/* Where a walk ended. */
struct pt_walk {
    unsigned level;           /* level of the last entry read */
    unsigned shift;           /* its size: 1 << shift bytes */
    phys_addr_t entry_pa;     /* physical address of that entry */
    uint64_t entry;
    struct pt_leaf leaf;      /* valid when the walk found a leaf */
};

/* ---- provided by arch/<arch>/paging.c and mmu.c */
const struct pt_format *arch_pt_format(uint32_t kind);   /* NULL: kind not offered */
/* The TLB model (a no-op where the hardware walks the table and no TLB is modelled). */
void arch_mmu_flush_page(kernel_t *k, phys_addr_t root, virt_addr_t va, unsigned shift);
void arch_mmu_forget_space(kernel_t *k, phys_addr_t root);
void arch_mmu_fini(kernel_t *k);                         /* frees the TLB model, if any */

/* ---- the generic walk (ptab.c) */
/* The level whose leaves are 2^shift bytes, or -1 if the format offers no such leaf. */
int ptab_leaf_level(const struct pt_format *f, unsigned shift);
/* Maps one leaf at `level` (va, pa aligned; checked by the caller). Creates *root if it is
 * 0. All tables needed are allocated and charged before anything is linked, so a failure
 * leaves the tree and the quota as they were. */
int ptab_map(kernel_t *k, const struct pt_format *f, struct quota *q, phys_addr_t *root,
             virt_addr_t va, phys_addr_t pa, unsigned level, uint32_t rights, uint32_t cache);
/* An empty root table, charged to q (a VM's nested table exists from its creation). */
int ptab_new_root(kernel_t *k, struct quota *q, phys_addr_t *root);
/* 0 with the leaf, -L4_ENOENT (w->level = where it stopped), -L4_EFAULT for a corrupt table. */
int ptab_lookup(const kernel_t *k, const struct pt_format *f, phys_addr_t root,
                virt_addr_t va, struct pt_walk *w);
int ptab_unmap(kernel_t *k, const struct pt_format *f, phys_addr_t root, virt_addr_t va,
               unsigned shift, uint32_t *flags);
int ptab_revoke(kernel_t *k, const struct pt_format *f, phys_addr_t root, virt_addr_t va,
                unsigned shift, uint32_t rights, uint32_t *flags);
/* Frees every table of the tree, refunding q (which may be NULL: uncharged). */
void ptab_destroy(kernel_t *k, const struct pt_format *f, struct quota *q, phys_addr_t root);
void ptab_count(const kernel_t *k, const struct pt_format *f, phys_addr_t root,
                struct vspace_stats *out);

/* ---- task integration (vspace.c) */
/* The task's table, if it has one: root and format (for the arch TLB model). */
int vspace_space_of(const kernel_t *k, kobj_id_t task, phys_addr_t *root,
                    const struct pt_format **f);
/* A dying task's table goes, refunding its quota (kobject.c). */
void vspace_release(kernel_t *k, struct task *t);
/* Kernel teardown: frees what the architecture's MMU model holds (kernel.c). */
void vspace_fini(kernel_t *k);

#endif
