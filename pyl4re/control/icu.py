"""ICU control plane (§8.6): the ICU protocol (label L4_PROTO_IRQ) on the kernel's ICU
capability: bind an Irq to a line, unbind, info, msi_info, mask, unmask, set_mode.

The same object is platform control (label 0, §8.8), handled by platform_control.py.
Each operation decodes and checks (may fail, changes nothing), then acts through C; the
lines and their state live in C (irq.c). What it must not do: keep line state here.
"""
from .. import _core
from .invocation import item_object, refuse, reply

_lib = _core.abi()


def invoke(inv):
    if inv.label == _lib.L4_PROTO_IRQ:
        return icu_protocol(inv)
    if inv.label == 0:
        try:
            from . import platform_control
        except ImportError:
            return reply(-_lib.L4_ENOSYS)
        return platform_control.invoke(inv)
    return reply(-_lib.L4_EBADPROTO)


def _line(inv):
    """MR1: an IRQ number; MSIs (bit 31) do not exist on this platform."""
    return inv.mr(1) if inv.words > 1 else None


def icu_protocol(inv):
    k = inv.kernel
    op = inv.mr(0) & 0xFFFF if inv.words else None
    if op is None:
        return reply(-_lib.L4_EINVAL)
    if op == _lib.L4_ICU_OP_INFO:
        inv.utcb.mr[0] = 0                      # features: no MSIs
        inv.utcb.mr[1] = _lib.ICU_LINES
        inv.utcb.mr[2] = 0                      # number of MSIs
        return reply(0, 3)
    if op == _lib.L4_ICU_OP_MSI_INFO:
        return reply(-_lib.L4_EINVAL)           # there are no MSIs to describe
    line = _line(inv)
    if line is None:
        return reply(-_lib.L4_EINVAL)
    if op in (_lib.L4_ICU_OP_BIND, _lib.L4_ICU_OP_UNBIND):
        found, err = item_object(inv, 0, _lib.KOBJ_IRQ)
        if err is not None:
            return err
        irq, _, rights = found
        if op == _lib.L4_ICU_OP_BIND and not rights & _lib.L4_CAP_FPAGE_W:
            return refuse(inv, _lib.L4_CAP_FPAGE_W)
        if line & _lib.L4_ICU_FLAG_MSI or line >= _lib.ICU_LINES:
            return reply(-_lib.L4_EINVAL)
        fn = k._lib.icu_bind if op == _lib.L4_ICU_OP_BIND else k._lib.icu_unbind
        rc = fn(k._k, line, [irq])
        return reply(rc if rc < 0 else 0)
    if line >= _lib.ICU_LINES:
        return reply(-_lib.L4_EINVAL)
    if op == _lib.L4_ICU_OP_MASK:
        return reply(k._lib.icu_mask(k._k, line))          # no reply is expected
    if op == _lib.L4_ICU_OP_UNMASK:
        return reply(k._lib.icu_unmask(k._k, line))
    if op == _lib.L4_ICU_OP_SET_MODE:
        if inv.words < 3:
            return reply(-_lib.L4_EINVAL)
        return reply(k._lib.icu_set_mode(k._k, line, inv.mr(2) & 0xFFFFFFFF)
                     if inv.mr(2) < 1 << 32 else -_lib.L4_EINVAL)
    return reply(-_lib.L4_ENOSYS)
