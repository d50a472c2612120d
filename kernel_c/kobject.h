/*
 * kobject.h: kernel objects and the table that names them.
 *
 * Every object starts with struct kobj. Objects are named by a kobj_id_t = generation << 32
 * | table slot; capability slots store that pair, so when an object dies its table slot's
 * generation moves on and every capability naming it becomes invalid at once (no reverse
 * map needed, lookup stays O(1)). Object memory is C heap; what it costs is charged to the
 * creating factory's quota (quota.h).
 */
#ifndef PYL4RE_KOBJECT_H
#define PYL4RE_KOBJECT_H

#include "pyl4re.h"

struct quota;
struct cap_dir;

struct kobj {
    uint32_t type;             /* enum kobj_type */
    uint32_t slot, gen;        /* this object's id */
    kobj_id_t id;              /* ... as one word, gen << 32 | slot: every IPC names threads */
    /* Fiasco's count is a signed machine word that dec_refcnt moves by any amount and
     * that may go below 0; this is its two's complement (read as int64_t), so that every
     * step wraps as Fiasco's does and none is undefined. The reference that takes it from
     * 1 to 0 kills the object (kobj_put); one below 1 never comes back to 0 by puts. */
    uint64_t counted_refs;
    uint64_t ref_bias;         /* what dec_refcnt moved the count by (mod 2^64): the
                                * reference audit (check.c) expects counted_refs =
                                * references + ref_bias */
    uint32_t permanent;        /* boot objects (root task, root factory, singletons) never die */
    struct quota *quota;       /* pays for the object; NULL for boot objects */
    uint64_t charged;
    kobj_id_t factory;
    struct kobj *reap_next;    /* on the kernel's reap list once dead */
    uint64_t dbg_id;           /* the debugger's global id (creation order, never reused) */
    uint32_t dbg_named;        /* a debugger name was set (it may be empty) */
    char dbg_name[KOBJ_NAME_MAX];   /* not NUL-terminated when all 16 bytes are used */
};

enum { CAP_TOP_BITS = 6, CAP_MID_BITS = 6, CAP_LEAF_BITS = 8 };

enum { KUMEM_MAX = 8 };

/* Kernel-user memory (UTCB areas): kernel frames the task sees at va. */
struct kumem {
    uint64_t va, size;
    phys_addr_t pa;
};

struct thread;

/* A priority-ordered queue of threads (senders, gate waiters); FIFO within a priority. */
struct wait_q {
    struct thread *head, *tail;
    struct thread *owner;      /* a thread's own queue of senders (vCPU sticky flag), else NULL */
};

struct task {
    struct kobj hdr;
    struct cap_dir *cap_top[1 << CAP_TOP_BITS];   /* sparse 3-level capability table */
    phys_addr_t pt_root;       /* page-table root in physical memory; 0 = not yet made */
    uint32_t pt_kind;          /* enum vspace_kind of that table (vspace.c) */
    struct kumem kumem[KUMEM_MAX];
    uint32_t nkumem;
    struct thread *threads;    /* threads bound to this task */
    uint64_t *io_parent;       /* per I/O port: the task it was mapped from (an id), 0 none;
                                * NULL until the first port arrives (iospace.c) */
};

struct factory {
    struct kobj hdr;
    struct quota *own;         /* the budget objects created through this factory use */
};

struct gate {
    struct kobj hdr;
    uint64_t label;
    kobj_id_t thread;          /* bound thread (holds a counted reference), 0 = unbound */
    struct wait_q waiters;     /* senders blocked until a thread is bound */
};
struct irq {
    struct kobj hdr;
    uint64_t label;            /* delivered with each message */
    kobj_id_t thread;          /* bound thread (holds a counted reference), 0 = unbound */
    uint32_t pending;          /* raised while it could not be queued */
    uint32_t line;             /* the ICU line it is bound to, or ICU_NO_LINE */
    struct thread *queued_at;  /* its message waits at this thread */
    struct irq *next, *prev;   /* in that thread's list of waiting IRQ messages */
};
struct semaphore { struct kobj hdr; uint64_t count; struct wait_q waiters; };
struct singleton { struct kobj hdr; };   /* ICU/Pfc, Log, Scheduler, Debugger */

struct objent {
    struct kobj *obj;          /* NULL when free */
    uint32_t gen;
    uint32_t next_free;
};

struct objtab {
    struct objent *ents;
    uint32_t cap, live, free_head;
    uint64_t next_dbg_id;
    struct kobj *reap;         /* dead objects whose memory is still to be released */
};

/* Objects laid out as struct task: tasks, and DMA spaces (Fiasco's Dmar_space is a Task
 * with only a memory space). The mapping database and page tables serve both. */
static inline int kobj_is_space(const struct kobj *o)
{
    return o->type == KOBJ_TASK || o->type == KOBJ_DMA_SPACE;
}

static inline kobj_id_t kobj_id_of(const struct kobj *o)
{
    return o->id;
}

void objtab_init(struct objtab *t);
/* Allocates zeroed object memory of `size` bytes and gives it an id. NULL on failure. */
struct kobj *kobj_new(kernel_t *k, uint32_t type, size_t size);
/* kobj_get() and kobj_from_slot(), the lookups by id, are inline in kernel.h. */
/* Drops one counted reference; the object dies with the last. */
void kobj_put(kernel_t *k, struct kobj *o);
/* Kills the object now: its id (and every capability) is invalid from here on. */
void kobj_kill(kernel_t *k, struct kobj *o);
/* Releases the memory of killed objects, which may kill further objects (a task's
 * capabilities); runs until nothing is left. Called on the way out of every API entry. */
void kobj_reap(kernel_t *k);
void objtab_fini(kernel_t *k);

#endif
