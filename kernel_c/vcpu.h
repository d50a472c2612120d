/*
 * vcpu.h: a thread's vCPU context (§11), as the generic core keeps it (vcpu.c). The state
 * area itself lives in the task's ku-mem, in physical memory the vCPU's code reads and
 * writes; this is only what the kernel must remember beside it. References are object
 * ids, never pointers: a user task that dies leaves nothing dangling.
 */
#ifndef PYL4RE_VCPU_H
#define PYL4RE_VCPU_H

#include <stdint.h>

#include "pyl4re.h"

struct vcpu_ctx {
    uint8_t *area;             /* the state area in physical memory; NULL: not a vCPU */
    uint64_t va;
    kobj_id_t user_task;       /* the cached user task (0: none) */
    uint32_t user_mode;        /* runs in the user task's address space */
    uint32_t fpu_disabled;     /* user mode without L4_VCPU_F_FPU_ENABLED */
    uint32_t upcall;           /* entered the entry point: start there when it runs */
    uint32_t park;             /* enum vcpu_park: what the interrupted code was doing */
    uint64_t park_ip, park_compute_ns;
    uint32_t ext;              /* an extended vCPU (hardware virtualization, vm.c) */
    uint32_t in_vm;            /* its user mode runs a guest in a VM */
    uint32_t from_vm;          /* the last upcall ended guest mode: a VM exit */
    int64_t inject;            /* the virtual interrupt the last entry delivered, or -1 */
    uint32_t op_size;          /* the guest's pending access: its size (0: unknown) ... */
    uint64_t op_value;         /* ... the value a store writes ... */
    uint32_t op_reg, op_info;  /* ... its register and extra syndrome bits (vm_guest_syndrome) */
    uint64_t gva;              /* its guest-virtual address, when gva_valid (stage 1 on) */
    uint32_t gva_valid;
    uint32_t s1_walk;          /* the stage-2 miss is on a guest table, not the data */
    struct vm_guest_fault s1_fault;   /* the guest exception of the last stage-1 fault */
};

struct thread;
struct task;
struct irq;
struct vm_access;

/* The address space t's memory accesses go through: the user task's in vCPU user mode
 * (NULL if that task died), else its own task's. */
struct task *vcpu_space(const kernel_t *k, const struct thread *t);
/* Whether an IPC or IRQ message to t becomes an upcall now (L4_VCPU_F_IRQ set, t in no
 * IPC, fault or exception, no upcall already pending): Fiasco's vcpu_async_ipc. */
int vcpu_async_ready(const kernel_t *k, const struct thread *t);
/* t received a message asynchronously (its tag and label are in t->ret_*, the result of
 * the interrupted code was saved in *saved): move it to i, put the result back, upcall. */
void vcpu_async_delivered(kernel_t *k, struct thread *t, const uint64_t saved[2]);
/* L4_VCPU_SF_IRQ_PENDING follows t's queues of senders and IRQ messages. */
void vcpu_sticky_update(struct thread *t);
/* At the start of a kernel entry of t (SYS_UPCALL if it became an upcall, else 0):
 * a system call in user mode, or an IPC/IRQ waiting while L4_VCPU_F_IRQ is set. */
int vcpu_at_entry(kernel_t *k, struct thread *t, int syscall);
/* A page fault / an exception of t as an upcall, if its state asks for one (1). */
int vcpu_page_fault(kernel_t *k, struct thread *t, uint64_t va, uint32_t access, int present);
/* A guest access to va through the guest's own stage-1 tables (vm.c): VM_WALK_OFF (its MMU
 * is off: *gpa = va), VM_WALK_DONE (*gpa), VM_WALK_STAGE2 (a guest table entry at *gpa is
 * not readable in the VM), VM_WALK_GUEST (a stage-1 fault: t->vcpu.s1_fault), or
 * -L4_ENOSYS (a translation regime the model does not walk). */
enum { VM_WALK_OFF = 0, VM_WALK_DONE = 1, VM_WALK_STAGE2 = 2, VM_WALK_GUEST = 3 };
int vm_guest_walk(kernel_t *k, struct thread *t, uint64_t va, uint32_t access, uint64_t *gpa);
int vcpu_exception(kernel_t *k, struct thread *t, uint64_t trapno, uint64_t err, uint64_t pfa);
void vcpu_thread_dies(struct thread *t);
/* A guest exit (enum vm_exit) of t, running in a VM: the upcall with the architecture's
 * exit information; a for stage-2 exits, imm a hypercall's immediate. */
void vcpu_vm_exit(kernel_t *k, struct thread *t, uint32_t exit, const struct vm_access *a,
                  uint64_t imm);
/* Ends the entry that became an upcall: SYS_UPCALL (or SYS_GONE). */
int vcpu_upcall_exit(kernel_t *k, kobj_id_t thread);

#endif
