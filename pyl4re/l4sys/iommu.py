"""IOMMU calls for µApps (§8.11): bind a device to a DMA space and unbind it again.

l4re-core offers these as `L4::Iommu::bind` / `unbind` (l4sys/include/iommu); here they
get l4sys-style C names. Each builds the message as that RPC does: MR0 = opcode (0 bind,
1 unbind), MR1 = the 64-bit platform source id, one send item = the DMA space (a task
created with L4_PROTO_DMA_SPACE), and calls the IOMMU capability (`L4_BASE_IOMMU_CAP`,
needs S). Each returns the reply's l4_msgtag_t. A DMA space is filled with l4_task_map
and emptied with l4_task_unmap, as any task is.
"""
from . import _kobj
from .consts import L4_CAP_FPAGE_RWS, L4_PROTO_IOMMU
from .fpage import l4_map_obj_control, l4_obj_fpage
from .msgtag import l4_msgtag
from .utcb import l4_utcb

L4_IOMMU_BIND_OP, L4_IOMMU_UNBIND_OP = 0, 1


async def _op(op, iommu, src_id, dma_space, fn):
    iommu = _kobj.cap(iommu, fn, "iommu")
    src_id = _kobj.word(src_id, fn, "src_id")
    dma_space = _kobj.cap(dma_space, fn, "dma_space")
    u = l4_utcb()
    u.mr[0] = op
    u.mr[1] = src_id
    u.mr[2] = l4_map_obj_control(0, 0)
    u.mr[3] = l4_obj_fpage(dma_space, 0, L4_CAP_FPAGE_RWS).raw
    return await _kobj.call(iommu, l4_msgtag(L4_PROTO_IOMMU, 2, 1, 0).raw)


async def l4_iommu_bind(iommu, src_id, dma_space):
    """Let the device(s) `src_id` names do DMA through `dma_space` (replacing the space
    they had)."""
    return await _op(L4_IOMMU_BIND_OP, iommu, src_id, dma_space, "l4_iommu_bind")


async def l4_iommu_unbind(iommu, src_id, dma_space):
    """Take `dma_space` from the device(s) `src_id` names (nothing if they use another)."""
    return await _op(L4_IOMMU_UNBIND_OP, iommu, src_id, dma_space, "l4_iommu_unbind")


__all__ = ["L4_IOMMU_BIND_OP", "L4_IOMMU_UNBIND_OP", "l4_iommu_bind", "l4_iommu_unbind"]
