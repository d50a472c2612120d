/*
 * msi.c: message-signalled interrupts (§8.6): the ICU's MSI lines, the message a device
 * writes to raise one (icu_msi_info), and the interrupt remapper that checks each such
 * write (hw_msi).
 *
 * MSI n is ICU line ICU_LINES + n (irq.c); it is bound, masked and unmasked like any line
 * and is always edge-triggered. msi_info also programs the remapper: only the device the
 * driver named may raise that MSI, as a VT-d interrupt-remapping entry checks the
 * requester id and a GICv3 ITS the device id. What the message looks like is the
 * architecture's (arch/<arch>/arch.c). What it must not do: deliver anything a remapper
 * would refuse.
 */
#include "iommu.h"

int icu_msi_info(kernel_t *k, uint32_t msi, uint64_t src_id, uint64_t *addr, uint32_t *data)
{
    uint32_t device;
    if (msi >= ICU_MSIS || !addr || !data || arch_iommu_device(src_id, &device) < 0)
        return -L4_EINVAL;
    k->icu_lines[ICU_LINES + msi].msi_source = device + 1;
    arch_msi_message(msi, addr, data);
    return 0;
}

int hw_msi(kernel_t *k, uint32_t device, uint64_t addr, uint32_t data, struct dma_fault *fault)
{
    if (!fault || device >= IOMMU_DEVICES)
        return -L4_EINVAL;
    uint32_t msi;
    if (arch_msi_decode(addr, data, &msi) < 0 || msi >= ICU_MSIS
        || k->icu_lines[ICU_LINES + msi].msi_source != device + 1)
        return iommu_fault(k, fault, device, addr, 1, DMA_FAULT_MSI);
    icu_msi_edge(k, ICU_LINES + msi);
    return 0;
}
