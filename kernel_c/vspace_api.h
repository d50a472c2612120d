/*
 * vspace_api.h: the boundary to a task's page table (included by pyl4re.h, so part of the
 * cffi cdef: enums, integer #defines and declarations only).
 *
 * These are the page-table operations the mapping database will call: map one page of a
 * size the format offers, translate, unmap, revoke rights. They know nothing of mapping
 * trees, overmapping or page-fault IPC; splitting a request into pages is the caller's job.
 * Every value is checked before anything changes; a failing call changes nothing.
 */
#ifndef PYL4RE_VSPACE_API_H
#define PYL4RE_VSPACE_API_H

/* What a page table is for. A task's table gets its kind with its first mapping. */
enum vspace_kind {
    VSPACE_KIND_USER = 0,     /* a user task: the CPU's stage-1 format */
    VSPACE_KIND_VM = 1,       /* a VM: guest-physical to host-physical (EPT, stage 2, MIPS VZ) */
    VSPACE_KIND_DMA = 2,      /* a DMA space: I/O virtual to physical, the IOMMU's format */
    VSPACE_KINDS = 3,
};

/* Rights are arch-neutral L4 memory rights: L4_FPAGE_RO (4) | L4_FPAGE_W (2) | L4_FPAGE_X (1).
 * Fiasco adds its kernel-internal U right (bit 3, L4_fpage::Rights::U, no l4sys name) to
 * every user mapping; lookups report it as the entry holds it. */
enum vspace_rights {
    VSPACE_RIGHT_U = 0x8,
    VSPACE_RIGHTS_RWX = 0x7,
};

/* Cacheability, with the l4sys values of l4_map_control's cache argument (§5.2):
 * L4_FPAGE_CACHEABLE, L4_FPAGE_BUFFERABLE, L4_FPAGE_UNCACHEABLE. */
enum vspace_cache {
    VSPACE_CACHE_NORMAL = 0x3,
    VSPACE_CACHE_BUFFERED = 0x5,
    VSPACE_CACHE_UNCACHED = 0x1,
};

enum vspace_limits {
    VSPACE_MAX_LEVELS = 4,
    VSPACE_TABLE_BYTES = 4096,    /* each table is one frame, charged in full (§13) */
};

/* One leaf as the page table holds it. */
struct vspace_page {
    phys_addr_t pa;           /* translation of the address asked for (page base + offset) */
    uint32_t page_shift;      /* log2 of the leaf's size */
    uint32_t level;           /* table level holding the leaf, 0 = root */
    uint32_t rights;          /* L4_FPAGE_{RO,W,X} | VSPACE_RIGHT_U */
    uint32_t cache;           /* enum vspace_cache */
    uint32_t flags;           /* L4_FP_REFERENCED | L4_FP_DIRTY (hardware A/D; amd64 only) */
};

/* The shape of a kind of page table on this architecture. */
struct vspace_format {
    uint32_t levels;
    uint32_t shift[VSPACE_MAX_LEVELS];      /* lowest VA bit each level indexes */
    uint32_t bits[VSPACE_MAX_LEVELS];       /* index width of each level */
    uint32_t leaf_ok[VSPACE_MAX_LEVELS];    /* 1: the level may hold a leaf of 1 << shift */
    uint64_t va_max;                        /* highest mappable address */
};

struct vspace_stats {
    uint64_t tables;          /* tables in use, root included */
    uint64_t leaves;          /* valid leaf entries */
};

/* -L4_EINVAL for an unknown kind, -L4_ENOSYS for a kind this architecture does not offer. */
int vspace_describe(uint32_t kind, struct vspace_format *out);

/* Maps [va, va + 2^page_shift) to [pa, ...) with rights (non-empty subset of RWX) and cache.
 * Creates the task's table (of `kind`) on first use; tables are charged to the task's quota.
 * An existing leaf of the same size at va is replaced. A larger leaf on the way to va, or a
 * table where the leaf must go, refuses with -L4_EEXIST. -L4_ENOMEM (quota or frames)
 * leaves no table behind. */
int vspace_map_page(kernel_t *k, kobj_id_t task, uint32_t kind, virt_addr_t va,
                    phys_addr_t pa, uint32_t page_shift, uint32_t rights, uint32_t cache);
/* The leaf translating va (any alignment): -L4_ENOENT if nothing is mapped there. */
int vspace_translate(const kernel_t *k, kobj_id_t task, virt_addr_t va, struct vspace_page *out);
/* Removes the leaf of size 2^page_shift at va; *flags = its access flags (L4_FP_*).
 * -L4_ENOENT if nothing is mapped, -L4_EEXIST if the leaf there has another size. */
int vspace_unmap_page(kernel_t *k, kobj_id_t task, virt_addr_t va, uint32_t page_shift,
                      uint32_t *flags);
/* Takes rights (subset of W|X) away from the leaf at va; reads and clears its access flags
 * into *flags as unmap does (Fiasco's v_delete without R). Same errors as unmap. */
int vspace_revoke(kernel_t *k, kobj_id_t task, virt_addr_t va, uint32_t page_shift,
                  uint32_t rights, uint32_t *flags);
/* The table's root and kind; -L4_ENOENT if the task has no table yet. */
int vspace_root(const kernel_t *k, kobj_id_t task, phys_addr_t *root, uint32_t *kind);
int vspace_stats(const kernel_t *k, kobj_id_t task, struct vspace_stats *out);

/* Architecture extras (the MIPS64 TLB model), same file name in every arch folder. */
#include "arch_mmu.h"

#endif
