"""Interrupts, the ICU and semaphores for µApps, with l4sys names and argument order
(§8.5, §8.6): each call builds the message in the running thread's UTCB and makes one
kernel entry, as l4re-core's irq.h, icu.h and semaphore.h do. Out-values l4sys returns
through pointers come back as tuples (documented per call).
"""
from .. import traps
from . import _kobj
from .consts import (
    L4_CAP_FPAGE_RWS, L4_ICU_OP_BIND, L4_ICU_OP_INFO, L4_ICU_OP_MASK, L4_ICU_OP_MSI_INFO,
    L4_ICU_OP_SET_MODE, L4_ICU_OP_UNBIND, L4_ICU_OP_UNMASK, L4_IPC_BOTH_TIMEOUT_0,
    L4_IPC_NEVER, L4_IPC_SEND_TIMEOUT_0, L4_IRQ_OP_EOI, L4_IRQ_SENDER_OP_DETACH,
    L4_PROTO_IRQ, L4_PROTO_IRQ_SENDER, L4_PROTO_SEMAPHORE, L4_SEMAPHORE_OP_DOWN, L4_SYSF_CALL,
    L4_SYSF_SEND, L4_SYSF_SEND_AND_WAIT,
)
from .fpage import l4_map_obj_control, l4_obj_fpage
from .msgtag import l4_msgtag
from .utcb import l4_utcb

_SEL = ~0xF


async def _enter(obj, flags, tag_raw, timeout):
    return await traps.enter((obj & _SEL) | flags, tag_raw, 0, timeout)


def _timeout(to, fn):
    if not (to.__class__ is int and 0 <= to <= 0xFFFFFFFF):
        raise ValueError(f"{fn}: timeout must be an l4_timeout_t (0..2^32-1), not {to!r}")
    return to


async def l4_irq_trigger(irq):
    """Raise the (software) IRQ, or up a semaphore: a send, no reply."""
    irq = _kobj.cap(irq, "l4_irq_trigger", "irq")
    raw, _ = await _enter(irq, L4_SYSF_SEND, l4_msgtag(L4_PROTO_IRQ, 0, 0, 0).raw,
                          L4_IPC_BOTH_TIMEOUT_0)
    return _kobj.tag(raw)


async def l4_irq_unmask(irq):
    """Unmask (EOI) the IRQ's line: a send, no reply."""
    irq = _kobj.cap(irq, "l4_irq_unmask", "irq")
    l4_utcb().mr[0] = L4_IRQ_OP_EOI
    raw, _ = await _enter(irq, L4_SYSF_SEND, l4_msgtag(L4_PROTO_IRQ, 1, 0, 0).raw,
                          L4_IPC_SEND_TIMEOUT_0)
    return _kobj.tag(raw)


async def l4_irq_receive(irq, to=L4_IPC_NEVER):
    """Unmask, then wait for this IRQ's message only (closed wait)."""
    irq = _kobj.cap(irq, "l4_irq_receive", "irq")
    l4_utcb().mr[0] = L4_IRQ_OP_EOI
    raw, _ = await _enter(irq, L4_SYSF_CALL, l4_msgtag(L4_PROTO_IRQ, 1, 0, 0).raw,
                          _timeout(to, "l4_irq_receive"))
    return _kobj.tag(raw)


async def l4_irq_wait(irq, to=L4_IPC_NEVER):
    """Unmask, then wait for any message. Returns (tag, label)."""
    irq = _kobj.cap(irq, "l4_irq_wait", "irq")
    l4_utcb().mr[0] = L4_IRQ_OP_EOI
    raw, label = await _enter(irq, L4_SYSF_SEND_AND_WAIT, l4_msgtag(L4_PROTO_IRQ, 1, 0, 0).raw,
                              _timeout(to, "l4_irq_wait"))
    return _kobj.tag(raw), label


async def l4_irq_detach(irq):
    """Detach the IRQ from its thread (needs S)."""
    irq = _kobj.cap(irq, "l4_irq_detach", "irq")
    l4_utcb().mr[0] = L4_IRQ_SENDER_OP_DETACH
    return await _kobj.call(irq, l4_msgtag(L4_PROTO_IRQ_SENDER, 1, 0, 0).raw)


async def _icu_with_irq(icu, op, irqnum, irq, fn):
    icu, irqnum = _kobj.cap(icu, fn, "icu"), _kobj.word(irqnum, fn, "irqnum")
    item = l4_obj_fpage(_kobj.cap(irq, fn, "irq"), 0, L4_CAP_FPAGE_RWS).raw
    u = l4_utcb()
    u.mr[0], u.mr[1], u.mr[2], u.mr[3] = op, irqnum, l4_map_obj_control(0, 0), item
    return await _kobj.call(icu, l4_msgtag(L4_PROTO_IRQ, 2, 1, 0).raw)


async def l4_icu_bind(icu, irqnum, irq):
    """Bind the Irq object `irq` to line `irqnum` (needs W on the Irq capability)."""
    return await _icu_with_irq(icu, L4_ICU_OP_BIND, irqnum, irq, "l4_icu_bind")


async def l4_icu_unbind(icu, irqnum, irq):
    return await _icu_with_irq(icu, L4_ICU_OP_UNBIND, irqnum, irq, "l4_icu_unbind")


async def l4_icu_info(icu):
    """(tag, features, nr_irqs, nr_msis)."""
    icu = _kobj.cap(icu, "l4_icu_info", "icu")
    u = l4_utcb()
    u.mr[0] = L4_ICU_OP_INFO
    t = await _kobj.call(icu, l4_msgtag(L4_PROTO_IRQ, 1, 0, 0).raw)
    return t, int(u.mr[0]), int(u.mr[1]), int(u.mr[2])


async def l4_icu_msi_info(icu, irqnum, source):
    """(tag, msi address, msi data)."""
    fn = "l4_icu_msi_info"
    icu = _kobj.cap(icu, fn, "icu")
    u = l4_utcb()
    u.mr[0], u.mr[1], u.mr[2] = L4_ICU_OP_MSI_INFO, _kobj.word(irqnum, fn, "irqnum"), \
        _kobj.word(source, fn, "source")
    t = await _kobj.call(icu, l4_msgtag(L4_PROTO_IRQ, 3, 0, 0).raw)
    return t, int(u.mr[0]), int(u.mr[1])


async def _icu_line_op(icu, op, irqnum, fn):
    icu, irqnum = _kobj.cap(icu, fn, "icu"), _kobj.word(irqnum, fn, "irqnum")
    u = l4_utcb()
    u.mr[0], u.mr[1] = op, irqnum
    raw, _ = await _enter(icu, L4_SYSF_SEND, l4_msgtag(L4_PROTO_IRQ, 2, 0, 0).raw,
                          L4_IPC_SEND_TIMEOUT_0)
    return _kobj.tag(raw)


async def l4_icu_mask(icu, irqnum):
    """Mask the line (a send, no reply)."""
    return await _icu_line_op(icu, L4_ICU_OP_MASK, irqnum, "l4_icu_mask")


async def l4_icu_unmask(icu, irqnum):
    """Unmask the line (a send, no reply)."""
    return await _icu_line_op(icu, L4_ICU_OP_UNMASK, irqnum, "l4_icu_unmask")


async def l4_icu_set_mode(icu, irqnum, mode):
    """Set the line's trigger mode (L4_IRQ_F_*; L4_IRQ_F_SET_MODE must be set)."""
    fn = "l4_icu_set_mode"
    icu = _kobj.cap(icu, fn, "icu")
    u = l4_utcb()
    u.mr[0], u.mr[1], u.mr[2] = L4_ICU_OP_SET_MODE, _kobj.word(irqnum, fn, "irqnum"), \
        _kobj.word(mode, fn, "mode")
    return await _kobj.call(icu, l4_msgtag(L4_PROTO_IRQ, 3, 0, 0).raw)


async def l4_semaphore_up(sem):
    """Count up, or wake the first waiter."""
    return await l4_irq_trigger(_kobj.cap(sem, "l4_semaphore_up", "sem"))


async def l4_semaphore_down(sem, timeout=L4_IPC_NEVER):
    """Count down, waiting (with the receive timeout) while the count is 0."""
    sem = _kobj.cap(sem, "l4_semaphore_down", "sem")
    l4_utcb().mr[0] = L4_SEMAPHORE_OP_DOWN
    raw, _ = await _enter(sem, L4_SYSF_CALL, l4_msgtag(L4_PROTO_SEMAPHORE, 1, 0, 0).raw,
                          _timeout(timeout, "l4_semaphore_down"))
    return _kobj.tag(raw)


__all__ = ["l4_irq_trigger", "l4_irq_unmask", "l4_irq_receive", "l4_irq_wait", "l4_irq_detach",
           "l4_icu_bind", "l4_icu_unbind", "l4_icu_info", "l4_icu_msi_info", "l4_icu_mask",
           "l4_icu_unmask", "l4_icu_set_mode", "l4_semaphore_up", "l4_semaphore_down"]
