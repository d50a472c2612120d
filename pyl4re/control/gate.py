"""IPC-gate control plane (§8.4, §8.0): bind, get_info and the generic kobject op
dec_refcnt, reached only through a gate capability with the server attribute
(L4_FPAGE_C_IPCGATE_SVR) invoked with label L4_PROTO_KOBJECT; C sends everything else
through the gate as IPC.

Each handler decodes and checks first (may fail, changes nothing), then performs through
C. What it must not do: keep gate state of its own, or wake blocked senders itself (C's
gate_bind releases them).
"""
from .. import _core
from .invocation import item_object, refuse, reply, signed

_lib = _core.abi()

S = _lib.L4_CAP_FPAGE_S
_U64 = (1 << 64) - 1


def invoke(inv):
    if inv.label != _lib.L4_PROTO_KOBJECT:
        return reply(-_lib.L4_EBADPROTO)
    if inv.words < 1:
        return reply(-_lib.L4_EINVAL)       # Ipc_gate_ctl::kinvoke: EINVAL, not short
    op = inv.mr(0)
    if op == _lib.L4_RCV_EP_BIND_OP:
        return _bind(inv)
    if op == _lib.L4_IPC_GATE_GET_INFO_OP:
        return _get_info(inv)
    if op == _lib.L4_KOBJECT_OP_DEC_REFCNT:
        return _dec_refcnt(inv)
    return reply(-_lib.L4_ENOSYS)           # incl. REGISTER_IRQ: no kernel implementation


def _bind(inv):
    """MR1 = label, item = thread. Rebinding is allowed; senders waiting on the unbound
    gate go on."""
    if not inv.rights & S:
        return refuse(inv, S)
    if inv.words < 2:
        return reply(-_lib.L4_EMSGTOOSHORT)
    label = inv.mr(1)
    if label & 3:
        return reply(-_lib.L4_EINVAL)       # bits 0, 1 carry the client's W, S (§9)
    found, err = item_object(inv, 0, _lib.KOBJ_THREAD)
    if err is not None:
        return err
    thread, _, thread_rights = found
    if not thread_rights & S:
        return refuse(inv, S)
    k = inv.kernel
    return reply(k._lib.gate_bind(k._k, [inv.obj], [thread], label))


def _get_info(inv):
    """MR0 = the gate's label."""
    k = inv.kernel
    out = k._ffi.new("struct gate_info *")
    rc = k._lib.gate_info(k._k, [inv.obj], out)
    if rc < 0:
        return reply(rc)
    inv.utcb.mr[0] = out.label
    return reply(0, 1)


def _dec_refcnt(inv):
    """MR1 = signed diff: the counted references drop by it; MR0 = the new count (a signed
    word: below 0 after a diff larger than the count)."""
    if inv.words < 2:
        return reply(-_lib.L4_EINVAL)
    k = inv.kernel
    result = k._ffi.new("int64_t *")
    rc = k._lib.kobj_dec_refcnt(k._k, [inv.obj], signed(inv.mr(1)), result)
    if rc < 0:
        return reply(rc)
    inv.utcb.mr[0] = result[0] & _U64       # the signed count as a machine word
    return reply(0, 1)
