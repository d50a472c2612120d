/*
 * kobject.c: object ids, lifetime and teardown.
 *
 * Killing an object only invalidates its id (so every capability to it is dead at once)
 * and queues it; kobj_reap() later releases what it held and refunds its quota. Doing the
 * release from a work list rather than recursively keeps chains of tasks holding the last
 * capability to the next task from growing the C stack.
 */

#include "kernel.h"
#include "heap.h"
#include "cspace.h"
#include "quota.h"
#include "ptab.h"
#include "mapdb.h"
#include "iommu.h"
#include "iospace.h"
#include "native.h"
#include "thread.h"

#define NO_SLOT UINT32_MAX

void objtab_init(struct objtab *t)
{
    t->ents = NULL;
    t->cap = t->live = 0;
    t->free_head = NO_SLOT;
    t->reap = NULL;
    t->next_dbg_id = 0;
}

static int objtab_grow(struct objtab *t)
{
    uint32_t ncap = t->cap ? t->cap * 2 : 64;
    struct objent *n = heap_realloc(t->ents, (size_t)ncap * sizeof(*n));
    if (!n)
        return -L4_ENOMEM;
    for (uint32_t i = t->cap; i < ncap; i++) {
        n[i].obj = NULL;
        n[i].gen = 1;                       /* generation 0 never names an object */
        n[i].next_free = i + 1 < ncap ? i + 1 : t->free_head;
    }
    t->free_head = t->cap;
    t->ents = n;
    t->cap = ncap;
    return 0;
}

struct kobj *kobj_new(kernel_t *k, uint32_t type, size_t size)
{
    struct objtab *t = &k->objs;
    if (t->free_head == NO_SLOT && objtab_grow(t) < 0)
        return NULL;
    struct kobj *o = heap_alloc(size);
    if (!o)
        return NULL;
    uint32_t slot = t->free_head;
    t->free_head = t->ents[slot].next_free;
    t->ents[slot].obj = o;
    o->type = type;
    o->slot = slot;
    o->gen = t->ents[slot].gen;
    o->id = (kobj_id_t){ (uint64_t)o->gen << 32 | slot };
    o->dbg_id = t->next_dbg_id++;
    t->live++;
    return o;
}

static int kobj_alive(const kernel_t *k, const struct kobj *o)
{
    return k->objs.ents[o->slot].obj == o;
}

void kobj_kill(kernel_t *k, struct kobj *o)
{
    struct objtab *t = &k->objs;
    if (!kobj_alive(k, o) || o->permanent)
        return;
    struct objent *e = &t->ents[o->slot];
    e->obj = NULL;
    if (++e->gen == 0)
        e->gen = 1;
    e->next_free = t->free_head;
    t->free_head = o->slot;
    t->live--;
    o->reap_next = t->reap;
    t->reap = o;
}

/* ---- the debugger's view: global ids and names (§8.10) */

int kobj_set_name(kernel_t *k, kobj_id_t obj, const uint8_t *name, uint32_t len)
{
    struct kobj *o = kobj_get(k, obj);
    if (!o || (len && !name))
        return -L4_EINVAL;
    uint32_t i = 0;
    for (; i < len && i < KOBJ_NAME_MAX && name[i]; i++)     /* as Jdb_kobject_name::name */
        o->dbg_name[i] = (char)name[i];
    for (; i < KOBJ_NAME_MAX; i++)
        o->dbg_name[i] = 0;
    o->dbg_named = 1;
    return 0;
}

int kobj_get_name(const kernel_t *k, kobj_id_t obj, char *out)
{
    const struct kobj *o = kobj_get(k, obj);
    if (!o || !out)
        return -L4_EINVAL;
    if (!o->dbg_named)
        return -L4_ENOENT;
    for (uint32_t i = 0; i < KOBJ_NAME_MAX; i++)
        out[i] = o->dbg_name[i];
    out[KOBJ_NAME_MAX] = 0;
    return 0;
}

int kobj_by_dbg_id(const kernel_t *k, uint64_t dbg_id, kobj_id_t *out)
{
    /* A walk, as Fiasco's Kobject_dbg::id_to_obj: the debugger is no hot path. */
    const struct objtab *t = &k->objs;
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->ents[i].obj && t->ents[i].obj->dbg_id == dbg_id) {
            *out = kobj_id_of(t->ents[i].obj);
            return 0;
        }
    return -L4_ENOENT;
}

void kobj_put(kernel_t *k, struct kobj *o)
{
    if (!kobj_alive(k, o))
        return;
    /* A count dec_refcnt drove to 0 or below goes on down (Fiasco's does): no kill. */
    if (--o->counted_refs == 0)
        kobj_kill(k, o);
}

/* What an object holds besides its own memory goes back here. */
static void kobj_release(kernel_t *k, struct kobj *o)
{
    switch (o->type) {
    case KOBJ_TASK:
        io_task_release(k, (struct task *)o);
        task_release(k, (struct task *)o);
        cspace_flush(k, (struct task *)o);
        mapdb_task_release(k, (struct task *)o);
        vspace_release(k, (struct task *)o);
        break;
    case KOBJ_DMA_SPACE:
        iommu_space_release(k, (struct task *)o);     /* devices bound to it lose it */
        mapdb_task_release(k, (struct task *)o);
        vspace_release(k, (struct task *)o);
        break;
    case KOBJ_THREAD:
        thread_kill_cleanup(k, (struct thread *)o);
        break;
    case KOBJ_GATE:
        gate_release(k, (struct gate *)o);
        break;
    case KOBJ_IRQ:
        irq_release(k, (struct irq *)o);
        break;
    case KOBJ_SEMAPHORE:
        semaphore_release(k, (struct semaphore *)o);
        break;
    case KOBJ_FACTORY:
        quota_invalidate(k, ((struct factory *)o)->own);
        break;
    default:
        break;
    }
}

void kobj_reap(kernel_t *k)
{
    struct objtab *t = &k->objs;
    while (t->reap) {
        struct kobj *o = t->reap;
        t->reap = o->reap_next;
        kobj_release(k, o);
        if (o->quota)
            quota_free(k, o->quota, o->charged);
        heap_free(o);
    }
}

void objtab_fini(kernel_t *k)
{
    struct objtab *t = &k->objs;
    for (uint32_t i = 0; i < t->cap; i++) {
        struct kobj *o = t->ents[i].obj;
        if (!o)
            continue;
        if (o->type == KOBJ_TASK) {
            cspace_free_tables((struct task *)o);
            heap_free(((struct task *)o)->io_parent);
        }
        if (o->type == KOBJ_THREAD)
            sigma0_fini((struct thread *)o);      /* the only native state there is */
        heap_free(o);
    }
    while (t->reap) {            /* normally empty: every API entry reaps on its way out */
        struct kobj *o = t->reap;
        t->reap = o->reap_next;
        if (o->type == KOBJ_TASK) {
            cspace_free_tables((struct task *)o);
            heap_free(((struct task *)o)->io_parent);
        }
        heap_free(o);
    }
    heap_free(t->ents);
    objtab_init(t);
}
