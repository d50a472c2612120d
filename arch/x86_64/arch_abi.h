/*
 * arch_abi.h (x86_64): the ABI facts that differ between architectures, under the same names
 * in every arch/<arch>/arch_abi.h. Part of the cffi boundary (see kernel_c/pyl4re.h), so
 * enums and integer #defines only. The generic core reads these; it never asks which
 * architecture it is.
 */
#ifndef PYL4RE_ARCH_ABI_H
#define PYL4RE_ARCH_ABI_H

enum arch_abi {
    ARCH_MWORD_BITS = 64,
    ARCH_EXC_REGS_WORDS = 26,   /* l4_exc_regs_t words (§2, §10.3) */
    ARCH_UTCB_SIZE = 1024,      /* L4_UTCB_OFFSET (§2) */
    ARCH_IO_PORTS = 0x10000,   /* I/O ports (§5.1): x86 has 65536 */
    ARCH_EX_REGS_ARCH_FLAGS = 0,   /* ex_regs arch bits accepted (§8.2) */
    ARCH_PAGE_SHIFT = 12,       /* smallest user page (§14) */
};
#define ARCH_UTCB_AREA_DEFAULT 0xb3000000   /* where L4Re puts a task's UTCB area (user-level §3.2) */
#define ARCH_USER_MAX 0x00007fffffffffff   /* highest user virtual address (§14) */

/* What kernel operations cost in virtual time, in nanoseconds (the model's numbers, not
 * measurements; docs/time.md). The generic core charges these; nothing else is timed. */
enum arch_cost {
    COST_SYSCALL_NS = 100,      /* kernel entry and exit */
    COST_IPC_NS = 150,          /* an IPC transfer between two threads */
    COST_WORD_NS = 1,           /* per message word copied */
    COST_ITEM_NS = 80,          /* per capability or page mapped (map item, l4_task_map) */
    COST_SWITCH_NS = 100,       /* a context switch */
    COST_IPI_NS = 1000,         /* an inter-processor interrupt reaching another CPU */
    COST_KOBJ_NS = 300,         /* a kernel-object operation on the slow path */
    COST_VCPU_UPCALL_NS = 200,  /* a vCPU event entering the entry point (§11.3) */
    COST_VCPU_RESUME_NS = 150,  /* vcpu_resume switching to the resumed state (§11.3) */
};

#endif
