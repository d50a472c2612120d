/*
 * vm.c: hardware VMs (docs/vm.md): what a VM is to the kernel (a task whose address space
 * is guest-physical, factory.c makes it) and the guest program's side of the model: the
 * operand of its next memory access, its hypercalls and halts, the virtual interrupt an
 * entry delivered. The exits themselves are vCPU upcalls (vcpu.c), their information the
 * architecture's (arch/<arch>/vm.c).
 *
 * A guest that enabled its own MMU addresses guest-virtual memory: vm_guest_walk is the
 * two-dimensional walk of EPT / stage-2 hardware. Each guest page-table entry is read at
 * its guest-physical address through the VM's table (a miss there is a stage-2 exit for
 * the table, flagged as a walk), the entry is read in the architecture's stage-1 format
 * (arch_pt_format(VSPACE_KIND_USER), the one the model's own tasks use), and the final
 * guest-physical address goes through the VM's table as any access does. There is no TLB
 * of guest translations: every access walks, so the guest never needs to invalidate.
 */
#include <string.h>

#include "kernel.h"
#include "arch_ops.h"
#include "ptab.h"
#include "thread.h"

static struct task *task_of(const kernel_t *k, kobj_id_t id)
{
    struct kobj *o = kobj_get(k, id);
    return o && o->type == KOBJ_TASK ? (struct task *)o : NULL;
}

int task_is_vm(const kernel_t *k, kobj_id_t task)
{
    const struct task *t = task_of(k, task);
    if (!t)
        return -L4_EINVAL;
    return t->pt_kind == VSPACE_KIND_VM;
}

int vm_guest_operand(kernel_t *k, kobj_id_t thread, uint32_t size, uint64_t value)
{
    struct thread *t = thread_get(k, thread);
    if (!t || !t->vcpu.user_mode || !t->vcpu.in_vm
        || (size != 0 && size != 1 && size != 2 && size != 4 && size != 8))
        return -L4_EINVAL;
    t->vcpu.op_size = size;
    t->vcpu.op_value = value;
    t->vcpu.op_reg = VM_REG_DEFAULT;
    t->vcpu.op_info = 0;
    return 0;
}

int vm_guest_syndrome(kernel_t *k, kobj_id_t thread, uint32_t size, uint64_t value,
                      uint32_t reg, uint32_t info)
{
    if (reg > 31 && reg != VM_REG_DEFAULT)
        return -L4_EINVAL;
    int rc = vm_guest_operand(k, thread, size, value);
    if (rc < 0)
        return rc;
    struct thread *t = thread_get(k, thread);
    t->vcpu.op_reg = reg;
    t->vcpu.op_info = info;
    return 0;
}

int vm_guest_page(const kernel_t *k, kobj_id_t thread, uint64_t gpa, struct vm_guest_page *out)
{
    const struct thread *t = thread_get(k, thread);
    if (!t || !out || !t->vcpu.user_mode || !t->vcpu.in_vm)
        return -L4_EINVAL;
    struct vspace_page page;
    int rc = vspace_translate(k, t->vcpu.user_task, virt_addr(gpa), &page);
    if (rc < 0)
        return rc;
    out->pa = page.pa;
    out->rights = page.rights & (L4_FPAGE_RO | L4_FPAGE_W | L4_FPAGE_X);
    out->page_shift = page.page_shift;
    return 0;
}

uint64_t vm_mapping_epoch(const kernel_t *k)
{
    return k->tlb_epoch;
}

int vm_guest_exit(kernel_t *k, kobj_id_t thread, uint32_t why, uint64_t imm)
{
    struct thread *t = sys_running(k, thread);
    if (!t)
        return -L4_EINVAL;
    if (!t->vcpu.area || !t->vcpu.user_mode || !t->vcpu.in_vm
        || (why != VM_EXIT_HYPERCALL && why != VM_EXIT_HALT)) {
        k->running_cpu = CPU_NONE;
        return -L4_EINVAL;
    }
    if (!vcpu_at_entry(k, t, 0))                   /* else an IRQ came first: that exit */
        vcpu_vm_exit(k, t, why, NULL, imm);
    return vcpu_upcall_exit(k, thread);
}

int64_t vm_take_injection(kernel_t *k, kobj_id_t thread)
{
    struct thread *t = thread_get(k, thread);
    if (!t || !t->vcpu.ext || !t->vcpu.in_vm)
        return -1;
    int64_t v = t->vcpu.inject;
    t->vcpu.inject = -1;
    return v;
}

static uint8_t *ext_area(kernel_t *k, kobj_id_t thread, uint64_t **r)
{
    struct thread *t = thread_get(k, thread);
    if (!t || !t->vcpu.area || !t->vcpu.ext)
        return NULL;
    if (r)
        *r = (uint64_t *)(void *)(t->vcpu.area + arch_vcpu_layout()->r);
    return t->vcpu.area;
}

int vm_exit_decode(kernel_t *k, kobj_id_t thread, struct vm_exit_desc *out)
{
    uint64_t *r;
    uint8_t *area = ext_area(k, thread, &r);
    if (!area || !out)
        return -L4_EINVAL;
    *out = (struct vm_exit_desc){ 0 };
    arch_vm_decode(area, r, out);
    return 0;
}

int vm_field(kernel_t *k, kobj_id_t thread, uint32_t id, int write, uint64_t *value)
{
    uint8_t *area = ext_area(k, thread, NULL);
    unsigned bytes;
    uint8_t *p = area && value ? arch_vm_field(area, id, &bytes) : NULL;
    if (!p)
        return -L4_EINVAL;
    if (write)
        memcpy(p, value, bytes);               /* little-endian: the low bytes */
    else {
        *value = 0;
        memcpy(value, p, bytes);
    }
    return 0;
}

int vm_inject(kernel_t *k, kobj_id_t thread, uint32_t vector, int raise)
{
    uint8_t *area = ext_area(k, thread, NULL);
    return area ? arch_vm_inject(area, vector, raise != 0) : -L4_EINVAL;
}

int vm_guest_walk(kernel_t *k, struct thread *t, uint64_t va, uint32_t access, uint64_t *gpa)
{
    uint8_t *area = t->vcpu.area;
    uint64_t *r = (uint64_t *)(void *)(area + arch_vcpu_layout()->r);
    struct vm_s1 s1 = { 0 };
    *gpa = va;
    int on = arch_vm_s1(area, r, va, &s1);
    if (on <= 0)
        return on < 0 ? -L4_ENOSYS : VM_WALK_OFF;
    const struct pt_format *f = arch_pt_format(VSPACE_KIND_USER);
    struct vm_guest_fault *out = &t->vcpu.s1_fault;
    *out = (struct vm_guest_fault){ .kind = s1.fault };
    uint64_t table = s1.root;
    uint32_t rights = VSPACE_RIGHTS_RWX;
    for (unsigned level = 0; !out->kind && level < f->levels; level++) {
        const struct pt_level *lv = &f->level[level];
        uint64_t at = table + ((va >> lv->shift) & ((1u << lv->bits) - 1)) * PT_ENTRY_BYTES;
        struct vspace_page page;
        if (vspace_translate(k, t->vcpu.user_task, virt_addr(at), &page) != 0
            || !(page.rights & L4_FPAGE_RO) || page.pa.raw + PT_ENTRY_BYTES > k->mem_size) {
            *gpa = at;                             /* the VMM's to map: a stage-2 exit */
            return VM_WALK_STAGE2;
        }
        uint64_t e;
        memcpy(&e, k->mem + page.pa.raw, sizeof(e));
        enum pt_entry_type type = f->type(level, e);
        uint32_t allowed = 0;
        out->level = level;
        if (type == PTE_NONE)
            out->kind = VM_S1_TRANSLATION;
        else if (type == PTE_LEAF && !lv->leaf_ok)
            out->kind = VM_S1_RESERVED;            /* x86: PS in a PML4 entry */
        else
            out->kind = arch_vm_s1_entry(&s1, level, e, type == PTE_LEAF, &allowed);
        if (out->kind)
            break;
        rights &= allowed;
        if (type == PTE_LEAF) {
            struct pt_leaf leaf;
            f->read_leaf(level, e, &leaf);
            if ((rights & access) != access) {
                out->kind = VM_S1_PERMISSION;
                break;
            }
            *gpa = leaf.pa.raw | (va & (((uint64_t)1 << lv->shift) - 1));
            return VM_WALK_DONE;
        }
        table = f->table_addr(e).raw;
    }
    if (!out->kind)
        out->kind = VM_S1_TRANSLATION;
    arch_vm_s1_fault(area, &s1, va, access, out);
    return VM_WALK_GUEST;
}

int vm_guest_fault(kernel_t *k, kobj_id_t thread, struct vm_guest_fault *out)
{
    struct thread *t = thread_get(k, thread);
    if (!t || !out || !t->vcpu.ext || !t->vcpu.in_vm)
        return -L4_EINVAL;
    *out = t->vcpu.s1_fault;
    return 0;
}
