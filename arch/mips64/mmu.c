/*
 * mmu.c (mips64): the TLB model behind the page table. Same functions in every
 * arch/<arch>/mmu.c; here they do real work, since MIPS translates only through its TLB.
 *
 * Per CPU: MIPS_TLB_ENTRIES entries, each mapping an even/odd page pair (EntryHi = VPN2 |
 * ASID, PageMask, EntryLo0/1), and 8-bit ASIDs handed to address spaces (named by their
 * page-table root) round-robin; taking an ASID from another space flushes its entries, as
 * Fiasco's Id_alloc does. A miss, an invalid half or a store to a clean half traps to the
 * kernel's handler (Fiasco's Mem_space::add_tlb_entry): walk the table, refuse when the PTE
 * is not valid (or not writable for a store), else write both halves, each PTE converted by
 * shifting right 4 and rotating XI/RI into EntryLo bits 62/63. tlbwr's victim is the
 * Random register, modelled as a fixed countdown, so runs are reproducible. Unmap and
 * revoke invalidate the page's entries on every CPU; a dying space loses its ASIDs.
 * What it must not do: change the page table (it only reads it).
 */
#include <string.h>

#include "ptab.h"
#include "pte.h"
#include "heap.h"

enum {
    VPN2_LOW = 0x1fff,          /* EntryHi bits below VPN2 (ASID 7:0, unused 12:8) */
    ASID_MASK = 0xff,
    PAIR_SHIFT = ARCH_PAGE_SHIFT + 1,
    PAGE_MASK = ((2u << ARCH_PAGE_SHIFT) - 1) & ~(unsigned)VPN2_LOW,
};
/* Invalidated entries point into kseg0 (never translated by the TLB), one pair apart, as
 * real kernels do, so they never match and never duplicate each other. */
#define KSEG0_BASE 0xffffffff80000000

struct cpu_tlb {
    struct mips_tlb_entry e[MIPS_TLB_ENTRIES];
    uint32_t random;                        /* tlbwr victim: counts down, wraps to the top */
    uint32_t next_asid;
    uint64_t asid_owner[MIPS_ASIDS];        /* pt_root of the space with that ASID; 0 free */
};

struct mips_mmu {
    uint32_t cpus;
    struct cpu_tlb cpu[];
};

static void entry_invalidate(struct cpu_tlb *t, unsigned i)
{
    t->e[i] = (struct mips_tlb_entry){
        .entry_hi = KSEG0_BASE + ((uint64_t)i << PAIR_SHIFT), .page_mask = PAGE_MASK };
}

static struct mips_mmu *mmu_get(kernel_t *k)
{
    if (k->mmu)
        return k->mmu;
    struct mips_mmu *m = heap_alloc(sizeof(*m) + k->cpus * sizeof(struct cpu_tlb));
    if (!m)
        return NULL;
    m->cpus = k->cpus;
    for (uint32_t c = 0; c < m->cpus; c++) {
        for (unsigned i = 0; i < MIPS_TLB_ENTRIES; i++)
            entry_invalidate(&m->cpu[c], i);
        m->cpu[c].random = MIPS_TLB_ENTRIES - 1;
        m->cpu[c].next_asid = 1;
    }
    k->mmu = m;
    return m;
}

/* ---- the hardware: match, translate, write */

static int entry_global(const struct mips_tlb_entry *e)
{
    return (e->entry_lo0 & e->entry_lo1 & MIPS_LO_G) != 0;
}

static int tlb_match(const struct cpu_tlb *t, uint64_t va, uint32_t asid)
{
    for (unsigned i = 0; i < MIPS_TLB_ENTRIES; i++) {
        const struct mips_tlb_entry *e = &t->e[i];
        uint64_t low = e->page_mask | VPN2_LOW;
        if (((e->entry_hi ^ va) & ~low) == 0
            && (entry_global(e) || (e->entry_hi & ASID_MASK) == asid))
            return (int)i;
    }
    return -1;
}

/* One access by the hardware: which exception, or the physical address. */
static void tlb_translate(const struct cpu_tlb *t, uint64_t va, uint32_t asid,
                          uint32_t access, struct mips_tlb_result *r)
{
    uint32_t miss = access == MIPS_ACCESS_STORE ? MIPS_EXC_TLBS : MIPS_EXC_TLBL;
    int i = tlb_match(t, va, asid);
    r->index = i;
    r->refill = i < 0;
    if (i < 0) {
        r->exc_code = miss;
        return;
    }
    const struct mips_tlb_entry *e = &t->e[i];
    uint64_t page = ((e->page_mask | VPN2_LOW) + 1) >> 1;   /* bytes in one half */
    uint64_t lo = (va & page) ? e->entry_lo1 : e->entry_lo0;
    if (!(lo & MIPS_LO_V))
        r->exc_code = miss;
    else if (access == MIPS_ACCESS_STORE && !(lo & MIPS_LO_D))
        r->exc_code = MIPS_EXC_MOD;
    else if (access == MIPS_ACCESS_LOAD && (lo & MIPS_LO_RI))
        r->exc_code = MIPS_EXC_TLBRI;
    else if (access == MIPS_ACCESS_FETCH && (lo & MIPS_LO_XI))
        r->exc_code = MIPS_EXC_TLBXI;
    else {
        r->exc_code = MIPS_EXC_NONE;
        uint64_t base = ((lo & MIPS_LO_PFN) >> MIPS_LO_PFN_SHIFT) << 12;
        r->pa = phys_addr((base & ~(page - 1)) | (va & (page - 1)));
    }
}

/* tlbwi (index >= 0) or tlbwr; G is kept only if both halves have it, as the CPU does. */
static int tlb_write(struct cpu_tlb *t, int index, const struct mips_tlb_entry *in)
{
    if (index < 0) {
        index = (int)t->random;
        t->random = t->random ? t->random - 1 : MIPS_TLB_ENTRIES - 1;
    }
    struct mips_tlb_entry e = *in;
    if (!entry_global(&e)) {
        e.entry_lo0 &= ~(uint64_t)MIPS_LO_G;
        e.entry_lo1 &= ~(uint64_t)MIPS_LO_G;
    }
    t->e[index] = e;
    return index;
}

static void tlb_flush_asid(struct cpu_tlb *t, uint32_t asid)
{
    for (unsigned i = 0; i < MIPS_TLB_ENTRIES; i++)
        if (!entry_global(&t->e[i]) && (t->e[i].entry_hi & ASID_MASK) == asid)
            entry_invalidate(t, i);
}

/* ---- ASIDs: per CPU, per address space (named by its root) */

static uint32_t asid_find(const struct cpu_tlb *t, phys_addr_t root)
{
    for (uint32_t a = 1; a < MIPS_ASIDS; a++)
        if (t->asid_owner[a] == root.raw)
            return a;
    return 0;
}

static uint32_t asid_assign(struct cpu_tlb *t, phys_addr_t root)
{
    uint32_t a = asid_find(t, root);
    if (a)
        return a;
    a = t->next_asid;
    t->next_asid = a + 1 < MIPS_ASIDS ? a + 1 : 1;
    if (t->asid_owner[a])
        tlb_flush_asid(t, a);                  /* taken from another space */
    t->asid_owner[a] = root.raw;
    return a;
}

/* ---- the kernel's TLB-fault handler */

/* shift right 4, rotate XI/RI (now bits 0/1) into bits 62/63 */
static uint64_t pte_to_entrylo(uint64_t pte)
{
    uint64_t x = pte >> MIPS_PTE_EXTRA_SHIFT;
    return (x >> 2) | (x << 62);
}

static uint64_t pte_read(const kernel_t *k, phys_addr_t pa)
{
    uint64_t e;
    memcpy(&e, k->mem + pa.raw, sizeof(e));
    return e;
}

/* Fiasco's add_tlb_entry without the write: the pair for va, or why there is none. */
static int pair_make(const kernel_t *k, const struct pt_format *f, phys_addr_t root,
                     uint64_t va, uint32_t asid, int write, struct mips_tlb_entry *out)
{
    struct pt_walk w;
    int rc = ptab_lookup(k, f, root, virt_addr(va), &w);
    if (rc < 0)
        return rc;
    if (write && !(w.entry & MIPS_PTE_D))
        return -L4_EPERM;
    phys_addr_t even = phys_addr(w.entry_pa.raw & ~(uint64_t)PT_ENTRY_BYTES);
    out->entry_hi = (va & ~(((uint64_t)1 << PAIR_SHIFT) - 1)) | asid;
    out->page_mask = PAGE_MASK;
    out->entry_lo0 = pte_to_entrylo(pte_read(k, even));
    out->entry_lo1 = pte_to_entrylo(pte_read(k, phys_addr(even.raw + PT_ENTRY_BYTES)));
    return 0;
}

/* The arguments every TLB call shares; on success *t is cpu's TLB. */
static int tlb_args(kernel_t *k, cpu_number_t cpu, struct cpu_tlb **t)
{
    if (cpu.raw >= k->cpus)
        return -L4_EINVAL;
    struct mips_mmu *m = mmu_get(k);
    if (!m)
        return -L4_ENOMEM;
    *t = &m->cpu[cpu.raw];
    return 0;
}

/* The arguments of the per-space calls; *f = NULL when the task has no table yet (nothing
 * is mapped, no ASID is needed). */
static int space_args(kernel_t *k, kobj_id_t task, cpu_number_t cpu, virt_addr_t va,
                      struct cpu_tlb **t, phys_addr_t *root, const struct pt_format **f)
{
    if (cpu.raw >= k->cpus)
        return -L4_EINVAL;
    int rc = vspace_space_of(k, task, root, f);
    if (rc == -L4_ENOENT) {
        *f = NULL;
        rc = va.raw <= ARCH_USER_MAX ? 0 : -L4_EINVAL;
    } else if (rc == 0 && va.raw > (*f)->va_max) {
        rc = -L4_EINVAL;
    }
    return rc < 0 ? rc : tlb_args(k, cpu, t);
}

int mips_tlb_pair(kernel_t *k, kobj_id_t task, cpu_number_t cpu, virt_addr_t va,
                  struct mips_tlb_entry *out)
{
    struct cpu_tlb *t;
    phys_addr_t root;
    const struct pt_format *f;
    int rc = space_args(k, task, cpu, va, &t, &root, &f);
    if (rc < 0)
        return rc;
    if (!f)
        return -L4_ENOENT;
    return pair_make(k, f, root, va.raw, asid_assign(t, root), 0, out);
}

int mips_tlb_access(kernel_t *k, kobj_id_t task, cpu_number_t cpu, virt_addr_t va,
                    uint32_t access, struct mips_tlb_result *out)
{
    struct cpu_tlb *t;
    phys_addr_t root;
    const struct pt_format *f;
    if (access > MIPS_ACCESS_FETCH)
        return -L4_EINVAL;
    int rc = space_args(k, task, cpu, va, &t, &root, &f);
    if (rc < 0)
        return rc;
    uint32_t asid = f ? asid_assign(t, root) : 0;   /* no table: ASID 0 matches nothing */
    struct mips_tlb_result hw = { .index = -1 };
    tlb_translate(t, va.raw, asid, access, &hw);
    *out = (struct mips_tlb_result){ .outcome = MIPS_TLB_HIT, .exc_code = hw.exc_code,
                                     .refill = hw.refill, .index = hw.index, .pa = hw.pa };
    if (hw.exc_code == MIPS_EXC_NONE)
        return 0;
    out->outcome = MIPS_TLB_FAULT;
    out->fault_code = hw.exc_code;
    if (hw.exc_code == MIPS_EXC_TLBRI || hw.exc_code == MIPS_EXC_TLBXI)
        return 0;                              /* rights, not a missing entry: page fault */

    /* Refill, invalid or modified: the handler walks and writes the pair. */
    struct mips_tlb_entry pair;
    if (!f || pair_make(k, f, root, va.raw, asid, access == MIPS_ACCESS_STORE, &pair) < 0)
        return 0;
    tlb_write(t, hw.refill ? -1 : hw.index, &pair);      /* tlbwr after a miss, else tlbwi */
    struct mips_tlb_result retry = { .index = -1 };
    tlb_translate(t, va.raw, asid, access, &retry);
    out->index = retry.index;
    if (retry.exc_code != MIPS_EXC_NONE) {
        out->fault_code = retry.exc_code;
        return 0;
    }
    out->outcome = MIPS_TLB_REFILLED;
    out->fault_code = MIPS_EXC_NONE;
    out->pa = retry.pa;
    return 0;
}

int mips_tlb_probe(kernel_t *k, kobj_id_t task, cpu_number_t cpu, virt_addr_t va,
                   int32_t *index)
{
    struct cpu_tlb *t;
    phys_addr_t root;
    const struct pt_format *f;
    int rc = space_args(k, task, cpu, va, &t, &root, &f);
    if (rc < 0)
        return rc;
    uint32_t asid = f ? asid_find(t, root) : 0;
    *index = asid ? tlb_match(t, va.raw, asid) : -1;
    return 0;
}

int mips_tlb_read(kernel_t *k, cpu_number_t cpu, uint32_t index, struct mips_tlb_entry *out)
{
    struct cpu_tlb *t;
    if (index >= MIPS_TLB_ENTRIES)
        return -L4_EINVAL;
    int rc = tlb_args(k, cpu, &t);
    if (rc < 0)
        return rc;
    *out = t->e[index];
    return 0;
}

int mips_tlb_flush(kernel_t *k, cpu_number_t cpu)
{
    struct cpu_tlb *t;
    int rc = tlb_args(k, cpu, &t);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < MIPS_TLB_ENTRIES; i++)
        entry_invalidate(t, i);
    return 0;
}

/* ---- hooks of the generic walk (ptab.h) */

void arch_mmu_flush_page(kernel_t *k, phys_addr_t root, virt_addr_t va, unsigned shift)
{
    struct mips_mmu *m = k->mmu;
    (void)shift;                               /* leaves are one page: one pair holds it */
    for (uint32_t c = 0; m && c < m->cpus; c++) {
        struct cpu_tlb *t = &m->cpu[c];
        uint32_t asid = asid_find(t, root);
        int i = asid ? tlb_match(t, va.raw, asid) : -1;
        if (i >= 0)
            entry_invalidate(t, (unsigned)i);
    }
}

void arch_mmu_forget_space(kernel_t *k, phys_addr_t root)
{
    struct mips_mmu *m = k->mmu;
    for (uint32_t c = 0; m && c < m->cpus; c++) {
        struct cpu_tlb *t = &m->cpu[c];
        uint32_t asid = asid_find(t, root);
        if (asid) {
            tlb_flush_asid(t, asid);
            t->asid_owner[asid] = 0;
        }
    }
}

void arch_mmu_fini(kernel_t *k)
{
    heap_free(k->mmu);
    k->mmu = NULL;
}
