/*
 * syscall.c: the one kernel entry, "invoke capability" (§6.3, §6.4, §8.0), for µApps
 * (sys_invoke from Python) and native programs (kernel_entry) alike.
 *
 * It decodes the selector and flags, looks the capability up in the caller's task and
 * takes the C fast path for IPC to threads and IPC gates. Every other object, and the
 * control protocols of threads (label -12) and gates (label -10 with the server
 * attribute), go back to Python as SYS_SLOWPATH: the control plane decodes the message,
 * acts, and finishes the entry with sys_complete(). C never calls Python.
 */
#include "kernel.h"
#include "cspace.h"
#include "fpage.h"
#include "ipc_fast.h"
#include "thread.h"
#include "trace.h"

static void note_error(kernel_t *k, struct thread *t, uint64_t sel, uint32_t type,
                       uint32_t had, uint32_t needed, uint64_t tag, int32_t code,
                       const char *what)
{
    k->err = (struct last_error){
        .thread = thread_id(t), .selector = sel, .obj_type = type, .rights_had = had,
        .rights_needed = needed, .label = tag_label(tag), .opcode = t->utcb ? t->utcb[0] : 0,
        .code = code, .what = what,
    };
    k->errors++;
    if (k->trace.size && code > 0) trace_ipc_error(k, t, (uint64_t)code);   /* IPC errors */
}

/* Irq and semaphore operations (§8.5) stay in C: they may block and wake threads. Trigger
 * and unmask send no reply: the send phase just completes, and a receive phase (as in
 * l4_irq_receive) then waits for the Irq's message. */
static int irq_sem_entry(kernel_t *k, struct thread *t, struct kobj *o, uint32_t rights,
                         struct ipc_op *op)
{
    unsigned words = tag_words(op->tag);
    uint64_t opcode = words ? t->utcb[0] & 0xFFFF : L4_IRQ_OP_TRIGGER;
    if (tag_label(op->tag) == L4_PROTO_SEMAPHORE) {
        if (opcode != L4_SEMAPHORE_OP_DOWN) {
            t->ret_tag = tag_make(-L4_ENOSYS, 0, 0, 0);
            return SYS_DONE;
        }
        if (!(rights & L4_CAP_FPAGE_S)) {
            note_error(k, t, 0, o->type, rights, L4_CAP_FPAGE_S, op->tag, -L4_EPERM,
                       "semaphore down needs the S right");
            t->ret_tag = tag_make(-L4_EPERM, 0, 0, 0);
            return SYS_DONE;
        }
        semaphore_down(k, t, (struct semaphore *)o, op->rcv_to, cpu_now(k, t->cpu));
        return SYS_DONE;
    }
    if (opcode == L4_IRQ_OP_TRIGGER) {
        if (o->type == KOBJ_SEMAPHORE)
            semaphore_up(k, (struct semaphore *)o);
        else
            irq_raise(k, (struct irq *)o);
    } else if (opcode == L4_IRQ_OP_EOI) {
        if (o->type == KOBJ_IRQ)
            irq_unmask(k, kobj_id_of(o));
    } else {
        t->ret_tag = tag_make(-L4_ENOSYS, 0, 0, 0);
        return SYS_DONE;
    }
    t->ret_tag = op->tag & ~(uint64_t)L4_MSGTAG_ERROR;
    t->ret_label = 0;
    if (op->rcv == RCV_NONE)
        return SYS_DONE;
    struct ipc_op rcv = { .tag = 0, .rcv = op->rcv, .rcv_to = op->rcv_to,
                          .rcv_from = kobj_id_of(o) };
    ipc_op(k, t, &rcv);
    return SYS_DONE;
}

/* The general path (ipc_fast.h): every operation, decoded in full, after the entry's
 * charge. Not inlined into the entries, so the fast path does not pay for its stack frame. */
__attribute__((noinline))
int kernel_general_entry(kernel_t *k, struct thread *t, const struct sys_call *c)
{
    cpu_charge(k, t->cpu, k->cost.syscall_ns);
    kip_tick(k, t->cpu);
    uint64_t flags = c->dest & 0xF, sel = c->dest & ~(uint64_t)0xF;
    struct ipc_op op = {
        .tag = c->tag, .label = c->label, .have_send = (flags & L4_SYSF_SEND) != 0,
        .rcv = !(flags & L4_SYSF_RECV) ? RCV_NONE
             : (flags & L4_SYSF_OPEN_WAIT) ? RCV_OPEN : RCV_CLOSED,
        .snd_to = (uint32_t)(c->timeout >> 16) & 0xFFFF, .rcv_to = (uint32_t)c->timeout & 0xFFFF,
    };
    if (tag_words(c->tag) + 2 * tag_items(c->tag) > UTCB_MRS && op.have_send) {
        note_error(k, t, sel, 0, 0, 0, c->tag, L4_IPC_SEMSGCUT, "more words and items than MRs");
        ipc_fail_send(t, L4_IPC_SEMSGCUT);
        return SYS_DONE;
    }

    if (flags & L4_SYSF_REPLY) {
        /* The implicit reply capability; it is used up even if the reply fails. */
        struct thread *caller = (sel & L4_INVALID_CAP_BIT) ? thread_get(k, t->caller) : NULL;
        uint32_t rights = t->caller_rights;
        if (caller && caller->reply_holder.raw == thread_id(t).raw)
            caller->reply_holder.raw = 0;
        t->caller.raw = 0;
        if (!caller && op.have_send) {
            note_error(k, t, sel, KOBJ_THREAD, 0, 0, c->tag, L4_IPC_ENOT_EXISTENT,
                       "reply without a caller waiting");
            ipc_fail_send(t, L4_IPC_ENOT_EXISTENT);
            return SYS_DONE;
        }
        op.dst = caller;
        op.rights = rights;
        op.rcv_from = thread_id(caller);
        ipc_op(k, t, &op);
        return SYS_DONE;
    }

    struct kobj *o;
    uint32_t rights, attrs;
    if ((sel & (L4_INVALID_CAP_BIT | L4_REPLY_CAP_BIT)) == L4_INVALID_CAP_BIT) {
        o = &t->hdr;                             /* "self": the current thread, W and S */
        rights = L4_CAP_FPAGE_W | L4_CAP_FPAGE_S;
        attrs = 0;
    } else {
        uint64_t idx = sel >> L4_CAP_SHIFT;
        struct cap_slot *s = idx < CSPACE_SLOTS && !(sel & L4_REPLY_CAP_BIT)
                             ? cspace_slot(t->task, cap_index((uint32_t)idx)) : NULL;
        o = cspace_slot_obj(k, s);
        if (!o) {
            note_error(k, t, sel, 0, 0, 0, c->tag, L4_IPC_ENOT_EXISTENT,
                       "no object at this capability selector");
            ipc_fail_send(t, L4_IPC_ENOT_EXISTENT);
            return SYS_DONE;
        }
        rights = s->rights;
        attrs = s->attrs;
    }

    int64_t label = tag_label(c->tag);
    if (op.have_send && (o->type == KOBJ_IRQ || o->type == KOBJ_SEMAPHORE)
        && (label == L4_PROTO_IRQ || (label == L4_PROTO_SEMAPHORE && o->type == KOBJ_SEMAPHORE)))
        return irq_sem_entry(k, t, o, rights, &op);
    int control = 0;
    if (o->type == KOBJ_THREAD)
        control = op.have_send && label == L4_PROTO_THREAD;
    else if (o->type == KOBJ_GATE)
        control = op.have_send && label == L4_PROTO_KOBJECT && (attrs & L4_FPAGE_C_IPCGATE_SVR);
    else
        control = 1;
    if (control) {
        k->pending_what = NULL;
        t->slow = (struct slow_entry){ .pending = 1, .obj = kobj_id_of(o), .type = o->type,
                                       .rights = rights, .attrs = attrs, .flags = (uint32_t)flags,
                                       .timeout = c->timeout, .selector = sel };
        return SYS_SLOWPATH;
    }

    if (o->type == KOBJ_THREAD) {
        op.dst = (struct thread *)o;
        op.rights = rights & (L4_CAP_FPAGE_W | L4_CAP_FPAGE_S);
        op.rcv_from = kobj_id_of(o);
    } else {                                     /* IPC through a gate: its label (§9) */
        struct gate *g = (struct gate *)o;
        op.dst = thread_get(k, g->thread);
        op.gate_q = &g->waiters;
        op.label = g->label | (rights & (L4_CAP_FPAGE_W | L4_CAP_FPAGE_S));
        op.rights = rights & (L4_CAP_FPAGE_W | L4_CAP_FPAGE_S);
        op.rcv_from = g->thread;
        if (!op.have_send && !op.dst) {
            note_error(k, t, sel, KOBJ_GATE, rights, 0, c->tag, L4_IPC_ENOT_EXISTENT,
                       "closed receive on a gate with no thread bound");
            ipc_fail_send(t, L4_IPC_ENOT_EXISTENT);
            return SYS_DONE;
        }
    }
    ipc_op(k, t, &op);
    return SYS_DONE;
}

int kernel_entry(kernel_t *k, struct thread *t, const struct sys_call *c)
{
    int status = kernel_entry_inline(k, t, *c, 0);
    return status == SYS_FAST ? SYS_DONE : status;
}

void kcall_start(kernel_t *k, struct thread *t, uint64_t sel, uint64_t tag, struct borrowed *b)
{
    *b = (struct borrowed){ t->utcb[UTCB_BDR], { t->utcb[UTCB_BR0], t->utcb[UTCB_BR0 + 1] } };
    t->utcb[UTCB_BDR] = L4_UTCB_INHERIT_FPU;
    t->utcb[UTCB_BR0] = L4_ITEM_MAP;
    t->utcb[UTCB_BR0 + 1] = 0xFC0;                 /* l4_fpage_all(): any space, anywhere */
    struct sys_call c = { .dest = (sel & L4_CAP_MASK) | L4_SYSF_CALL, .tag = tag,
                          .timeout = L4_IPC_NEVER };
    if (kernel_entry(k, t, &c) == SYS_SLOWPATH) {
        t->slow.pending = 0;                       /* a handler that is no IPC partner */
        ipc_fail_send(t, L4_IPC_ENOT_EXISTENT);
    }
}

void kcall_return(struct thread *t, const struct borrowed *b)
{
    t->utcb[UTCB_BDR] = b->bdr;
    t->utcb[UTCB_BR0] = b->br[0];
    t->utcb[UTCB_BR0 + 1] = b->br[1];
}

/* After an entry: go on at once, or let the scheduler act first. Reaps what died. */
int sys_exit(kernel_t *k, kobj_id_t tid, int status, struct sys_result *out)
{
    struct thread *t = thread_get(k, tid);
    if (!t)
        status = SYS_GONE;                       /* it deleted itself */
    else if (status != SYS_SLOWPATH) {
        /* A triggered exception (ex_regs) is told before the thread goes on. */
        status = sched_may_continue(k, t) && !t->exc_triggered ? SYS_DONE : SYS_SUSPEND;
        out->tag = t->ret_tag;
        out->label = t->ret_label;
    } else {
        out->obj = t->slow.obj;
        out->type = t->slow.type;
        out->rights = t->slow.rights;
        out->attrs = t->slow.attrs;
    }
    kobj_reap(k);
    if (status != SYS_SLOWPATH)                /* the control plane acts on this CPU */
        k->running_cpu = CPU_NONE;
    return status;
}

struct thread *sys_running(kernel_t *k, kobj_id_t tid)
{
    struct thread *t = thread_get(k, tid);
    if (!t || !t->task || t->cpu == CPU_NONE || k->cpu[t->cpu].current != t
        || t->program != PROGRAM_PYTHON)
        return NULL;
    k->running_cpu = t->cpu;
    return t;
}

int sys_invoke(kernel_t *k, kobj_id_t thread, uint64_t dest, uint64_t tag, uint64_t label,
               uint64_t timeout, struct sys_result *out, struct sched_out *next)
{
    struct thread *t = sys_running(k, thread);
    if (!t || !out || !next)
        return -L4_EINVAL;
    if (t->vcpu.area && vcpu_at_entry(k, t, 1))
        return vcpu_upcall_exit(k, thread);
    struct sys_call c = { .dest = dest, .tag = tag, .label = label, .timeout = timeout };
    if (t->alien) {                    /* its exception handler hears of it first */
        int alien = thread_alien_entry(k, t, &c);
        if (alien != SYS_DONE)
            return alien;
    }
    int status = sys_exit(k, thread, kernel_entry(k, t, &c), out);
    if (status != SYS_SUSPEND)
        return status;
    status = sched_wait_in_entry(k, thread, next);
    if (status == SYS_DONE) {          /* as if the thread had never left the CPU */
        out->tag = next->tag;
        out->label = next->label;
    }
    return status;
}

int sys_switch_by_index(const kernel_t *k, int status, const struct sched_out *next)
{
    if (status == SYS_SWITCH && next->status == SCHED_RUN && next->resume == RESUME_RESULT) {
        const struct thread *t = thread_get(k, next->thread);
        if (t && t->py_index)
            return (int)t->py_index;
    }
    return status;
}

int sys_enter(kernel_t *k, uint64_t dest, uint64_t tag, uint64_t timeout)
{
    int status = sys_invoke(k, k->py_thread, dest, tag, 0, timeout, &k->entry_res,
                            &k->entry_next);
    return sys_switch_by_index(k, status, &k->entry_next);
}

int thread_set_py_index(kernel_t *k, kobj_id_t thread, uint32_t index)
{
    struct thread *t = thread_get(k, thread);
    if (!t || t->program != PROGRAM_PYTHON || (index && (index < SYS_SWITCH_TO
                                                         || index > INT32_MAX)))
        return -L4_EINVAL;
    t->py_index = index;
    return 0;
}

struct sys_result *kernel_entry_result(kernel_t *k)
{
    return &k->entry_res;
}

struct sched_out *kernel_sched_out(kernel_t *k)
{
    return &k->entry_next;
}

int sys_complete(kernel_t *k, kobj_id_t thread, uint64_t reply_tag, uint32_t ipc_error,
                 struct sys_result *out)
{
    /* The operation may have taken the caller off its CPU (switch, run_thread on itself)
     * or deleted it: the entry still ends here, the former with SYS_SUSPEND. */
    struct thread *t = thread_get(k, thread);
    if (!t) {
        kobj_reap(k);
        k->running_cpu = CPU_NONE;
        return SYS_GONE;
    }
    if (!t->slow.pending || t->program != PROGRAM_PYTHON || !out
        || (ipc_error & ~(uint32_t)L4_IPC_ERROR_MASK))
        return -L4_EINVAL;
    t->slow.pending = 0;
    if (k->running_cpu != CPU_NONE)           /* the CPU that did the work pays for it */
        cpu_charge(k, k->running_cpu, k->cost.kobj_ns);
    if (ipc_error) {
        t->utcb[UTCB_TCR_ERROR] = ipc_error;
        t->ret_tag = L4_MSGTAG_ERROR;
    } else
        t->ret_tag = reply_tag & ~(uint64_t)L4_MSGTAG_ERROR;
    t->ret_label = 0;
    return sys_exit(k, thread, SYS_DONE, out);
}

int sys_compute(kernel_t *k, kobj_id_t thread, uint64_t ns)
{
    struct thread *t = sys_running(k, thread);
    if (!t)
        return -L4_EINVAL;
    t->compute_left_ns = ns;                     /* the scheduler burns it (sched.c) */
    t->ret_tag = t->ret_label = 0;
    if (t->vcpu.area && vcpu_at_entry(k, t, 0))  /* parked with all of ns left */
        return vcpu_upcall_exit(k, thread);
    struct sys_result out;
    int status = sys_exit(k, thread, SYS_DONE, &out);
    return status == SYS_DONE && ns ? SYS_SUSPEND : status;
}

int kernel_last_error(const kernel_t *k, struct error_info *out)
{
    const struct last_error *e = &k->err;
    out->thread = e->thread;
    out->selector = e->selector;
    out->obj_type = e->obj_type;
    out->rights_had = e->rights_had;
    out->rights_needed = e->rights_needed;
    out->label = e->label;
    out->opcode = e->opcode;
    out->code = e->code;
    out->what = e->what ? e->what : "";
    out->count = k->errors;
    out->fault_reason = e->fault.reason;
    out->fault_access = e->fault.access;
    out->fault_owner = e->fault.owner;
    out->fault_addr = e->fault.fault_addr;
    out->fault_ctl = e->fault.ctl;
    out->fault_fpage = e->fault.fpage;
    out->fault_label = e->fault.label;
    return e->thread.raw ? 0 : -L4_ENOENT;
}

int kernel_note_error(kernel_t *k, kobj_id_t thread, uint64_t sel, uint32_t type,
                      uint32_t had, uint32_t needed, int64_t label, uint64_t opcode,
                      int32_t code)
{
    k->err = (struct last_error){ .thread = thread, .selector = sel, .obj_type = type,
                                  .rights_had = had, .rights_needed = needed, .label = label,
                                  .opcode = opcode, .code = code, .what = k->pending_what };
    k->pending_what = NULL;
    k->errors++;
    return 0;
}
