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

/* ---- provided by arch/<arch>/arch.c */
/* The device a source id names: 0, -L4_EINVAL (malformed, another IOMMU) or -L4_ERANGE. */
int arch_iommu_device(uint64_t src_id, uint32_t *device);
uint64_t arch_iommu_source_id(uint32_t device);

#endif
