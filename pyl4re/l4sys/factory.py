"""Factory calls for µApps, with l4sys names and argument order (§8.3): create tasks,
threads, IPC gates, factories, IRQs, semaphores and VMs.

Each builds the message as l4re-core's factory.h does: MR0 = protocol of the new object,
then "vargs" (a header word `type | size << 16` and the value), BDR = 0 and BR0 = the
target slot's selector | L4_RCV_ITEM_SINGLE_CAP, and calls the factory. Each returns the
reply's l4_msgtag_t (label 0, or -L4_Exxx; an IPC error such as a missing receive item
shows in the error flag): check it with `l4_error(tag, utcb)`.
"""
from . import _check, _kobj
from .consts import (
    L4_CAP_FPAGE_RWS, L4_INVALID_CAP_BIT, L4_PROTO_FACTORY, L4_PROTO_IRQ_SENDER,
    L4_PROTO_SEMAPHORE, L4_PROTO_TASK, L4_PROTO_THREAD, L4_PROTO_VM, L4_RCV_ITEM_SINGLE_CAP,
    L4_VARG_TYPE_FPAGE, L4_VARG_TYPE_UMWORD,
)
from .fpage import l4_map_obj_control, l4_obj_fpage
from .msgtag import l4_msgtag
from .utcb import l4_utcb

_WORD_BYTES = 8
_PROTO_MIN, _PROTO_MAX = -(1 << 47), (1 << 47) - 1


def _start(obj, target_cap, fn):
    """l4_factory_create_start_u: MR0, BDR and BR0 of a create; returns the UTCB."""
    target_cap = _kobj.cap(target_cap, fn, "target_cap")
    u = l4_utcb()
    u.mr[0] = obj & _kobj.U64
    u.bdr = 0
    u.br[0] = target_cap | L4_RCV_ITEM_SINGLE_CAP
    return u


async def l4_factory_create(factory, obj, target_cap):
    """Create an object of protocol `obj` (L4_PROTO_THREAD, ...) with no arguments."""
    factory = _kobj.cap(factory, "l4_factory_create", "factory")
    obj = _check.in_range(obj, _PROTO_MIN, _PROTO_MAX, "l4_factory_create: obj")
    _start(obj, target_cap, "l4_factory_create")
    return await _kobj.call(factory, l4_msgtag(L4_PROTO_FACTORY, 1, 0, 0).raw)


async def l4_factory_create_task(factory, target_cap, utcb_area):
    """A task; `utcb_area` (l4_fpage_t, memory; l4_fpage_invalid() for none) becomes its
    first ku-mem. The reply's MR0 echoes the UTCB-area fpage."""
    fn = "l4_factory_create_task"
    factory = _kobj.cap(factory, fn, "factory")
    area = _kobj.fpage(utcb_area, fn, "utcb_area")
    u = _start(L4_PROTO_TASK, target_cap, fn)
    u.mr[1] = L4_VARG_TYPE_FPAGE | (_WORD_BYTES << 16)
    u.mr[2] = area
    return await _kobj.call(factory, l4_msgtag(L4_PROTO_FACTORY, 3, 0, 0).raw)


async def l4_factory_create_vm(factory, target_cap):
    """A VM (op -16): a task whose address space is guest-physical, its nested page
    table (EPT, ARM stage 2, MIPS VZ) made with it; memory goes in with l4_task_map."""
    factory = _kobj.cap(factory, "l4_factory_create_vm", "factory")
    _start(L4_PROTO_VM, target_cap, "l4_factory_create_vm")
    return await _kobj.call(factory, l4_msgtag(L4_PROTO_FACTORY, 1, 0, 0).raw)


async def l4_factory_create_thread(factory, target_cap):
    """A thread: unbound, dead until ex_regs, on no CPU until run_thread (§8.2)."""
    factory = _kobj.cap(factory, "l4_factory_create_thread", "factory")
    _start(L4_PROTO_THREAD, target_cap, "l4_factory_create_thread")
    return await _kobj.call(factory, l4_msgtag(L4_PROTO_FACTORY, 1, 0, 0).raw)


async def l4_factory_create_factory(factory, target_cap, limit):
    """A child factory with its own quota of `limit` bytes, charged to `factory`."""
    fn = "l4_factory_create_factory"
    factory = _kobj.cap(factory, fn, "factory")
    limit = _kobj.word(limit, fn, "limit")
    u = _start(L4_PROTO_FACTORY, target_cap, fn)
    u.mr[1] = L4_VARG_TYPE_UMWORD | (_WORD_BYTES << 16)
    u.mr[2] = limit
    return await _kobj.call(factory, l4_msgtag(L4_PROTO_FACTORY, 3, 0, 0).raw)


async def l4_factory_create_gate(factory, target_cap, thread_cap, label):
    """An IPC gate with `label`, bound to `thread_cap` unless that has the invalid bit
    (then it is created unbound: bind it later with l4_rcv_ep_bind_thread)."""
    fn = "l4_factory_create_gate"
    factory = _kobj.cap(factory, fn, "factory")
    thread_cap = _kobj.cap(thread_cap, fn, "thread_cap")
    label = _kobj.word(label, fn, "label")
    items = 0
    if not thread_cap & L4_INVALID_CAP_BIT:
        item = l4_obj_fpage(thread_cap, 0, L4_CAP_FPAGE_RWS).raw
        items = 1
    u = _start(0, target_cap, fn)
    u.mr[1] = L4_VARG_TYPE_UMWORD | (_WORD_BYTES << 16)
    u.mr[2] = label
    if items:
        u.mr[3] = l4_map_obj_control(0, 0)
        u.mr[4] = item
    return await _kobj.call(factory, l4_msgtag(L4_PROTO_FACTORY, 3, items, 0).raw)


async def l4_factory_create_irq(factory, target_cap):
    """An IRQ object (Irq_sender)."""
    factory = _kobj.cap(factory, "l4_factory_create_irq", "factory")
    _start(L4_PROTO_IRQ_SENDER, target_cap, "l4_factory_create_irq")
    return await _kobj.call(factory, l4_msgtag(L4_PROTO_FACTORY, 1, 0, 0).raw)


async def l4_factory_create_semaphore(factory, target_cap):
    """A semaphore."""
    factory = _kobj.cap(factory, "l4_factory_create_semaphore", "factory")
    _start(L4_PROTO_SEMAPHORE, target_cap, "l4_factory_create_semaphore")
    return await _kobj.call(factory, l4_msgtag(L4_PROTO_FACTORY, 1, 0, 0).raw)


__all__ = ["l4_factory_create", "l4_factory_create_task", "l4_factory_create_thread",
           "l4_factory_create_factory", "l4_factory_create_gate", "l4_factory_create_irq",
           "l4_factory_create_semaphore", "l4_factory_create_vm"]
