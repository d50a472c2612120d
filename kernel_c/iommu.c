/*
 * iommu.c: the IOMMU's device table and device DMA through DMA spaces (iommu_api.h).
 *
 * The model has one IOMMU (index 0) with IOMMU_DEVICES device slots; each holds the DMA
 * space bound to that device, or nothing. A binding holds no reference, as in Fiasco: a
 * DMA space that dies is removed from every slot first (iommu_space_release). A device's
 * DMA translates each I/O virtual address through its space's page table (the IOMMU's
 * format, arch/<arch>/paging.c, kind VSPACE_KIND_DMA) and moves bytes in physical memory;
 * what is not mapped, or mapped without W for a write, is an IOMMU fault.
 * What it must not do: map or unmap (user level does, with l4_task_map and unmap), or
 * move a byte of an access that faults anywhere.
 */
#include <string.h>

#include "heap.h"
#include "iommu.h"
#include "ptab.h"

struct iommu {
    kobj_id_t space[IOMMU_DEVICES];   /* 0: no DMA space bound */
    struct iommu_stats stats;
};

/* The device table, made on first use (most kernels never bind a device). */
static struct iommu *iommu_get(kernel_t *k)
{
    if (!k->iommu)
        k->iommu = heap_alloc(sizeof(struct iommu));
    return k->iommu;
}

static struct task *dma_space_get(const kernel_t *k, kobj_id_t id)
{
    struct kobj *o = kobj_get(k, id);
    return o && o->type == KOBJ_DMA_SPACE ? (struct task *)o : NULL;
}

/* The device src_id names, if dma_space is a DMA space: bind's and unbind's checks. */
static int decode(const kernel_t *k, uint64_t src_id, kobj_id_t dma_space, uint32_t *device)
{
    int rc = arch_iommu_device(src_id, device);
    if (rc < 0)
        return rc;
    return dma_space_get(k, dma_space) ? 0 : -L4_EINVAL;
}

int iommu_bind(kernel_t *k, uint64_t src_id, kobj_id_t dma_space)
{
    uint32_t device;
    int rc = decode(k, src_id, dma_space, &device);
    if (rc < 0)
        return rc;
    struct iommu *mmu = iommu_get(k);
    if (!mmu)
        return -L4_ENOMEM;
    mmu->space[device] = dma_space;
    return 0;
}

int iommu_unbind(kernel_t *k, uint64_t src_id, kobj_id_t dma_space)
{
    uint32_t device;
    int rc = decode(k, src_id, dma_space, &device);
    if (rc < 0)
        return rc;
    struct iommu *mmu = k->iommu;
    if (mmu && mmu->space[device].raw == dma_space.raw)
        mmu->space[device].raw = 0;       /* another space bound there: left alone */
    return 0;
}

uint64_t iommu_source_id(uint32_t device)
{
    return arch_iommu_source_id(device & (IOMMU_DEVICES - 1));
}

int iommu_device_space(const kernel_t *k, uint32_t device, kobj_id_t *out)
{
    if (!out || device >= IOMMU_DEVICES)
        return -L4_EINVAL;
    const struct iommu *mmu = k->iommu;
    if (!mmu || !mmu->space[device].raw)
        return -L4_ENOENT;
    *out = mmu->space[device];
    return 0;
}

void iommu_space_release(kernel_t *k, struct task *space)
{
    struct iommu *mmu = k->iommu;
    kobj_id_t id = kobj_id_of(&space->hdr);
    for (uint32_t d = 0; mmu && d < IOMMU_DEVICES; d++)
        if (mmu->space[d].raw == id.raw)
            mmu->space[d].raw = 0;
}

void iommu_fini(kernel_t *k)
{
    heap_free(k->iommu);
    k->iommu = NULL;
}

void iommu_stats(const kernel_t *k, struct iommu_stats *out)
{
    const struct iommu *mmu = k->iommu;
    if (mmu)
        *out = mmu->stats;
    else
        memset(out, 0, sizeof(*out));
}

/* Records the fault and hands it back. */
int iommu_fault(kernel_t *k, struct dma_fault *out, uint32_t device, uint64_t iova,
                uint32_t write, uint32_t reason)
{
    struct dma_fault f = { .iova = iova, .device = device, .write = write, .reason = reason };
    struct iommu *mmu = iommu_get(k);
    if (mmu) {
        mmu->stats.faults++;
        mmu->stats.last = f;
    }
    *out = f;
    return -L4_EFAULT;
}

/* The physical address iova translates to and the bytes left in its page, or a fault
 * reason. */
static uint32_t dma_translate(const kernel_t *k, const struct task *s, const struct pt_format *f,
                              uint64_t iova, uint32_t write, uint64_t *pa, uint64_t *room)
{
    struct pt_walk w;
    if (!s->pt_root.raw || iova > f->va_max
        || ptab_lookup(k, f, s->pt_root, virt_addr(iova), &w) < 0)
        return DMA_FAULT_UNMAPPED;
    if (write && !(w.leaf.rights & L4_FPAGE_W))
        return DMA_FAULT_READ_ONLY;
    uint64_t offset = iova & (((uint64_t)1 << w.shift) - 1);
    *pa = w.leaf.pa.raw + offset;
    *room = ((uint64_t)1 << w.shift) - offset;
    return DMA_FAULT_NONE;
}

int hw_dma(kernel_t *k, uint32_t device, uint64_t iova, uint8_t *buf, uint64_t len,
           uint32_t write, struct dma_fault *fault)
{
    if (!fault || (len && !buf) || device >= IOMMU_DEVICES || write > 1
        || len > UINT64_MAX - iova)
        return -L4_EINVAL;
    memset(fault, 0, sizeof(*fault));
    kobj_id_t id = { 0 };
    struct task *s = iommu_device_space(k, device, &id) == 0 ? dma_space_get(k, id) : NULL;
    if (!s)
        return iommu_fault(k, fault, device, iova, write, DMA_FAULT_UNBOUND);
    const struct pt_format *f = arch_pt_format(VSPACE_KIND_DMA);

    /* Decide: every page of the range translates, with the right needed (a corrupt leaf
     * pointing outside physical memory counts as unmapped). */
    for (uint64_t done = 0; done < len;) {
        uint64_t pa, room;
        uint32_t why = dma_translate(k, s, f, iova + done, write, &pa, &room);
        uint64_t n = room < len - done ? room : len - done;
        if (why == DMA_FAULT_NONE && (pa > k->mem_size || n > k->mem_size - pa))
            why = DMA_FAULT_UNMAPPED;
        if (why != DMA_FAULT_NONE)
            return iommu_fault(k, fault, device, iova + done, write, why);
        done += n;
    }
    /* Perform: nothing below can fail. */
    for (uint64_t done = 0; done < len;) {
        uint64_t pa, room;
        dma_translate(k, s, f, iova + done, write, &pa, &room);
        uint64_t n = room < len - done ? room : len - done;
        if (write)
            memcpy(k->mem + pa, buf + done, n);
        else
            memcpy(buf + done, k->mem + pa, n);
        done += n;
    }
    struct iommu *mmu = iommu_get(k);
    if (mmu)
        mmu->stats.transfers++;
    return 0;
}
