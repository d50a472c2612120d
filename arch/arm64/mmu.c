/*
 * mmu.c (arm64): the TLB model behind the page table. Same functions in every
 * arch/<arch>/mmu.c.
 *
 * arm64 walks the page table in hardware and keeps no software-visible TLB state that the
 * model needs: a changed entry is simply re-read. So there is nothing to flush or free.
 */
#include "ptab.h"

void arch_mmu_flush_page(kernel_t *k, phys_addr_t root, virt_addr_t va, unsigned shift)
{
    (void)k, (void)root, (void)va, (void)shift;
}

void arch_mmu_forget_space(kernel_t *k, phys_addr_t root)
{
    (void)k, (void)root;
}

void arch_mmu_fini(kernel_t *k)
{
    (void)k;
}
