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
    uint64_t seed;          /* with seeded != 0: drives the choices among legal schedules */
    uint32_t seeded;        /* 0: the canonical order (seed.c) */
    uint32_t quantum_jitter_permille;   /* seeded: a refill may shorten a quantum by this */
    uint64_t kmem_bytes;    /* physical memory reserved at boot for kernel allocations */
    uint32_t trace_size;    /* entries of the trace ring, 0 = no tracing (trace.c) */
};

enum kernel_limits {
    KERNEL_MAX_CPUS = 64,
    KERNEL_MAX_JITTER_PERMILLE = 1000,
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
/* sigma0's task: it owns every frame outside the kernel pool at boot. */
kobj_id_t kernel_sigma0(const kernel_t *k);
kobj_id_t kernel_sigma0_thread(const kernel_t *k);
/* The kernel info page: where it lies, and where every task sees it (read-only). */
phys_addr_t kernel_kip(const kernel_t *k);
#define KIP_VA 0xbff00000
/* Blocks the C core holds on the C heap, over all kernels of this build (heap.c). */
uint64_t core_heap_blocks(void);
/* Edge coverage of the core (cov.c; only the coverage build, PYL4RE_COVERAGE=1, records
 * any): the bitmap's size in bytes (0: not a coverage build), and cov_collect, which sets
 * in seen[0..n) the edges run since the last call, returns how many of them were not set
 * yet, writes how many edges were run to *hit, and clears the record. */
uint32_t cov_map_size(void);
uint32_t cov_collect(uint8_t *seen, uint32_t n, uint32_t *hit);

/* ---- the cost table (docs/time.md): the virtual ns each operation charges. It starts as
 * the architecture's model table (enum arch_cost); a platform profile replaces it. */
struct cost_table {
    uint64_t syscall_ns;       /* every kernel entry (entry and exit) */
    uint64_t ipc_ns;           /* each message transfer */
    uint64_t word_ns;          /* each message word copied */
    uint64_t item_ns;          /* each capability or page mapped */
    uint64_t switch_ns;        /* each context switch */
    uint64_t space_ns;         /* a switch that also changes the address space */
    uint64_t ipi_ns;           /* a wake-up reaching another CPU */
    uint64_t kobj_ns;          /* a slow-path kernel-object operation */
    uint64_t vcpu_upcall_ns;   /* a vCPU event entering the entry point */
    uint64_t vcpu_resume_ns;   /* a vcpu_resume that goes through */
};
enum { COST_MAX_NS = 1000000000 };     /* no single charge above 1 s */
void kernel_cost_defaults(struct cost_table *out);
void kernel_costs(const kernel_t *k, struct cost_table *out);
/* -L4_EINVAL (table unchanged) if any cost exceeds COST_MAX_NS. */
int kernel_set_costs(kernel_t *k, const struct cost_table *costs);

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
    KOBJ_DMA_SPACE = 11,           /* a task with only a memory space, in the IOMMU's format */
    KOBJ_IOMMU = 12,
    KOBJ_TYPE_COUNT = 13,
};

/* Bytes each kind of object charges to its factory's quota (§13; docs/quotas.md).
 * Fiasco's exact sizes depend on its build configuration; these are the model's. */
enum kobj_size {
    KOBJ_SIZE_TASK = 512,
    KOBJ_SIZE_DMA_SPACE = 512,     /* a Task without capability table and threads */
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
    int64_t counted_refs;     /* counted references, as moved by dec_refcnt (may be < 0) */
    uint64_t charged;         /* bytes charged to the quota */
    kobj_id_t factory;        /* the factory whose quota pays (0 for boot objects) */
    uint64_t dbg_id;          /* the debugger's global id: creation order from 0, never reused */
};
int kobj_info(const kernel_t *k, kobj_id_t obj, struct kobj_info *out);
uint64_t kobj_live_count(const kernel_t *k);
/* Every live object's id in table order: at most max into out; returns how many live. */
uint64_t kobj_list(const kernel_t *k, kobj_id_t *out, uint64_t max);
/* The debugger's object names (§8.10; Fiasco's Jdb_kobject_name): at most KOBJ_NAME_MAX
 * bytes, cut at the first NUL; the name dies with the object. */
enum kobj_debug { KOBJ_NAME_MAX = 16 };
int kobj_set_name(kernel_t *k, kobj_id_t obj, const uint8_t *name, uint32_t len);
/* out gets the name and a NUL (KOBJ_NAME_MAX + 1 bytes); -L4_ENOENT if it has none. */
int kobj_get_name(const kernel_t *k, kobj_id_t obj, char *out);
/* The live object with this global id, or -L4_ENOENT. */
int kobj_by_dbg_id(const kernel_t *k, uint64_t dbg_id, kobj_id_t *out);

/* ---- factories and quotas (factory.c) */
struct quota_info {
    uint64_t limit;     /* 0 = unlimited (the root factory) */
    uint64_t used;
    int32_t valid;      /* 0 once the factory was destroyed */
};
int factory_quota(const kernel_t *k, kobj_id_t factory, struct quota_info *out);
/* Creates an object of `type` charged to `factory` and maps it with full rights into
 * slot `slot` of `task` (replacing what was there). `arg` is the child limit for
 * KOBJ_FACTORY, the label for KOBJ_GATE, the UTCB-area fpage (0: none) for KOBJ_TASK,
 * and ignored otherwise. A failure leaves everything untouched. */
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
/* The generic kobject op dec_refcnt (§8.0): the object's count of counted references, a
 * signed word as in Fiasco, drops by diff (a negative diff raises it; it wraps as a
 * machine word and may go below 0); *result is the new count. As in Fiasco nothing is
 * deleted here, even when the count reaches 0, and a count at 0 or below is not brought
 * back to 0 by later unmaps: the object lives until deleted or the kernel goes. */
int kobj_dec_refcnt(kernel_t *k, kobj_id_t obj, int64_t diff, int64_t *result);
uint64_t cspace_slots_used(const kernel_t *k, kobj_id_t task);
/* The used slots of a task's capability table from index `from` on, in index order: at
 * most max into out; *next is where a further walk goes on (CSPACE_SLOTS: done). For the
 * harness's capability listings and graphs (pyl4re/graph.py). */
struct cap_entry { uint32_t index; struct cap_info cap; };
int cspace_walk(const kernel_t *k, kobj_id_t task, uint32_t from, struct cap_entry *out,
                uint32_t max, uint32_t *written, uint32_t *next);
/* l4_task_map of an object fpage (§5.2, §8.1): placed by the hot spot (ctl >> 12) into the
 * whole destination space; rights = fpage rights & rights_mask (the caller decides S). */
int task_map_obj(kernel_t *k, kobj_id_t dst_task, kobj_id_t src_task, uint64_t fpage,
                 uint64_t ctl, uint32_t rights_mask, uint32_t *mapped);
/* l4_task_unmap of an object fpage (§5.5): only with L4_FP_ALL_SPACES; R in the fpage
 * removes the capabilities, otherwise W/S are revoked; L4_FP_DELETE_OBJ with D deletes. */
int task_unmap_obj(kernel_t *k, kobj_id_t task, uint64_t fpage, uint64_t mask);

/* ---- x86 I/O ports (iospace.c, §5.1, §5.5); none where ARCH_IO_PORTS is 0 */
/* l4_task_map of an I/O fpage from src to dst (the whole destination I/O space as the
 * window; ports keep their numbers). *mapped = ports mapped. */
int task_map_io(kernel_t *k, kobj_id_t dst, kobj_id_t src, uint64_t fpage, uint32_t *mapped);
/* l4_task_unmap of an I/O fpage (or l4_fpage_all()): every task that got those ports
 * from task loses them, recursively; with L4_FP_ALL_SPACES task itself too. */
int task_unmap_io(kernel_t *k, kobj_id_t task, uint64_t fpage, uint64_t mask);
/* May task use ports [port, port + size) (size 1, 2, 4)? 0, -L4_EPERM, -L4_EINVAL, or
 * -L4_ENOSYS where the architecture has no I/O ports. */
int io_port_access(const kernel_t *k, kobj_id_t task, uint32_t port, uint32_t size);
/* The task port was mapped to task from (0 for sigma0, which owns them); -L4_ENOENT if
 * the task does not have it. */
int io_ports_of(const kernel_t *k, kobj_id_t task, uint32_t port, kobj_id_t *from);

/* ---- page tables (vspace.c, ptab.c, arch/<arch>/paging.c) */
#include "vspace_api.h"

/* ---- the IOMMU, DMA spaces and device DMA (iommu.c) */
#include "iommu_api.h"


/* ---- threads, IPC, scheduling and virtual time (thread.c, ipc.c, sched.c, syscall.c) */

/* Native programs (native.c) live at NATIVE_TEXT_BASE + n * NATIVE_TEXT_STRIDE. */
enum native_program {
    PROGRAM_PYTHON = 0,
    PROGRAM_ECHO = 1,           /* wait, then reply_and_wait with what arrived, forever */
    PROGRAM_CALL_LOOP = 2,      /* call TCR user0, TCR user1 times, TCR user2 words */
    PROGRAM_SIGMA0 = 3,         /* the root pager the kernel boots (sigma0.c) */
    PROGRAM_SINK = 4,           /* wait forever, counting what arrives */
    PROGRAM_SEND_LOOP = 5,      /* send to TCR user0, TCR user1 times, TCR user2 words */
    PROGRAM_CAP_CALL_LOOP = 6,  /* call TCR user0, TCR user1 times, with a capability item */
    PROGRAM_TOUCH = 7,          /* read TCR user1 pages from address TCR user0 on */
    PROGRAM_COUNT = 8,
    NATIVE_TEXT_BASE = 0x1000,
    NATIVE_TEXT_STRIDE = 0x10,
};

/* One kernel entry of the running thread: what l4_ipc() passes in registers (§6.4). */
struct sys_call {
    uint64_t dest;         /* capability selector | L4_SYSF_* */
    uint64_t tag;          /* l4_msgtag_t raw */
    uint64_t label;        /* label register (what a thread-cap receiver sees) */
    uint64_t timeout;      /* l4_timeout_t: snd << 16 | rcv */
};
enum sys_status {
    SYS_DONE = 0,          /* finished; the thread goes on: result in sys_result */
    SYS_SUSPEND = 1,       /* the thread must yield; its result comes from sched_next */
    SYS_SLOWPATH = 2,      /* a kernel object for the control plane: finish with sys_complete */
    SYS_GONE = 3,          /* the thread no longer exists */
    SYS_FAULT = 4,         /* a memory access that cannot be resolved (see mem_result) */
    SYS_SWITCH = 5,        /* the thread must yield, and the scheduler has already chosen
                              what runs next: its answer is in the entry's sched_out */
    SYS_UPCALL = 6,        /* the entry became a vCPU upcall (vcpu.c): the thread yields; its
                              code is parked and goes on, if ever, when a resume names it */
    SYS_ALIEN = 7,         /* an alien thread's system call: its exception handler hears of
                              it first; the thread yields, then thread_alien_done */
    SYS_SWITCH_TO = 8,     /* sys_enter only, this and above: SYS_SWITCH, and what runs
                              next is the Python thread whose py_index is the status, going
                              on with its result (SCHED_RUN, RESUME_RESULT) */
};
struct sys_result {
    uint64_t tag, label;
    kobj_id_t obj;         /* SYS_SLOWPATH: the invoked object and the capability's rights */
    uint32_t type, rights, attrs;
};
struct sched_out;          /* below, with the scheduler */
/* When the entry must wait and sched_limits() allowed it, sys_invoke schedules at once
 * (one boundary crossing instead of two): SYS_SWITCH with the choice in *next; or, when
 * the choice is the caller itself (a native server answered), SYS_DONE. */
int sys_invoke(kernel_t *k, kobj_id_t thread, uint64_t dest, uint64_t tag, uint64_t label,
               uint64_t timeout, struct sys_result *out, struct sched_out *next);
/* The µApp fast entry (traps.py): sys_invoke for the Python thread the scheduler chose
 * last (sched_next's SCHED_RUN: the one whose code the run loop runs), with no label
 * register, answering in the kernel's own result structs (kernel_entry_result,
 * kernel_sched_out), which the run loop reads as words in place. When the scheduler
 * chose a Python thread to go on with its result and the run loop gave it an index
 * (thread_set_py_index), the answer is that index (>= SYS_SWITCH_TO): the loop switches
 * to its record without reading the choice. sys_invoke's checks apply: a thread that is
 * not running now gives -L4_EINVAL. Three plain integers: the cheapest crossing cffi
 * offers after a no-op. */
int sys_enter(kernel_t *k, uint64_t dest, uint64_t tag, uint64_t timeout);
/* Ends a slow-path entry with the reply the control plane wrote (tag; or an IPC error). */
int sys_complete(kernel_t *k, kobj_id_t thread, uint64_t reply_tag, uint32_t ipc_error,
                 struct sys_result *out);
/* µApp memory access (memaccess.c): access = L4_FPAGE_RO / _W / _X. SYS_DONE: the byte at
 * va is at physical `pa`, and `avail` bytes to the end of its 4 KiB page are too. A fault
 * goes to the pager as page-fault IPC (SYS_SUSPEND, or SYS_SWITCH with the scheduler's
 * choice in *next, as for sys_invoke); when the thread runs again, mem_fault_done() says
 * whether to retry (SYS_DONE) or give up (SYS_FAULT). A fault a native pager (sigma0)
 * resolves at once is retried inside the call: the answer is then SYS_DONE. */
/* Why a fault stayed unresolved: what the pager's reply did (§10.1). The real kernel
 * sends the fault again when the retried access faults once more; the model stops there
 * and says why, when the reply itself is the cause (no map item, an item that does not
 * cover the address or lacks the rights, pages the pager does not hold). */
enum fault_reason {
    FAULT_NO_PAGER = 1,        /* the thread's pager selector is invalid */
    FAULT_NOT_USER = 3,        /* above the user address space */
    FAULT_PAGER_GONE = 4,      /* the pager capability names no object (ENOT_EXISTENT) */
    FAULT_PAGER_ERROR = 5,     /* the pager replied with a negative label (`label`) */
    FAULT_NO_ITEM = 6,         /* the reply had no memory map item */
    FAULT_TOO_SMALL = 7,       /* the item's fpage is smaller than a page */
    FAULT_ELSEWHERE = 8,       /* the item's pages land elsewhere (send base / hot spot) */
    FAULT_RIGHTS = 9,          /* the item's fpage lacks the rights the access needs */
    FAULT_NOT_HELD = 10,       /* the pager does not hold that page (with those rights) */
    FAULT_SIGMA0_NOT_RAM = 11, /* sigma0: not memory it owns (kernel pool, beyond RAM) */
    FAULT_SIGMA0_KERNEL = 12,  /* sigma0: the frame it keeps for the kernel (the KIP) */
    FAULT_SIGMA0_TAKEN = 13,   /* sigma0: another owner has the frame (`owner`) */
    FAULT_GUEST = 14,          /* a guest's own stage-1 translation faulted: the guest
                                  exception is in vm_guest_fault() (docs/vm.md) */
    FAULT_ALIEN = 15,          /* an alien thread: no page-fault IPC, its handler is told */
};
struct mem_result {
    phys_addr_t pa;
    uint32_t avail;
    uint32_t reason;       /* SYS_FAULT: enum fault_reason */
    uint64_t fault_addr;
    /* SYS_FAULT: the pager's reply: its label, its first memory item (ctl, fpage: 0 if
     * none), and for FAULT_SIGMA0_TAKEN the sigma0 owner id holding the frame. */
    int64_t label;
    uint64_t ctl, fpage;
    uint32_t owner, access;
};
int mem_access(kernel_t *k, kobj_id_t thread, virt_addr_t va, uint32_t access,
               struct mem_result *out, struct sched_out *next);
int mem_fault_done(kernel_t *k, kobj_id_t thread, struct mem_result *out);
/* pyl4re.compute(ns): the thread is busy for ns of virtual time (SYS_SUSPEND unless 0). */
int sys_compute(kernel_t *k, kobj_id_t thread, uint64_t ns);

enum sched_status {
    SCHED_RUN = 0,         /* a Python thread must run: sched_out says which */
    SCHED_IDLE = 1,        /* nothing can make progress any more */
    SCHED_LIMIT = 2,       /* the next event lies beyond the run's until_ns */
    SCHED_STEPS = 3,       /* the run's max_steps scheduling decisions were made */
    SCHED_SHUTDOWN = 4,    /* platform control shut the system down: nothing runs again */
    SCHED_EVENT = 5,       /* the harness event (sched_set_event) is due before anything */
};
enum sched_resume {
    RESUME_RESULT = 0,     /* go on with the result of its last kernel entry (tag, label) */
    RESUME_REPEAT = 1,     /* make the last kernel entry again (a gate got bound) */
    RESUME_START = 2,      /* ex_regs set a new ip: start the code there */
    RESUME_UPCALL = 3,     /* a vCPU upcall: park the code, run the entry point (vcpu.c) */
    RESUME_EXCEPTION = 4,  /* ex_regs triggered an exception: raise it (thread_raise_triggered) */
};
struct sched_out {
    int32_t status;        /* enum sched_status (also for a SYS_SWITCH entry) */
    uint32_t resume;       /* SCHED_RUN: enum sched_resume */
    kobj_id_t thread;
    uint64_t tag, label;   /* the result of its last kernel entry */
    uint64_t ip;
    uint32_t cpu;
};
/* The bounds of one Kernel.run(): virtual time until_ns (0: none) and max_steps
 * scheduling steps (0: no limit); `switch_in_entry` lets a waiting sys_invoke schedule at
 * once (off when the run loop logs every decision itself). */
void sched_limits(kernel_t *k, uint64_t until_ns, uint64_t max_steps, uint32_t switch_in_entry);
/* The earliest harness event (k.hw.at), UINT64_MAX for none: scheduling stops before it. */
void sched_set_event(kernel_t *k, uint64_t event_ns);
/* A seeded kernel's jitter for a device-model event, in [0, bound_ns]; 0 without a seed. */
uint64_t sched_jitter(kernel_t *k, uint64_t bound_ns);
/* Runs scheduling steps (picking a CPU and thread, firing timeouts, running native
 * threads and compute) until a Python thread must run or a bound is reached. */
int sched_next(kernel_t *k, struct sched_out *out);
/* Native runs (sched.c): after a native thread's IPC that the fast path finished, its
 * native partner goes on without a full scheduler step while that step would choose it
 * anyway. On by default; off (0), for tests, every step is a full one, with the same
 * outcome. sched_native_run_steps: the steps native runs took so far. */
void sched_set_native_runs(kernel_t *k, uint32_t on);
uint64_t sched_native_run_steps(const kernel_t *k);
/* The kernel's own result structs, where sys_enter answers: the run loop passes the
 * second to sched_next too, so one struct holds every scheduling answer. */
/* The run loop's index of its record for a Python thread, SYS_SWITCH_TO..INT32_MAX (0:
 * none); sys_enter hands it back. -L4_EINVAL for another thread or index. */
int thread_set_py_index(kernel_t *k, kobj_id_t thread, uint32_t index);
struct sys_result *kernel_entry_result(kernel_t *k);
struct sched_out *kernel_sched_out(kernel_t *k);
uint64_t kernel_now_ns(const kernel_t *k);
/* Brings every idle CPU's clock up to t (a harness event at t; after SCHED_EVENT). */
void kernel_advance_idle(kernel_t *k, uint64_t t);

struct cpu_info {
    uint64_t clock_ns, idle_ns;
    uint32_t online;
    kobj_id_t current;
};
int cpu_info(const kernel_t *k, cpu_number_t cpu, struct cpu_info *out);

/* ---- platform control (pfc.c; §8.8, docs/platform.md) */
enum kernel_shutdown_how {
    SHUTDOWN_NONE = 0,
    SHUTDOWN_POWEROFF = 1,
    SHUTDOWN_REBOOT = 2,
};
/* Ends the system: no thread runs again; sched_next answers SCHED_SHUTDOWN. */
int kernel_shutdown(kernel_t *k, uint32_t how);
uint32_t kernel_shutdown_state(const kernel_t *k);
/* Platform suspend (§8.8 op 0; pfc.c): 0, or -L4_EBUSY without a wakeup line. */
int platform_suspend(kernel_t *k);
uint32_t kernel_suspended(const kernel_t *k);
/* Takes a CPU offline (0) or online (1). An offline CPU runs nothing and its clock stands
 * still; its threads, timeouts and incoming wake-ups wait. Online again, its clock moves up
 * to the clock of the CPU doing it (outside a kernel entry: the furthest clock).
 * -L4_EINVAL bad CPU; -L4_EBUSY for the last online CPU. */
int cpu_set_online(kernel_t *k, cpu_number_t cpu, uint32_t online);

enum thread_state_bits {
    THREAD_READY = 0x01, THREAD_SEND = 0x02, THREAD_RECV = 0x04, THREAD_DEAD = 0x08,
    THREAD_SEMAPHORE = 0x20,
};
struct thread_info {
    uint32_t state, cpu, prio, program;
    uint64_t quantum_ns, consumed_ns;
    uint64_t ip, sp, flags, pager, exc_handler;
    kobj_id_t task;
    phys_addr_t utcb;      /* where its UTCB lies in physical memory (0: unbound) */
    virt_addr_t utcb_va;
    kobj_id_t partner, caller;
    uint64_t deadline_ns;  /* armed IPC timeout, 0 = none */
    uint32_t waiting_on_gate;
    uint64_t native_count;
    uint64_t left_ns;      /* what is left of its current quantum */
    uint32_t alien;        /* 0, or THREAD_ALIEN, | THREAD_ALIEN_PASS: next call allowed */
};
enum { THREAD_ALIEN = 1, THREAD_ALIEN_PASS = 2 };
int thread_info(const kernel_t *k, kobj_id_t thread, struct thread_info *out);

struct thread_ctl {
    uint64_t flags;        /* L4_THREAD_CONTROL_* */
    uint64_t pager, exc_handler;   /* selectors, resolved in the thread's task at use */
    kobj_id_t task;        /* with L4_THREAD_CONTROL_BIND_TASK */
    virt_addr_t utcb;
    uint32_t alien;        /* with L4_THREAD_CONTROL_ALIEN: alien mode on (1) or off (0) */
};
int thread_control(kernel_t *k, kobj_id_t thread, const struct thread_ctl *c);
struct thread_regs { uint64_t ip, sp, flags; };
int thread_ex_regs(kernel_t *k, kobj_id_t thread, uint64_t ip, uint64_t sp, uint64_t flags,
                   struct thread_regs *old);
int thread_run(kernel_t *k, kobj_id_t thread, cpu_number_t cpu, uint32_t prio,
               uint64_t quantum_ns);
/* The scheduling class this build offers: SCHED_BUILD_CLASSES (sched_policy.h of the
 * build's kernel_c/sched_<policy>/). */
#include "sched_policy.h"
/* run_thread with WFQ parameters (§8.7 class -2; WFQ build only, else -L4_ERANGE):
 * weight 1..2^32-1 and a quantum > 0 (else -L4_EINVAL; Fiasco keeps the weight in 32 bits).
 * The thread's deadline starts at 0 again, as Fiasco's Sched_context::set. */
int thread_run_wfq(kernel_t *k, kobj_id_t thread, cpu_number_t cpu, uint64_t quantum_ns,
                   uint64_t weight);
struct wfq_info { uint64_t dl, qdw; uint32_t weight; };
int thread_wfq_info(const kernel_t *k, kobj_id_t thread, struct wfq_info *out);
int thread_switch_to(kernel_t *k, kobj_id_t self, kobj_id_t target);
/* A Python thread's code returned or raised: it ends (its capabilities stay). */
int thread_exit(kernel_t *k, kobj_id_t thread);
int task_kumem(kernel_t *k, kobj_id_t task, virt_addr_t va, uint32_t order);
/* Where [va, va + size) lies in physical memory if it is inside one of the task's ku_mem
 * areas (as Fiasco's Space::find_ku_mem); -L4_EINVAL if it is not. */
int task_kumem_find(const kernel_t *k, kobj_id_t task, virt_addr_t va, uint64_t size,
                    phys_addr_t *out);

/* Thread operations beyond control and ex_regs (thread_ops.c, §8.2). */
/* modify_senders: words = the tag's words (MR0 = opcode, then groups of 4: match mask,
 * match, bits to delete, bits to add, read from rules[0..]). Every sender queued at thread
 * (and every Irq message waiting there) gets the first group whose (label & mask) == match
 * applied. Only the thread itself may (-L4_EINVAL otherwise); fewer than 5 words do
 * nothing; a trailing incomplete group is ignored. */
int thread_modify_senders(kernel_t *k, kobj_id_t thread, kobj_id_t caller,
                          const uint64_t *rules, uint32_t words);
/* register_del_irq: irq (an Irq or a semaphore) fires whenever a gate bound to thread is
 * deleted. -L4_EBUSY while another one is registered, -L4_EINVAL for another object. */
int thread_register_del_irq(kernel_t *k, kobj_id_t thread, kobj_id_t irq);
kobj_id_t thread_del_irq(const kernel_t *k, kobj_id_t thread);   /* 0: none */
/* ex_regs' L4_THREAD_EX_REGS_TRIGGER_EXCEPTION: the thread raises the architecture's
 * artificial exception when it next runs (after the kernel entry it may be in). A thread
 * telling an exception already is left alone unless cancel (Fiasco's ex_regs). 1 if
 * triggered, 0 if not. */
int thread_trigger_exception(kernel_t *k, kobj_id_t thread, uint32_t cancel);
/* The run loop, for a thread resumed with RESUME_EXCEPTION: it calls its exception handler
 * now (SYS_SUSPEND; thread_exception_done ends it). Without a handler it waits for ever in
 * a call to itself, as in Fiasco (SYS_SUSPEND as well). */
int thread_raise_triggered(kernel_t *k, kobj_id_t thread);
/* The arch thread operations (opcode 0x10 and up): MR0, MR1 and the tag's words. Sets the
 * thread registers they name (amd64 FS/GS base, arm64 TPIDRURO); -L4_ENOSYS for what this
 * architecture does not have or the model does not give a meaning. */
int thread_arch_op(kernel_t *k, kobj_id_t thread, uint64_t mr0, uint64_t mr1, uint32_t words);
/* The thread registers the arch ops set (2 words, 0 where the architecture has none). */
int thread_tls(const kernel_t *k, kobj_id_t thread, uint64_t *out);

struct gate_info { uint64_t label; kobj_id_t thread; };
int gate_bind(kernel_t *k, kobj_id_t gate, kobj_id_t thread, uint64_t label);
int gate_info(const kernel_t *k, kobj_id_t gate, struct gate_info *out);

/* The last failed kernel operation, for explain_last_error(). */
struct error_info {
    kobj_id_t thread;
    uint64_t selector;
    uint32_t obj_type, rights_had, rights_needed;
    int64_t label;
    uint64_t opcode;
    int32_t code;
    const char *what;
    uint64_t count;        /* failures noted so far: tells a new failure from an old one */
    /* An unresolved page fault (fault_reason != 0): the mem_result it ended with. */
    uint32_t fault_reason, fault_access, fault_owner;
    uint64_t fault_addr, fault_ctl, fault_fpage;
    int64_t fault_label;
};
int kernel_last_error(const kernel_t *k, struct error_info *out);
/* Consistency of threads, queues and timeouts, and the reference audit (check.c): 0, or
 * an error naming the first thread (or object) found in a state it must never be in:
 * lost, doubly queued, a reference count that differs from the counted references that
 * exist, an IOMMU binding to a dead DMA space. For tests and the fuzzer. */
struct check_out {
    kobj_id_t thread;
    char what[80];
};
int kernel_check(const kernel_t *k, struct check_out *out);
/* The reference audit's own test (tests/test_fuzz.py), never the kernel's: moves the
 * object's count by delta with no reference and no dec_refcnt behind it, the very error
 * the audit is there to find; moving it back by -delta undoes it. It kills nothing (the
 * count may leave the object to die by a later put while a capability names it, which
 * dec_refcnt allows too: the kill invalidates every capability), so memory stays safe. */
int check_skew_refs(kernel_t *k, kobj_id_t obj, int32_t delta);
int kernel_note_error(kernel_t *k, kobj_id_t thread, uint64_t sel, uint32_t type,
                      uint32_t had, uint32_t needed, int64_t label, uint64_t opcode,
                      int32_t code);

/* ---- the trace ring (trace.c; docs/trace.md): JDB's tbuf in virtual time */
enum trace_kind {
    TRACE_NONE = 0,
    TRACE_IPC = 1,         /* thread sent to a = receiver: b = tag, c = receiver's label */
    TRACE_IPC_ERROR = 2,   /* thread's IPC failed: a = error TCR, b = partner (0: none) */
    TRACE_PAGE_FAULT = 3,  /* thread faulted: a = address, b = access (L4_FPAGE_RWX bits) */
    TRACE_MAP = 4,         /* a mapping arrived in a = task: b = virtual address, c = page shift */
    TRACE_UNMAP = 5,       /* a mapping left a = task: b = virtual address, c = page shift */
    TRACE_IRQ = 6,         /* thread got an Irq's message: a = label, b = the Irq (0: none) */
    TRACE_SWITCH = 7,      /* the CPU switched from a (0: idle) to thread (0: idle) */
    TRACE_KE = 8,          /* fiasco_tbuf_log: a..c = up to 24 bytes of text */
    TRACE_KE_REG = 9,      /* fiasco_tbuf_log_3val: a..c = the three values */
    TRACE_KE_BIN = 10,     /* fiasco_tbuf_log_binary: a..c = 24 bytes */
    TRACE_VCPU_UPCALL = 11,  /* vCPU event: a = enum vcpu_event, b = saved_state, c = r.ip */
    TRACE_VCPU_RESUME = 12,  /* vcpu_resume: a = state, b = ip, c = the task it runs in */
    TRACE_VM_ENTRY = 13,     /* a guest entered: a = the VM, b = guest ip, c = injected (-1) */
    TRACE_VM_EXIT = 14,      /* a guest exited: a = enum vm_exit, b = the arch's exit code,
                                c = guest-physical address (stage-2 exits) */
    TRACE_KIND_COUNT = 15,
};
enum trace_limits {
    TRACE_DEFAULT_ENTRIES = 4096,
    TRACE_MAX_ENTRIES = 0x400000,
    TRACE_SLOT_BYTES = 48,           /* what one entry occupies in the ring */
};
/* The debugger's trace-buffer group (MR0 = L4_KDEBUG_GROUP_TRACE + op): Fiasco's ops and
 * l4sys ktrace.h's queries, and pyl4re's READ (docs/trace.md). */
enum tbuf_ops {
    TBUF_OP_LOG = 0x01,
    TBUF_OP_CLEAR = 0x02,
    TBUF_OP_DUMP = 0x03,
    TBUF_OP_LOG_3VAL = 0x04,
    TBUF_OP_LOG_BIN = 0x05,          /* the kernel's number; l4sys sends 0x08: both work */
    TBUF_OP_LOG_BIN_L4SYS = 0x08,
    TBUF_OP_SIZE = 0x20,
    TBUF_OP_MAP = 0x21,
    TBUF_OP_ENTRIES = 0x22,
    TBUF_OP_LAST_COMMITTED = 0x23,
    TBUF_OP_READ = 0x30,             /* pyl4re: MR1 = sequence number -> one record */
};
struct trace_record {
    uint64_t seq;          /* 1, 2, ... in recording order */
    uint64_t time_ns;      /* the recording CPU's virtual clock */
    uint32_t kind, cpu;    /* enum trace_kind; the CPU (CPU_NONE: none) */
    kobj_id_t thread;      /* the thread concerned (0: none) */
    uint64_t a, b, c;
};
struct trace_stats {
    uint64_t capacity;     /* entries the ring holds (0: tracing is off) */
    uint64_t recorded;     /* entries ever recorded: the newest sequence number */
    uint64_t first;        /* the oldest sequence number still held (> recorded: none) */
};
int trace_stats(const kernel_t *k, struct trace_stats *out);
/* Copies up to max records with seq >= from, oldest first; *count = how many. */
int trace_read(const kernel_t *k, uint64_t from, struct trace_record *out, uint32_t max,
               uint32_t *count);
int trace_clear(kernel_t *k);
/* Recording of one kernel-made kind on or off (the debugger's switch log, op 4): -L4_EINVAL
 * for TRACE_NONE, the µApp-made TRACE_KE* kinds and unknown kinds. Off: its trace points
 * record nothing until it is switched on again. trace_kinds_off: bit kind = off. */
int trace_kind_switch(kernel_t *k, uint32_t kind, uint32_t on);
uint32_t trace_kinds_off(const kernel_t *k);
/* A record the control plane makes for a thread (TRACE_KE*, TRACE_IRQ): -L4_EINVAL for the
 * kinds only the kernel records. */
int trace_add(kernel_t *k, kobj_id_t thread, uint32_t kind, uint64_t a, uint64_t b,
              uint64_t c);

/* ---- the mapping database for memory (mapdb.c; §5.2, §5.5, §13; docs/mapdb.md) */
enum mapdb_limits {
    MAPDB_NODE_BYTES = 24,     /* charged per mapping to the receiving task (Fiasco's Mapping) */
    MAPDB_MAX_DEPTH = 256,     /* deepest node; sigma0's roots are depth 0 (Fiasco: 255 from 0
                                * at sigma0's children) */
};
/* One node: task's page at va maps the frames from pa, derived from parent's page. */
struct mapdb_entry {
    kobj_id_t task;
    virt_addr_t va;            /* first byte of the page */
    phys_addr_t pa;            /* first byte of the frames it maps */
    uint32_t page_shift;
    uint32_t rights;           /* L4_FPAGE_{RO,W,X} | VSPACE_RIGHT_U, as the page table holds them */
    uint32_t depth;            /* 0: a root (sigma0's page with va == pa) */
    kobj_id_t parent;          /* the parent's task; 0 for a root */
    virt_addr_t parent_va;
};
struct mapdb_problem {
    kobj_id_t task;
    virt_addr_t va;
    char what[80];
};
/* l4_task_map of a memory fpage (§5.2, §8.1): fpage of src_task (memory type, order >= 12,
 * aligned, starting at or below the user limit) into dst_task, placed by the hot spot
 * (ctl & ~0xFFF) in the whole destination space; ctl: grant bit, cache bits 4..6. *mapped
 * counts the pages (leaves) that arrived. 0; -L4_ENOMEM: quota or memory ran out midway
 * (Fiasco's Map_failed; what arrived before stays); -L4_EINVAL: a bad value, nothing done. */
int task_map_mem(kernel_t *k, kobj_id_t dst_task, kobj_id_t src_task, uint64_t fpage,
                 uint64_t ctl, uint32_t *mapped);
/* l4_task_unmap of a memory fpage (or l4_fpage_all()) (§5.5): R in the fpage rights
 * flushes, else W/X are revoked; mask L4_FP_ALL_SPACES includes the task's own pages (other
 * mask bits are ignored). *flags = L4_FP_REFERENCED | L4_FP_DIRTY of what was touched. */
int task_unmap_mem(kernel_t *k, kobj_id_t task, uint64_t fpage, uint64_t mask,
                   uint32_t *flags);
/* The nodes whose frames contain pa, in tree order (root first, then each child before
 * its siblings). *count is how many there are; at most max are written. */
int mapdb_walk(const kernel_t *k, phys_addr_t pa, struct mapdb_entry *out, uint32_t max,
               uint32_t *count);
/* The task's nodes in address order (same counting). */
int mapdb_task_walk(const kernel_t *k, kobj_id_t task, struct mapdb_entry *out, uint32_t max,
                    uint32_t *count);
uint64_t mapdb_nodes(const kernel_t *k);
/* Trees, index and every task's page table agree (each leaf has its node and vice versa,
 * same frames and rights; children inside their parents). 0, or -L4_EINVAL with the
 * first problem. For tests. */
int mapdb_check(const kernel_t *k, struct mapdb_problem *out);


/* ---- interrupts (irq.c) and the ICU's lines (§8.5, §8.6) */
enum icu_limits {
    ICU_LINES = 64,             /* hardware interrupt lines of the system ICU */
    ICU_MSIS = 32,              /* message-signalled interrupts (msi.c) */
    ICU_ALL_LINES = 96,         /* C's line numbers: MSI n is line ICU_LINES + n */
};
#define ICU_NO_LINE 0xffffffff
int irq_bind(kernel_t *k, kobj_id_t irq, kobj_id_t thread, uint64_t label);
int irq_detach(kernel_t *k, kobj_id_t irq);
int irq_trigger(kernel_t *k, kobj_id_t irq);
int irq_unmask(kernel_t *k, kobj_id_t irq);
struct irq_info { uint64_t label; kobj_id_t thread; uint32_t line; };
int irq_info(const kernel_t *k, kobj_id_t irq, struct irq_info *out);
int icu_bind(kernel_t *k, uint32_t line, kobj_id_t irq);
int icu_unbind(kernel_t *k, uint32_t line, kobj_id_t irq);
int icu_set_mode(kernel_t *k, uint32_t line, uint32_t mode);
int icu_mask(kernel_t *k, uint32_t line);
int icu_unmask(kernel_t *k, uint32_t line);
/* The harness's side of a line: a level (1 raised, 0 lowered) or an edge (a pulse). */
int hw_irq_set(kernel_t *k, uint32_t line, uint32_t level);
int hw_irq_pulse(kernel_t *k, uint32_t line);
struct icu_line_info { kobj_id_t irq; uint32_t mode, masked, asserted; };
int icu_line_info(const kernel_t *k, uint32_t line, struct icu_line_info *out);
/* MSIs (msi.c, §8.6): the address and data a device writes to raise MSI n (< ICU_MSIS),
 * in the architecture's format (x86-64: a VT-d interrupt-remapping entry; arm64: a GICv3
 * ITS event; mips64: the model's doorbell), and the device (source id as the IOMMU reads
 * it) allowed to raise it. -L4_EINVAL for a bad MSI or source id. */
int icu_msi_info(kernel_t *k, uint32_t msi, uint64_t src_id, uint64_t *addr, uint32_t *data);
/* A device's MSI write: the interrupt remapper (or ITS) checks it came from the device
 * msi_info named and raises that MSI's line as an edge. Anything else is recorded as an
 * IOMMU fault (reason DMA_FAULT_MSI) and answers -L4_EFAULT with *fault filled. */
int hw_msi(kernel_t *k, uint32_t device, uint64_t addr, uint32_t data, struct dma_fault *fault);


/* ---- exceptions (exception.c, §10.2, §10.3) */
/* The running thread traps: exception IPC to its handler (SYS_SUSPEND), or SYS_FAULT if
 * it has none. When it runs again, thread_exception_done() says where it goes on. */
struct exc_result {
    uint32_t handled;      /* the handler replied */
    uint32_t ip_changed;   /* the reply moved the thread to another ip */
    uint64_t ip;
};
int thread_exception(kernel_t *k, kobj_id_t thread, uint64_t trapno, uint64_t err,
                     uint64_t pfa);
/* A page fault its pager did not resolve (or outside user space) becomes the CPU's
 * page-fault exception (§10.1): the thread calls its exception handler with pfa = va and
 * the architecture's trap and error words. Same statuses as thread_exception. */
int thread_page_fault_exception(kernel_t *k, kobj_id_t thread, virt_addr_t va,
                                uint32_t access);
/* An I/O port access the thread's task may not make: the CPU's exception for it (x86
 * #GP). Same statuses as thread_exception. */
int thread_io_exception(kernel_t *k, kobj_id_t thread);
int thread_exception_done(kernel_t *k, kobj_id_t thread, struct exc_result *out);
/* Alien threads (docs/threads.md). After SYS_ALIEN (the handler heard of a system call
 * before it ran) or thread_alien_after's SYS_SUSPEND, once the thread runs again: ends the
 * exception as thread_exception_done does (*exc). Before the call, a reply labelled
 * L4_PROTO_ALLOW_SYSCALL lets the next entry run; either way the thread makes the entry
 * again (Fiasco restarts the syscall instruction): with call[0..3] (tag, label, selector
 * | flags, timeout), which a full register reply replaces with the registers it set.
 * After the call, *res is the call's result, or what a full register reply put in the
 * result registers. 0, or -L4_EINVAL when no alien exception is being told. */
int thread_alien_done(kernel_t *k, kobj_id_t thread, struct exc_result *exc,
                      struct sys_result *res, uint64_t *call);
/* An allowed system call of an alien thread has returned tag, label: the handler hears
 * of it (SYS_SUSPEND; SYS_GONE), or SYS_DONE if no call was allowed (nothing is due). */
int thread_alien_after(kernel_t *k, kobj_id_t thread, uint64_t tag, uint64_t label);
/* The trap number an illegal instruction raises on this architecture (an escaping
 * Python exception is one). */
uint32_t arch_illegal_trapno(void);


/* ---- vCPUs (vcpu.c, arch/<arch>/vcpu.c; §11, docs/vcpu.md) */
/* Where l4_vcpu_state_t keeps each field on this architecture (byte offsets from the
 * area's start), its sizes and version, the extended area issue-11 VMs add, and the
 * l4_exc_regs_t words of `r` the kernel writes (an index of 0xFF: no such word). */
struct vcpu_layout {
    uint32_t version;            /* L4_VCPU_STATE_VERSION, written by vcpu_control */
    uint32_t state_size;         /* L4_VCPU_STATE_SIZE: what l4sys reserves */
    uint32_t struct_size;        /* sizeof(Vcpu_state): what vcpu_control checks */
    uint32_t r, r_words, i, i_tag, i_label;
    uint32_t state, saved_state, sticky_flags, user_task;
    uint32_t entry_sp, entry_ip, reserved_sp, arch_state;
    uint32_t ext_infos, ext_state, ext_size;   /* the extended (hardware VM) area */
    uint32_t r_ip, r_sp, r_flags, r_pfa, r_err, r_trapno, r_trapno_shift;
};
const struct vcpu_layout *arch_vcpu_layout(void);
/* What the registers of an upcall say it was (enum vcpu_event; libvcpu's
 * l4vcpu_is_irq_entry / l4vcpu_is_page_fault_entry): r = the state area's r. */
uint32_t arch_vcpu_classify(const uint64_t *r);
/* What the run loop parks when an upcall interrupts a µApp's code (docs/vcpu.md). */
enum vcpu_park {
    VCPU_PARK_NONE = 0,        /* no code to keep (it had not started, or was the entry's) */
    VCPU_PARK_RESULT = 1,      /* it waits for the result of its last entry: tag, label */
    VCPU_PARK_REPEAT = 2,      /* its entry was not made: make it again when resumed */
    VCPU_PARK_COMPUTE = 3,     /* it was computing: compute_ns are left to burn */
};
/* Why a vCPU entered its entry point (trace records, docs/vcpu.md). */
enum vcpu_event {
    VCPU_EVENT_IPC = 1,        /* an IPC or IRQ message, delivered into i */
    VCPU_EVENT_PAGE_FAULT = 2, /* with L4_VCPU_F_PAGE_FAULTS */
    VCPU_EVENT_EXCEPTION = 3,  /* with L4_VCPU_F_EXCEPTIONS */
    VCPU_EVENT_SYSCALL = 4,    /* a kernel entry made in vCPU user mode */
    VCPU_EVENT_RESUME_IRQ = 5, /* vcpu_resume found an IRQ pending and upcalled instead */
    VCPU_EVENT_VM_EXIT = 6,    /* a guest's hypercall or halt (other exits keep their kind) */
};
/* Continuation ips: the r.ip of interrupted code, one per upcall (never code addresses). */
#define VCPU_CONT_BASE 0x40000000
enum vcpu_limits { VCPU_CONT_STRIDE = 0x10 };
struct vcpu_info {
    phys_addr_t state;         /* the state area in physical memory (0: no vCPU) */
    virt_addr_t state_va;
    kobj_id_t user_task;       /* the cached user task (0: none) */
    uint32_t user_mode;        /* running in the user task's address space */
    uint32_t ext;              /* an extended (hardware-virtualization) vCPU */
    uint32_t in_vm;            /* running a guest in a VM */
};
struct vcpu_upcall {
    uint32_t park;             /* enum vcpu_park */
    uint64_t cont_ip;          /* the r.ip the interrupted code was given */
    uint64_t tag, label;       /* VCPU_PARK_RESULT */
    uint64_t compute_ns;       /* VCPU_PARK_COMPUTE */
};
/* Thread op 7: the state area at va in the thread's task's ku-mem (8-byte aligned,
 * sizeof(Vcpu_state) inside one ku-mem piece); writes version. -L4_EINVAL otherwise. */
int vcpu_control(kernel_t *k, kobj_id_t thread, virt_addr_t va);
int vcpu_info(const kernel_t *k, kobj_id_t thread, struct vcpu_info *out);
/* After RESUME_UPCALL: what the interrupted code was doing (once per upcall). */
int vcpu_take_upcall(kernel_t *k, kobj_id_t thread, struct vcpu_upcall *out);
/* Thread op 4, step 1 (§11.3): the user_task field (look up and cache, or drop); the
 * cached task in *task. 0, -L4_EINVAL (not the caller, no vCPU, not a task), -L4_ENOENT
 * (an empty slot), -L4_EPERM (no S). */
int vcpu_resume_user_task(kernel_t *k, kobj_id_t thread, kobj_id_t *task);
/* Thread op 4, the rest: the pending-IRQ check (1: upcalled instead) or the resume (0:
 * the thread goes on at r.ip, in the user task if L4_VCPU_F_USER_MODE); -L4_ENOENT for
 * user mode without a user task. */
int vcpu_resume_commit(kernel_t *k, kobj_id_t thread);
/* The µApp code running in vCPU user mode ended (returned or raised): as an illegal
 * instruction, an exception upcall. SYS_UPCALL, or -L4_EINVAL if not in user mode. */
int vcpu_user_exit(kernel_t *k, kobj_id_t thread);

/* ---- hardware VMs (vm.c, arch/<arch>/vm.c; docs/vm.md) */
/* Why a guest left the VM (the architecture encodes it in its own exit format). */
enum vm_exit {
    VM_EXIT_STAGE2 = 1,        /* a stage-2 / EPT miss or permission fault (also MMIO) */
    VM_EXIT_HYPERCALL = 2,     /* VMCALL / HVC / HYPCALL */
    VM_EXIT_HALT = 3,          /* HLT / WFI / WAIT */
    VM_EXIT_IRQ = 4,           /* an IRQ or IPC arrived for the VMM while the guest ran */
    VM_EXIT_FAULT = 5,         /* the guest program raised, returned or trapped: it cannot
                                  go on (x86 triple fault, ARM EC 0, MIPS RI) */
};
/* Per-architecture facts a guest program and its VMM need (arch/<arch>/vm.c). */
struct vm_layout {
    uint32_t data_reg;            /* r word an MMIO access's value goes through */
    uint32_t hc_regs[4];          /* r words of a hypercall: number/result, 3 arguments */
    uint32_t len_access, len_hypercall, len_halt;   /* instruction lengths: ip advance */
    uint32_t hypercall_ip_after;  /* 1: the exit's ip is already past the instruction */
    uint32_t ip_field;            /* the extended field holding the guest ip (0: r's ip) */
};
/* A VM exit as the VMM reads it from the extended area (uvmm's decode_mmio and exit
 * dispatch, per architecture). */
struct vm_exit_desc {
    uint32_t exit;                /* enum vm_exit; 0: the area shows no exit it knows */
    uint64_t code;                /* the architecture's exit reason / syndrome / cause */
    uint64_t gpa;                 /* stage-2 exits: the guest-physical address */
    uint32_t size;                /* 1, 2, 4, 8: a decoded single access; 0: none */
    uint32_t write, exec;         /* the access's direction, an instruction fetch */
    uint32_t reg;                 /* the r word holding the data (a load's destination) */
    uint64_t value;               /* a store's value */
    uint64_t imm;                 /* a hypercall's immediate */
    uint32_t advance;             /* bytes to add to the guest ip to go past the instruction */
};
/* A guest's own stage-1 translation (its page tables, walked through the VM's nested
 * table): why a walk faulted, and the exception the guest takes for it. */
enum vm_s1_fault_kind {
    VM_S1_TRANSLATION = 1,     /* no valid entry (x86 #PF P=0; arm64 translation fault) */
    VM_S1_PERMISSION = 2,      /* an entry on the way forbids the access */
    VM_S1_RESERVED = 3,        /* reserved or too-wide address bits (x86 RSVD; arm64
                                  address size fault) */
    VM_S1_ACCESS_FLAG = 4,     /* arm64: a leaf without AF (no hardware AF management) */
    VM_S1_NONCANONICAL = 5,    /* x86: a non-canonical address (#GP(0), no walk) */
};
struct vm_guest_fault {
    uint32_t kind;                /* enum vm_s1_fault_kind */
    uint32_t level;               /* the table level where the walk stopped */
    uint64_t vector;              /* x86: 14 (#PF) or 13 (#GP); arm64: ESR_EL1.EC */
    uint64_t code;                /* x86: the error code; arm64: ESR_EL1 */
    uint64_t addr;                /* the faulting guest-virtual address (CR2 / FAR_EL1) */
};
const struct vm_layout *arch_vm_layout(void);
/* Factory op -16 (l4_factory_create_vm): a task whose address space is guest-physical,
 * with its nested-table root made (and charged) at once. Errors as factory_create. */
int factory_create_vm(kernel_t *k, kobj_id_t factory, kobj_id_t task, cap_index_t slot,
                      kobj_id_t *out);
/* Whether task is a VM (1), a plain task (0), or no task (-L4_EINVAL). */
int task_is_vm(const kernel_t *k, kobj_id_t task);
/* Thread op 7 | 0x10000: an extended vCPU state area at va (4 KiB aligned, the whole
 * extended size in one ku-mem piece); writes the version and the architecture's infos. */
int vcpu_control_ext(kernel_t *k, kobj_id_t thread, virt_addr_t va);
/* The guest program's next memory access (size in bytes, the value a store writes): what
 * a stage-2 exit reports as the access's syndrome. Size 0: no syndrome (a bulk copy).
 * -L4_EINVAL unless thread runs a guest in a VM. */
int vm_guest_operand(kernel_t *k, kobj_id_t thread, uint32_t size, uint64_t value);
/* The same for guest machine code (pyl4re.guest.machine): the access's register as the
 * architecture's syndrome names it (arm64 SRT 0..31; x86-64 the x86 encoding 0..15, 16 an
 * immediate; VM_REG_DEFAULT: the layout's data register, as vm_guest_operand) and the
 * architecture's extra syndrome bits `info` (arm64: bit 0 SSE, bit 1 SF; x86-64: the
 * instruction's length; arch/<arch>/vm.c says). -L4_EINVAL as vm_guest_operand, or
 * for a register above 31 other than VM_REG_DEFAULT. */
int vm_guest_syndrome(kernel_t *k, kobj_id_t thread, uint32_t size, uint64_t value,
                      uint32_t reg, uint32_t info);
enum { VM_REG_DEFAULT = 0x7fffffff };   /* ISO C: an enumerator fits an int */
/* One page of the VM thread runs a guest in, as its nested table maps it. */
struct vm_guest_page {
    phys_addr_t pa;               /* host-physical address of the guest-physical one */
    uint32_t rights;              /* L4_FPAGE_RO | W | X of the nested entry */
    uint32_t page_shift;          /* the leaf's size */
};
/* The nested table's entry for gpa: 0, -L4_ENOENT (nothing mapped there), -L4_EINVAL
 * (thread runs no guest in a VM, gpa beyond the table). */
int vm_guest_page(const kernel_t *k, kobj_id_t thread, uint64_t gpa, struct vm_guest_page *out);
/* The kernel's mapping epoch: bumped by every unmap and revoke (of any space), so a copy
 * of a translation made at an older epoch may be stale. */
uint64_t vm_mapping_epoch(const kernel_t *k);
/* A hypercall or halt of the guest program: the exit (SYS_UPCALL), or -L4_EINVAL when t
 * runs in no VM. */
int vm_guest_exit(kernel_t *k, kobj_id_t thread, uint32_t why, uint64_t imm);
/* The virtual interrupt the last entry delivered (consumed: -1 afterwards, and if none). */
int64_t vm_take_injection(kernel_t *k, kobj_id_t thread);
/* For the VMM: the last exit of vCPU thread's guest, decoded (-L4_EINVAL: no ext vCPU). */
int vm_exit_decode(kernel_t *k, kobj_id_t thread, struct vm_exit_desc *out);
/* Reads (write 0) or writes one field of the extended area by the architecture's id (the
 * VMCS encoding, an L4_VCPU_E_* id, a byte offset into l4_vm_state_t); -L4_EINVAL for an
 * id the area does not hold. */
int vm_field(kernel_t *k, kobj_id_t thread, uint32_t id, int write, uint64_t *value);
/* As a VMM injects: raise (1) or withdraw (0) virtual interrupt `vector` in the extended
 * area (VM-entry interruption information, a GIC list register, GuestCtl2.VIP). -L4_EBUSY
 * when no slot is free, -L4_EINVAL for a vector the architecture has not. */
int vm_inject(kernel_t *k, kobj_id_t thread, uint32_t vector, int raise);
/* The guest exception of thread's last guest memory access that ended in SYS_FAULT with
 * FAULT_GUEST (its own stage-1 tables faulted); -L4_EINVAL if thread runs no guest. */
int vm_guest_fault(kernel_t *k, kobj_id_t thread, struct vm_guest_fault *out);


/* ---- C µApp threads (cthread.c; docs/c-uapps.md): C code on stacks of its own */
struct cthread;
enum cthread_status {
    CTHREAD_ENTRY = 1,     /* in a kernel entry that did not finish at once: entry_status
                              (sys_invoke's; or, as sys_enter answers, the run loop's
                              index of the µApp going on with its result: SYS_SWITCH_TO) */
    CTHREAD_EXITED = 2,    /* its function returned, or it called exit(): exit_code */
    CTHREAD_FAULTED = 3,   /* it crashed: signo, fault_addr, overflow (hit the guard page) */
};
struct cthread_info {
    int32_t status, entry_status;
    uint64_t dest, tag, label, timeout;    /* the entry that waits (CTHREAD_ENTRY) */
    int64_t exit_code;
    int32_t signo, overflow;
    uint64_t fault_addr;
};
/* Fills a program's ops table (struct pyl4re_model_ops, `size` bytes) with this kernel's
 * entry points; -L4_EINVAL for a table of another version or size. */
int cthread_link(void *ops, uint32_t size);
/* A C thread for `thread` (bound to a task) at ip: main(argc, argv) if is_main, else a
 * void function; on the stack below sp, or (sp 0) a stack of its own with a guard page. */
int cthread_create(kernel_t *k, kobj_id_t thread, uint64_t ip, uint64_t sp, uint32_t is_main,
                   struct sys_result *res, struct sched_out *next, struct cthread **out);
/* Runs it until it waits, ends or faults (a cthread_status; or, >= SYS_SWITCH_TO, an
 * entry that switched to the µApp at that run-loop index, as sys_enter answers: the rest
 * of it is in cthread_info); the waiting entry, if any, returns (tag, label). -L4_EINVAL
 * for an ended thread or inside a C thread. */
int cthread_run(struct cthread *c, uint64_t tag, uint64_t label);
/* cthread_run with the waiting entry's result from the scheduler's answer (its sched_out's
 * tag and label): the run loop resumed the thread with its result (RESUME_RESULT). */
int cthread_run_next(struct cthread *c);
int cthread_info(const struct cthread *c, struct cthread_info *out);
void cthread_free(struct cthread *c);
/* The load address of the shared object holding ip (0: none): whose code ip is. */
uint64_t cthread_code_base(uint64_t ip);


/* ---- the benchmarks' C floor (floor.c): iterations of a call, two lookups and the
 * words copied each way; returns a checksum so the loop cannot be optimised away. */
uint64_t bench_floor(uint64_t iterations, uint32_t words);
void bench_noop(void);

#endif
