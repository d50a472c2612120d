/*
 * cspace.h: capability tables, internal interface (the boundary functions are in pyl4re.h).
 *
 *   task->cap_top[64] -> cap_dir.leaf[64] -> cap_leaf.slot[256]     (6 + 6 + 8 = 20 bits)
 *
 * Directories and leaves appear on first use and are charged to the task's quota, so
 * memory grows with the slots used, not with the 2^20 range; lookup is three loads.
 */
#ifndef PYL4RE_CSPACE_H
#define PYL4RE_CSPACE_H

#include "kernel.h"

struct cap_slot {
    uint32_t obj_slot, gen;    /* the object's id; stale once the object died */
    uint8_t rights;            /* L4_CAP_FPAGE_{R,W,S,D} */
    uint8_t attrs;             /* CAP_COUNTED | L4_FPAGE_C_OBJ_RIGHT* */
    uint8_t pad[6];
};

enum { CAP_LEAF_SLOTS = 1 << CAP_LEAF_BITS, CAP_DIR_LEAVES = 1 << CAP_MID_BITS };

struct cap_leaf { struct cap_slot slot[CAP_LEAF_SLOTS]; };
struct cap_dir { struct cap_leaf *leaf[CAP_DIR_LEAVES]; };

/* An index's place in the table: top directory, leaf, slot. */
static inline unsigned cap_top_of(cap_index_t i) { return i.raw >> (CAP_MID_BITS + CAP_LEAF_BITS); }
static inline unsigned cap_mid_of(cap_index_t i)
{
    return (i.raw >> CAP_LEAF_BITS) & (CAP_DIR_LEAVES - 1);
}
static inline unsigned cap_leaf_of(cap_index_t i) { return i.raw & (CAP_LEAF_SLOTS - 1); }

/* The slot for idx, or NULL if idx is out of range or its table does not exist. Inline:
 * every invocation looks one up. */
static inline struct cap_slot *cspace_slot(const struct task *t, cap_index_t idx)
{
    if (idx.raw >= CSPACE_SLOTS)
        return NULL;
    struct cap_dir *d = t->cap_top[cap_top_of(idx)];
    if (!d)
        return NULL;
    struct cap_leaf *l = d->leaf[cap_mid_of(idx)];
    return l ? &l->slot[cap_leaf_of(idx)] : NULL;
}

/* The live object in a slot, or NULL for an empty or stale slot. */
static inline struct kobj *cspace_slot_obj(const kernel_t *k, const struct cap_slot *s)
{
    return s && s->gen ? kobj_from_slot(k, s->obj_slot, s->gen) : NULL;
}
/* The live object a capability selector names in t (Fiasco's Thread_ptr::ptr), NULL for
 * an empty slot, an index out of range, or a selector with the invalid or reply-cap bit:
 * the kernel's own calls (page-fault and exception IPC) look their target up this way. */
static inline struct kobj *cspace_sel_obj(const kernel_t *k, const struct task *t,
                                          uint64_t sel)
{
    if (!t || (sel & (L4_INVALID_CAP_BIT | L4_REPLY_CAP_BIT)))
        return NULL;
    uint64_t idx = sel >> L4_CAP_SHIFT;
    return idx < CSPACE_SLOTS ? cspace_slot_obj(k, cspace_slot(t, cap_index((uint32_t)idx)))
                              : NULL;
}
/* Puts a reference to o into t[idx] (see cspace_copy for the occupied-slot rules). */
int cspace_put(kernel_t *k, struct task *t, cap_index_t idx, struct kobj *o,
               uint32_t rights, uint32_t attrs);
/* Maps count consecutive slots src..src+count-1 of `from` to dst.. of `to` (§5.2): empty
 * source slots are skipped; rights = source rights & rights_mask; attributes as in
 * cspace_copy; grant moves instead of copying. *mapped counts what arrived. 0 or -L4_ENOMEM. */
int cspace_map_range(kernel_t *k, struct task *to, uint64_t dst, struct task *from,
                     uint64_t src, uint64_t count, uint32_t rights_mask, uint32_t ctl_attrs,
                     int grant, uint32_t *mapped);
/* Drops every capability of a dying task and returns its tables' charges. */
void cspace_flush(kernel_t *k, struct task *t);
/* Frees the tables without touching any other object (kernel teardown). */
void cspace_free_tables(struct task *t);

#endif
