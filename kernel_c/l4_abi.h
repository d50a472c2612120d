/*
 * l4_abi.h: the L4Re/Fiasco kernel ABI as constants, with l4sys names and values
 * (stated with their sources in docs/abi.md, cited as §N).
 *
 * This header is part of the cffi boundary: the build feeds it to cffi's cdef, so it may
 * hold only what cdef parses (enums, and #define NAME <integer> for values wider than int).
 * Python reads every value from here at import time; nothing is written down twice.
 * It holds no code and no architecture-specific values (those live in arch/<arch>/arch_abi.h);
 * values that depend on the word size are given for the 64-bit mword every pyl4re
 * architecture has. Names l4sys lacks (field positions, returned-item types) are pyl4re's
 * and say so.
 */
#ifndef PYL4RE_L4_ABI_H
#define PYL4RE_L4_ABI_H

/* §1 message tag: raw = label << 16 | flags | items << 6 | words (one signed mword) */
enum L4_msgtag_flags {
    L4_MSGTAG_ERROR = 0x8000,          /* output only: the error TCR holds the code (§3.1) */
    L4_MSGTAG_TRANSFER_FPU = 0x1000,   /* send: pass FPU state (receiver BDR must allow it) */
    L4_MSGTAG_SCHEDULE = 0x2000,       /* send: no time-slice donation */
    L4_MSGTAG_PROPAGATE = 0x4000,      /* send: propagation, not implemented by Fiasco */
    L4_MSGTAG_FLAGS = 0xF000,
};
/* Field positions (l4sys writes these as literals; the names are pyl4re's). */
enum l4_msgtag_fields {
    L4_MSGTAG_WORDS_MASK = 0x3F,       /* bits 0..5: untyped words */
    L4_MSGTAG_ITEMS_SHIFT = 6,
    L4_MSGTAG_ITEMS_MASK = 0x3F,       /* bits 6..11 after the shift: typed items */
    L4_MSGTAG_LABEL_SHIFT = 16,        /* bits 16..63: signed label */
};

/* §2 UTCB layout (byte offsets for a 64-bit mword; identical on amd64, arm64, mips64) */
enum L4_utcb_consts {
    L4_UTCB_GENERIC_DATA_SIZE = 63,        /* MR0..MR62 */
    L4_UTCB_GENERIC_BUFFERS_SIZE = 58,     /* BR0..BR57 */
    L4_UTCB_MSG_REGS_OFFSET = 0,
    L4_UTCB_BUF_REGS_OFFSET = 0x200,       /* word 64: the BDR, then the BRs */
    L4_UTCB_THREAD_REGS_OFFSET = 0x3D8,    /* word 123: the TCRs */
    L4_UTCB_INHERIT_FPU = 0x1000000,       /* BDR bit 24: accept the sender's FPU state */
};
/* Thread control registers, as indices into the TCR block (l4_thread_regs_t order). */
enum l4_utcb_tcr {
    L4_UTCB_TCR_ERROR = 0,
    L4_UTCB_TCR_FREE_MARKER = 1,
    L4_UTCB_TCR_USER0 = 2,                 /* user[0..2]: preserved, never read by the kernel */
};
/* Buffer descriptor register: where each receive-item list starts among the BRs. */
enum l4_buffer_desc_consts_t {
    L4_BDR_MEM_SHIFT = 0,
    L4_BDR_IO_SHIFT = 5,
    L4_BDR_OBJ_SHIFT = 10,
    L4_BDR_OFFSET_MASK = 0xFFFFF,
};

/* §3.1 IPC error codes in the error TCR; bit 0 is the phase (0 = send, 1 = receive) */
enum l4_ipc_tcr_error_t {
    L4_IPC_ERROR_MASK = 0x1F,
    L4_IPC_SND_ERR_MASK = 0x01,        /* really the phase bit: set means receive phase */
    L4_IPC_SETIMEOUT = 0x02,
    L4_IPC_RETIMEOUT = 0x03,
    L4_IPC_ENOT_EXISTENT = 0x04,
    L4_IPC_SECANCELED = 0x06,
    L4_IPC_RECANCELED = 0x07,
    L4_IPC_SEMSGCUT = 0x08,
    L4_IPC_REMSGCUT = 0x09,
    L4_IPC_SESNDPFTO = 0x0A,           /* legacy: the current kernel never sets 0x0A..0x0F */
    L4_IPC_RESNDPFTO = 0x0B,
    L4_IPC_SERCVPFTO = 0x0C,
    L4_IPC_RERCVPFTO = 0x0D,
    L4_IPC_SEABORTED = 0x0E,
    L4_IPC_REABORTED = 0x0F,
    L4_IPC_SEMAPFAILED = 0x10,
    L4_IPC_REMAPFAILED = 0x11,
    L4_IPC_NO_REPLY_CAP = 0x13,
};

/* §3.2 generic error codes (replies carry -L4_Exxx in the tag label) */
enum l4_error_code {
    L4_EOK = 0,
    L4_EPERM = 1,
    L4_ENOENT = 2,
    L4_EIO = 5,
    L4_ENXIO = 6,
    L4_E2BIG = 7,
    L4_EAGAIN = 11,
    L4_ENOMEM = 12,
    L4_EACCESS = 13,
    L4_EFAULT = 14,
    L4_EBUSY = 16,
    L4_EEXIST = 17,
    L4_ENODEV = 19,
    L4_ENOTDIR = 20,
    L4_EINVAL = 22,
    L4_ENOSPC = 28,
    L4_ERANGE = 34,
    L4_ENAMETOOLONG = 36,
    L4_ENOSYS = 38,
    L4_EBADPROTO = 39,
    L4_EADDRNOTAVAIL = 99,
    L4_ERRNOMAX = 100,
    L4_ENOREPLY = 1000,
    L4_EMSGTOOSHORT = 1001,
    L4_EMSGTOOLONG = 1002,
    L4_EMSGMISSARG = 1003,
    L4_EMSGERRRANGE = 1004,
    L4_EDROPREPLY = 1005,
    L4_EIPC_LO = 2000,
    L4_EIPC_HI = 2031,
};

/* §4 timeouts. l4_timeout_s (16 bit): relative = exponent << 10 | mantissa (m << e µs),
 * absolute = 0x8000 | BR index. l4_timeout_t (32 bit) = snd << 16 | rcv. */
enum l4_timeout_consts {
    L4_IPC_TIMEOUT_NEVER = 0,
    L4_IPC_TIMEOUT_0 = 0x0400,
    L4_IPC_NEVER = 0,
    L4_IPC_RECV_TIMEOUT_0 = 0x00000400,
    L4_IPC_SEND_TIMEOUT_0 = 0x04000000,
    L4_IPC_BOTH_TIMEOUT_0 = 0x04000400,
};
/* Field positions (literals in l4sys; the names are pyl4re's, after Fiasco's L4_timeout). */
enum l4_timeout_fields {
    L4_TIMEOUT_MAN_MASK = 0x3FF,
    L4_TIMEOUT_EXP_SHIFT = 10,
    L4_TIMEOUT_EXP_MASK = 0x1F,        /* after the shift */
    L4_TIMEOUT_ABS_MASK = 0x8000,      /* Fiasco Abs_mask */
    L4_TIMEOUT_ABS_BR_MASK = 0x3F,     /* absolute form: BR index of the 64-bit deadline */
    L4_TIMEOUT_SND_SHIFT = 16,         /* send half of an l4_timeout_t */
};
#define L4_TIMEOUT_US_MAX 0x1ffffffffff            /* 2^41 - 1: longest l4_timeout_from_us input */
#define L4_TIMEOUT_US_NEVER 0xffffffffffffffff     /* ~0: "never" for l4_timeout_from_us */

/* §5.1 flexpage: rights 0..3, type 4..5, order 6..11, address / port << 12 / selector 12..63 */
enum L4_fpage_consts {
    L4_FPAGE_RIGHTS_SHIFT = 0,
    L4_FPAGE_TYPE_SHIFT = 4,
    L4_FPAGE_SIZE_SHIFT = 6,
    L4_FPAGE_ADDR_SHIFT = 12,
    L4_FPAGE_RIGHTS_BITS = 4,
    L4_FPAGE_TYPE_BITS = 2,
    L4_FPAGE_SIZE_BITS = 6,
    L4_FPAGE_ADDR_BITS = 52,           /* mword bits - 12, 64-bit */
    L4_FPAGE_RIGHTS_MASK = 0xF,
    L4_FPAGE_TYPE_MASK = 0x30,
    L4_FPAGE_SIZE_MASK = 0xFC0,
    L4_FPAGE_RIGHTS_ALL = 0xF,
};
#define L4_FPAGE_ADDR_MASK 0xfffffffffffff000

enum L4_fpage_type {
    L4_FPAGE_SPECIAL = 0,              /* l4_fpage_invalid() or l4_fpage_all() */
    L4_FPAGE_MEMORY = 1,
    L4_FPAGE_IO = 2,
    L4_FPAGE_OBJ = 3,
};

/* Memory (and I/O) rights; bit 3 is the kernel's internal U right, not named in l4sys. */
enum L4_fpage_rights {
    L4_FPAGE_X = 1,
    L4_FPAGE_W = 2,
    L4_FPAGE_RO = 4,
    L4_FPAGE_RW = 6,
    L4_FPAGE_RX = 5,
    L4_FPAGE_RWX = 7,
};

enum l4_fpage_sizes {
    L4_WHOLE_ADDRESS_SPACE = 63,       /* order of l4_fpage_all(); largest memory order */
    L4_WHOLE_IOADDRESS_SPACE = 16,
    L4_IOPORT_MAX = 0x10000,           /* highest I/O port + 1 */
};

/* §5.1 object (capability) rights */
enum l4_cap_fpage_rights {
    L4_CAP_FPAGE_W = 0x1,
    L4_CAP_FPAGE_S = 0x2,
    L4_CAP_FPAGE_R = 0x4,
    L4_CAP_FPAGE_RO = 0x4,
    L4_CAP_FPAGE_D = 0x8,
    L4_CAP_FPAGE_RW = 0x5,
    L4_CAP_FPAGE_RS = 0x6,
    L4_CAP_FPAGE_RWS = 0x7,
    L4_CAP_FPAGE_RWSD = 0xF,
    L4_CAP_FPAGE_RWD = 0xD,
    L4_CAP_FPAGE_RSD = 0xE,
};

/* §5.2 send (map) items: control word = send base (bits 12..63) | attributes << 4 |
 * L4_ITEM_MAP | grant | compound; then the flexpage word */
enum l4_msg_item_consts_t {
    L4_ITEM_MAP = 8,                   /* set in every map item; control word 0 = void item */
    L4_ITEM_CONT = 1,                  /* compound: next item goes to the same receive buffer */
    L4_MAP_ITEM_GRANT = 2,
    L4_MAP_ITEM_MAP = 0,
};

enum L4_fpage_control {
    L4_FPAGE_CONTROL_OFFSET_SHIFT = 12,
};
#define L4_FPAGE_CONTROL_MASK 0xfffffffffffff000

/* Memory attribute nibble of a map item (l4_map_control's cache argument, shifted by 4). */
enum l4_fpage_cacheability_opt_t {
    L4_FPAGE_CACHE_OPT = 0x1,          /* use the given type instead of copying the sender's */
    L4_FPAGE_CACHEABLE = 0x3,
    L4_FPAGE_BUFFERABLE = 0x5,
    L4_FPAGE_UNCACHEABLE = 0x1,
};

/* §5.2 object attribute bits of a map item's control word (bits 4..7) */
enum l4_obj_fpage_ctl {
    L4_FPAGE_C_REF_CNT = 0x00,
    L4_FPAGE_C_NO_REF_CNT = 0x10,
    L4_FPAGE_C_OBJ_RIGHT1 = 0x20,
    L4_FPAGE_C_OBJ_RIGHT2 = 0x40,
    L4_FPAGE_C_OBJ_RIGHT3 = 0x80,
    L4_FPAGE_C_OBJ_RIGHTS = 0xE0,
    L4_FPAGE_C_IPCGATE_SVR = 0x20,
};

/* §5.3 receive items: word 0 of an entry in a BR list (L4_ITEM_MAP must be set; 0 ends the
 * list); a non-small item's word 1 is the receive window */
enum l4_rcv_item_consts {
    L4_RCV_ITEM_FORWARD_MAPPINGS = 1,  /* an extra word names the task that gets the mappings */
    L4_RCV_ITEM_SINGLE_CAP = 0xA,      /* small item: one object slot, selector in bits 12..63 */
    L4_RCV_ITEM_LOCAL_ID = 4,          /* prefer a local id over a mapping (small items only) */
};

/* §5.4 returned item words: receive type in bits 1..2 of word 0 (no l4sys C names; pyl4re
 * names after Fiasco's Rcv_map_something, Rcv_map_nothing, Rcv_id, Rcv_flexpage). */
enum l4_ret_item_type {
    L4_RET_ITEM_MAP_SOMETHING = 0x0,   /* mapped, something arrived */
    L4_RET_ITEM_MAP_NOTHING = 0x2,     /* mapped, nothing arrived */
    L4_RET_ITEM_ID = 0x4,              /* word 1: IPC-gate label | W,S rights */
    L4_RET_ITEM_FLEXPAGE = 0x6,        /* word 1: the raw send flexpage */
    L4_RET_ITEM_TYPE_MASK = 0x6,
};

/* §5.5 unmap: flags in the map-mask word (wider than int, hence #define) */
#define L4_FP_OTHER_SPACES 0               /* only mappings derived from the given one */
#define L4_FP_ALL_SPACES 0x80000000        /* also the invoked task's own mapping */
#define L4_FP_DELETE_OBJ 0xc0000000        /* ALL_SPACES + delete objects (needs D right) */
/* Access flags the kernel ORs into each returned fpage word (Fiasco Page::Flags; pyl4re names). */
enum l4_unmap_access_flags {
    L4_FP_REFERENCED = 0x1,
    L4_FP_DIRTY = 0x2,
};

/* §6.1 capability selectors */
enum l4_cap_consts {
    L4_CAP_SHIFT = 12,
    L4_CAP_SIZE = 0x1000,
    L4_CAP_OFFSET = 0x1000,
    L4_REPLY_CAP_BIT = 0x400,
    L4_INVALID_CAP_BIT = 0x800,
};
#define L4_CAP_MASK 0xfffffffffffffc00
#define L4_INVALID_CAP 0xfffffffffffff800
#define L4_INVALID_REPLY_CAP 0xfffffffffffffc00

/* §6.2 initial capability slots (as indices; selectors are index << L4_CAP_SHIFT) */
enum l4_base_cap_index {
    L4_BASE_TASK_CAP_INDEX = 1,
    L4_BASE_FACTORY_CAP_INDEX = 2,
    L4_BASE_THREAD_CAP_INDEX = 3,
    L4_BASE_PAGER_CAP_INDEX = 4,
    L4_BASE_LOG_CAP_INDEX = 5,
    L4_BASE_ICU_CAP_INDEX = 6,
    L4_BASE_SCHEDULER_CAP_INDEX = 7,
    L4_BASE_IOMMU_CAP_INDEX = 8,
    L4_BASE_DEBUGGER_CAP_INDEX = 10,
    L4_BASE_ARM_SMCCC_CAP_INDEX = 11,
    L4_BASE_CAPS_LAST_INDEX = 11,
};

/* §6.2 the same slots as selectors (index << L4_CAP_SHIFT), as l4sys names them */
enum l4_default_caps_t {
    L4_BASE_TASK_CAP = 0x1000,
    L4_BASE_FACTORY_CAP = 0x2000,
    L4_BASE_THREAD_CAP = 0x3000,
    L4_BASE_PAGER_CAP = 0x4000,
    L4_BASE_LOG_CAP = 0x5000,
    L4_BASE_ICU_CAP = 0x6000,
    L4_BASE_SCHEDULER_CAP = 0x7000,
    L4_BASE_IOMMU_CAP = 0x8000,
    L4_BASE_DEBUGGER_CAP = 0xA000,
    L4_BASE_ARM_SMCCC_CAP = 0xB000,
    L4_BASE_CAPS_LAST = 0xB000,
};

/* §6.3 operation flags OR-ed into the invoked selector */
enum l4_syscall_flags_t {
    L4_SYSF_NONE = 0x00,
    L4_SYSF_SEND = 0x01,
    L4_SYSF_RECV = 0x02,
    L4_SYSF_OPEN_WAIT = 0x04,
    L4_SYSF_REPLY = 0x08,
    L4_SYSF_CALL = 0x03,
    L4_SYSF_WAIT = 0x06,
    L4_SYSF_SEND_AND_WAIT = 0x07,
    L4_SYSF_REPLY_AND_WAIT = 0x0F,
};

/* §7 protocol labels (-3, -4 removed in 2024; -7, -19 unused) */
enum L4_msgtag_protocol {
    L4_PROTO_NONE = 0,
    L4_PROTO_PLATFORM_CTL = 0,
    L4_PROTO_ALLOW_SYSCALL = 1,
    L4_PROTO_PF_EXCEPTION = 1,
    L4_PROTO_IRQ = -1,
    L4_PROTO_PAGE_FAULT = -2,
    L4_PROTO_EXCEPTION = -5,
    L4_PROTO_SIGMA0 = -6,
    L4_PROTO_IO_PAGE_FAULT = -8,
    L4_PROTO_THREAD_GROUP = -9,
    L4_PROTO_KOBJECT = -10,
    L4_PROTO_TASK = -11,
    L4_PROTO_THREAD = -12,
    L4_PROTO_LOG = -13,
    L4_PROTO_SCHEDULER = -14,
    L4_PROTO_FACTORY = -15,
    L4_PROTO_VM = -16,
    L4_PROTO_DMA_SPACE = -17,
    L4_PROTO_IRQ_SENDER = -18,
    L4_PROTO_SEMAPHORE = -20,
    L4_PROTO_META = -21,
    L4_PROTO_IOMMU = -22,
    L4_PROTO_DEBUGGER = -23,
    L4_PROTO_SMCCC = -24,
    L4_PROTO_VCPU_CONTEXT = -25,
};


/* §8.0 the generic kobject protocol (label L4_PROTO_KOBJECT) */
enum l4_kobject_ops {
    L4_KOBJECT_OP_DEC_REFCNT = 0,
    L4_KOBJECT_OP_REGISTER_IRQ = 1,
};

/* §8.1 Task (label L4_PROTO_TASK); the opcode is the whole MR0 */
enum l4_task_ops {
    L4_TASK_MAP_OP = 0,
    L4_TASK_UNMAP_OP = 1,
    L4_TASK_CAP_INFO_OP = 2,
    L4_TASK_ADD_KU_MEM_OP = 3,
    L4_TASK_LDT_SET_X86_OP = 0x11,
    L4_TASK_MAP_VGICC_ARM_OP = 0x12,
};

/* §8.2 Thread (label L4_PROTO_THREAD): opcode in MR0 & 0xFFFF, flags above */
enum l4_thread_ops {
    L4_THREAD_CONTROL_OP = 0,
    L4_THREAD_EX_REGS_OP = 1,
    L4_THREAD_SWITCH_OP = 2,
    L4_THREAD_STATS_OP = 3,
    L4_THREAD_VCPU_RESUME_OP = 4,
    L4_THREAD_REGISTER_DELETE_IRQ_OP = 5,
    L4_THREAD_MODIFY_SENDER_OP = 6,
    L4_THREAD_VCPU_CONTROL_OP = 7,
    L4_THREAD_REGISTER_DOORBELL_IRQ_OP = 8,
    L4_THREAD_PF_TRAMP_CONTROL_OP = 9,
    L4_THREAD_X86_GDT_OP = 0x10,
    L4_THREAD_ARM_TPIDRURO_OP = 0x10,
    L4_THREAD_AMD64_SET_SEGMENT_BASE_OP = 0x12,
    L4_THREAD_AMD64_GET_SEGMENT_INFO_OP = 0x13,
    L4_THREAD_OPCODE_MASK = 0xFFFF,
    L4_THREAD_VCPU_CONTROL_EXT_OP = 0x10007,
};
/* §11.2 vCPU state flags (state, saved_state) and sticky flags */
enum l4_vcpu_state_flags {
    L4_VCPU_F_IRQ = 0x01,
    L4_VCPU_F_PAGE_FAULTS = 0x02,
    L4_VCPU_F_EXCEPTIONS = 0x04,
    L4_VCPU_F_USER_MODE = 0x20,
    L4_VCPU_F_FPU_ENABLED = 0x80,
};
enum l4_vcpu_sticky_flags {
    L4_VCPU_SF_IRQ_PENDING = 0x01,
};
/* Thread control: flags in MR0, and the MR indices of the request */
enum l4_thread_control_flags {
    L4_THREAD_CONTROL_SET_PAGER = 0x0010000,
    L4_THREAD_CONTROL_BIND_TASK = 0x0200000,
    L4_THREAD_CONTROL_ALIEN = 0x0400000,
    L4_THREAD_CONTROL_UX_NATIVE = 0x0800000,      /* kernel-only since UX was removed */
    L4_THREAD_CONTROL_SET_EXC_HANDLER = 0x1000000,
};
enum l4_thread_control_mr_indices {
    L4_THREAD_CONTROL_MR_IDX_FLAGS = 0,
    L4_THREAD_CONTROL_MR_IDX_PAGER = 1,
    L4_THREAD_CONTROL_MR_IDX_EXC_HANDLER = 2,
    L4_THREAD_CONTROL_MR_IDX_FLAG_VALS = 4,
    L4_THREAD_CONTROL_MR_IDX_BIND_UTCB = 5,
    L4_THREAD_CONTROL_MR_IDX_BIND_TASK = 6,
};
/* ex_regs flags in MR0 (the arch mask is wider than int, hence #define) */
enum l4_thread_ex_regs_flags {
    L4_THREAD_EX_REGS_CANCEL = 0x10000,
    L4_THREAD_EX_REGS_TRIGGER_EXCEPTION = 0x20000,
};
#define L4_THREAD_EX_REGS_ARCH_MASK 0xff000000

/* §8.3 Factory: variable argument headers */
enum l4_varg_type {
    L4_VARG_TYPE_NIL = 0x00,
    L4_VARG_TYPE_UMWORD = 0x01,
    L4_VARG_TYPE_MWORD = 0x81,
    L4_VARG_TYPE_STRING = 0x02,
    L4_VARG_TYPE_FPAGE = 0x03,
    L4_VARG_TYPE_SIGN = 0x80,
};

/* §8.4 IPC gate and receive endpoint (label L4_PROTO_KOBJECT) */
enum l4_ipc_gate_ops {
    L4_IPC_GATE_BIND_OP = 0x10,
    L4_RCV_EP_BIND_OP = 0x10,
    L4_IPC_GATE_GET_INFO_OP = 0x11,
};

/* §8.5 IRQ and semaphore */
enum l4_irq_ops {
    L4_IRQ_OP_TRIGGER = 2,
    L4_IRQ_OP_EOI = 4,
    L4_IRQ_SENDER_OP_ATTACH = 0,
    L4_IRQ_SENDER_OP_DETACH = 1,
    L4_IRQ_SENDER_OP_BIND_VCPU = 2,
    L4_SEMAPHORE_OP_DOWN = 0,
};

/* §8.6 ICU (label L4_PROTO_IRQ on an ICU capability) */
enum l4_icu_ops {
    L4_ICU_OP_BIND = 0,
    L4_ICU_OP_UNBIND = 1,
    L4_ICU_OP_INFO = 2,
    L4_ICU_OP_MSI_INFO = 3,
    L4_ICU_OP_UNMASK = 4,
    L4_ICU_OP_MASK = 5,
    L4_ICU_OP_SET_MODE = 6,
    L4_ICU_CTL_UNMASK = 0,
    L4_ICU_CTL_MASK = 1,
};
#define L4_ICU_FLAG_MSI 0x80000000
enum l4_irq_mode {
    L4_IRQ_F_NONE = 0x0,
    L4_IRQ_F_SET_MODE = 0x1,
    L4_IRQ_F_LEVEL = 0x2,
    L4_IRQ_F_EDGE = 0x0,
    L4_IRQ_F_POS = 0x0,
    L4_IRQ_F_NEG = 0x4,
    L4_IRQ_F_BOTH = 0x8,
    L4_IRQ_F_LEVEL_HIGH = 0x3,
    L4_IRQ_F_LEVEL_LOW = 0x7,
    L4_IRQ_F_POS_EDGE = 0x1,
    L4_IRQ_F_NEG_EDGE = 0x5,
    L4_IRQ_F_BOTH_EDGE = 0x9,
    L4_IRQ_F_MASK = 0xF,
    L4_IRQ_F_SET_WAKEUP = 0x10,
    L4_IRQ_F_CLEAR_WAKEUP = 0x20,
};

/* §8.7 Scheduler (label L4_PROTO_SCHEDULER) */
enum l4_scheduler_ops {
    L4_SCHEDULER_INFO_OP = 0,
    L4_SCHEDULER_RUN_THREAD_OP = 1,
    L4_SCHEDULER_IDLE_TIME_OP = 2,
};
enum l4_sched_consts {
    L4_SCHED_MIN_PRIO = 1,
    L4_SCHED_MAX_PRIO = 255,
    L4_SCHEDULER_CLASS_FIXED_PRIO = 0x2,
    L4_SCHEDULER_CLASS_WFQ = 0x4,
    L4_SCHED_CLASS_FIXED_PRIO = -1,
    L4_SCHED_CLASS_WFQ = -2,
};

/* §8.8 platform control (label 0 on the ICU capability) */
enum l4_platform_ctl_ops {
    L4_PLATFORM_CTL_SYS_SUSPEND_OP = 0,
    L4_PLATFORM_CTL_SYS_SHUTDOWN_OP = 1,
    L4_PLATFORM_CTL_CPU_ALLOW_SHUTDOWN_OP = 2,
    L4_PLATFORM_CTL_CPU_ENABLE_OP = 3,
    L4_PLATFORM_CTL_CPU_DISABLE_OP = 4,
    L4_PLATFORM_CTL_SET_TASK_ASID_OP = 0x10,
};

/* §8.9 Log / Vcon (label L4_PROTO_LOG) */
enum l4_vcon_ops {
    L4_VCON_WRITE_OP = 0,
    L4_VCON_READ_OP = 1,
    L4_VCON_SET_ATTR_OP = 2,
    L4_VCON_GET_ATTR_OP = 3,
    L4_VCON_WRITE_SIZE = 61 * 8,
    L4_VCON_READ_SIZE = 62 * 8,
};
/* Read result flags in MR0 (the done bit is wider than int, hence #define) */
enum l4_vcon_read_flags {
    L4_VCON_READ_SIZE_MASK = 0x3fffffff,
    L4_VCON_READ_STAT_BREAK = 0x40000000,
};
#define L4_VCON_READ_STAT_DONE 0x80000000
/* Attributes (l4sys writes them in octal, as termios does) */
enum l4_vcon_attr_flags {
    L4_VCON_INLCR = 0x40,          /* 0100 */
    L4_VCON_IGNCR = 0x80,          /* 0200 */
    L4_VCON_ICRNL = 0x100,         /* 0400 */
    L4_VCON_ONLCR = 0x4,           /* 04 */
    L4_VCON_OCRNL = 0x8,           /* 010 */
    L4_VCON_ONLRET = 0x20,         /* 040 */
    L4_VCON_ICANON = 0x2,          /* 02 */
    L4_VCON_ECHO = 0x8,            /* 010 */
};

/* §8.10 Debugger (label L4_PROTO_DEBUGGER): opcode groups in MR0 (kdebug.h) */
enum l4_kdebug_group {
    L4_KDEBUG_GROUP_JDB = 0x000,
    L4_KDEBUG_GROUP_KOBJ = 0x100,
    L4_KDEBUG_GROUP_TRACE = 0x200,
    L4_KDEBUG_GROUP_COV = 0x400,
    L4_KDEBUG_GROUP_DUMP = 0x500,
};
enum l4_kdebug_ops {
    L4_KDEBUG_ENTER = 0,
    L4_KDEBUG_OUTCHAR = 1,
    L4_KDEBUG_OUTNSTRING = 2,
    L4_KDEBUG_OUTHEX32 = 3,
    L4_KDEBUG_OUTHEX20 = 4,
    L4_KDEBUG_OUTHEX16 = 5,
    L4_KDEBUG_OUTHEX12 = 6,
    L4_KDEBUG_OUTHEX8 = 7,
    L4_KDEBUG_OUTDEC = 8,
};
/* Object ops (group KOBJ; the object is a send item after the words) (debugger.h) */
enum l4_debugger_ops {
    L4_DEBUGGER_NAME_SET_OP = 0,
    L4_DEBUGGER_GLOBAL_ID_OP = 1,
    L4_DEBUGGER_KOBJ_TO_ID_OP = 2,
    L4_DEBUGGER_QUERY_LOG_TYPEID_OP = 3,
    L4_DEBUGGER_SWITCH_LOG_OP = 4,
    L4_DEBUGGER_NAME_GET_OP = 5,
    L4_DEBUGGER_QUERY_LOG_NAME_OP = 6,
    L4_DEBUGGER_OBJ_INFO_OP = 16,     /* obj_info.h: L4_kobj_info records into ku_mem */
    L4_DEBUGGER_SWITCH_LOG_ON = 1,
    L4_DEBUGGER_SWITCH_LOG_OFF = 0,
};


#endif
