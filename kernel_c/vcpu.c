/*
 * vcpu.c: vCPUs (§11): a thread with a state area in its task's ku-mem, an entry point,
 * a virtual interrupt flag and a user task it can resume into.
 *
 * Events (an IPC or IRQ message while L4_VCPU_F_IRQ is set, a page fault with
 * L4_VCPU_F_PAGE_FAULTS, an exception with L4_VCPU_F_EXCEPTIONS, a kernel entry in user
 * mode) are upcalls: saved_state = state, the traps and user mode are cleared, the
 * interrupted registers go to r, a message's tag and label to i, and the thread goes on
 * at entry_ip in its own task. A µApp's code is Python, so "the interrupted registers"
 * are a continuation: r.ip becomes a fresh continuation ip (VCPU_CONT_BASE + n), and the
 * run loop parks the interrupted coroutine under it (docs/vcpu.md); vcpu_resume to that ip
 * lets it go on. Resume (thread op 4) follows Fiasco's sys_vcpu_resume. Every layout fact
 * is the architecture's (arch/<arch>/vcpu.c); nothing here asks which one it is.
 *
 * An extended vCPU (op 7 | 0x10000) whose user task is a VM runs a guest there: its r holds
 * the guest's registers (an exit keeps them), an entry passes the architecture's checks
 * (arch/<arch>/vm.c) and may deliver a virtual interrupt, and every event that ends guest
 * mode is a VM exit with the architecture's exit information in the extended area.
 */
#include <string.h>

#include "kernel.h"
#include "arch_ops.h"
#include "cspace.h"
#include "thread.h"
#include "trace.h"

enum { F_TRAPS = L4_VCPU_F_IRQ | L4_VCPU_F_PAGE_FAULTS | L4_VCPU_F_EXCEPTIONS };

/* ---- the state area's fields (little-endian words in physical memory) */

static uint16_t rd16(const struct thread *t, uint32_t off)
{
    uint16_t v;
    memcpy(&v, t->vcpu.area + off, sizeof(v));
    return v;
}

static void wr16(struct thread *t, uint32_t off, uint16_t v)
{
    memcpy(t->vcpu.area + off, &v, sizeof(v));
}

static uint64_t rd64(const struct thread *t, uint32_t off)
{
    uint64_t v;
    memcpy(&v, t->vcpu.area + off, sizeof(v));
    return v;
}

static void wr64(struct thread *t, uint32_t off, uint64_t v)
{
    memcpy(t->vcpu.area + off, &v, sizeof(v));
}

/* r, as l4_exc_regs_t words (the area is 8-byte aligned). */
static uint64_t *regs(struct thread *t)
{
    return (uint64_t *)(void *)(t->vcpu.area + arch_vcpu_layout()->r);
}

static struct task *task_alive(const kernel_t *k, kobj_id_t id)
{
    struct kobj *o = id.raw ? kobj_get(k, id) : NULL;
    return o && o->type == KOBJ_TASK ? (struct task *)o : NULL;
}

struct task *vcpu_space(const kernel_t *k, const struct thread *t)
{
    return t->vcpu.user_mode ? task_alive(k, t->vcpu.user_task) : t->task;
}

/* ---- enabling (thread op 7) */

/* Fiasco's find_ku_mem: aligned, the whole area (size bytes) inside one ku-mem piece. */
static int enable(kernel_t *k, kobj_id_t thread, virt_addr_t va, uint64_t align,
                  uint32_t size, uint32_t ext)
{
    const struct vcpu_layout *l = arch_vcpu_layout();
    struct thread *t = thread_get(k, thread);
    if (!t || !t->task)
        return -L4_EINVAL;
    if (va.raw & (align - 1) || va.raw + size - 1 < va.raw)
        return -L4_EINVAL;
    const struct task *task = t->task;
    for (uint32_t i = 0; i < task->nkumem; i++) {
        const struct kumem *m = &task->kumem[i];
        if (va.raw >= m->va && va.raw + size - 1 <= m->va + m->size - 1) {
            /* A second call moves the area; the kernel's side (user task, mode) stays. */
            t->vcpu.area = k->mem + m->pa.raw + (va.raw - m->va);
            t->vcpu.va = va.raw;
            wr64(t, 0, l->version);          /* the user checks it (l4_vcpu_check_version) */
            t->vcpu.ext = ext;               /* a plain area has no room for the VM state */
            t->vcpu.inject = -1;
            if (ext)
                arch_vm_init(t->vcpu.area);
            vcpu_sticky_update(t);
            return 0;
        }
    }
    return -L4_EINVAL;
}

int vcpu_control(kernel_t *k, kobj_id_t thread, virt_addr_t va)
{
    return enable(k, thread, va, 8, arch_vcpu_layout()->struct_size, 0);
}

/* The extended area is one page (l4sys: L4_VCPU_STATE_EXT_SIZE), 4 KiB aligned. */
int vcpu_control_ext(kernel_t *k, kobj_id_t thread, virt_addr_t va)
{
    return enable(k, thread, va, 0x1000, arch_vcpu_layout()->ext_size, 1);
}

int vcpu_info(const kernel_t *k, kobj_id_t thread, struct vcpu_info *out)
{
    const struct thread *t = thread_get(k, thread);
    if (!t || !out)
        return -L4_EINVAL;
    out->state = phys_addr(t->vcpu.area ? (uint64_t)(t->vcpu.area - k->mem) : 0);
    out->state_va = virt_addr(t->vcpu.va);
    out->user_task = task_alive(k, t->vcpu.user_task) ? t->vcpu.user_task : (kobj_id_t){ 0 };
    out->user_mode = t->vcpu.user_mode;
    out->ext = t->vcpu.ext;
    out->in_vm = t->vcpu.user_mode && t->vcpu.in_vm;
    return 0;
}

void vcpu_sticky_update(struct thread *t)
{
    if (!t->vcpu.area)
        return;
    uint32_t off = arch_vcpu_layout()->sticky_flags;
    uint16_t f = rd16(t, off);
    if (t->senders.head || t->irq_head)
        f |= L4_VCPU_SF_IRQ_PENDING;
    else
        f &= (uint16_t)~L4_VCPU_SF_IRQ_PENDING;
    wr16(t, off, f);
}

void vcpu_thread_dies(struct thread *t)
{
    t->vcpu = (struct vcpu_ctx){ 0 };
}

/* ---- events */

/* The work of an upcall is charged to the CPU doing it: the running entry's, else the
 * vCPU's own (an IRQ raised by the harness between entries). */
static void charge_upcall(kernel_t *k, struct thread *t)
{
    if (k->running_cpu != CPU_NONE)
        cpu_charge(k, k->running_cpu, k->cost.vcpu_upcall_ns);
    else if (t->cpu != CPU_NONE)
        cpu_charge(k, t->cpu, k->cost.vcpu_upcall_ns);
}

/* Fiasco's vcpu_enter_kernel_mode + vcpu_save_state_and_upcall: the code t was running
 * stops (parked as `park` says, unless it had not started yet), its registers go to r,
 * and t goes on at entry_ip in its own task. */
static uint64_t *enter_kernel(kernel_t *k, struct thread *t, uint32_t event, uint32_t park)
{
    const struct vcpu_layout *l = arch_vcpu_layout();
    t->vcpu.from_vm = t->vcpu.user_mode && t->vcpu.in_vm;
    t->vcpu.in_vm = 0;
    uint16_t st = rd16(t, l->state);
    wr16(t, l->saved_state, st);
    wr16(t, l->state, st & (uint16_t)~(F_TRAPS | L4_VCPU_F_USER_MODE));
    uint64_t ip;
    if (t->start_pending) {                 /* resumed, not yet running: it starts there */
        ip = t->ip;
        park = VCPU_PARK_NONE;
        t->start_pending = 0;
    } else {
        ip = VCPU_CONT_BASE + (++k->vcpu_conts) * VCPU_CONT_STRIDE;
        if (t->compute_left_ns)
            park = VCPU_PARK_COMPUTE;
        else if (t->ret_restart && park == VCPU_PARK_RESULT)
            park = VCPU_PARK_REPEAT;
    }
    t->vcpu.park = park;
    t->vcpu.park_ip = ip;
    t->vcpu.park_compute_ns = t->compute_left_ns;
    t->compute_left_ns = 0;
    t->ret_restart = 0;
    uint64_t *r = regs(t);
    if (!t->vcpu.from_vm)                          /* a guest's registers stay in r */
        memset(r, 0, l->r_words * sizeof(uint64_t));
    r[l->r_ip] = ip;
    r[l->r_sp] = t->sp;
    r[l->r_flags] = t->flags;
    if (t->vcpu.user_mode) {                /* back from the user task: the entry stack */
        t->vcpu.user_mode = 0;
        t->sp = rd64(t, l->entry_sp);
    }
    t->ip = rd64(t, l->entry_ip);
    t->program = PROGRAM_PYTHON;
    t->vcpu.upcall = 1;
    if (t->cpu != CPU_NONE && k->cpu[t->cpu].current == t)
        k->cpu[t->cpu].need_resched = 1;    /* its entry in progress ends here */
    charge_upcall(k, t);
    if (k->trace.size)
        trace_event(k, TRACE_VCPU_UPCALL, trace_cpu(k, t), thread_id(t).raw, event, st, ip);
    return r;
}

/* The exit information of a VM exit into the extended area (arch/<arch>/vm.c). */
static void vm_exit_info(kernel_t *k, struct thread *t, uint64_t *r, uint32_t exit,
                         const struct vm_access *a, uint64_t imm, int ran)
{
    uint64_t code = arch_vm_exit(t->vcpu.area, r, exit, a, imm, ran);
    if (k->trace.size)
        trace_event(k, TRACE_VM_EXIT, trace_cpu(k, t), thread_id(t).raw, exit, code,
                    a ? a->gpa : 0);
}

/* An IPC or IRQ upcall; out of a guest, also the IRQ exit. */
static void ipc_upcall(kernel_t *k, struct thread *t, uint64_t *r)
{
    arch_vcpu_ipc_upcall(r);
    if (t->vcpu.from_vm)
        vm_exit_info(k, t, r, VM_EXIT_IRQ, NULL, 0, 1);
}

void vcpu_vm_exit(kernel_t *k, struct thread *t, uint32_t exit, const struct vm_access *a,
                  uint64_t imm)
{
    uint32_t event = exit == VM_EXIT_STAGE2 ? VCPU_EVENT_PAGE_FAULT
                     : exit == VM_EXIT_FAULT ? VCPU_EVENT_EXCEPTION : VCPU_EVENT_VM_EXIT;
    uint64_t *r = enter_kernel(k, t, event, VCPU_PARK_REPEAT);
    vm_exit_info(k, t, r, exit, a, imm, 1);
}

int vcpu_async_ready(const kernel_t *k, const struct thread *t)
{
    (void)k;
    if (!t->vcpu.area || t->vcpu.upcall || !t->utcb || t->pf.active || t->exc.active
        || t->slow.pending || !(t->state & TS_READY)
        || (t->state & (TS_SEND | TS_RECV | TS_SEM | TS_DEAD)))
        return 0;
    return (rd16(t, arch_vcpu_layout()->state) & L4_VCPU_F_IRQ) != 0;
}

/* The message just received (t->ret_*) goes to i; the interrupted code's result comes
 * back from saved. */
static void message_to_i(struct thread *t, const uint64_t saved[2])
{
    const struct vcpu_layout *l = arch_vcpu_layout();
    wr64(t, l->i_tag, t->ret_tag);
    wr64(t, l->i_label, t->ret_label);
    t->ret_tag = saved[0];
    t->ret_label = saved[1];
}

void vcpu_async_delivered(kernel_t *k, struct thread *t, const uint64_t saved[2])
{
    message_to_i(t, saved);
    ipc_upcall(k, t, enter_kernel(k, t, VCPU_EVENT_IPC, VCPU_PARK_RESULT));
}

int vcpu_at_entry(kernel_t *k, struct thread *t, int syscall)
{
    if (!t->vcpu.area)
        return 0;
    if (t->vcpu.upcall) {                  /* already leaving for the entry point */
        if (t->vcpu.park == VCPU_PARK_RESULT)
            t->vcpu.park = VCPU_PARK_REPEAT;   /* this entry is not made either */
        return SYS_UPCALL;
    }
    if (t->vcpu.user_mode && syscall) {
        t->ret_tag = t->ret_label = 0;     /* the vCPU kernel emulates the call */
        arch_vcpu_syscall(enter_kernel(k, t, VCPU_EVENT_SYSCALL, VCPU_PARK_RESULT));
        return SYS_UPCALL;
    }
    if (!(rd16(t, arch_vcpu_layout()->state) & L4_VCPU_F_IRQ) || (!t->irq_head && !t->senders.head))
        return 0;
    uint64_t saved[2] = { t->ret_tag, t->ret_label };
    ipc_take_pending(k, t);
    message_to_i(t, saved);
    ipc_upcall(k, t, enter_kernel(k, t, VCPU_EVENT_IPC, VCPU_PARK_REPEAT));
    return SYS_UPCALL;
}

int vcpu_page_fault(kernel_t *k, struct thread *t, uint64_t va, uint32_t access, int present)
{
    if (!t->vcpu.area || !(rd16(t, arch_vcpu_layout()->state) & L4_VCPU_F_PAGE_FAULTS))
        return 0;
    if (k->trace.size) trace_fault(k, t, va, access);
    if (t->vcpu.user_mode && t->vcpu.in_vm) {      /* a stage-2 exit */
        struct vm_access a = { .gpa = va, .access = access, .present = (uint32_t)present,
                               .size = t->vcpu.s1_walk ? 0 : t->vcpu.op_size,
                               .value = t->vcpu.op_value, .gva = t->vcpu.gva,
                               .gva_valid = t->vcpu.gva_valid, .walk = t->vcpu.s1_walk,
                               .reg = t->vcpu.op_reg, .info = t->vcpu.op_info };
        struct vspace_page page;
        if (present && vspace_translate(k, t->vcpu.user_task, virt_addr(va), &page) == 0)
            a.rights = page.rights;
        vcpu_vm_exit(k, t, VM_EXIT_STAGE2, &a, 0);
        return 1;
    }
    arch_vcpu_page_fault(enter_kernel(k, t, VCPU_EVENT_PAGE_FAULT, VCPU_PARK_REPEAT), va,
                         present, (access & L4_FPAGE_W) != 0, (access & L4_FPAGE_X) != 0);
    return 1;
}

int vcpu_exception(kernel_t *k, struct thread *t, uint64_t trapno, uint64_t err, uint64_t pfa)
{
    const struct vcpu_layout *l = arch_vcpu_layout();
    if (!t->vcpu.area || !(rd16(t, l->state) & L4_VCPU_F_EXCEPTIONS))
        return 0;
    t->ret_tag = t->ret_label = 0;
    if (t->vcpu.user_mode && t->vcpu.in_vm) {      /* a guest that cannot go on */
        vcpu_vm_exit(k, t, VM_EXIT_FAULT, NULL, trapno);
        return 1;
    }
    uint64_t *r = enter_kernel(k, t, VCPU_EVENT_EXCEPTION, VCPU_PARK_RESULT);
    r[l->r_pfa] = pfa;
    if (l->r_trapno == 0xff)
        r[l->r_err] = (trapno << l->r_trapno_shift) | err;
    else {
        r[l->r_trapno] = trapno;
        r[l->r_err] = err;
    }
    return 1;
}

int vcpu_upcall_exit(kernel_t *k, kobj_id_t thread)
{
    struct sys_result r;
    return sys_exit(k, thread, SYS_DONE, &r) == SYS_GONE ? SYS_GONE : SYS_UPCALL;
}

int vcpu_user_exit(kernel_t *k, kobj_id_t thread)
{
    struct thread *t = sys_running(k, thread);
    if (!t || !t->vcpu.user_mode || t->vcpu.upcall)
        return -L4_EINVAL;
    t->start_pending = 0;
    vcpu_exception(k, t, arch_exc_layout()->illegal_trapno, 0, 0);
    t->vcpu.park = VCPU_PARK_NONE;        /* no code left to go on with */
    return vcpu_upcall_exit(k, thread);
}

int vcpu_take_upcall(kernel_t *k, kobj_id_t thread, struct vcpu_upcall *out)
{
    struct thread *t = thread_get(k, thread);
    if (!t || !t->vcpu.area || !out)
        return -L4_EINVAL;
    out->park = t->vcpu.park;
    out->cont_ip = t->vcpu.park_ip;
    out->tag = t->ret_tag;
    out->label = t->ret_label;
    out->compute_ns = t->vcpu.park_compute_ns;
    t->vcpu.park = VCPU_PARK_NONE;
    return 0;
}

/* ---- resuming (thread op 4) */

/* The vCPU making its own resume call, or NULL (Fiasco: only the current thread). */
static struct thread *resumer(kernel_t *k, kobj_id_t thread)
{
    struct thread *t = thread_get(k, thread);
    if (!t || !t->vcpu.area || k->running_cpu == CPU_NONE || k->cpu[k->running_cpu].current != t)
        return NULL;
    return t;
}

static int refuse(kernel_t *k, int code, const char *why)
{
    k->pending_what = why;
    return code;
}

int vcpu_resume_user_task(kernel_t *k, kobj_id_t thread, kobj_id_t *task)
{
    struct thread *t = resumer(k, thread);
    if (!t)
        return refuse(k, -L4_EINVAL, "vcpu_resume: only a vCPU thread resumes, itself");
    const struct vcpu_layout *l = arch_vcpu_layout();
    uint64_t sel = rd64(t, l->user_task);
    if (!(sel & L4_INVALID_CAP_BIT) && !(sel & 0xF)) {      /* a new one: look it up */
        uint64_t idx = sel >> L4_CAP_SHIFT;
        struct cap_slot *s = idx < CSPACE_SLOTS ? cspace_slot(t->task, cap_index((uint32_t)idx))
                                                : NULL;
        struct kobj *o = cspace_slot_obj(k, s);
        if (!o)
            return refuse(k, -L4_ENOENT, "vcpu_resume: user_task names an empty slot");
        if (o->type != KOBJ_TASK)
            return refuse(k, -L4_EINVAL, "vcpu_resume: user_task is not a task");
        if (!(s->rights & L4_CAP_FPAGE_S))
            return refuse(k, -L4_EPERM, "vcpu_resume: user_task lacks the S right");
        t->vcpu.user_task = kobj_id_of(o);
        wr64(t, l->user_task, sel | L4_SYSF_SEND);          /* marked: cached */
    } else if ((sel & 0xF) == L4_SYSF_REPLY)
        t->vcpu.user_task.raw = 0;                           /* dropped */
    *task = task_alive(k, t->vcpu.user_task) ? t->vcpu.user_task : (kobj_id_t){ 0 };
    return 0;
}

int vcpu_resume_commit(kernel_t *k, kobj_id_t thread)
{
    struct thread *t = resumer(k, thread);
    if (!t)
        return refuse(k, -L4_EINVAL, "vcpu_resume: only a vCPU thread resumes, itself");
    const struct vcpu_layout *l = arch_vcpu_layout();
    uint16_t saved = rd16(t, l->saved_state);
    uint64_t *r = regs(t);
    if ((saved & L4_VCPU_F_IRQ) && (rd16(t, l->sticky_flags) & L4_VCPU_SF_IRQ_PENDING)) {
        /* An IRQ waits: receive it with zero timeout into i and upcall instead. Even a
         * receive that timed out upcalls (Fiasco: only other errors resume). */
        uint64_t none[2] = { t->ret_tag, t->ret_label };
        t->ret_tag = 0;
        if (!ipc_take_pending(k, t)) {
            t->utcb[UTCB_TCR_ERROR] = L4_IPC_RETIMEOUT;
            t->ret_tag = L4_MSGTAG_ERROR;
            t->ret_label = 0;
        }
        message_to_i(t, none);
        arch_vcpu_ipc_upcall(r);
        struct task *to = task_alive(k, t->vcpu.user_task);
        if (t->vcpu.ext && (saved & L4_VCPU_F_USER_MODE) && to && to->pt_kind == VSPACE_KIND_VM)
            vm_exit_info(k, t, r, VM_EXIT_IRQ, NULL, 0, 0);   /* Fiasco: Exit_irq */
        t->sp = (saved & L4_VCPU_F_USER_MODE) ? rd64(t, l->entry_sp) : r[l->r_sp];
        t->ip = rd64(t, l->entry_ip);
        t->vcpu.user_mode = 0;
        t->vcpu.upcall = 1;
        t->vcpu.park = VCPU_PARK_NONE;     /* the resuming code is done with */
        t->start_pending = 0;
        k->cpu[t->cpu].need_resched = 1;
        charge_entry(k, k->cost.vcpu_upcall_ns);
        if (k->trace.size)
            trace_event(k, TRACE_VCPU_UPCALL, t->cpu, thread_id(t).raw, VCPU_EVENT_RESUME_IRQ,
                        saved, t->ip);
        return 1;
    }
    int user = (saved & L4_VCPU_F_USER_MODE) != 0;
    struct task *space = user ? task_alive(k, t->vcpu.user_task) : t->task;
    if (!space)
        return refuse(k, -L4_ENOENT, "vcpu_resume: L4_VCPU_F_USER_MODE without a user task");
    int guest = user && space->pt_kind == VSPACE_KIND_VM;
    if (guest) {
        if (!t->vcpu.ext)
            return refuse(k, -L4_EINVAL, "vcpu_resume: a VM needs an extended vCPU");
        const char *why = NULL;
        int rc = arch_vm_entry(t->vcpu.area, r, &why);
        if (rc < 0)
            return refuse(k, rc, why);
    }
    uint16_t st = saved;
    if (user) {
        st |= F_TRAPS;                      /* user mode always takes every event */
        t->vcpu.fpu_disabled = !(st & L4_VCPU_F_FPU_ENABLED);
    }
    wr16(t, l->state, st);
    t->vcpu.user_mode = (uint32_t)user;
    t->vcpu.in_vm = (uint32_t)guest;
    if (guest) {           /* one the guest has not taken yet stays (an entry cut short) */
        int64_t inject = arch_vm_injection(t->vcpu.area, r);
        if (inject >= 0)
            t->vcpu.inject = inject;
    }
    t->ip = r[l->r_ip];
    t->sp = r[l->r_sp];
    t->flags = r[l->r_flags];
    t->program = PROGRAM_PYTHON;           /* vCPU code is Python code, parked or at an entry */
    t->start_pending = 1;                  /* the run loop starts (or continues) it at r.ip */
    k->cpu[t->cpu].need_resched = 1;
    charge_entry(k, k->cost.vcpu_resume_ns);
    if (k->trace.size) {
        trace_event(k, TRACE_VCPU_RESUME, t->cpu, thread_id(t).raw, st, t->ip,
                    kobj_id_of(&space->hdr).raw);
        if (guest)
            trace_event(k, TRACE_VM_ENTRY, t->cpu, thread_id(t).raw,
                        kobj_id_of(&space->hdr).raw, t->ip, (uint64_t)t->vcpu.inject);
    }
    return 0;
}
