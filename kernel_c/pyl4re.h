/*
 * pyl4re.h: the one boundary between Python and the C core.
 *
 * The build hands this file (with the headers it includes by "...") to cffi's cdef, and
 * every C file includes it, so each declaration exists once. It must stay cdef-parsable:
 * no function bodies, no macros beyond "#define NAME <integer>", and kernel structs stay
 * opaque (Python holds a kernel_t pointer and object ids, never a struct it could corrupt).
 *
 * Conventions: functions are <family>_<verb>; they return 0 or a negative -L4_Exxx code and
 * write results through out-pointers; a failing call changes nothing.
 */
#ifndef PYL4RE_H
#define PYL4RE_H

#include <stdint.h>

#include "l4_abi.h"
#include "arch_abi.h"

/* ---- typed values (§15): distinct single-member structs, so mixing them is a compile error */
typedef struct { uint64_t raw; } virt_addr_t;    /* virtual byte address */
typedef struct { uint64_t raw; } phys_addr_t;    /* physical byte address */
typedef struct { uint64_t raw; } page_number_t;  /* page-frame number (4 KiB frames) */
typedef struct { uint32_t raw; } cpu_number_t;   /* logical CPU */
typedef struct { uint32_t raw; } cap_index_t;    /* slot in a capability table (selector >> 12) */
typedef struct { uint64_t raw; } kobj_id_t;      /* global object id: generation << 32 | slot */

/* ---- the kernel instance */
typedef struct kernel kernel_t;

struct kernel_config {
    uint32_t cpus;          /* 1 .. KERNEL_MAX_CPUS */
    uint64_t seed;
    uint64_t kmem_bytes;    /* physical memory reserved at boot for kernel allocations */
};

enum kernel_limits {
    KERNEL_MAX_CPUS = 64,
    FRAME_SHIFT = 12,
    FRAME_SIZE = 4096,
    FRAME_MAX_ORDER = 18,          /* largest kernel block: 4 KiB << 18 = 1 GiB */
    KERNEL_MIN_MEMORY = 0x100000,  /* 1 MiB */
    KERNEL_MIN_KMEM = 0x40000,     /* 256 KiB */
};
#define KERNEL_MAX_MEMORY 0x100000000

/* Boots a kernel on caller-owned physical memory (size a multiple of FRAME_SIZE). */
int kernel_create(const struct kernel_config *cfg, uint8_t *physmem, uint64_t size,
                  kernel_t **out);
void kernel_destroy(kernel_t *k);
kobj_id_t kernel_root_task(const kernel_t *k);
/* Blocks the C core holds on the C heap, over all kernels of this build (heap.c). */
uint64_t core_heap_blocks(void);

/* ---- the architecture this build is for (constants in arch_abi.h) */
struct arch_info {
    const char *name;
    uint32_t mword_bits;
    uint32_t exc_regs_words;       /* l4_exc_regs_t size (§2, §10.3) */
    uint32_t utcb_size;            /* L4_UTCB_OFFSET */
    uint32_t page_shift;           /* smallest user page */
    uint64_t user_max;             /* highest user virtual address */
};
const struct arch_info *arch_describe(void);

/* ---- physical frames (frames.c) */
enum frame_owner {
    FRAME_RESERVED = 0,     /* never handed out (frame 0: "no table" in page-table entries) */
    FRAME_KERNEL_FREE = 1,  /* kernel pool, free */
    FRAME_KERNEL = 2,       /* kernel pool, in use */
    FRAME_SIGMA0 = 3,       /* outside the kernel pool: owned by sigma0 at boot */
};
struct frames_stats {
    uint64_t total_frames;
    uint64_t kernel_frames;       /* size of the kernel pool */
    uint64_t kernel_free_frames;
    uint64_t sigma0_frames;
    uint64_t sigma0_first_pfn;
};
int frames_alloc(kernel_t *k, uint32_t order, phys_addr_t *out);
int frames_free(kernel_t *k, phys_addr_t block, uint32_t order);
int frames_owner(const kernel_t *k, page_number_t pfn);
void frames_stats(const kernel_t *k, struct frames_stats *out);

/* ---- kernel objects (kobject.c) */
enum kobj_type {
    KOBJ_NONE = 0,
    KOBJ_TASK = 1,
    KOBJ_THREAD = 2,
    KOBJ_GATE = 3,
    KOBJ_FACTORY = 4,
    KOBJ_IRQ = 5,
    KOBJ_SEMAPHORE = 6,
    KOBJ_ICU = 7,
    KOBJ_LOG = 8,
    KOBJ_SCHEDULER = 9,
    KOBJ_DEBUGGER = 10,
    KOBJ_TYPE_COUNT = 11,
};

/* Bytes each kind of object charges to its factory's quota (§13; docs/quotas.md).
 * Fiasco's exact sizes depend on its build configuration; these are the model's. */
enum kobj_size {
    KOBJ_SIZE_TASK = 512,
    KOBJ_SIZE_THREAD = 8192,       /* THREAD_BLOCK_SIZE on 64-bit: TCB + kernel stack */
    KOBJ_SIZE_GATE = 64,
    KOBJ_SIZE_FACTORY = 64,
    KOBJ_SIZE_IRQ = 128,
    KOBJ_SIZE_SEMAPHORE = 128,     /* Irq slab entry, like Irq_sender */
    KOBJ_SIZE_CAP_TABLE = 4096,    /* a leaf of a task's capability table: 256 slots */
    KOBJ_SIZE_CAP_DIR = 512,       /* a middle directory of it: 64 leaves */
};

struct kobj_info {
    uint32_t type;            /* enum kobj_type */
    uint32_t counted_refs;    /* capabilities holding a counted reference */
    uint64_t charged;         /* bytes charged to the quota */
    kobj_id_t factory;        /* the factory whose quota pays (0 for boot objects) */
};
int kobj_info(const kernel_t *k, kobj_id_t obj, struct kobj_info *out);
uint64_t kobj_live_count(const kernel_t *k);

/* ---- factories and quotas (factory.c) */
struct quota_info {
    uint64_t limit;     /* 0 = unlimited (the root factory) */
    uint64_t used;
    int32_t valid;      /* 0 once the factory was destroyed */
};
int factory_quota(const kernel_t *k, kobj_id_t factory, struct quota_info *out);
/* Creates an object of `type` charged to `factory` and maps it with full rights into
 * slot `slot` of `task` (replacing what was there). `arg` is the child limit for
 * KOBJ_FACTORY and ignored otherwise. -L4_ENOMEM leaves everything untouched. */
int factory_create(kernel_t *k, kobj_id_t factory, uint32_t type, uint64_t arg,
                   kobj_id_t task, cap_index_t slot, kobj_id_t *out);

/* ---- capability spaces (cspace.c) */
enum cap_slot_bits {
    CAP_COUNTED = 0x10,   /* internal flag: the slot holds a counted reference */
};
#define CSPACE_SLOTS 0x100000

struct cap_info {
    kobj_id_t obj;
    uint32_t type;        /* enum kobj_type */
    uint32_t rights;      /* L4_CAP_FPAGE_{R,W,S,D} */
    uint32_t attrs;       /* CAP_COUNTED | L4_FPAGE_C_OBJ_RIGHT* */
};
int cspace_lookup(const kernel_t *k, kobj_id_t task, cap_index_t idx, struct cap_info *out);
/* Inserts a new reference to obj (control plane only: boot and harness set-up). */
int cspace_insert(kernel_t *k, kobj_id_t task, cap_index_t idx, kobj_id_t obj,
                  uint32_t rights, uint32_t attrs);
/* Copies src_task[src] to dst_task[dst] (§5.2): rights = source rights & rights_mask,
 * attributes = source attributes & (ctl_attrs ^ L4_FPAGE_C_NO_REF_CNT). A result without R
 * maps nothing (returns 1); a different object at dst is released first; the same object
 * there only gains rights. Returns 0 when mapped. */
int cspace_copy(kernel_t *k, kobj_id_t dst_task, cap_index_t dst, kobj_id_t src_task,
                cap_index_t src, uint32_t rights_mask, uint32_t ctl_attrs);
/* Removes the capability (its counted reference goes; the object dies with the last). */
int cspace_delete(kernel_t *k, kobj_id_t task, cap_index_t idx);
/* Deletes the object itself (needs the D right): every capability to it becomes invalid. */
int cspace_delete_obj(kernel_t *k, kobj_id_t task, cap_index_t idx);
uint64_t cspace_slots_used(const kernel_t *k, kobj_id_t task);

#endif
