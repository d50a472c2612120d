"""IPC-gate (receive endpoint) calls for µApps, with l4sys names and argument order
(§8.4, §8.0): bind a thread, read the label, and the generic kobject dec_refcnt.

They work only through a gate capability with the server attribute
(L4_FPAGE_C_IPCGATE_SVR), which the creator's capability has; through any other the
message goes to the bound thread as IPC. Each returns the reply's l4_msgtag_t, plus the
out-values l4sys returns through pointers (documented per call).
"""
from . import _kobj
from .consts import (
    L4_CAP_FPAGE_RWS, L4_IPC_GATE_GET_INFO_OP, L4_KOBJECT_OP_DEC_REFCNT, L4_PROTO_KOBJECT,
    L4_RCV_EP_BIND_OP,
)
from .fpage import l4_map_obj_control, l4_obj_fpage
from .msgtag import l4_msgtag, l4_msgtag_has_error, l4_msgtag_label
from .utcb import l4_utcb


async def l4_rcv_ep_bind_thread(ep, thread, label):
    """Bind the receive endpoint (gate) `ep` to `thread` with `label` (bits 0 and 1 must
    be clear). Needs S on both capabilities."""
    fn = "l4_rcv_ep_bind_thread"
    ep = _kobj.cap(ep, fn, "ep")
    item = l4_obj_fpage(_kobj.cap(thread, fn, "thread"), 0, L4_CAP_FPAGE_RWS).raw
    label = _kobj.word(label, fn, "label")
    u = l4_utcb()
    u.mr[0] = L4_RCV_EP_BIND_OP
    u.mr[1] = label
    u.mr[2] = l4_map_obj_control(0, 0)
    u.mr[3] = item
    return await _kobj.call(ep, l4_msgtag(L4_PROTO_KOBJECT, 2, 1, 0).raw)


async def l4_ipc_gate_bind_thread(gate, thread, label):
    """The older name of l4_rcv_ep_bind_thread (deprecated in l4sys)."""
    fn = "l4_ipc_gate_bind_thread"
    return await l4_rcv_ep_bind_thread(_kobj.cap(gate, fn, "gate"),
                                       _kobj.cap(thread, fn, "thread"), label)


async def l4_ipc_gate_get_infos(gate):
    """(tag, label): the gate's label, or None if the call failed (l4sys leaves its
    out-parameter untouched then)."""
    gate = _kobj.cap(gate, "l4_ipc_gate_get_infos", "gate")
    u = l4_utcb()
    u.mr[0] = L4_IPC_GATE_GET_INFO_OP
    tag = await _kobj.call(gate, l4_msgtag(L4_PROTO_KOBJECT, 1, 0, 0).raw)
    if l4_msgtag_has_error(tag) or l4_msgtag_label(tag) < 0:
        return tag, None
    return tag, int(u.mr[0])


async def l4_kobject_dec_refcnt(obj, diff):
    """Lower the object's counted capability references by `diff` (signed); the new count
    is in MR0 of the reply. Only IPC gates (through a server capability) offer it."""
    fn = "l4_kobject_dec_refcnt"
    obj = _kobj.cap(obj, fn, "obj")
    diff = _kobj.sword(diff, fn, "diff")
    u = l4_utcb()
    u.mr[0] = L4_KOBJECT_OP_DEC_REFCNT
    u.mr[1] = diff
    return await _kobj.call(obj, l4_msgtag(L4_PROTO_KOBJECT, 2, 0, 0).raw)


__all__ = ["l4_rcv_ep_bind_thread", "l4_ipc_gate_bind_thread", "l4_ipc_gate_get_infos",
           "l4_kobject_dec_refcnt"]
