"""The L4Re RPC encoding (l4re-core `l4sys/include/cxx/ipc_basics`, `ipc_array`,
`ipc_string`, `ipc_varg`): how clients marshal a call into the UTCB and how servers answer.

A message is bytes packed from MR0 on: a 32-bit opcode (for `Rpcs` interfaces), then each
argument at its natural alignment; arrays and strings are a 64-bit length followed by the
elements. The word count is the byte length rounded up. Capabilities go as send items
after the data words; capabilities expected back need a receive buffer in BR0. A reply's
label is its result (>= 0, or -L4_Exxx), its data is packed from MR0 the same way.

`Packer`/`Unpacker` do the byte layout; `call()` is the client side (one l4_ipc_call);
`Server` is the server side: a loop that waits on the gates it created for its objects
(label = object id << 4; bits 0 and 1 carry the W and S rights of the caller's
capability), dispatches by protocol and opcode, and replies. Nothing here knows a
particular interface.
"""
import struct

import numpy as np

from ..arch_consts import running_consts
from ..l4sys import (
    L4_CAP_FPAGE_RWS, L4_EBADPROTO, L4_EMSGTOOSHORT, L4_ENOSYS, L4_IPC_NEVER,
    L4_IPC_RETIMEOUT, L4_IPC_SEND_TIMEOUT_0, L4_IPC_TIMEOUT_0, L4_IPC_TIMEOUT_NEVER,
    L4_ITEM_MAP, L4_RCV_ITEM_LOCAL_ID, L4_RCV_ITEM_SINGLE_CAP,
    l4_error, l4_factory_create_gate, l4_ipc_call, l4_ipc_error, l4_ipc_reply_and_wait,
    l4_ipc_wait, l4_map_obj_control, l4_msgtag, l4_msgtag_has_error, l4_obj_fpage,
    l4_timeout, l4_utcb,
)
from .protocols import PROTO_META, META_INTERFACE, META_NUM_INTERFACES, META_SUPPORTS

WORD = 8
MR_BYTES = 63 * WORD                   # what the message registers hold
_ALIGN = {"B": 1, "H": 2, "I": 4, "Q": 8, "q": 8, "i": 4}


class RpcError(Exception):
    """A request the server refuses: it answers with label -code."""

    def __init__(self, code, why=""):
        self.code = code
        super().__init__(f"-{code}: {why}" if why else f"-{code}")


class Packer:
    """Arguments packed as the L4Re marshaller lays them out."""
    __slots__ = ("buf",)

    def __init__(self):
        self.buf = bytearray()

    def put(self, fmt, value):
        pad = -len(self.buf) % _ALIGN[fmt]
        self.buf += b"\0" * pad + struct.pack("<" + fmt, value)
        return self

    def u8(self, v): return self.put("B", v)
    def u16(self, v): return self.put("H", v)
    def u32(self, v): return self.put("I", v)
    def i32(self, v): return self.put("i", v)
    def u64(self, v): return self.put("Q", v & (1 << 64) - 1)

    def array(self, data):
        """A length (unsigned long) and the bytes."""
        self.u64(len(data))
        self.buf += data
        return self

    def string(self, text):
        """An L4::Ipc::String: the length counts the terminating NUL."""
        return self.array(bytes(text) + b"\0")

    def words(self):
        return bytes(self.buf) + b"\0" * (-len(self.buf) % WORD)


class Unpacker:
    """Reads what a Packer wrote; too little data is -L4_EMSGTOOSHORT, as L4Re answers."""
    __slots__ = ("data", "pos")

    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def get(self, fmt):
        size = _ALIGN[fmt]
        self.pos += -self.pos % size
        if self.pos + size > len(self.data):
            raise RpcError(L4_EMSGTOOSHORT, "message too short")
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return value

    def u8(self): return self.get("B")
    def u16(self): return self.get("H")
    def u32(self): return self.get("I")
    def i32(self): return self.get("i")
    def u64(self): return self.get("Q")
    def i64(self): return self.get("q")

    def array(self, limit=None):
        """A length and that many bytes; a length beyond the message (or `limit`) is
        -L4_EMSGTOOSHORT."""
        n = self.u64()
        if n > len(self.data) - self.pos or (limit is not None and n > limit):
            raise RpcError(L4_EMSGTOOSHORT, f"array of {n} bytes does not fit the message")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return bytes(out)

    def string(self, limit=None):
        """An L4::Ipc::String, without its NUL."""
        return self.array(limit).split(b"\0", 1)[0]

    @property
    def left(self):
        return len(self.data) - self.pos


def cap_item(selector, rights=L4_CAP_FPAGE_RWS):
    """A send item for a capability: (control word, object fpage)."""
    return l4_map_obj_control(0, 0), l4_obj_fpage(selector, 0, rights).raw


class Reply:
    """What a call got back: `label` (the result, or an IPC error as l4_error gives it),
    `data` (the reply's words as bytes), `items` (the returned item words, pairs)."""
    __slots__ = ("label", "data", "items")

    def __init__(self, label, data=b"", items=()):
        self.label, self.data, self.items = label, data, list(items)

    def unpack(self):
        return Unpacker(self.data)


def _write(u, data, items):
    words = len(data) // WORD
    if words + 2 * len(items) > 63:
        raise ValueError(f"a message of {len(data)} bytes and {len(items)} items does not "
                         "fit the 63 message registers")
    if data:
        u.mr.view(np.uint8)[:len(data)] = np.frombuffer(data, dtype=np.uint8)
    for i, (ctl, fp) in enumerate(items):
        u.mr[words + 2 * i] = ctl
        u.mr[words + 2 * i + 1] = fp
    return words


def _read(u, tag):
    words, items = tag.words, tag.items
    data = u.mr.view(np.uint8)[:words * WORD].tobytes()
    got = [(int(u.mr[words + 2 * i]), int(u.mr[words + 2 * i + 1])) for i in range(items)]
    return data, got


async def call(cap, label, data=b"", items=(), rcv_cap=None, rcv_window=None,
               timeout=L4_IPC_NEVER):
    """One RPC: `data` (bytes, padded to words) and send `items` to `cap` with tag label
    `label`; a capability comes back into selector `rcv_cap`, memory into the fpage
    `rcv_window` (raw word). Returns a Reply."""
    u = l4_utcb()
    data = bytes(data) + b"\0" * (-len(data) % WORD)
    words = _write(u, data, items)
    u.bdr = 0
    if rcv_cap is not None:
        u.br[0] = rcv_cap | L4_RCV_ITEM_SINGLE_CAP
    elif rcv_window is not None:
        u.br[0] = L4_ITEM_MAP
        u.br[1] = rcv_window
    else:
        u.br[0] = 0
    tag = await l4_ipc_call(cap, u, l4_msgtag(label, words, len(items), 0), timeout)
    err = l4_error(tag, u)
    if l4_msgtag_has_error(tag):
        return Reply(err)
    reply_data, got = _read(u, tag)
    return Reply(err, reply_data, got)


# ---- the server side

NO_REPLY = object()                   # a handler's answer when the caller gets none


class Request:
    """One received message as a handler sees it."""
    __slots__ = ("server", "proto", "obj_label", "rights", "data", "words", "items")

    def __init__(self, server, proto, label, data, items):
        self.server = server
        self.proto = proto
        self.obj_label = label & ~3
        self.rights = label & 3                     # W (1) and S (2) of the caller's cap
        self.data = data
        self.words = len(data) // WORD
        self.items = items

    def unpack(self, skip_opcode=True):
        return Unpacker(self.data, 4 if skip_opcode else 0)

    def opcode(self):
        if self.words < 1:
            raise RpcError(L4_EMSGTOOSHORT, "no opcode")
        return struct.unpack_from("<I", self.data)[0]

    def word(self, i):
        """Message register i as a word (-L4_EMSGTOOSHORT if the message is shorter)."""
        if i >= self.words:
            raise RpcError(L4_EMSGTOOSHORT, f"MR{i} missing")
        return struct.unpack_from("<Q", self.data, i * WORD)[0]

    def item(self, i=0):
        """The i-th received item: ("local", label | rights) for one of this server's own
        objects, ("cap", selector) for a capability mapped into the receive slot (taken
        with take_cap), ("same", selector) for one the sender holds in this very task,
        or None if the message had no such item."""
        if i >= len(self.items):
            return None
        w0, w1 = self.items[i]
        kind = w0 & 0x6
        if not w0 & L4_ITEM_MAP:
            return None
        if kind == 4:
            return ("local", w1)
        if kind == 0:
            return ("cap", self.server.rcv_slot)
        if kind == 6:
            return ("same", w1 & ~0xFFF)
        return None

    def local_object(self, i=0):
        """The server object a received item names (sent back to its server), or None."""
        it = self.item(i)
        if it is None or it[0] != "local":
            return None, 0
        return self.server.objects.get(it[1] & ~3), it[1] & 3

    def take_cap(self):
        """Keep the capability that arrived in the receive slot: its selector (the server
        offers a fresh slot for the next message)."""
        return self.server.take_rcv_slot()


class Server:
    """A server loop over the objects it registered (see module doc). `cap_alloc` gives
    the slots for its gates and receive buffers; `thread` is the serving thread's cap."""

    def __init__(self, env, cap_alloc, thread):
        self.env = env
        self.cap_alloc = cap_alloc
        self.thread = thread
        self.objects = {}                 # label -> object
        self.gates = {}                   # label -> the gate's selector here
        self._next_id = 1
        self.rcv_slot = cap_alloc.alloc()

    def take_rcv_slot(self):
        slot = self.rcv_slot
        self.rcv_slot = self.cap_alloc.alloc()
        return slot

    async def register(self, obj):
        """A gate for `obj`, bound to the serving thread: its selector in this task."""
        label = self._next_id << 4
        self._next_id += 1
        sel = self.cap_alloc.alloc()
        tag = await l4_factory_create_gate(self.env.factory, sel, self.thread, label)
        err = l4_error(tag)
        if err < 0:
            self.cap_alloc.free(sel)
            raise RpcError(-err, "creating a gate")
        self.objects[label] = obj
        self.gates[label] = sel
        obj.label = label
        obj.gate = sel
        return sel

    def forget(self, obj):
        """Stop serving `obj` (its gate stays until deleted by the caller)."""
        self.objects.pop(getattr(obj, "label", None), None)
        return self.gates.pop(getattr(obj, "label", None), None)

    def _arm(self, u):
        u.bdr = 0
        u.br[0] = self.rcv_slot | L4_RCV_ITEM_SINGLE_CAP | L4_RCV_ITEM_LOCAL_ID

    async def serve(self, until=None):
        """Serve (for ever, or until `until()` is true after a request): wait, dispatch,
        reply with send timeout 0 (a client that is not waiting any more loses its
        answer, the server goes on)."""
        u = l4_utcb()
        self._arm(u)
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            if l4_msgtag_has_error(tag):
                reply = NO_REPLY
            else:
                data, items = _read(u, tag)
                reply = await self.dispatch(Request(self, tag.label, label, data, items))
                if until is not None and until():
                    return
            u = l4_utcb()
            self._arm(u)
            if reply is NO_REPLY:
                tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
                continue
            rlabel, rdata, ritems = reply
            rdata = bytes(rdata) + b"\0" * (-len(rdata) % WORD)
            words = _write(u, rdata, ritems)
            tag, label = await l4_ipc_reply_and_wait(
                u, l4_msgtag(rlabel, words, len(ritems), 0), L4_IPC_SEND_TIMEOUT_0)

    async def next_request(self, answer=None, rcv_timeout=L4_IPC_TIMEOUT_NEVER):
        """One step of a server loop that does more than serve: send `answer` (what
        the last call to this returned, if any; send timeout 0), then wait for the next
        request up to `rcv_timeout` (an l4_timeout_s) and dispatch it. Returns its answer
        (to pass back on the next call), NO_REPLY, or None when the wait timed out."""
        u = l4_utcb()
        self._arm(u)
        if answer is not None and answer is not NO_REPLY:
            rlabel, rdata, ritems = answer
            rdata = bytes(rdata) + b"\0" * (-len(rdata) % WORD)
            words = _write(u, rdata, ritems)
            tag, label = await l4_ipc_reply_and_wait(
                u, l4_msgtag(rlabel, words, len(ritems), 0),
                l4_timeout(L4_IPC_TIMEOUT_0, rcv_timeout))
        else:
            tag, label = await l4_ipc_wait(u, l4_timeout(L4_IPC_TIMEOUT_NEVER, rcv_timeout))
        if l4_msgtag_has_error(tag):
            return None if l4_ipc_error(tag, u) == L4_IPC_RETIMEOUT else NO_REPLY
        data, items = _read(u, tag)
        return await self.dispatch(Request(self, tag.label, label, data, items))

    async def dispatch(self, req):
        """The answer for one request: (label, data, items) or NO_REPLY."""
        obj = self.objects.get(req.obj_label)
        if obj is None:
            return (-L4_EBADPROTO, b"", ())
        try:
            if req.proto == PROTO_META:
                return meta(obj, req)
            handler = obj.protocols().get(req.proto)
            if handler is None:
                return (-L4_EBADPROTO, b"", ())
            out = await handler(req)
        except RpcError as e:
            return (-e.code, b"", ())
        if out is NO_REPLY:
            return out
        if isinstance(out, int):
            return (out, b"", ())
        return out


def meta(obj, req):
    """L4::Meta (label -21): the interfaces an object speaks, as (protocol, name)."""
    ifaces = obj.INTERFACES
    op = req.opcode() & 0xFFFF
    if op == META_NUM_INTERFACES:
        return (len(ifaces), b"", ())
    if op == META_INTERFACE:
        idx = req.word(1)
        if idx >= len(ifaces):
            return (-34, b"", ())                    # -L4_ERANGE past the end
        proto, name = ifaces[idx]
        return (0, Packer().u64(proto).string(name.encode()).words(), ())
    if op == META_SUPPORTS:
        proto = struct.unpack("<q", struct.pack("<Q", req.word(1)))[0]
        return (int(any(p == proto for p, _ in ifaces)), b"", ())
    raise RpcError(L4_ENOSYS, "unknown meta opcode")


def opcode_table(req, table):
    """The handler for the request's opcode (-L4_ENOSYS for an unknown one)."""
    handler = table.get(req.opcode())
    if handler is None:
        raise RpcError(L4_ENOSYS, f"unknown opcode {req.opcode()}")
    return handler


def running_page_shift():
    """The page size of the machine the running µApp runs on, as log2 (L4_PAGESHIFT: a
    compile-time constant of a C program)."""
    return running_consts().page_shift
