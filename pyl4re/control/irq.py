"""Irq and semaphore control plane (§8.5): what of their protocols is not done in C.

Trigger, unmask (label L4_PROTO_IRQ) and semaphore down stay in C (kernel_c/syscall.c)
because they block and wake threads. Here: the Irq_sender protocol (label
L4_PROTO_IRQ_SENDER: detach; attach and bind_vcpu answer -L4_ENOSYS) and the receive
endpoint bind (label L4_PROTO_KOBJECT, op L4_RCV_EP_BIND_OP), as on IPC gates.
"""
from .. import _core
from .invocation import item_object, refuse, reply

_lib = _core.abi()
S = _lib.L4_CAP_FPAGE_S


def invoke(inv):
    k = inv.kernel
    if inv.words < 1:
        return reply(-_lib.L4_EINVAL)
    op = inv.mr(0) & 0xFFFF
    if inv.type == _lib.KOBJ_SEMAPHORE:
        return reply(-_lib.L4_EBADPROTO)
    if inv.label == _lib.L4_PROTO_IRQ_SENDER:
        if op != _lib.L4_IRQ_SENDER_OP_DETACH:
            return reply(-_lib.L4_ENOSYS)
        if not inv.rights & S:
            return refuse(inv, S)
        return reply(k._lib.irq_detach(k._k, [inv.obj]))
    if inv.label == _lib.L4_PROTO_KOBJECT:
        if op != _lib.L4_RCV_EP_BIND_OP:
            return reply(-_lib.L4_ENOSYS)
        if not inv.rights & S:
            return refuse(inv, S)
        if inv.words < 2:
            return reply(-_lib.L4_EMSGTOOSHORT)
        found, err = item_object(inv, 0, _lib.KOBJ_THREAD)
        if err is not None:
            return err
        thread, _, rights = found
        if not rights & S:
            return refuse(inv, S)
        return reply(k._lib.irq_bind(k._k, [inv.obj], [thread], inv.mr(1)))
    return reply(-_lib.L4_EBADPROTO)
