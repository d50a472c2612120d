"""`Namespace`: the client of L4Re::Namespace (0x4001) for µApps: find capabilities by
name, register and unlink them.

A name with slashes is resolved part by part: the server answers the part before the
first '/' with a capability and "partly resolved", and the client asks that capability
(a name space again) for the rest, as l4re-core's `namespace_impl.h` does. A name that is
registered without a capability (a placeholder) answers -EAGAIN; the client then sleeps
10, 20, 40, 80, 160, 160 ... ms until its timeout is used up.
"""
from ..errors import check
from ..l4sys import L4_EAGAIN, L4_INVALID_CAP, l4_ipc_sleep, l4_timeout_from_us
from . import rpc
from .protocols import (
    NS_PARTLY_RESOLVED, NS_QUERY, NS_REGISTER, NS_RW, NS_UNLINK, PROTO_NAMESPACE,
)

TO_DEFAULT_MS = 3_600_000
TO_NON_BLOCKING = 0


class Namespace:
    """A capability to a name space; `cap_alloc` gives the slots query results land in."""
    __slots__ = ("cap", "cap_alloc")

    def __init__(self, cap, cap_alloc):
        self.cap = cap
        self.cap_alloc = cap_alloc

    async def _query_once(self, ns, name, target):
        msg = rpc.Packer().u32(NS_QUERY).array(name)
        r = await rpc.call(ns, PROTO_NAMESPACE, msg.words(), rcv_cap=target)
        if r.label < 0:
            return r.label, b""
        rest = b""
        if r.label == NS_PARTLY_RESOLVED:
            u = r.unpack()
            u.u32()
            rest = u.array()
        return r.label, rest

    async def query(self, name, timeout_ms=TO_DEFAULT_MS):
        """The selector of the capability `name` names (a fresh slot)."""
        raw = name.encode() if isinstance(name, str) else bytes(name)
        target = self.cap_alloc.alloc()
        if target == L4_INVALID_CAP:
            raise MemoryError("no free capability slot")
        ns, left, waited, pause = self.cap, raw, 0, 10
        while True:
            label, rest = await self._query_once(ns, left, target)
            if label == -L4_EAGAIN and waited < timeout_ms:
                await l4_ipc_sleep(l4_timeout_from_us(pause * 1000))
                waited += pause
                pause = min(pause * 2, 160)
                continue
            if label < 0:
                self.cap_alloc.free(target)
                check(label, f"Namespace.query({name!r})")
            if label != NS_PARTLY_RESOLVED or not rest:
                return target
            ns, left = target, rest           # ask the name space we just got

    async def register_obj(self, name, cap, flags=NS_RW):
        """Register `cap` (a selector; None for a placeholder) under `name` (needs W)."""
        raw = name.encode() if isinstance(name, str) else bytes(name)
        msg = rpc.Packer().u32(NS_REGISTER).u32(flags).array(raw)
        items = [] if cap is None else [rpc.cap_item(cap)]
        r = await rpc.call(self.cap, PROTO_NAMESPACE, msg.words(), items=items)
        return check(r.label, f"Namespace.register_obj({name!r})")

    async def unlink(self, name):
        raw = name.encode() if isinstance(name, str) else bytes(name)
        r = await rpc.call(self.cap, PROTO_NAMESPACE, rpc.Packer().u32(NS_UNLINK).array(raw).words())
        return check(r.label, f"Namespace.unlink({name!r})")
