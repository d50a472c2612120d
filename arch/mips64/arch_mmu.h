/*
 * arch_mmu.h (mips64): boundary declarations of this architecture's MMU model (included by
 * kernel_c/vspace_api.h, so cdef-parsable). Same file name in every arch folder.
 *
 * MIPS has no hardware page-table walk here: a per-CPU software TLB (mmu.c) holds entries
 * that each map an even/odd pair of pages, tagged with an 8-bit ASID, and is refilled from
 * the page table the way Fiasco's TLB-fault handler does it. Tests load the pair this
 * produces into a real CPU emulator's TLB.
 */
#ifndef PYL4RE_ARCH_MMU_H
#define PYL4RE_ARCH_MMU_H

enum mips_tlb_consts {
    MIPS_TLB_ENTRIES = 64,      /* per CPU; tlbwr replaces them in a fixed countdown */
    MIPS_ASIDS = 256,           /* 8-bit ASIDs; the model hands out 1..255 round-robin */
};

enum mips_access {
    MIPS_ACCESS_LOAD = 0,
    MIPS_ACCESS_STORE = 1,
    MIPS_ACCESS_FETCH = 2,
};

/* Cause.ExcCode of the TLB exceptions (MIPS64 PRA; RI/XI codes with PageGrain.IEC = 1). */
enum mips_exc_code {
    MIPS_EXC_NONE = 0,
    MIPS_EXC_MOD = 1,           /* store to a valid entry without D */
    MIPS_EXC_TLBL = 2,          /* load or fetch: no entry (refill) or entry not valid */
    MIPS_EXC_TLBS = 3,          /* store: no entry (refill) or entry not valid */
    MIPS_EXC_TLBRI = 19,        /* load from a read-inhibited page */
    MIPS_EXC_TLBXI = 20,        /* fetch from an execute-inhibited page */
};

enum mips_tlb_outcome {
    MIPS_TLB_HIT = 0,           /* the TLB translated the access */
    MIPS_TLB_REFILLED = 1,      /* the kernel's TLB-fault handler wrote an entry; retry hit */
    MIPS_TLB_FAULT = 2,         /* the handler found no usable PTE: a page fault for the pager */
};

/* One TLB entry as tlbr/tlbwi see it. */
struct mips_tlb_entry {
    uint64_t entry_hi;          /* VPN2 (VA of the page pair) | ASID */
    uint64_t page_mask;         /* 0x6000 for 16 KiB pages, 0 for 4 KiB */
    uint64_t entry_lo0;         /* the even page */
    uint64_t entry_lo1;         /* the odd page */
};

struct mips_tlb_result {
    uint32_t outcome;           /* enum mips_tlb_outcome */
    uint32_t exc_code;          /* first hardware exception taken, MIPS_EXC_NONE if none */
    uint32_t refill;            /* 1: that exception was a refill (no matching entry) */
    uint32_t fault_code;        /* MIPS_TLB_FAULT: the exception the page fault stands for */
    int32_t index;              /* entry that translated, or -1 */
    phys_addr_t pa;             /* translated address (HIT, REFILLED) */
};

/* The entry pair Fiasco's handler would write for va of task on cpu (assigning the task
 * an ASID there); the TLB is not changed. -L4_ENOENT if va's PTE is not valid. */
int mips_tlb_pair(kernel_t *k, kobj_id_t task, cpu_number_t cpu, virt_addr_t va,
                  struct mips_tlb_entry *out);
/* One access as the CPU and the kernel's TLB-fault handler carry it out: look up, on a
 * refill, invalid or modified exception walk the table and write the pair (tlbwi after a
 * probe hit, else tlbwr), retry once. */
int mips_tlb_access(kernel_t *k, kobj_id_t task, cpu_number_t cpu, virt_addr_t va,
                    uint32_t access, struct mips_tlb_result *out);
/* tlbp: the index of the entry matching va in task's ASID, or -1. */
int mips_tlb_probe(kernel_t *k, kobj_id_t task, cpu_number_t cpu, virt_addr_t va,
                   int32_t *index);
/* tlbr: entry `index` of cpu's TLB. */
int mips_tlb_read(kernel_t *k, cpu_number_t cpu, uint32_t index, struct mips_tlb_entry *out);
/* Invalidates every entry of cpu's TLB (ASIDs stay assigned). */
int mips_tlb_flush(kernel_t *k, cpu_number_t cpu);

#endif
