"""moe's factory, which is also its memory allocator (L4::Factory -15 and L4Re::Mem_alloc
0x400B; l4re-core `moe/server/src/alloc.cc`): creates dataspaces, name spaces, region maps,
tagged logs, scheduler proxies and sub-factories, charging what it hands out to its quota.

A create request is label -15, MR0 = the type, then vargs (a header word `type | size <<
16` and the value); the new object comes back as a capability with rights RWSD into the
caller's receive buffer. Quotas are bytes: a dataspace charges its size in pages, a
sub-factory its whole quota; the root factory has none.
"""
import struct
from ...l4sys import (
    L4_CAP_FPAGE_RWSD, L4_EINVAL, L4_ENODEV, L4_ENOMEM, L4_ERANGE, l4_map_obj_control,
    l4_obj_fpage,
)

from ..protocols import (
    MEM_ALLOC_INFO, MEM_CONTINUOUS, MEM_FIXED_PADDR, MEM_PINNED, MEM_SUPER_PAGES,
    PROTO_DATASPACE, PROTO_DMA_SPACE, PROTO_FACTORY, PROTO_LOG, PROTO_MEM_ALLOC,
    PROTO_NAMESPACE, PROTO_RM, PROTO_SCHEDULER, VARG_NIL, VARG_STRING,
)
from ..rpc import Packer, RpcError

_SIGNED = 0x80


def parse_vargs(req):
    """The factory arguments after MR0: ints and bytes (None for nil)."""
    out, i, data = [], 1, req.data
    words = req.words
    while i < words:
        head = req.word(i)
        kind, size = head & 0xFF, head >> 16
        i += 1
        if kind == VARG_NIL and size == 0:
            out.append(None)
            continue
        n = -(-size // 8)
        if i + n > words:
            raise RpcError(L4_EINVAL, "varg beyond the message")
        raw = data[i * 8:i * 8 + size]
        i += n
        if kind == VARG_STRING:
            out.append(raw.split(b"\0", 1)[0])
        elif kind & 0x7F == 1 and size == 8:
            (v,) = struct.unpack("<q" if kind & _SIGNED else "<Q", raw)
            out.append(v)
        else:
            raise RpcError(L4_EINVAL, f"varg type {kind:#x} not understood")
    return out


def _int_arg(args, i, default=None):
    if i >= len(args) or args[i] is None:
        if default is None:
            raise RpcError(L4_EINVAL, "argument missing")
        return default
    if not isinstance(args[i], int):
        raise RpcError(L4_EINVAL, "an int argument is needed")
    return args[i]


class MoeFactory:
    INTERFACES = [(PROTO_FACTORY, "L4::Factory"), (PROTO_MEM_ALLOC, "L4Re::Mem_alloc")]

    def __init__(self, moe, quota=None, parent=None):
        self.moe = moe
        self.quota = quota          # bytes; None: unlimited (the root allocator)
        self.used = 0
        self.parent = parent

    def protocols(self):
        return {PROTO_FACTORY: self.create, PROTO_MEM_ALLOC: self.mem_alloc}

    def charge(self, n):
        if self.quota is not None and self.used + n > self.quota:
            raise RpcError(L4_ENOMEM, "quota exhausted")
        self.used += n

    def refund(self, n):
        self.used = max(self.used - n, 0)

    async def mem_alloc(self, req):
        if req.opcode() != MEM_ALLOC_INFO:
            raise RpcError(38, "unknown Mem_alloc opcode")          # -L4_ENOSYS
        pages = self.moe.pages
        quota = self.quota if self.quota is not None else pages.total
        return (0, Packer().u64(quota).u64(self.used).u64(pages.total)
                .u64(pages.total - pages.available).u64(pages.available).words(), ())

    async def create(self, req):
        proto = struct.unpack("<q", struct.pack("<Q", req.word(0)))[0]
        args = parse_vargs(req)
        maker = {PROTO_DATASPACE: self._dataspace, PROTO_NAMESPACE: self._namespace,
                 PROTO_RM: self._rm, PROTO_LOG: self._log, PROTO_FACTORY: self._factory,
                 PROTO_SCHEDULER: self._scheduler}.get(proto)
        if maker is None or proto == PROTO_DMA_SPACE:
            raise RpcError(L4_ENODEV, f"moe cannot make objects of type {proto:#x}")
        obj = await maker(args)
        sel = await self.moe.server.register(obj)
        item = (l4_map_obj_control(0, 0), l4_obj_fpage(sel, 0, L4_CAP_FPAGE_RWSD).raw)
        return (0, b"", [item])

    async def _dataspace(self, args):
        from .dataspace import MoeDataspace
        size = _int_arg(args, 0)
        flags = _int_arg(args, 1, 0)
        align = _int_arg(args, 2, 0)
        if size <= 0:
            raise RpcError(L4_ERANGE, "size 0")
        if flags & MEM_FIXED_PADDR or len(args) > 3:
            raise RpcError(L4_EINVAL, "a fixed physical address needs a system without MMU")
        if flags & ~(MEM_CONTINUOUS | MEM_PINNED | MEM_SUPER_PAGES) or not 0 <= align < 64:
            raise RpcError(L4_EINVAL, "unknown flags")
        shift = self.moe.shift
        rounded = -(-size // (1 << shift)) << shift
        if rounded > self.moe.pages.total:
            raise RpcError(L4_ENOMEM, "more than moe's memory")
        self.charge(rounded)
        ds = MoeDataspace(self.moe, size, charged=rounded)
        if flags & (MEM_CONTINUOUS | MEM_PINNED):
            base = await self.moe.alloc_pages(rounded,
                                              max(align, 21 if flags & MEM_SUPER_PAGES else 0))
            if base is None:
                self.refund(rounded)
                raise RpcError(L4_ENOMEM, "no contiguous block that large")
            ds.contiguous = True
            for i in range(rounded >> shift):
                ds.pages[i] = base + (i << shift)
            from .memory import zero
            await zero(base, rounded)
        ds.factory = self
        return ds

    async def _namespace(self, args):
        from .namespace import MoeNamespace
        return MoeNamespace(self.moe)

    async def _rm(self, args):
        return self.moe.new_region_map()

    async def _log(self, args):
        from .log import MoeLog, color_value
        if not args or not isinstance(args[0], bytes):
            raise RpcError(L4_EINVAL, "a log needs a tag string")
        color = 7
        if len(args) > 1 and args[1] is not None:
            c = args[1]
            if isinstance(c, bytes):
                color = color_value(c)
            elif 0 <= c <= 15:
                color = c
            else:
                raise RpcError(L4_EINVAL, "colour out of range")
        return MoeLog(self.moe.logs, args[0][:32].decode(errors="replace"), color)

    async def _factory(self, args):
        quota = _int_arg(args, 0)
        if quota <= 0:
            raise RpcError(L4_EINVAL, "a factory needs a quota > 0")
        self.charge(quota)
        return MoeFactory(self.moe, quota, self)

    async def _scheduler(self, args):
        from .sched_proxy import SchedProxy
        if self is not self.moe.root_factory:
            raise RpcError(L4_ENODEV, "scheduler proxies come from the root allocator")
        if len(args) < 2 or not all(isinstance(a, int) for a in args):
            raise RpcError(L4_EINVAL, "prio_limit, prio_offset and CPU words are ints")
        limit, offset = args[0], args[1]
        if limit > 255 or offset > 255:
            raise RpcError(L4_ERANGE, "priority above 255")
        if limit <= offset:
            raise RpcError(L4_EINVAL, "limit <= offset")
        cpus = 0
        for k, word in enumerate(args[2:]):
            cpus |= (word & (1 << 64) - 1) << (64 * k)
        return SchedProxy(self.moe, limit, offset, cpus if len(args) > 2 else None)
