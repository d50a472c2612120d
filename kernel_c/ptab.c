/*
 * ptab.c: one page-table walk for every architecture (after Fiasco's ptab_base and xv6's
 * vm.c). A format (ptab.h) says how many levels there are, which VA bits index each, which
 * may hold leaves, and how entries are encoded; this file only follows and writes entries.
 *
 *   root ──► level 0 table ──► level 1 table ──► level 2 table ──► level 3 table ──► page
 *            [va >> s0 & m0]   [va >> s1 & m1]   [va >> s2 & m2]   [va >> s3 & m3]
 *                              └► leaf (1 GiB)   └► leaf (2 MiB)   └► leaf (4 or 16 KiB)
 *
 *   amd64, arm64 (stage 1 and 2): s = 39/30/21/12, 9 bits each.
 *   mips64: s = 39/30/21/14 (9/9/9/7 bits), or 39/30/21/12 with 4 KiB pages; leaves only
 *   at the last level.
 *
 * Tables come from the kernel's frame pool (zeroed) and are charged to a quota, one frame
 * (PT_TABLE_BYTES) each. Empty tables stay until the tree is destroyed, as in Fiasco.
 * What it must not do: decide about overmapping or mapping trees (the caller does), or
 * follow a table pointer outside physical memory (a corrupted entry is -L4_EFAULT).
 */
#include <string.h>

#include "ptab.h"
#include "quota.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "entries are stored in host order, which must be little-endian");

static uint64_t pt_read(const kernel_t *k, phys_addr_t table, unsigned idx)
{
    uint64_t e;
    memcpy(&e, k->mem + table.raw + (uint64_t)idx * PT_ENTRY_BYTES, sizeof(e));
    return e;
}

static void pt_write(kernel_t *k, phys_addr_t table, unsigned idx, uint64_t e)
{
    memcpy(k->mem + table.raw + (uint64_t)idx * PT_ENTRY_BYTES, &e, sizeof(e));
}

static unsigned pt_index(const struct pt_format *f, unsigned level, virt_addr_t va)
{
    const struct pt_level *l = &f->level[level];
    return (unsigned)((va.raw >> l->shift) & ((1u << l->bits) - 1));
}

/* A table pointer we may follow: a whole frame inside physical memory. */
static int table_ok(const kernel_t *k, phys_addr_t t)
{
    return t.raw && !(t.raw & (FRAME_SIZE - 1)) && t.raw <= k->mem_size - FRAME_SIZE;
}

int ptab_leaf_level(const struct pt_format *f, unsigned shift)
{
    for (unsigned l = 0; l < f->levels; l++)
        if (f->level[l].leaf_ok && f->level[l].shift == shift)
            return (int)l;
    return -1;
}

/* n fresh zeroed tables, charged to q; all or nothing. */
static int tables_alloc(kernel_t *k, struct quota *q, unsigned n, phys_addr_t *out)
{
    if (!n)
        return 0;
    if (q && quota_alloc(q, (uint64_t)n * PT_TABLE_BYTES) < 0)
        return -L4_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        if (frames_alloc(k, 0, &out[i]) < 0) {
            while (i--)
                frames_free(k, out[i], 0);
            if (q)
                quota_free(k, q, (uint64_t)n * PT_TABLE_BYTES);
            return -L4_ENOMEM;
        }
    }
    return 0;
}

/* Refunds only a frame that really was a kernel frame: a corrupted entry must not free
 * someone else's frame or give back quota nobody was charged. */
static void table_free(kernel_t *k, struct quota *q, phys_addr_t t)
{
    if (frames_free(k, t, 0) == 0 && q)
        quota_free(k, q, PT_TABLE_BYTES);
}

int ptab_new_root(kernel_t *k, struct quota *q, phys_addr_t *root)
{
    return tables_alloc(k, q, 1, root);
}

int ptab_map(kernel_t *k, const struct pt_format *f, struct quota *q, phys_addr_t *root,
             virt_addr_t va, phys_addr_t pa, unsigned level, uint32_t rights, uint32_t cache)
{
    /* Decide: how far do tables exist, and is anything of another shape in the way? */
    phys_addr_t table = *root;
    unsigned l = 0;
    if (table.raw) {
        for (; l < level; l++) {
            uint64_t e = pt_read(k, table, pt_index(f, l, va));
            enum pt_entry_type t = f->type(l, e);
            if (t == PTE_NONE)
                break;
            if (t == PTE_LEAF)
                return PTAB_ESHAPE;               /* a larger page covers va */
            table = f->table_addr(e);
            if (!table_ok(k, table))
                return -L4_EFAULT;
        }
        if (l == level && f->type(level, pt_read(k, table, pt_index(f, level, va))) == PTE_TABLE)
            return PTAB_ESHAPE;                   /* smaller pages live below va */
    }
    unsigned need = (table.raw ? 0 : 1) + (level - l);
    phys_addr_t fresh[PT_MAX_LEVELS + 1] = { { 0 } };
    int rc = tables_alloc(k, q, need, fresh);
    if (rc < 0)
        return rc;

    /* Perform: nothing below can fail. */
    unsigned used = 0;
    if (!table.raw)
        table = *root = fresh[used++];
    for (; l < level; l++) {
        phys_addr_t next = fresh[used++];
        pt_write(k, table, pt_index(f, l, va), f->make_table(next));
        table = next;
    }
    unsigned idx = pt_index(f, level, va);
    enum pt_entry_type old = f->type(level, pt_read(k, table, idx));
    pt_write(k, table, idx, f->make_leaf(level, pa, rights, cache));
    if (old == PTE_LEAF)
        f->tlb_flush_page(k, *root, va, f->level[level].shift);
    return 0;
}

int ptab_lookup(const kernel_t *k, const struct pt_format *f, phys_addr_t root,
                virt_addr_t va, struct pt_walk *w)
{
    phys_addr_t table = root;
    for (unsigned l = 0; l < f->levels; l++) {
        unsigned idx = pt_index(f, l, va);
        uint64_t e = pt_read(k, table, idx);
        w->level = l;
        w->shift = f->level[l].shift;
        w->entry_pa = phys_addr(table.raw + (uint64_t)idx * PT_ENTRY_BYTES);
        w->entry = e;
        switch (f->type(l, e)) {
        case PTE_NONE:
            return -L4_ENOENT;
        case PTE_LEAF:
            f->read_leaf(l, e, &w->leaf);
            return 0;
        case PTE_TABLE:
            table = f->table_addr(e);
            if (!table_ok(k, table))
                return -L4_EFAULT;
            break;
        }
    }
    return -L4_EFAULT;                            /* a format whose last level holds tables */
}

/* The leaf of exactly 2^shift bytes at va. */
static int leaf_at(const kernel_t *k, const struct pt_format *f, phys_addr_t root,
                   virt_addr_t va, unsigned shift, struct pt_walk *w)
{
    int rc = ptab_lookup(k, f, root, va, w);
    if (rc < 0)
        return rc;
    return w->shift == shift ? 0 : PTAB_ESHAPE;
}

static void entry_write(kernel_t *k, phys_addr_t entry_pa, uint64_t e)
{
    memcpy(k->mem + entry_pa.raw, &e, sizeof(e));
}

int ptab_unmap(kernel_t *k, const struct pt_format *f, phys_addr_t root, virt_addr_t va,
               unsigned shift, uint32_t *flags)
{
    struct pt_walk w;
    int rc = leaf_at(k, f, root, va, shift, &w);
    if (rc < 0)
        return rc;
    *flags = w.leaf.flags;
    entry_write(k, w.entry_pa, 0);
    f->tlb_flush_page(k, root, va, shift);
    return 0;
}

int ptab_revoke(kernel_t *k, const struct pt_format *f, phys_addr_t root, virt_addr_t va,
                unsigned shift, uint32_t rights, uint32_t *flags)
{
    struct pt_walk w;
    int rc = leaf_at(k, f, root, va, shift, &w);
    if (rc < 0)
        return rc;
    *flags = w.leaf.flags;
    uint64_t e = f->clear_flags(f->revoke(w.entry, rights));
    if (e != w.entry) {
        entry_write(k, w.entry_pa, e);
        f->tlb_flush_page(k, root, va, shift);
    }
    return 0;
}

/* Depth is at most PT_MAX_LEVELS, so plain recursion is bounded. */
static void destroy_below(kernel_t *k, const struct pt_format *f, struct quota *q,
                          phys_addr_t table, unsigned l)
{
    for (unsigned i = 0; l + 1 < f->levels && i < (1u << f->level[l].bits); i++) {
        uint64_t e = pt_read(k, table, i);
        if (f->type(l, e) != PTE_TABLE)
            continue;
        phys_addr_t next = f->table_addr(e);
        if (table_ok(k, next))
            destroy_below(k, f, q, next, l + 1);
    }
    table_free(k, q, table);
}

void ptab_destroy(kernel_t *k, const struct pt_format *f, struct quota *q, phys_addr_t root)
{
    if (!root.raw)
        return;
    f->tlb_forget_space(k, root);
    destroy_below(k, f, q, root, 0);
}

static void count_below(const kernel_t *k, const struct pt_format *f, phys_addr_t table,
                        unsigned l, struct vspace_stats *out)
{
    out->tables++;
    for (unsigned i = 0; i < (1u << f->level[l].bits); i++) {
        uint64_t e = pt_read(k, table, i);
        switch (f->type(l, e)) {
        case PTE_LEAF:
            out->leaves++;
            break;
        case PTE_TABLE:
            if (l + 1 < f->levels && table_ok(k, f->table_addr(e)))
                count_below(k, f, f->table_addr(e), l + 1, out);
            break;
        case PTE_NONE:
            break;
        }
    }
}

void ptab_count(const kernel_t *k, const struct pt_format *f, phys_addr_t root,
                struct vspace_stats *out)
{
    out->tables = out->leaves = 0;
    if (root.raw)
        count_below(k, f, root, 0, out);
}
