"""IOMMU control plane (§8.11): bind and unbind a device's source id to a DMA space,
invoked on the IOMMU capability (label L4_PROTO_IOMMU, `L4_BASE_IOMMU_CAP`).

Layout as Fiasco's `Dmar` object decodes it (kernkonzept/fiasco src/kern/ia32/intel_dmar.cpp,
src/kern/arm/arm_dmar.cpp; kernkonzept/l4re-core l4sys/include/iommu): MR0 = opcode
(0 bind, 1 unbind), MR1 = the 64-bit source id, one send item = the DMA space. The IOMMU
capability needs S. What it must not do: keep bindings of its own (the C device table
is the only truth, kernel_c/iommu.c).
"""
from .. import _core
from .invocation import item_object, refuse, reply

_lib = _core.abi()

BIND_OP, UNBIND_OP = 0, 1


def invoke(inv):
    if inv.label != _lib.L4_PROTO_IOMMU:
        return reply(-_lib.L4_EBADPROTO)
    if not inv.rights & _lib.L4_CAP_FPAGE_S:
        return refuse(inv, _lib.L4_CAP_FPAGE_S)
    if inv.words < 1:
        return reply(-_lib.L4_EMSGTOOSHORT)
    op = inv.mr(0)
    if op not in (BIND_OP, UNBIND_OP):
        return reply(-_lib.L4_ENOSYS)
    if inv.words < 2:
        return reply(-_lib.L4_EMSGTOOSHORT)
    found, err = item_object(inv, 0, _lib.KOBJ_DMA_SPACE)
    if err is not None:
        return err
    space = found[0]
    k = inv.kernel
    fn = k._lib.iommu_bind if op == BIND_OP else k._lib.iommu_unbind
    return reply(fn(k._k, inv.mr(1), [space]))
