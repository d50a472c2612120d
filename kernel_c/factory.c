/*
 * factory.c: creating kernel objects against a factory's quota (§8.3, §13).
 *
 * The control plane (Python) has decoded the request and checked rights and arguments;
 * this file charges, allocates and maps, all or nothing. Sizes come from enum kobj_size.
 * A VM (op -16) is a task whose table is of the VM kind, its root made with it.
 */
#include "kernel.h"
#include "cspace.h"
#include "quota.h"
#include "ptab.h"
#include "thread.h"

struct kind {
    uint32_t size;         /* what the object charges */
    uint32_t struct_size;  /* its C layout */
};

static const struct kind kinds[KOBJ_TYPE_COUNT] = {
    [KOBJ_TASK] = { KOBJ_SIZE_TASK, sizeof(struct task) },
    [KOBJ_THREAD] = { KOBJ_SIZE_THREAD, sizeof(struct thread) },
    [KOBJ_GATE] = { KOBJ_SIZE_GATE, sizeof(struct gate) },
    [KOBJ_FACTORY] = { KOBJ_SIZE_FACTORY, sizeof(struct factory) },
    [KOBJ_IRQ] = { KOBJ_SIZE_IRQ, sizeof(struct irq) },
    [KOBJ_SEMAPHORE] = { KOBJ_SIZE_SEMAPHORE, sizeof(struct semaphore) },
    [KOBJ_DMA_SPACE] = { KOBJ_SIZE_DMA_SPACE, sizeof(struct task) },
};

/* Factory limits must be non-zero and below 2^63 - 1 (§8.3). */
#define FACTORY_LIMIT_MAX 0x7ffffffffffffffe

int factory_quota(const kernel_t *k, kobj_id_t factory, struct quota_info *out)
{
    struct kobj *o = kobj_get(k, factory);
    if (!o || o->type != KOBJ_FACTORY)
        return -L4_EINVAL;
    const struct quota *q = ((const struct factory *)o)->own;
    out->limit = q->limit;
    out->used = q->used;
    out->valid = q->valid;
    return 0;
}

/* A VM's address space is guest-physical: the architecture's nested-table kind, its root
 * charged like the task (Fiasco allocates the EPT / stage-2 root with the Vm). */
static int vm_init(kernel_t *k, struct task *t)
{
    t->pt_kind = VSPACE_KIND_VM;
    return ptab_new_root(k, t->hdr.quota, &t->pt_root);
}

/* What each kind needs beyond zeroed memory; arg as for factory_create. */
static int kind_init(kernel_t *k, struct kobj *o, uint64_t arg, int vm)
{
    switch (o->type) {
    case KOBJ_THREAD:
        thread_init((struct thread *)o);
        return 0;
    case KOBJ_GATE:
        ((struct gate *)o)->label = arg;
        return 0;
    case KOBJ_IRQ:
        ((struct irq *)o)->line = ICU_NO_LINE;
        return 0;
    case KOBJ_TASK:
        if (vm)
            return vm_init(k, (struct task *)o);
        /* The UTCB area (a memory fpage) becomes the task's first ku-mem (§8.3). */
        return arg ? task_kumem_add(k, (struct task *)o, arg & ~(uint64_t)0xFFF,
                                    (unsigned)((arg >> 6) & 0x3F)) : 0;
    case KOBJ_DMA_SPACE:
        ((struct task *)o)->pt_kind = VSPACE_KIND_DMA;   /* its table is the IOMMU's */
        return 0;
    default:
        return 0;
    }
}

static int create(kernel_t *k, kobj_id_t factory, uint32_t type, uint64_t arg, int vm,
                  kobj_id_t task, cap_index_t slot, kobj_id_t *out)
{
    struct kobj *fo = kobj_get(k, factory), *to = kobj_get(k, task);
    if (!fo || fo->type != KOBJ_FACTORY || !to || to->type != KOBJ_TASK
        || slot.raw >= CSPACE_SLOTS)
        return -L4_EINVAL;
    if (type >= KOBJ_TYPE_COUNT || !kinds[type].size)
        return -L4_ENODEV;
    struct quota *q = ((struct factory *)fo)->own;
    uint64_t charge = kinds[type].size;
    if (type == KOBJ_FACTORY) {
        if (arg == 0 || arg > FACTORY_LIMIT_MAX)
            return -L4_ENOMEM;
        charge += arg;             /* the child's whole budget, at once */
        if (charge < arg)
            return -L4_ENOMEM;
    }
    if (quota_alloc(q, charge) < 0)
        return -L4_ENOMEM;

    struct kobj *o = kobj_new(k, type, kinds[type].struct_size);
    struct quota *child = NULL;
    if (o && type == KOBJ_FACTORY && !(child = quota_new(k, q, arg, charge))) {
        kobj_kill(k, o);
        o = NULL;
    }
    if (!o) {
        quota_free(k, q, charge);
        kobj_reap(k);
        return -L4_ENOMEM;
    }
    if (child) {
        /* The child's quota holds the charge and returns it when drained (quota.c). */
        ((struct factory *)o)->own = child;
        o->charged = 0;
    } else {
        o->quota = q;
        o->charged = charge;
    }
    o->factory = factory;
    int rc = kind_init(k, o, arg, vm);
    if (rc == 0)
        rc = cspace_put(k, (struct task *)to, slot, o, L4_CAP_FPAGE_RWSD,
                        CAP_COUNTED | L4_FPAGE_C_OBJ_RIGHTS);
    if (rc < 0)
        kobj_kill(k, o);            /* no capability was made: it dies, refunding */
    else
        *out = kobj_id_of(o);
    kobj_reap(k);
    return rc;
}

int factory_create(kernel_t *k, kobj_id_t factory, uint32_t type, uint64_t arg,
                   kobj_id_t task, cap_index_t slot, kobj_id_t *out)
{
    return create(k, factory, type, arg, 0, task, slot, out);
}

int factory_create_vm(kernel_t *k, kobj_id_t factory, kobj_id_t task, cap_index_t slot,
                      kobj_id_t *out)
{
    return create(k, factory, KOBJ_TASK, 0, 1, task, slot, out);
}
