/*
 * vspace.c: a task's page table at the boundary (vspace_api.h): checks every value that
 * comes from Python, then hands the work to the generic walk (ptab.c) with the format of
 * the task's kind.
 *
 * A task's table is made on its first mapping, of the kind that mapping asks for, and
 * charged to the task's quota (the factory that created it; none for boot tasks). It goes
 * when the task dies (vspace_release from kobject.c). Decide-then-perform: every check is
 * done before the first change, so a failing call changes nothing.
 */
#include "ptab.h"

static struct task *task_of(const kernel_t *k, kobj_id_t id)
{
    struct kobj *o = kobj_get(k, id);
    return o && kobj_is_space(o) ? (struct task *)o : NULL;
}

/* The format for kind: -L4_EINVAL if the kind is unknown, -L4_ENOSYS if not offered here. */
static int format_of(uint32_t kind, const struct pt_format **out)
{
    if (kind >= VSPACE_KINDS)
        return -L4_EINVAL;
    *out = arch_pt_format(kind);
    return *out ? 0 : -L4_ENOSYS;
}

static int cache_ok(uint32_t cache)
{
    return cache == VSPACE_CACHE_NORMAL || cache == VSPACE_CACHE_BUFFERED
           || cache == VSPACE_CACHE_UNCACHED;
}

/* [base, base + 2^shift) is aligned and ends at or below max (no wrap-around). */
static int range_ok(uint64_t base, unsigned shift, uint64_t max)
{
    uint64_t size = (uint64_t)1 << shift;
    return !(base & (size - 1)) && base <= max && size - 1 <= max - base;
}

int vspace_describe(uint32_t kind, struct vspace_format *out)
{
    const struct pt_format *f;
    int rc = format_of(kind, &f);
    if (rc < 0)
        return rc;
    out->levels = f->levels;
    for (unsigned l = 0; l < VSPACE_MAX_LEVELS; l++) {
        int used = l < f->levels;
        out->shift[l] = used ? f->level[l].shift : 0;
        out->bits[l] = used ? f->level[l].bits : 0;
        out->leaf_ok[l] = used ? f->level[l].leaf_ok : 0;
    }
    out->va_max = f->va_max;
    return 0;
}

int vspace_space_of(const kernel_t *k, kobj_id_t task, phys_addr_t *root,
                    const struct pt_format **f)
{
    struct task *t = task_of(k, task);
    if (!t)
        return -L4_EINVAL;
    if (!t->pt_root.raw)
        return -L4_ENOENT;
    *root = t->pt_root;
    return format_of(t->pt_kind, f);
}

int vspace_map_page(kernel_t *k, kobj_id_t task, uint32_t kind, virt_addr_t va,
                    phys_addr_t pa, uint32_t page_shift, uint32_t rights, uint32_t cache)
{
    struct task *t = task_of(k, task);
    const struct pt_format *f;
    if (!t)
        return -L4_EINVAL;
    int rc = format_of(kind, &f);
    if (rc < 0)
        return rc;
    if ((t->pt_root.raw || t->hdr.type == KOBJ_DMA_SPACE) && t->pt_kind != kind)
        return -L4_EINVAL;                         /* one table, one kind */
    int level = page_shift < 64 ? ptab_leaf_level(f, page_shift) : -1;
    if (level < 0 || !range_ok(va.raw, page_shift, f->va_max)
        || !range_ok(pa.raw, page_shift, k->mem_size - 1))
        return -L4_EINVAL;
    if (!(rights & VSPACE_RIGHTS_RWX) || (rights & ~(VSPACE_RIGHTS_RWX | VSPACE_RIGHT_U))
        || !cache_ok(cache))
        return -L4_EINVAL;
    int fresh = !t->pt_root.raw;
    rc = ptab_map(k, f, t->hdr.quota, &t->pt_root, va, pa, (unsigned)level,
                  rights | VSPACE_RIGHT_U, cache);
    if (!rc && fresh)
        t->pt_kind = kind;
    return rc;
}

int vspace_translate(const kernel_t *k, kobj_id_t task, virt_addr_t va, struct vspace_page *out)
{
    struct task *t = task_of(k, task);
    if (!t)
        return -L4_EINVAL;
    if (!t->pt_root.raw)
        return -L4_ENOENT;
    const struct pt_format *f;
    int rc = format_of(t->pt_kind, &f);
    if (rc < 0)
        return rc;
    if (va.raw > f->va_max)
        return -L4_EINVAL;
    struct pt_walk w;
    rc = ptab_lookup(k, f, t->pt_root, va, &w);
    if (rc < 0)
        return rc;
    uint64_t offset = va.raw & (((uint64_t)1 << w.shift) - 1);
    out->pa = phys_addr(w.leaf.pa.raw + offset);
    out->page_shift = w.shift;
    out->level = w.level;
    out->rights = w.leaf.rights;
    out->cache = w.leaf.cache;
    out->flags = w.leaf.flags;
    return 0;
}

/* Common checks of unmap and revoke: the task's format and an aligned page in its range. */
static int leaf_args(const kernel_t *k, kobj_id_t task, virt_addr_t va, uint32_t page_shift,
                     struct task **t, const struct pt_format **f)
{
    if (!(*t = task_of(k, task)))
        return -L4_EINVAL;
    if (!(*t)->pt_root.raw)
        return -L4_ENOENT;                         /* no table: nothing is mapped */
    int rc = format_of((*t)->pt_kind, f);
    if (rc < 0)
        return rc;
    if (page_shift >= 64 || ptab_leaf_level(*f, page_shift) < 0
        || !range_ok(va.raw, page_shift, (*f)->va_max))
        return -L4_EINVAL;
    return 0;
}

int vspace_unmap_page(kernel_t *k, kobj_id_t task, virt_addr_t va, uint32_t page_shift,
                      uint32_t *flags)
{
    struct task *t;
    const struct pt_format *f;
    int rc = leaf_args(k, task, va, page_shift, &t, &f);
    if (rc < 0)
        return rc;
    return ptab_unmap(k, f, t->pt_root, va, page_shift, flags);
}

int vspace_revoke(kernel_t *k, kobj_id_t task, virt_addr_t va, uint32_t page_shift,
                  uint32_t rights, uint32_t *flags)
{
    if (rights & ~(uint32_t)(L4_FPAGE_W | L4_FPAGE_X))
        return -L4_EINVAL;                         /* R means unmap: vspace_unmap_page */
    struct task *t;
    const struct pt_format *f;
    int rc = leaf_args(k, task, va, page_shift, &t, &f);
    if (rc < 0)
        return rc;
    return ptab_revoke(k, f, t->pt_root, va, page_shift, rights, flags);
}

int vspace_root(const kernel_t *k, kobj_id_t task, phys_addr_t *root, uint32_t *kind)
{
    struct task *t = task_of(k, task);
    if (!t)
        return -L4_EINVAL;
    if (!t->pt_root.raw)
        return -L4_ENOENT;
    *root = t->pt_root;
    *kind = t->pt_kind;
    return 0;
}

int vspace_stats(const kernel_t *k, kobj_id_t task, struct vspace_stats *out)
{
    struct task *t = task_of(k, task);
    if (!t)
        return -L4_EINVAL;
    const struct pt_format *f = NULL;
    if (t->pt_root.raw && format_of(t->pt_kind, &f) < 0)
        return -L4_EINVAL;
    out->tables = out->leaves = 0;
    if (f)
        ptab_count(k, f, t->pt_root, out);
    return 0;
}

void vspace_release(kernel_t *k, struct task *t)
{
    const struct pt_format *f;
    if (!t->pt_root.raw || format_of(t->pt_kind, &f) < 0)
        return;
    ptab_destroy(k, f, t->hdr.quota, t->pt_root);
    t->pt_root = phys_addr(0);
}

void vspace_fini(kernel_t *k)
{
    arch_mmu_fini(k);
}
