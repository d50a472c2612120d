/*
 * arch_abi.h (mips64): the ABI facts that differ between architectures, under the same names
 * in every arch/<arch>/arch_abi.h. Part of the cffi boundary (see kernel_c/pyl4re.h), so
 * enums and integer #defines only. The generic core reads these; it never asks which
 * architecture it is.
 */
#ifndef PYL4RE_ARCH_ABI_H
#define PYL4RE_ARCH_ABI_H

enum arch_abi {
    ARCH_MWORD_BITS = 64,
    ARCH_EXC_REGS_WORDS = 41,   /* l4_exc_regs_t words (§2, §10.3) */
    ARCH_UTCB_SIZE = 1024,      /* L4_UTCB_OFFSET (§2) */
    ARCH_IO_PORTS = 0,   /* I/O ports (§5.1): none here */
    ARCH_EX_REGS_ARCH_FLAGS = 0,   /* ex_regs arch bits accepted (§8.2) */
};
#define ARCH_UTCB_AREA_DEFAULT 0x73000000   /* where L4Re puts a task's UTCB area (user-level §3.2) */
#define ARCH_USER_MAX 0x00000000ffffffff   /* highest user virtual address (§14) */

/* Smallest user page (§14.3): a build option, as in Fiasco (MIPS_PAGE_SIZE_16K by default;
 * PYL4RE_MIPS_PAGE_SIZE=4K builds with -DPYL4RE_MIPS_PAGE_4K=1). The parentheses keep these
 * lines out of the cffi cdef, which cannot follow the #if; Python reads the value from
 * arch_describe()->page_shift. */
#ifdef PYL4RE_MIPS_PAGE_4K
#define ARCH_PAGE_SHIFT (12)
#else
#define ARCH_PAGE_SHIFT (14)
#endif

/* What kernel operations cost in virtual time, in nanoseconds (the model's numbers, not
 * measurements; docs/time.md). The generic core charges these; nothing else is timed. */
enum arch_cost {
    COST_SYSCALL_NS = 150,      /* kernel entry and exit */
    COST_IPC_NS = 250,          /* an IPC transfer between two threads */
    COST_WORD_NS = 2,           /* per message word copied */
    COST_ITEM_NS = 120,          /* per capability or page mapped (map item, l4_task_map) */
    COST_SWITCH_NS = 150,       /* a context switch */
    COST_IPI_NS = 2000,         /* an inter-processor interrupt reaching another CPU */
    COST_KOBJ_NS = 400,         /* a kernel-object operation on the slow path */
    COST_VCPU_UPCALL_NS = 300,  /* a vCPU event entering the entry point (§11.3) */
    COST_VCPU_RESUME_NS = 220,  /* vcpu_resume switching to the resumed state (§11.3) */
};

#endif
