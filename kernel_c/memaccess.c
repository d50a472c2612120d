/*
 * memaccess.c: µApp memory access through the page tables (pyl4re.mem), with a software
 * TLB per CPU, and page faults turned into page-fault IPC to the thread's pager (§10.1).
 *
 * A hit costs one lookup and no trip through the run loop; the data itself is read and
 * written by Python straight in physical memory at the address returned. A miss that the
 * page table cannot satisfy becomes an implicit call to the pager: tag (-2, 2 words), MR0 =
 * the fault address with the architecture's access bits, MR1 = the ip, and a receive
 * window of the whole address space; the UTCB words that borrows are saved and put back
 * when the fault is over (mem_fault_done), and the access is tried again.
 * mem_fault_done answers SYS_DONE for "retry", never with an address. A fault that stays
 * unresolved says why (enum fault_reason, from the pager's reply) in the mem_result and in
 * the kernel's last error. Native programs (native.c) access memory the same way through
 * native_mem_access and native_fault_done.
 */
#include "kernel.h"
#include "arch_ops.h"
#include "cspace.h"
#include "fpage.h"
#include "mapdb.h"
#include "native.h"
#include "thread.h"
#include "trace.h"

enum { PAGE_SHIFT_4K = 12 };

static struct tlb_entry *tlb_slot(struct cpu *c, kobj_id_t task, uint64_t vpage)
{
    return &c->tlb[(vpage ^ (task.raw * 0x9E3779B97F4A7C15ull >> 40)) % TLB_ENTRIES];
}

/* Translates va for the access; 1 with *pa on success, 0 on a fault (*present says whether
 * anything was mapped there at all). */
static int translate(kernel_t *k, struct thread *t, uint64_t va, uint32_t access,
                     uint64_t *pa, int *present)
{
    struct task *space = t->vcpu.user_mode ? vcpu_space(k, t) : t->task;  /* vCPU: user task */
    if (!space)
        return 0;
    kobj_id_t task = kobj_id_of(&space->hdr);
    struct cpu *c = &k->cpu[t->cpu];
    uint64_t vpage = va >> PAGE_SHIFT_4K;
    struct tlb_entry *e = tlb_slot(c, task, vpage);
    if (e->epoch == k->tlb_epoch && e->task.raw == task.raw && e->vpage == vpage
        && (e->rights & access) == access) {
        *pa = (e->ppage << PAGE_SHIFT_4K) | (va & 0xFFF);
        return 1;
    }
    struct vspace_page page;
    *present = vspace_translate(k, task, virt_addr(va), &page) == 0;
    if (!*present || (page.rights & access) != access || !(page.rights & VSPACE_RIGHT_U))
        return 0;
    *e = (struct tlb_entry){ task, vpage, page.pa.raw >> PAGE_SHIFT_4K, page.rights,
                             k->tlb_epoch };
    *pa = page.pa.raw;
    return 1;
}

/* The KIP is in every task: a first touch enters it, read-only, like sigma0's own faults.
 * 1 if va lies in the KIP. */
static int kip_map(kernel_t *k, struct thread *t, uint64_t va)
{
    uint64_t page = (uint64_t)1 << ARCH_PAGE_SHIFT;
    if (va < KIP_VA || va - KIP_VA >= page)
        return 0;
    uint64_t fp = k->kip_pa.raw | ((uint64_t)ARCH_PAGE_SHIFT << 6) | (FPAGE_MEMORY << 4)
                  | L4_FPAGE_RX;
    uint32_t mapped;
    struct task *space = t->vcpu.user_mode ? vcpu_space(k, t) : t->task;
    if (!space || space->pt_kind == VSPACE_KIND_VM)    /* no KIP in guest-physical space */
        return 0;
    mem_map(k, k->sigma0, fp, space, 0xFC0, KIP_VA | L4_ITEM_MAP, &mapped);
    return 1;
}

/* t's access to va without a fault: 1 with *pa; 0 for a fault (*present: a page is there,
 * without the rights). */
static int access_page(kernel_t *k, struct thread *t, uint64_t va, uint32_t access,
                       uint64_t *pa, int *present)
{
    *present = 0;
    if (va > ARCH_USER_MAX)
        return 0;
    if (translate(k, t, va, access, pa, present))
        return 1;
    return !*present && kip_map(k, t, va) && translate(k, t, va, access, pa, present);
}

/* Starts the page-fault IPC to t's pager (§10.1): 0, or -1 if there is nobody to ask. */
static int pf_start(kernel_t *k, struct thread *t, uint64_t va, uint32_t access, int present)
{
    if (k->trace.size) trace_fault(k, t, va, access);
    /* No object at the pager selector (invalid, or an empty slot): Fiasco's
     * handle_page_fault_pager kills the thread, no page-fault IPC is made. */
    if (va > ARCH_USER_MAX || !cspace_sel_obj(k, t->task, t->pager))
        return -1;
    t->pf = (struct pf_state){ .active = 1, .access = access, .va = va,
                               .saved_mr = { t->utcb[0], t->utcb[1] } };
    t->utcb[0] = arch_pf_msgword(va, present, (access & L4_FPAGE_W) != 0,
                                 (access & L4_FPAGE_X) != 0);
    t->utcb[1] = t->ip;
    kcall_start(k, t, t->pager, tag_make(L4_PROTO_PAGE_FAULT, 2, 0, 0), &t->pf.borrowed);
    return 0;
}

void pf_restore(struct thread *t)
{
    t->utcb[0] = t->pf.saved_mr[0];
    t->utcb[1] = t->pf.saved_mr[1];
    kcall_return(t, &t->pf.borrowed);
    t->pf.active = 0;
}

/* Whether the page-fault IPC resolved the fault (§10.1): a negative reply label, or a
 * send-phase ENOT_EXISTENT, does not; other IPC errors (a cancel) count as handled. */
static int pf_resolved(const struct thread *t)
{
    if (t->ret_tag & L4_MSGTAG_ERROR)
        return (t->utcb[UTCB_TCR_ERROR] & L4_IPC_ERROR_MASK) != L4_IPC_ENOT_EXISTENT;
    return tag_label(t->ret_tag) >= 0 && t->utcb[0] != UINT64_MAX;
}

/* The unresolved fault goes on record for explain_last_error(). */
static void note_fault(kernel_t *k, struct thread *t, const struct mem_result *out)
{
    k->err = (struct last_error){ .thread = thread_id(t), .selector = t->pager,
                                  .label = out->label, .code = -L4_EFAULT, .fault = *out };
    k->errors++;
}

/* Whether the pager behind t's pager selector is sigma0; *owner: the gate's owner id. */
static int pager_is_sigma0(const kernel_t *k, const struct thread *t, uint16_t *owner)
{
    *owner = 0;
    uint64_t index = t->pager >> L4_CAP_SHIFT;
    if ((t->pager & (L4_INVALID_CAP_BIT | L4_REPLY_CAP_BIT)) || index >= CSPACE_SLOTS
        || !k->sigma0_thread)
        return 0;
    struct kobj *o = cspace_slot_obj(k, cspace_slot(t->task, cap_index((uint32_t)index)));
    if (o && o->type == KOBJ_GATE) {
        const struct gate *g = (const struct gate *)o;
        *owner = (uint16_t)((g->label >> 4) & 0xFFF);
        return g->thread.raw == thread_id(k->sigma0_thread).raw;
    }
    return o == &k->sigma0_thread->hdr;
}

/* The reply (label >= 0) left the access faulting: why, as the reply shows it; 0 if the
 * reply did its part (someone took the page away since): the access faults anew. */
static uint32_t reply_why(const kernel_t *k, const struct thread *t, uint64_t va,
                          uint32_t access)
{
    const struct pf_state *pf = &t->pf;
    if (!pf->item_seen)
        return FAULT_NO_ITEM;
    unsigned order = fpage_order(pf->item_fpage);
    if (order < ARCH_PAGE_SHIFT)
        return FAULT_TOO_SMALL;
    struct placement p = fpage_place(pf->item_fpage & L4_FPAGE_CONTROL_MASK, order,
                                     pf->item_ctl & L4_FPAGE_CONTROL_MASK, 0,
                                     L4_WHOLE_ADDRESS_SPACE);
    if (va < p.dst || va - p.dst >= p.count)
        return FAULT_ELSEWHERE;
    if ((fpage_rights(pf->item_fpage) & access) != access)
        return FAULT_RIGHTS;
    struct vspace_page src;
    if (vspace_translate(k, pf->item_from, virt_addr(p.src + (va - p.dst)), &src) != 0
        || (src.rights & access) != access)
        return FAULT_NOT_HELD;
    return 0;
}

/* The pager has answered t's fault (§10.1): puts back the borrowed UTCB words and returns
 * 1 to retry the access, or 0 with out->reason (and the kernel's last error) saying why
 * the fault stays unresolved. A negative reply label, or a send-phase ENOT_EXISTENT, does
 * not resolve it; other IPC errors (a cancel) count as handled. */
static int pf_answered(kernel_t *k, struct thread *t, struct mem_result *out)
{
    uint64_t va = t->pf.va;
    uint32_t access = t->pf.access, why = 0;
    uint16_t owner = 0;
    *out = (struct mem_result){ .fault_addr = va, .access = access,
                                .label = tag_label(t->ret_tag),
                                .ctl = t->pf.item_seen ? t->pf.item_ctl : 0,
                                .fpage = t->pf.item_seen ? t->pf.item_fpage : 0 };
    if (t->ret_tag & L4_MSGTAG_ERROR) {
        out->label = 0;
        if ((t->utcb[UTCB_TCR_ERROR] & L4_IPC_ERROR_MASK) == L4_IPC_ENOT_EXISTENT)
            why = FAULT_PAGER_GONE;
    } else if (tag_label(t->ret_tag) < 0 || t->utcb[0] == UINT64_MAX) {
        why = FAULT_PAGER_ERROR;
        if (pager_is_sigma0(k, t, &owner)) {
            uint32_t s0 = sigma0_why(k, va, owner, &out->owner);
            why = s0 ? s0 : why;
        }
    }
    pf_restore(t);
    if (!why && !(t->ret_tag & L4_MSGTAG_ERROR)) {
        uint64_t pa;
        int present;
        if (!access_page(k, t, va, access, &pa, &present))
            why = reply_why(k, t, va, access);
    }
    if (!why)
        return 1;
    out->reason = why;
    note_fault(k, t, out);
    return 0;
}

int mem_access(kernel_t *k, kobj_id_t thread, virt_addr_t va, uint32_t access,
               struct mem_result *out, struct sched_out *next)
{
    struct thread *t = sys_running(k, thread);
    if (!t || !out || !next || !access || (access & ~(uint32_t)L4_FPAGE_RWX) || t->pf.active)
        return -L4_EINVAL;
    out->fault_addr = va.raw;
    out->pa = phys_addr(0);
    if (t->vcpu.area && vcpu_at_entry(k, t, 0))
        return vcpu_upcall_exit(k, thread);
    for (;;) {
        int present;
        uint64_t pa, addr = va.raw;                /* where the task's table is asked */
        uint32_t need = access;
        int walk = VM_WALK_OFF;
        if (t->vcpu.user_mode && t->vcpu.in_vm) {  /* the guest's own stage 1 first */
            walk = vm_guest_walk(k, t, va.raw, access, &addr);
            if (walk < 0 || walk == VM_WALK_GUEST) {
                out->reason = FAULT_GUEST;         /* the guest's exception, not the VMM's */
                k->running_cpu = CPU_NONE;
                return walk < 0 ? walk : SYS_FAULT;
            }
            t->vcpu.gva = va.raw;
            t->vcpu.gva_valid = walk != VM_WALK_OFF;
            t->vcpu.s1_walk = walk == VM_WALK_STAGE2;
            if (walk == VM_WALK_STAGE2)
                need = L4_FPAGE_RO;                /* a table entry is read */
        }
        int ok = access_page(k, t, addr, need, &pa, &present);
        if (ok && walk != VM_WALK_STAGE2) {
            out->pa = phys_addr(pa);
            out->avail = 0x1000 - (uint32_t)(addr & 0xFFF);
            k->running_cpu = CPU_NONE;
            return SYS_DONE;
        }
        out->reason = va.raw > ARCH_USER_MAX ? FAULT_NOT_USER : FAULT_NO_PAGER;
        if (t->vcpu.area && vcpu_page_fault(k, t, addr, need, present))
            return vcpu_upcall_exit(k, thread);       /* the vCPU kernel's to resolve */
        /* An alien sends no page-fault IPC (Fiasco's handle_page_fault_pager): the fault
         * goes to its exception handler as the CPU's page-fault exception. */
        if (t->alien && va.raw <= ARCH_USER_MAX)
            out->reason = FAULT_ALIEN;
        if (t->alien || pf_start(k, t, va.raw, access, present) < 0) {
            *out = (struct mem_result){ .fault_addr = va.raw, .access = access,
                .reason = out->reason };
            note_fault(k, t, out);
            k->running_cpu = CPU_NONE;
            return SYS_FAULT;                 /* nobody to ask: the thread cannot go on */
        }
        /* Even a fault IPC that ended at once (an error) goes through the scheduler before
         * the retry: a fault that keeps coming back then costs time and can be preempted. */
        struct sys_result r;
        if (sys_exit(k, thread, SYS_DONE, &r) == SYS_GONE)
            return SYS_GONE;
        /* Chosen again at once (a native pager answered): finish the fault and try the
         * access again. Otherwise the run loop resumes it later (mem_fault_done). */
        int wait = sched_wait_in_entry(k, thread, next);
        if (wait != SYS_DONE)
            return wait;
        t = sys_running(k, thread);
        if (!t)
            return SYS_GONE;
        if (!pf_answered(k, t, out)) {
            k->running_cpu = CPU_NONE;
            return SYS_FAULT;
        }
    }
}

int mem_fault_done(kernel_t *k, kobj_id_t thread, struct mem_result *out)
{
    struct thread *t = sys_running(k, thread);
    if (!t || !t->pf.active)
        return -L4_EINVAL;
    int retry = pf_answered(k, t, out);
    k->running_cpu = CPU_NONE;
    return retry ? SYS_DONE : SYS_FAULT;
}

int native_mem_access(kernel_t *k, struct thread *t, uint64_t va, uint32_t access)
{
    uint64_t pa;
    int present;
    if (access_page(k, t, va, access, &pa, &present))
        return 1;
    return pf_start(k, t, va, access, present) < 0 ? -1 : 0;
}

int native_fault_done(struct thread *t)
{
    int resolved = pf_resolved(t);
    pf_restore(t);
    return resolved;
}
