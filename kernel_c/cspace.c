/*
 * cspace.c: per-task capability tables: lookup, insert, copy with rights reduction
 * (§5.2, §6.1), delete, and delete-object.
 *
 * A slot holds an object id plus rights; R is presence. Counted slots keep their object
 * alive; the object dies with the last counted one, or at once through delete-object with
 * the D right. Every entry point reaps the objects that died on the way.
 */
#include <string.h>

#include "kernel.h"
#include "heap.h"
#include "cspace.h"
#include "fpage.h"
#include "quota.h"
#include "thread.h"

enum {
    CAP_RIGHTS_MASK = L4_CAP_FPAGE_RWSD,
    CAP_ATTR_MASK = CAP_COUNTED | L4_FPAGE_C_OBJ_RIGHTS,
};

_Static_assert(sizeof(struct cap_leaf) == KOBJ_SIZE_CAP_TABLE, "leaf size is what is charged");
_Static_assert(sizeof(struct cap_dir) == KOBJ_SIZE_CAP_DIR, "dir size is what is charged");

/* Table memory is charged to the task's quota before it exists, refunded after it is gone. */
static void *table_alloc(kernel_t *k, struct quota *q, size_t size)
{
    if (q && quota_alloc(q, size) < 0)
        return NULL;
    void *p = heap_alloc(size);
    if (!p && q)
        quota_free(k, q, size);
    return p;
}

static void table_free(kernel_t *k, struct quota *q, void *p, size_t size)
{
    heap_free(p);
    if (q)
        quota_free(k, q, size);
}

/* The slot for idx, creating its tables if need be; on failure nothing is left behind. */
static int slot_make(kernel_t *k, struct task *t, cap_index_t idx, struct cap_slot **out)
{
    struct quota *q = t->hdr.quota;
    struct cap_dir **dp = &t->cap_top[cap_top_of(idx)];
    int fresh_dir = 0;
    if (!*dp) {
        if (!(*dp = table_alloc(k, q, sizeof(**dp))))
            return -L4_ENOMEM;
        fresh_dir = 1;
    }
    struct cap_leaf **lp = &(*dp)->leaf[cap_mid_of(idx)];
    if (!*lp && !(*lp = table_alloc(k, q, sizeof(**lp)))) {
        if (fresh_dir) {
            table_free(k, q, *dp, sizeof(**dp));
            *dp = NULL;
        }
        return -L4_ENOMEM;
    }
    *out = &(*lp)->slot[cap_leaf_of(idx)];
    return 0;
}

static void slot_clear(kernel_t *k, struct cap_slot *s)
{
    struct kobj *o = cspace_slot_obj(k, s);
    uint8_t counted = s->attrs & CAP_COUNTED;
    memset(s, 0, sizeof(*s));
    if (o && counted)
        kobj_put(k, o);
}

int cspace_put(kernel_t *k, struct task *t, cap_index_t idx, struct kobj *o,
               uint32_t rights, uint32_t attrs)
{
    struct cap_slot *s;
    int rc = slot_make(k, t, idx, &s);
    if (rc < 0)
        return rc;
    struct kobj *old = cspace_slot_obj(k, s);
    if (old == o) {                          /* same object: rights only grow */
        if ((attrs & CAP_COUNTED) && !(s->attrs & CAP_COUNTED))
            o->counted_refs++;
        s->rights |= (uint8_t)rights;
        s->attrs |= (uint8_t)attrs;
        return 0;
    }
    if (old)                                  /* another object: it goes first */
        slot_clear(k, s);
    s->obj_slot = o->slot;
    s->gen = o->gen;
    s->rights = (uint8_t)rights;
    s->attrs = (uint8_t)attrs;
    if (attrs & CAP_COUNTED)
        o->counted_refs++;
    return 0;
}

static struct task *task_get(const kernel_t *k, kobj_id_t id)
{
    struct kobj *o = kobj_get(k, id);
    return o && o->type == KOBJ_TASK ? (struct task *)o : NULL;
}

/* The live capability at task[idx]: 0, -L4_EINVAL (no such task, index out of range) or
 * -L4_ENOENT (an empty or stale slot). */
static int cap_find(const kernel_t *k, kobj_id_t task, cap_index_t idx, struct cap_slot **s,
                    struct kobj **o)
{
    struct task *t = task_get(k, task);
    if (!t || idx.raw >= CSPACE_SLOTS)
        return -L4_EINVAL;
    *s = cspace_slot(t, idx);
    *o = cspace_slot_obj(k, *s);
    return *o ? 0 : -L4_ENOENT;
}

int cspace_lookup(const kernel_t *k, kobj_id_t task, cap_index_t idx, struct cap_info *out)
{
    struct cap_slot *s;
    struct kobj *o;
    int rc = cap_find(k, task, idx, &s, &o);
    if (rc < 0)
        return rc;
    out->obj = kobj_id_of(o);
    out->type = o->type;
    out->rights = s->rights;
    out->attrs = s->attrs;
    return 0;
}

int cspace_insert(kernel_t *k, kobj_id_t task, cap_index_t idx, kobj_id_t obj,
                  uint32_t rights, uint32_t attrs)
{
    struct task *t = task_get(k, task);
    struct kobj *o = kobj_get(k, obj);
    if (!t || !o || idx.raw >= CSPACE_SLOTS || (rights & ~CAP_RIGHTS_MASK)
        || (attrs & ~CAP_ATTR_MASK) || !(rights & L4_CAP_FPAGE_R))
        return -L4_EINVAL;
    int rc = cspace_put(k, t, idx, o, rights, attrs);
    kobj_reap(k);
    return rc;
}

int cspace_copy(kernel_t *k, kobj_id_t dst_task, cap_index_t dst, kobj_id_t src_task,
                cap_index_t src, uint32_t rights_mask, uint32_t ctl_attrs)
{
    struct task *dt = task_get(k, dst_task), *st = task_get(k, src_task);
    if (!dt || !st || dst.raw >= CSPACE_SLOTS || src.raw >= CSPACE_SLOTS
        || (rights_mask & ~CAP_RIGHTS_MASK) || (ctl_attrs & ~0xF0u))
        return -L4_EINVAL;
    struct cap_slot *s = cspace_slot(st, src);
    struct kobj *o = cspace_slot_obj(k, s);
    if (!o)
        return -L4_ENOENT;
    uint32_t rights = s->rights & rights_mask;
    /* The control word says "not counted" with 0x10; the slot says "counted" with it. */
    uint32_t attrs = s->attrs & ((ctl_attrs ^ L4_FPAGE_C_NO_REF_CNT) & CAP_ATTR_MASK);
    if (!(rights & L4_CAP_FPAGE_R))
        return 1;                             /* without R nothing is mapped */
    int rc = cspace_put(k, dt, dst, o, rights, attrs);
    kobj_reap(k);
    return rc;
}

int cspace_map_range(kernel_t *k, struct task *to, uint64_t dst, struct task *from,
                     uint64_t src, uint64_t count, uint32_t rights_mask, uint32_t ctl_attrs,
                     int grant, uint32_t *mapped)
{
    *mapped = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (src + i >= CSPACE_SLOTS || dst + i >= CSPACE_SLOTS)
            break;
        struct cap_slot *s = cspace_slot(from, cap_index((uint32_t)(src + i)));
        struct kobj *o = cspace_slot_obj(k, s);
        if (!o)
            continue;                            /* what the sender lacks is skipped */
        uint32_t rights = s->rights & rights_mask;
        uint32_t attrs = s->attrs & ((ctl_attrs ^ L4_FPAGE_C_NO_REF_CNT) & CAP_ATTR_MASK);
        if (!(rights & L4_CAP_FPAGE_R))
            continue;
        if (from == to && src + i == dst + i && !grant)
            continue;                            /* onto itself: nothing changes */
        int rc = cspace_put(k, to, cap_index((uint32_t)(dst + i)), o, rights, attrs);
        if (rc < 0)
            return rc;
        if (grant && !(from == to && src + i == dst + i))
            slot_clear(k, cspace_slot(from, cap_index((uint32_t)(src + i))));
        (*mapped)++;
    }
    return 0;       /* what died on the way is reaped when the kernel entry ends */
}

int task_map_obj(kernel_t *k, kobj_id_t dst_task, kobj_id_t src_task, uint64_t fpage,
                 uint64_t ctl, uint32_t rights_mask, uint32_t *mapped)
{
    struct task *dt = task_get(k, dst_task), *st = task_get(k, src_task);
    *mapped = 0;
    if (!dt || !st || fpage_type(fpage) != FPAGE_OBJ || (rights_mask & ~CAP_RIGHTS_MASK))
        return -L4_EINVAL;
    unsigned so = fpage_order(fpage);
    if (so > CAP_SPACE_ORDER)
        so = CAP_SPACE_ORDER;
    /* The receive window is the whole destination space; the hot spot places it. */
    struct placement p = fpage_place(fpage_base(fpage), so, ctl >> 12, 0, CAP_SPACE_ORDER);
    int rc = cspace_map_range(k, dt, p.dst, st, p.src, p.count,
                              fpage_rights(fpage) & rights_mask, ctl & 0xF0,
                              (ctl & L4_MAP_ITEM_GRANT) != 0, mapped);
    charge_entry(k, (uint64_t)*mapped * k->cost.item_ns);     /* as for a map item */
    kobj_reap(k);
    return rc;
}

int task_unmap_obj(kernel_t *k, kobj_id_t task, uint64_t fpage, uint64_t mask)
{
    struct task *t = task_get(k, task);
    if (!t || fpage_type(fpage) != FPAGE_OBJ)
        return -L4_EINVAL;
    /* Object capabilities are flat copies: only the task's own slots can be unmapped. */
    if (!(mask & L4_FP_ALL_SPACES))
        return 0;
    unsigned order = fpage_order(fpage);
    if (order > CAP_SPACE_ORDER)
        order = CAP_SPACE_ORDER;
    uint64_t base = fpage_base(fpage) & ~(((uint64_t)1 << order) - 1);
    uint32_t rights = fpage_rights(fpage);
    int delete = (mask & L4_FP_DELETE_OBJ) == L4_FP_DELETE_OBJ;
    for (uint64_t i = 0; i < ((uint64_t)1 << order) && base + i < CSPACE_SLOTS; i++) {
        struct cap_slot *s = cspace_slot(t, cap_index((uint32_t)(base + i)));
        struct kobj *o = cspace_slot_obj(k, s);
        if (!o)
            continue;
        if (delete && (s->rights & L4_CAP_FPAGE_D)) {
            slot_clear(k, s);
            kobj_kill(k, o);
        } else if (rights & L4_CAP_FPAGE_R)
            slot_clear(k, s);                     /* full flush of this capability */
        else
            s->rights &= (uint8_t)~(rights & (L4_CAP_FPAGE_W | L4_CAP_FPAGE_S));
    }
    kobj_reap(k);
    return 0;
}

int cspace_delete(kernel_t *k, kobj_id_t task, cap_index_t idx)
{
    struct cap_slot *s;
    struct kobj *o;
    int rc = cap_find(k, task, idx, &s, &o);
    if (rc < 0)
        return rc;
    slot_clear(k, s);
    kobj_reap(k);
    return 0;
}

int cspace_delete_obj(kernel_t *k, kobj_id_t task, cap_index_t idx)
{
    struct cap_slot *s;
    struct kobj *o;
    int rc = cap_find(k, task, idx, &s, &o);
    if (rc < 0)
        return rc;
    if (!(s->rights & L4_CAP_FPAGE_D))
        return -L4_EPERM;
    slot_clear(k, s);
    kobj_kill(k, o);
    kobj_reap(k);
    return 0;
}

int kobj_dec_refcnt(kernel_t *k, kobj_id_t obj, int64_t diff, int64_t *result)
{
    struct kobj *o = kobj_get(k, obj);
    if (!o || !result)
        return -L4_EINVAL;
    /* As Fiasco's Kobject_mappable::dec_cap_refcnt: the signed count drops by diff,
     * wrapping as a machine word does, and nothing is deleted here, not even at 0. Later
     * puts take a count at 0 or below further down (kobj_put), so such an object stays
     * until it is deleted or the kernel goes. */
    o->counted_refs -= (uint64_t)diff;
    o->ref_bias -= (uint64_t)diff;
    *result = (int64_t)o->counted_refs;
    return 0;
}

uint64_t cspace_slots_used(const kernel_t *k, kobj_id_t task)
{
    struct task *t = task_get(k, task);
    uint64_t n = 0;
    for (unsigned i = 0; t && i < (1u << CAP_TOP_BITS); i++) {
        struct cap_dir *d = t->cap_top[i];
        for (unsigned j = 0; d && j < CAP_DIR_LEAVES; j++) {
            struct cap_leaf *l = d->leaf[j];
            for (unsigned s = 0; l && s < CAP_LEAF_SLOTS; s++)
                n += cspace_slot_obj(k, &l->slot[s]) != NULL;
        }
    }
    return n;
}

int cspace_walk(const kernel_t *k, kobj_id_t task, uint32_t from, struct cap_entry *out,
                uint32_t max, uint32_t *written, uint32_t *next)
{
    struct task *t = task_get(k, task);
    if (!t || (max && !out))
        return -L4_EINVAL;
    uint32_t n = 0, i = from;
    for (; i < CSPACE_SLOTS && n < max; i++) {
        cap_index_t idx = { i };
        if (!t->cap_top[cap_top_of(idx)]) {            /* skip an absent directory */
            i |= (1u << (CAP_MID_BITS + CAP_LEAF_BITS)) - 1;
            continue;
        }
        struct cap_slot *s = cspace_slot(t, idx);
        if (!s) {                                       /* skip an absent leaf */
            i |= CAP_LEAF_SLOTS - 1;
            continue;
        }
        struct kobj *o = cspace_slot_obj(k, s);
        if (!o)
            continue;
        out[n++] = (struct cap_entry){ i, { kobj_id_of(o), o->type, s->rights, s->attrs } };
    }
    *written = n;
    *next = i < CSPACE_SLOTS ? i : CSPACE_SLOTS;
    return 0;
}

void cspace_flush(kernel_t *k, struct task *t)
{
    struct quota *q = t->hdr.quota;
    for (unsigned i = 0; i < (1u << CAP_TOP_BITS); i++) {
        struct cap_dir *d = t->cap_top[i];
        for (unsigned j = 0; d && j < CAP_DIR_LEAVES; j++) {
            struct cap_leaf *l = d->leaf[j];
            for (unsigned s = 0; l && s < CAP_LEAF_SLOTS; s++)
                slot_clear(k, &l->slot[s]);
            if (l)
                table_free(k, q, l, sizeof(*l));
        }
        if (d)
            table_free(k, q, d, sizeof(*d));
        t->cap_top[i] = NULL;
    }
}

void cspace_free_tables(struct task *t)
{
    for (unsigned i = 0; i < (1u << CAP_TOP_BITS); i++) {
        struct cap_dir *d = t->cap_top[i];
        for (unsigned j = 0; d && j < CAP_DIR_LEAVES; j++)
            heap_free(d->leaf[j]);
        heap_free(d);
        t->cap_top[i] = NULL;
    }
}
