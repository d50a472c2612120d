"""Factory control plane (§8.3, §13): decides what to create; C charges and allocates.

`create()` speaks l4sys: it returns 0 or a negative `-L4_Exxx`, exactly what the kernel
would put in the reply label, and on failure nothing has changed. It takes the protocol
of the object to create as the kernel receives it in MR0 (`L4_PROTO_TASK`, ...), so the
invocation path of a µApp's `l4_factory_create_*` and the harness share one decision.
What it must not do: keep quota arithmetic of its own (the C quota is the only truth).
"""
from .. import _core

_lib = _core.abi()

# Protocol in MR0 -> kind of object (kernkonzept/fiasco kobject_iface.cpp registrations).
KIND_BY_PROTO = {
    _lib.L4_PROTO_NONE: _lib.KOBJ_GATE,          # 0 creates IPC gates too
    _lib.L4_PROTO_KOBJECT: _lib.KOBJ_GATE,
    _lib.L4_PROTO_TASK: _lib.KOBJ_TASK,
    _lib.L4_PROTO_THREAD: _lib.KOBJ_THREAD,
    _lib.L4_PROTO_FACTORY: _lib.KOBJ_FACTORY,
    _lib.L4_PROTO_IRQ_SENDER: _lib.KOBJ_IRQ,
    _lib.L4_PROTO_SEMAPHORE: _lib.KOBJ_SEMAPHORE,
}

# Largest factory limit the kernel accepts: non-zero and below 2^63 - 1.
FACTORY_LIMIT_MAX = (1 << 63) - 2


def create(kernel, factory_id, proto, task_id, slot, *, limit=None):
    """Create an object of protocol `proto` through factory `factory_id` into `task_id`'s
    capability slot `slot` (an int index). Returns 0 or -L4_Exxx; `limit` is the child
    quota of a factory."""
    kind = KIND_BY_PROTO.get(proto)
    if kind is None:
        return -_lib.L4_ENODEV
    arg = 0
    if kind == _lib.KOBJ_FACTORY:
        if limit is None:
            return -_lib.L4_EMSGTOOSHORT
        if not 0 < limit <= FACTORY_LIMIT_MAX:
            return -_lib.L4_ENOMEM
        arg = limit
    elif limit is not None:
        return -_lib.L4_EINVAL
    ffi, lib = kernel._ffi, kernel._lib
    out = ffi.new("kobj_id_t *")
    return lib.factory_create(kernel._k, [factory_id], kind, arg, [task_id], [slot], out)
