"""moe's name spaces (L4Re::Namespace 0x4001; l4re-core `moe/server/src/name_space.cc`):
names to capabilities, with the entry's rights.

An entry holds a capability in one of moe's slots (a moe object's own gate, or a
capability a client registered), or nothing (a placeholder, which answers -EAGAIN until
it is filled). Entries made at boot are static: they cannot be overwritten or unlinked.
Names are looked at up to the first '/': the rest goes back to the client, which asks the
capability it got (a name space) for it.
"""
from ...l4sys import (
    L4_CAP_FPAGE_R, L4_CAP_FPAGE_RWSD, L4_CAP_FPAGE_S, L4_CAP_FPAGE_W, L4_EACCESS,
    L4_EAGAIN, L4_EEXIST, L4_EINVAL, L4_ENOENT, L4_EPERM, L4_FP_ALL_SPACES,
    l4_map_obj_control, l4_obj_fpage, l4_task_unmap,
)
from .. import rpc
from ..protocols import (
    NS_CAP_FLAGS, NS_OVERWRITE, NS_PARTLY_RESOLVED, NS_QUERY, NS_REGISTER, NS_RWS, NS_STRONG,
    NS_UNLINK, PROTO_NAMESPACE,
)
from ..rpc import Packer, RpcError

NAME_MAX = 255                  # longest name moe keeps


class Entry:
    __slots__ = ("cap", "flags", "static", "owned")

    def __init__(self, cap, flags, static=False, owned=False):
        self.cap = cap              # selector in moe, or None: a placeholder
        self.flags = flags
        self.static = static
        self.owned = owned          # moe took the capability from a client: it releases it


class MoeNamespace:
    INTERFACES = [(PROTO_NAMESPACE, "L4Re::Namespace")]

    def __init__(self, moe):
        self.moe = moe
        self.entries = {}           # name (bytes) -> Entry
        self._ops = {NS_QUERY: self.query, NS_REGISTER: self.register, NS_UNLINK: self.unlink}

    def protocols(self):
        return {PROTO_NAMESPACE: self.dispatch}

    async def dispatch(self, req):
        return await rpc.opcode_table(req, self._ops)(req)

    def add_static(self, name, cap, flags=NS_RWS):
        """A boot-time entry (moe's root name space, the rom)."""
        self.entries[name.encode() if isinstance(name, str) else name] = Entry(cap, flags, True)

    async def query(self, req):
        name = req.unpack().array(NAME_MAX)
        head, sep, rest = name.partition(b"/")
        entry = self.entries.get(head)
        if entry is None:
            raise RpcError(L4_ENOENT, f"no entry {head!r}")
        if entry.cap is None:
            raise RpcError(L4_EAGAIN, f"{head!r} is a placeholder")
        rights = L4_CAP_FPAGE_R
        if entry.flags & L4_CAP_FPAGE_W:
            rights |= L4_CAP_FPAGE_W
        if entry.flags & NS_STRONG:
            rights |= L4_CAP_FPAGE_S
        item = (l4_map_obj_control(0, 0), l4_obj_fpage(entry.cap, 0, rights).raw)
        if sep:
            return (NS_PARTLY_RESOLVED, Packer().u32(0).array(rest).words(), [item])
        return (0, b"", [item])

    async def register(self, req):
        if not req.rights & 1:
            raise RpcError(L4_EPERM, "register needs W on the name space")
        u = req.unpack()
        flags = u.u32()
        name = u.array(NAME_MAX)
        if not name or b"/" in name or b"\0" in name:
            raise RpcError(L4_EINVAL, "a name is not empty and has no '/'")
        old = self.entries.get(name)
        if old is not None and (old.static or old.cap is not None and not flags & NS_OVERWRITE):
            raise RpcError(L4_EEXIST, f"{name!r} exists")
        cap, owned = None, False
        it = req.item(0)
        if it is not None:
            if it[0] == "local":                # one of moe's objects: its own gate
                obj = self.moe.server.objects.get(it[1] & ~3)
                if obj is None:
                    raise RpcError(L4_EINVAL, "not a live moe object")
                cap = self.moe.server.gates[it[1] & ~3]
                flags &= ~NS_CAP_FLAGS | (L4_CAP_FPAGE_R | (it[1] & 3))   # its rights only
            else:
                cap, owned = req.take_cap(), True
        if old is not None:
            await self._drop(old)
        self.entries[name] = Entry(cap, flags & (NS_CAP_FLAGS | NS_OVERWRITE), False, owned)
        return 0

    async def _drop(self, entry):
        if entry.owned and entry.cap is not None:
            await l4_task_unmap(self.moe.env.task, l4_obj_fpage(entry.cap, 0, L4_CAP_FPAGE_RWSD),
                                L4_FP_ALL_SPACES)
            self.moe.server.cap_alloc.free(entry.cap)

    async def unlink(self, req):
        if not req.rights & 1:
            raise RpcError(L4_EPERM, "unlink needs W on the name space")
        name = req.unpack().array(NAME_MAX)
        entry = self.entries.get(name)
        if entry is None:
            raise RpcError(L4_ENOENT, f"no entry {name!r}")
        if entry.static:
            raise RpcError(L4_EACCESS, f"{name!r} is static")
        del self.entries[name]
        await self._drop(entry)
        return 0
