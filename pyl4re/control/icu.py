"""ICU control plane (§8.6): the ICU protocol (label L4_PROTO_IRQ) on the kernel's ICU
capability: bind an Irq to a line, unbind, info, msi_info, mask, unmask, set_mode.

The same object is platform control (label 0, §8.8), handled by platform_control.py.
MSIs (L4_ICU_FLAG_MSI in the number) are lines ICU_LINES.. of C's ICU; msi_info gives the
message a device writes to raise one and arms the interrupt remapper for that device
(kernel_c/msi.c).
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
    """MR1: an IRQ number, or with L4_ICU_FLAG_MSI (bit 31) an MSI number: C's line
    number for it (MSI n is line ICU_LINES + n), None if there is no such line."""
    if inv.words <= 1:
        return None
    n = inv.mr(1)
    if n & _lib.L4_ICU_FLAG_MSI:
        n &= ~_lib.L4_ICU_FLAG_MSI
        return _lib.ICU_LINES + n if n < _lib.ICU_MSIS else None
    return n if n < _lib.ICU_LINES else None


def icu_protocol(inv):
    k = inv.kernel
    op = inv.mr(0) & 0xFFFF if inv.words else None
    if op is None:
        return reply(-_lib.L4_EINVAL)
    if op == _lib.L4_ICU_OP_INFO:
        inv.utcb.mr[0] = _lib.L4_ICU_FLAG_MSI   # features: MSIs
        inv.utcb.mr[1] = _lib.ICU_LINES
        inv.utcb.mr[2] = _lib.ICU_MSIS
        return reply(0, 3)
    if op == _lib.L4_ICU_OP_MSI_INFO:
        return _msi_info(inv)
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
        fn = k._lib.icu_bind if op == _lib.L4_ICU_OP_BIND else k._lib.icu_unbind
        rc = fn(k._k, line, [irq])
        return reply(rc if rc < 0 else 0)
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


def _msi_info(inv):
    """MR1 = MSI number (L4_ICU_FLAG_MSI optional), MR2 = the device's source id. Replies
    MR0 = the address and MR1 = the data the device writes to raise it; from then on the
    interrupt remapper lets that device, and only it, raise the MSI."""
    if inv.words < 3:
        return reply(-_lib.L4_EINVAL)
    k = inv.kernel
    addr, data = k._ffi.new("uint64_t *"), k._ffi.new("uint32_t *")
    msi = inv.mr(1) & ~_lib.L4_ICU_FLAG_MSI
    rc = k._lib.icu_msi_info(k._k, msi if msi < 1 << 32 else _lib.ICU_MSIS, inv.mr(2),
                             addr, data)
    if rc < 0:
        return reply(rc)
    inv.utcb.mr[0] = addr[0]
    inv.utcb.mr[1] = data[0]
    return reply(0, 2)
