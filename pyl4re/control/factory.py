"""Factory control plane (§8.3, §13): decides what to create; C charges and allocates.

`create()` speaks l4sys: it returns 0 or a negative `-L4_Exxx`, exactly what the kernel
would put in the reply label, and on failure nothing has changed. It takes the protocol
of the object to create as the kernel receives it in MR0 (`L4_PROTO_TASK`, ...), so the
invocation path of a µApp's `l4_factory_create_*` and the harness share one decision.
What it must not do: keep quota arithmetic of its own (the C quota is the only truth).
"""
from .. import _core
from .invocation import ipc_error, item_object, reply

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


def create(kernel, factory_id, proto, task_id, slot, *, limit=None, label=0, utcb_area=0):
    """Create an object of protocol `proto` through factory `factory_id` into `task_id`'s
    capability slot `slot` (an int index). Returns 0 or -L4_Exxx. `limit` is the child
    quota of a factory, `label` an IPC gate's label, `utcb_area` a task's UTCB-area fpage
    (raw word; 0 for none)."""
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
    if kind == _lib.KOBJ_GATE:
        if label & 3 or not 0 <= label < 1 << 64:
            return -_lib.L4_EINVAL
        arg = label
    if kind == _lib.KOBJ_TASK and utcb_area:
        if not _valid_utcb_area(kernel, utcb_area):
            return -_lib.L4_EINVAL
        arg = utcb_area
    ffi, lib = kernel._ffi, kernel._lib
    out = ffi.new("kobj_id_t *")
    return lib.factory_create(kernel._k, [factory_id], kind, arg, [task_id], [slot], out)


def _valid_utcb_area(kernel, fp):
    """A memory fpage of at least one page and at most the largest kernel block, aligned."""
    order = (fp >> 6) & 0x3F
    page_shift = kernel.arch_info["page_shift"]
    return ((fp >> 4) & 3 == 1 and page_shift <= order <= 12 + _lib.FRAME_MAX_ORDER
            and not (fp & ~0xFFF) & ((1 << order) - 1)
            and (fp & ~0xFFF) + (1 << order) - 1 <= kernel.arch_info["user_max"])


def _target_slot(inv):
    """The capability slot the factory maps the new object to: the caller's receive item
    at BR[BDR.obj] (§8.3). None if there is none (the IPC error Overflow|Rcv)."""
    br = (inv.utcb.bdr >> _lib.L4_BDR_OBJ_SHIFT) & 0x1F
    if br >= 58:
        return None
    word = int(inv.utcb.br[br])
    if not word & _lib.L4_ITEM_MAP:
        return None
    if word & 2:                               # small item: the selector is in the word
        return (word >> 12) & 0xFFFFF if word >> 12 < 1 << 20 else None
    if br + 1 >= 58:
        return None
    window = int(inv.utcb.br[br + 1])
    if (window >> 4) & 3 != 3:
        return None
    return (window >> 12) & 0xFFFFF


def invoke(inv):
    """A µApp's l4_factory_create_*(): MR0 = protocol, then vargs; BR item = target."""
    if inv.label != _lib.L4_PROTO_FACTORY:
        return reply(-_lib.L4_EBADPROTO)
    if not inv.rights & _lib.L4_CAP_FPAGE_S:
        inv.needed = _lib.L4_CAP_FPAGE_S
        return reply(-_lib.L4_EPERM)
    if inv.words < 1:
        return reply(-_lib.L4_EMSGTOOSHORT)
    if not inv.has_receive:
        return reply(0)                        # a create must be a call (§8.3)
    slot = _target_slot(inv)
    if slot is None:
        return ipc_error(_lib.L4_IPC_REMSGCUT)
    mr0 = inv.mr(0)
    proto = mr0 - (1 << 64) if mr0 >> 63 else mr0
    kind = KIND_BY_PROTO.get(proto)
    kw, result_words = {}, 0
    if kind == _lib.KOBJ_FACTORY:
        if inv.words < 3:
            return reply(-_lib.L4_EMSGTOOSHORT)
        if inv.words > 3 or inv.items:
            return reply(-_lib.L4_EMSGTOOLONG)
        kw["limit"] = inv.mr(2)
    elif kind == _lib.KOBJ_TASK:
        if inv.words <= 2:
            return reply(-_lib.L4_EINVAL)
        kw["utcb_area"] = inv.mr(2)
        result_words = 1
    thread = None
    if kind == _lib.KOBJ_GATE and inv.items:
        if inv.words < 3:
            return reply(-_lib.L4_EMSGTOOSHORT)
        found, err = item_object(inv, 0, _lib.KOBJ_THREAD)
        if err is not None:
            return err
        thread, _, rights = found
        if inv.mr(2) & 3:
            return reply(-_lib.L4_EINVAL)
        if not rights & _lib.L4_CAP_FPAGE_S:
            inv.needed = _lib.L4_CAP_FPAGE_S
            return reply(-_lib.L4_EPERM)
        kw["label"] = inv.mr(2)
    rc = create(inv.kernel, inv.obj, proto, inv.task, slot, **kw)
    if rc < 0:
        return reply(rc)
    k = inv.kernel
    if thread is not None:
        info = k._ffi.new("struct cap_info *")
        k._lib.cspace_lookup(k._k, [inv.task], [slot], info)
        k._lib.gate_bind(k._k, [info.obj.raw], [thread], kw["label"])
    if result_words:
        inv.utcb.mr[0] = kw["utcb_area"]
    inv.utcb.mr[result_words] = _lib.L4_ITEM_MAP | (3 << 4)   # 0x38: an object arrived
    return reply(0, result_words, 1)
