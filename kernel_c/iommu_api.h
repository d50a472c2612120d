/*
 * iommu_api.h: the boundary to the IOMMU and device DMA (included by pyl4re.h, so part of
 * the cffi cdef: enums and declarations only).
 *
 * The IOMMU object (L4_BASE_IOMMU_CAP, label L4_PROTO_IOMMU) binds a device, named by the
 * architecture's source id, to a DMA space (a KOBJ_DMA_SPACE created by a factory with
 * L4_PROTO_DMA_SPACE). User level fills the DMA space with l4_task_map and empties it with
 * unmap, like any task's memory; the page table is in the IOMMU's format (vspace kind
 * VSPACE_KIND_DMA). The simulated hardware performs DMA by device and I/O virtual address
 * through that table (hw_dma); whatever the driver did not map faults.
 */
#ifndef PYL4RE_IOMMU_API_H
#define PYL4RE_IOMMU_API_H

enum iommu_limits {
    IOMMU_DEVICES = 0x10000,      /* device ids 0..0xFFFF (PCI requester ids, stream ids) */
};

/* Why a device's access faulted. */
enum dma_fault_reason {
    DMA_FAULT_NONE = 0,
    DMA_FAULT_UNBOUND = 1,        /* no DMA space is bound to the device */
    DMA_FAULT_UNMAPPED = 2,       /* nothing is mapped at the I/O virtual address */
    DMA_FAULT_READ_ONLY = 3,      /* a write to a page mapped without W */
    DMA_FAULT_MSI = 4,            /* an MSI the interrupt remapper (ITS) refused */
};

struct dma_fault {
    uint64_t iova;                /* first address of the access that faulted */
    uint32_t device;
    uint32_t write;
    uint32_t reason;              /* enum dma_fault_reason */
};

struct iommu_stats {
    uint64_t faults;              /* IOMMU faults recorded so far */
    uint64_t transfers;           /* DMA transfers that completed */
    struct dma_fault last;        /* the last fault (reason NONE if there was none) */
};

/* The IOMMU's bind and unbind (§8.11): src_id in this architecture's format (see
 * iommu_source_id), dma_space a KOBJ_DMA_SPACE. A second bind of a device replaces its
 * space, as VT-d's context entry and the SMMU's stream table entry are overwritten. Unbind
 * of a space that is not the device's one does nothing (returns 0). -L4_EINVAL for a
 * malformed source id or a wrong object, -L4_ERANGE for a stream id beyond the IOMMU's. */
int iommu_bind(kernel_t *k, uint64_t src_id, kobj_id_t dma_space);
int iommu_unbind(kernel_t *k, uint64_t src_id, kobj_id_t dma_space);
/* The source-id word that names device (< IOMMU_DEVICES) on this architecture. */
uint64_t iommu_source_id(uint32_t device);
/* The DMA space bound to device; -L4_ENOENT if none, -L4_EINVAL for a bad device. */
int iommu_device_space(const kernel_t *k, uint32_t device, kobj_id_t *out);
/* A device reads (write 0) or writes (write 1) len bytes at iova through its DMA space:
 * buf is the device's side. All or nothing: every page is translated and checked before a
 * byte moves; a miss is an IOMMU fault, recorded (iommu_stats) and returned as -L4_EFAULT
 * with *fault filled. -L4_EINVAL for a bad device, range or pointer. */
int hw_dma(kernel_t *k, uint32_t device, uint64_t iova, uint8_t *buf, uint64_t len,
           uint32_t write, struct dma_fault *fault);
void iommu_stats(const kernel_t *k, struct iommu_stats *out);

#endif
