/*
 * exception.c: exception IPC (§10.2, §10.3): a thread that traps calls its exception
 * handler with its registers laid out as the architecture's l4_exc_regs_t; a reply of at
 * least Msg_size words replaces the registers (ip, sp, flags), a shorter one leaves them.
 *
 * The register block overlays the MRs; those MRs and the buffer registers the call
 * borrows (a receive window of every space) are put back when the exception is over
 * (exception_done): the thread finds its UTCB as it left it, as on Fiasco, which sends
 * the frame from the trap state and writes the reply into it.
 */
#include "kernel.h"
#include "arch_ops.h"
#include "fpage.h"
#include "native.h"
#include "thread.h"

int thread_exception(kernel_t *k, kobj_id_t thread, uint64_t trapno, uint64_t err,
                     uint64_t pfa)
{
    return thread_exception_regs(k, thread, trapno, err, pfa, NULL, 0);
}

int thread_exception_regs(kernel_t *k, kobj_id_t thread, uint64_t trapno, uint64_t err,
                          uint64_t pfa, const uint64_t *sys, unsigned nsys)
{
    struct thread *t = sys_running(k, thread);
    if (!t || t->exc.active || t->pf.active)
        return -L4_EINVAL;
    if (t->vcpu.area && (vcpu_at_entry(k, t, 0) || vcpu_exception(k, t, trapno, err, pfa)))
        return vcpu_upcall_exit(k, thread);
    const struct exc_layout *l = arch_exc_layout();
    if (t->exc_handler == L4_INVALID_CAP) {
        k->running_cpu = CPU_NONE;
        return SYS_FAULT;                        /* nobody to tell: the thread ends */
    }
    t->exc.active = 1;
    memcpy(t->exc.saved_mr, t->utcb, sizeof t->exc.saved_mr);
    for (unsigned i = 0; i < l->words; i++)
        t->utcb[i] = 0;
    t->utcb[l->ip] = t->ip;
    t->utcb[l->sp] = t->sp;
    t->utcb[l->flags] = t->flags;
    t->utcb[l->pfa] = pfa;
    for (unsigned i = 0; i < 2; i++)
        if (l->tls[i] != EXC_NO_WORD)
            t->utcb[l->tls[i]] = t->tls[i];
    if (l->trapno == EXC_NO_WORD)
        t->utcb[l->err] = (trapno << l->trapno_shift) | err;
    else {
        t->utcb[l->trapno] = trapno;
        t->utcb[l->err] = err;
    }
    for (unsigned i = 0; i < nsys && i < 4; i++)
        t->utcb[l->sys_regs[i]] = sys[i];       /* the system call's registers (§6.4) */
    kcall_start(k, t, t->exc_handler,
                tag_make(L4_PROTO_EXCEPTION, l->words, 0, L4_MSGTAG_TRANSFER_FPU),
                &t->exc.borrowed);
    struct sys_result r;
    int status = sys_exit(k, thread, SYS_DONE, &r);
    return status == SYS_GONE ? SYS_GONE : SYS_SUSPEND;
}

int thread_page_fault_exception(kernel_t *k, kobj_id_t thread, virt_addr_t va,
                                uint32_t access)
{
    struct thread *t = sys_running(k, thread);
    if (!t || (access & ~(uint32_t)L4_FPAGE_RWX))
        return -L4_EINVAL;
    struct vspace_page page;
    int present = vspace_translate(k, kobj_id_of(&t->task->hdr), va, &page) == 0;
    uint64_t trapno, err;
    arch_pf_exception(present, !!(access & L4_FPAGE_W), !!(access & L4_FPAGE_X), &trapno, &err);
    return thread_exception(k, thread, trapno, err, va.raw);
}

int thread_io_exception(kernel_t *k, kobj_id_t thread)
{
    uint64_t trapno, err;
    arch_io_exception(&trapno, &err);
    return thread_exception(k, thread, trapno, err, 0);
}

int thread_exception_done(kernel_t *k, kobj_id_t thread, struct exc_result *out)
{
    struct thread *t = sys_running(k, thread);
    if (!t || !t->exc.active)
        return -L4_EINVAL;
    const struct exc_layout *l = arch_exc_layout();
    uint64_t old_ip = t->ip;
    out->handled = !(t->ret_tag & L4_MSGTAG_ERROR);
    if (out->handled && tag_words(t->ret_tag) >= l->words) {
        t->ip = t->utcb[l->ip];
        t->sp = t->utcb[l->sp];
        t->flags = t->utcb[l->flags];
    }
    out->ip = t->ip;
    out->ip_changed = t->ip != old_ip;
    if (out->ip_changed)
        t->program = native_program_at(t->ip);
    kcall_return(t, &t->exc.borrowed);
    memcpy(t->utcb, t->exc.saved_mr, sizeof t->exc.saved_mr);
    t->exc.active = 0;
    k->running_cpu = CPU_NONE;
    return SYS_DONE;
}

uint32_t arch_illegal_trapno(void)
{
    return arch_exc_layout()->illegal_trapno;
}
