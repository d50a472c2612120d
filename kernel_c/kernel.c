/*
 * kernel.c: booting and tearing down a kernel instance.
 *
 * Boot splits physical memory (frames.c), creates the objects that exist before any
 * factory (root quota and factory, ICU/Pfc, Log, Scheduler, Debugger) and the root task
 * the harness acts through, holding them at their base slots (§6.2).
 */

#include "kernel.h"
#include "iommu.h"
#include "heap.h"
#include "cspace.h"
#include "quota.h"
#include "native.h"
#include "thread.h"
#include "ptab.h"
#include "mapdb.h"
#include "trace.h"

static struct kobj *boot_object(kernel_t *k, uint32_t type, size_t size)
{
    struct kobj *o = kobj_new(k, type, size);
    if (o)
        o->permanent = 1;
    return o;
}

/* sigma0's thread: UTCB in its own ku-mem, the native sigma0 program, priority 255. */
static int boot_sigma0(kernel_t *k)
{
    struct thread *t = (struct thread *)boot_object(k, KOBJ_THREAD, sizeof(struct thread));
    if (!t)
        return -L4_ENOMEM;
    thread_init(t);
    int rc = task_kumem_add(k, k->sigma0, ARCH_UTCB_AREA_DEFAULT, ARCH_PAGE_SHIFT);
    struct thread_ctl ctl = { .flags = L4_THREAD_CONTROL_BIND_TASK, .task = kobj_id_of(&k->sigma0->hdr),
                              .utcb = virt_addr(ARCH_UTCB_AREA_DEFAULT) };
    if (!rc)
        rc = thread_control(k, kobj_id_of(&t->hdr), &ctl);
    if (!rc)
        rc = sigma0_init(k, t);
    if (rc)
        return rc;
    k->sigma0_thread = t;
    struct thread_regs old;
    thread_ex_regs(k, kobj_id_of(&t->hdr), NATIVE_TEXT_BASE + PROGRAM_SIGMA0 * NATIVE_TEXT_STRIDE,
                   0, 0, &old);
    return thread_run(k, kobj_id_of(&t->hdr), (cpu_number_t){ 0 }, PRIO_LEVELS - 1, 0);
}

static int boot_objects(kernel_t *k)
{
    static const struct { uint32_t type, index; } singletons[] = {
        { KOBJ_LOG, L4_BASE_LOG_CAP_INDEX },
        { KOBJ_ICU, L4_BASE_ICU_CAP_INDEX },
        { KOBJ_SCHEDULER, L4_BASE_SCHEDULER_CAP_INDEX },
        { KOBJ_DEBUGGER, L4_BASE_DEBUGGER_CAP_INDEX },
        { KOBJ_IOMMU, L4_BASE_IOMMU_CAP_INDEX },
    };
    if (!(k->root_quota = quota_new(k, NULL, 0, 0)))
        return -L4_ENOMEM;
    struct task *root = (struct task *)boot_object(k, KOBJ_TASK, sizeof(struct task));
    struct factory *f = (struct factory *)boot_object(k, KOBJ_FACTORY, sizeof(struct factory));
    struct task *sigma0 = (struct task *)boot_object(k, KOBJ_TASK, sizeof(struct task));
    if (!root || !f || !sigma0)
        return -L4_ENOMEM;
    k->sigma0 = sigma0;
    f->own = k->root_quota;
    k->root_task = kobj_id_of(&root->hdr);
    const uint32_t full = L4_CAP_FPAGE_RWSD, attrs = CAP_COUNTED | L4_FPAGE_C_OBJ_RIGHTS;
    int rc = cspace_put(k, root, cap_index(L4_BASE_TASK_CAP_INDEX), &root->hdr, full, attrs);
    if (!rc)
        rc = cspace_put(k, root, cap_index(L4_BASE_FACTORY_CAP_INDEX), &f->hdr, full, attrs);
    for (unsigned i = 0; !rc && i < sizeof(singletons) / sizeof(singletons[0]); i++) {
        struct kobj *o = boot_object(k, singletons[i].type, sizeof(struct singleton));
        rc = o ? cspace_put(k, root, cap_index(singletons[i].index), o, full, attrs) : -L4_ENOMEM;
    }
    return rc ? rc : boot_sigma0(k);
}

int kernel_create(const struct kernel_config *cfg, uint8_t *physmem, uint64_t size,
                  kernel_t **out)
{
    if (!cfg || !physmem || !out)
        return -L4_EINVAL;
    if (cfg->cpus < 1 || cfg->cpus > KERNEL_MAX_CPUS)
        return -L4_EINVAL;
    if (size < KERNEL_MIN_MEMORY || size > KERNEL_MAX_MEMORY || size % FRAME_SIZE)
        return -L4_EINVAL;
    if (cfg->kmem_bytes < KERNEL_MIN_KMEM || cfg->kmem_bytes % FRAME_SIZE
        || cfg->kmem_bytes >= size || cfg->trace_size > TRACE_MAX_ENTRIES
        || cfg->quantum_jitter_permille > KERNEL_MAX_JITTER_PERMILLE)
        return -L4_EINVAL;
    kernel_t *k = heap_alloc(sizeof(*k));
    if (!k)
        return -L4_ENOMEM;
    k->mem = physmem;
    k->mem_size = size;
    k->cpus = cfg->cpus;
    k->seed = cfg->seed;
    seed_init(k, cfg);
    k->sched_until_ns = k->sched_event_ns = UINT64_MAX;     /* no bounds until a run sets them */
    k->sched_steps_left = UINT64_MAX;
    kernel_cost_defaults(&k->cost);
    objtab_init(&k->objs);
    int rc = frames_init(&k->frames, size / FRAME_SIZE, cfg->kmem_bytes / FRAME_SIZE);
    if (!rc)
        rc = sched_init(k);
    if (!rc)
        rc = trace_init(k, cfg->trace_size);
    if (!rc)
        rc = kip_init(k);
    if (!rc)
        rc = irq_init(k);
    if (!rc)
        rc = boot_objects(k);
    if (rc < 0) {
        kernel_destroy(k);
        return rc;
    }
    *out = k;
    return 0;
}

void kernel_cost_defaults(struct cost_table *out)
{
    *out = (struct cost_table){
        .syscall_ns = COST_SYSCALL_NS, .ipc_ns = COST_IPC_NS, .word_ns = COST_WORD_NS,
        .item_ns = COST_ITEM_NS, .switch_ns = COST_SWITCH_NS, .space_ns = 0,
        .ipi_ns = COST_IPI_NS, .kobj_ns = COST_KOBJ_NS,
        .vcpu_upcall_ns = COST_VCPU_UPCALL_NS, .vcpu_resume_ns = COST_VCPU_RESUME_NS,
    };
}

void kernel_costs(const kernel_t *k, struct cost_table *out)
{
    *out = k->cost;
}

int kernel_set_costs(kernel_t *k, const struct cost_table *costs)
{
    if (!costs)
        return -L4_EINVAL;
    const uint64_t *each = &costs->syscall_ns;
    for (size_t i = 0; i < sizeof(*costs) / sizeof(*each); i++)
        if (each[i] > COST_MAX_NS)
            return -L4_EINVAL;
    k->cost = *costs;
    return 0;
}

void kernel_destroy(kernel_t *k)
{
    if (!k)
        return;
    objtab_fini(k);
    mapdb_fini(k);
    iommu_fini(k);
    vspace_fini(k);
    sched_fini(k);
    trace_fini(k);
    irq_fini(k);
    quota_fini_all(k);
    frames_fini(&k->frames);
    heap_free(k);
}

kobj_id_t kernel_root_task(const kernel_t *k)
{
    return k->root_task;
}

kobj_id_t kernel_sigma0(const kernel_t *k)
{
    return kobj_id_of(&k->sigma0->hdr);
}

kobj_id_t kernel_sigma0_thread(const kernel_t *k)
{
    return kobj_id_of(&k->sigma0_thread->hdr);
}

int kobj_info(const kernel_t *k, kobj_id_t obj, struct kobj_info *out)
{
    const struct kobj *o = kobj_get(k, obj);
    if (!o)
        return -L4_ENOENT;
    out->type = o->type;
    out->counted_refs = (int64_t)o->counted_refs;
    out->charged = o->charged;
    if (o->type == KOBJ_FACTORY && ((const struct factory *)o)->own->parent)
        out->charged = ((const struct factory *)o)->own->parent_charge;
    out->factory = o->factory;
    out->dbg_id = o->dbg_id;
    return 0;
}

uint64_t kobj_live_count(const kernel_t *k)
{
    return k->objs.live;
}

uint64_t kobj_list(const kernel_t *k, kobj_id_t *out, uint64_t max)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < k->objs.cap && n < max; i++)
        if (k->objs.ents[i].obj)
            out[n++] = kobj_id_of(k->objs.ents[i].obj);
    return k->objs.live;
}
