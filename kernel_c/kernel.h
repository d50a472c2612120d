/*
 * kernel.h: the C core's internal view of a kernel instance (never seen by cffi).
 *
 * Holds struct kernel and the helpers that build and unpack typed values. The layout of
 * kernel objects is private to kobject.h; physical frames to frames.h.
 */
#ifndef PYL4RE_KERNEL_H
#define PYL4RE_KERNEL_H

#include <stddef.h>
#include "pyl4re.h"
#include "frames.h"
#include "kobject.h"

struct quota;
struct cpu;
struct trace_slot;

/* The trace ring (trace.c, trace.h): JDB's tbuf. size 0 = off; every trace point tests
 * it first, so tracing that is off costs one load and a branch. */
struct trace_ring {
    struct trace_slot *buf, *end;   /* the slots, and just past the last */
    struct trace_slot *next;   /* where the next entry goes: head = next - buf */
    uint32_t size;             /* entries the ring holds */
    uint64_t wraps;            /* times head went round: recorded = wraps * size + head */
    uint64_t cleared;          /* entries up to this sequence number were cleared */
    uint32_t off;              /* bit kind set: that kind is not recorded (debugger op 4) */
};

/* One ICU line (irq.c). */
struct icu_line {
    kobj_id_t irq;
    uint32_t mode;             /* L4_IRQ_F_LEVEL, _NEG, _BOTH as set_mode left them */
    uint32_t masked, asserted;
    uint32_t msi_source;       /* MSI lines: 1 + the device allowed to raise it; 0 none */
    uint32_t wakeup;           /* L4_IRQ_F_SET_WAKEUP: an edge here ends a suspend (pfc.c) */
};

/* What the last failed kernel operation was about, for explain_last_error(). */
struct last_error {
    kobj_id_t thread;
    uint64_t selector;
    uint32_t obj_type, rights_had, rights_needed;
    int64_t label;
    uint64_t opcode;
    int32_t code;              /* -L4_Exxx, or an IPC error (positive TCR code) */
    const char *what;
    struct mem_result fault;   /* an unresolved page fault: fault.reason != 0 */
};

struct kernel {
    uint8_t *mem;              /* physical memory, owned by the caller (numpy) */
    uint64_t mem_size;
    uint32_t cpus;
    uint64_t seed;
    struct frames frames;
    struct objtab objs;
    struct quota *quotas;      /* every quota, for teardown */
    struct quota *root_quota;
    kobj_id_t root_task;
    void *mmu;                 /* the arch's MMU model (arch/<arch>/mmu.c); NULL until used */
    struct cpu *cpu;           /* cpus entries */
    uint32_t running_cpu;      /* the CPU of the kernel entry in progress, or CPU_NONE */
    struct last_error err;
    uint64_t errors;           /* failures noted so far (err is the last) */
    struct task *sigma0;       /* owns every frame outside the kernel pool at boot */
    struct thread *sigma0_thread;
    uint64_t tlb_epoch;        /* bumped by every unmap and revoke: software TLBs check it */
    phys_addr_t kip_pa;        /* the kernel info page (kip.c) */
    uint64_t kip_due_ns;       /* kip_due: the KIP clock still to be written (thread.h) */
    uint32_t kip_due;
    struct icu_line *icu_lines;   /* ICU_LINES entries */
    void *mapdb;               /* mapdb.c's state */
    void *iommu;               /* iommu.c's device table; NULL until a device is bound */
    struct trace_ring trace;
    uint32_t shutdown;         /* enum kernel_shutdown_how: set, sched_next runs nothing */
    uint32_t suspended;        /* platform suspend: no CPU runs until a wakeup line fires */
    /* The bounds of the current run (sched_limits, sched_set_event): NEVER for none. */
    uint64_t sched_until_ns, sched_event_ns, sched_steps_left;
    uint32_t sched_in_entry;   /* a waiting sys_invoke may schedule at once */
    uint32_t native_runs_off;  /* sched_set_native_runs(0): no native runs (sched.c) */
    uint64_t native_run_steps; /* steps native runs took without a full step */
    uint64_t vcpu_conts;       /* continuation ips handed out by vCPU upcalls (vcpu.c) */
    const char *pending_what;  /* why the slow-path operation in progress refused, if C said */
    /* Seeded choices among legal schedules (seed.c); canonical order when !seeded. */
    uint32_t seeded, quantum_jitter_permille;
    uint64_t rng;
    struct cost_table cost;    /* what each operation charges (kernel_set_costs) */
    /* Where sys_enter answers (kernel_entry_result, kernel_sched_out): one pair per
     * kernel, read by the run loop in place. */
    struct sys_result entry_res;
    struct sched_out entry_next;
    kobj_id_t py_thread;       /* the Python thread the scheduler last chose (SCHED_RUN) */
};

/* The live object with this id (table slot, generation), or NULL once it died. Inline:
 * every IPC looks up several. */
__attribute__((always_inline))
static inline struct kobj *kobj_from_slot(const kernel_t *k, uint32_t slot, uint32_t gen)
{
    const struct objtab *t = &k->objs;
    if (slot >= t->cap || t->ents[slot].gen != gen)
        return NULL;
    return t->ents[slot].obj;
}

__attribute__((always_inline))
static inline struct kobj *kobj_get(const kernel_t *k, kobj_id_t id)
{
    return kobj_from_slot(k, (uint32_t)id.raw, (uint32_t)(id.raw >> 32));
}

/* seed.c: with a seed, a draw in [0, n); the quantum a refill gives (within the bound). */
void seed_init(kernel_t *k, const struct kernel_config *cfg);
uint64_t seed_below(kernel_t *k, uint64_t n);
uint64_t seed_quantum(kernel_t *k, uint64_t quantum_ns);

/* syscall.c: a waiting entry's status as the run loop's fast switch takes it: SYS_SWITCH
 * to a Python thread going on with its result (SCHED_RUN, RESUME_RESULT) becomes that
 * thread's py_index (>= SYS_SWITCH_TO) when it has one; any other status stays. */
int sys_switch_by_index(const kernel_t *k, int status, const struct sched_out *next);

int irq_init(kernel_t *k);
/* A wakeup source fired: a suspended system goes on (pfc.c). */
void platform_wake(kernel_t *k);
void irq_fini(kernel_t *k);
int kip_init(kernel_t *k);
enum { KIP_CLOCK = 0x20 };     /* the KIP's clock word (µs); kip_tick() is in thread.h */

/* Typed-value constructors and conversions: the only places raw integers become typed. */
static inline phys_addr_t phys_addr(uint64_t raw) { return (phys_addr_t){ raw }; }
static inline virt_addr_t virt_addr(uint64_t raw) { return (virt_addr_t){ raw }; }
static inline page_number_t page_number(uint64_t raw) { return (page_number_t){ raw }; }
static inline cap_index_t cap_index(uint32_t raw) { return (cap_index_t){ raw }; }
static inline page_number_t phys_to_pfn(phys_addr_t pa)
{
    return (page_number_t){ pa.raw >> FRAME_SHIFT };
}
static inline phys_addr_t pfn_to_phys(page_number_t pfn)
{
    return (phys_addr_t){ pfn.raw << FRAME_SHIFT };
}

#endif
