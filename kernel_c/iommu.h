/*
 * iommu.h: what the rest of the core calls in iommu.c (internal; the boundary is
 * iommu_api.h), and what each arch/<arch>/arch.c provides about its source ids.
 */
#ifndef PYL4RE_IOMMU_H
#define PYL4RE_IOMMU_H

#include "kernel.h"

/* A dying DMA space leaves every device bound to it (Fiasco's remove_from_all_iommus). */
void iommu_space_release(kernel_t *k, struct task *space);
void iommu_fini(kernel_t *k);
/* Records an IOMMU (or interrupt-remapping) fault; returns -L4_EFAULT. */
int iommu_fault(kernel_t *k, struct dma_fault *out, uint32_t device, uint64_t iova,
                uint32_t write, uint32_t reason);

/* An MSI's edge on its ICU line (irq.c). */
void icu_msi_edge(kernel_t *k, uint32_t line);

/* ---- provided by arch/<arch>/arch.c */
/* The device a source id names: 0, -L4_EINVAL (malformed, another IOMMU) or -L4_ERANGE. */
int arch_iommu_device(uint64_t src_id, uint32_t *device);
uint64_t arch_iommu_source_id(uint32_t device);
/* MSI n's message (address, data) in this architecture's format, and the MSI a message
 * names (-L4_EFAULT: not an MSI this interrupt controller accepts). */
void arch_msi_message(uint32_t msi, uint64_t *addr, uint32_t *data);
int arch_msi_decode(uint64_t addr, uint32_t data, uint32_t *msi);

#endif
