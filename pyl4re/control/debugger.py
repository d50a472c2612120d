"""Debugger control plane (§8.10; kernkonzept/fiasco src/kern/jdb_object.cpp,
src/jdb/jdb_kobject.cpp, src/jdb/jdb_kobject_names.cpp): the kernel debugger object at
L4_BASE_DEBUGGER_CAP, as in a Fiasco built with JDB.

MR0 = group | op (label L4_PROTO_DEBUGGER; an empty message would enter JDB: answered 0):
  group 0x000 JDB        enter (no debugger to enter: 0), outchar, outnstring, outhex32/20/
                         16/12/8, outdec: printed on the kernel console (console.py)
  group 0x100 objects    the object is the send item after the words. set name (0), global
                         id (1), object id -> global id (2), name by global id (5), name of
                         the object (8); names are at most 16 bytes (Jdb_kobject_name)
  group 0x200 trace      the trace ring (docs/trace.md): log (1), clear (2), dump (3: no
                         JDB to dump into: 0), log_3val (4), log_bin (5; l4sys sends 8),
                         size (0x20), entries (0x22), last committed (0x23) as l4sys's
                         ktrace.h asks them, and pyl4re's read (0x30)
  group 0x400 coverage   -L4_ENOSYS (no coverage build); other groups act as group 0
                         and object info (16: L4_kobj_info records of every object and
                         capability into the caller's ku_mem; introspect.py)
Log types: query type id (3), switch log (4), query log name (6) over the kernel's trace
kinds (docs/trace.md). Global ids are Fiasco's debug ids: numbers in creation order from
0, never reused; an "object pointer" (op 2) is the model's object id. Image info (7)
answers -L4_ENOSYS. What it must not do: keep object state here
(names and ids live in C with their objects), or change anything but names and the ring.
"""
import numpy as np

from .. import _core
from .invocation import item_object, reply
from .log import mr_bytes, writer

_lib = _core.abi()

_WORD = 8
_U64 = (1 << 64) - 1
_NO_ID = _U64                       # ~0UL: what Fiasco answers for an unknown object
_KE_BYTES = 24                      # text/bytes a TRACE_KE* record keeps (3 words)
_NAME_MAX = _lib.KOBJ_NAME_MAX
_OP_GET_NAME = 8                    # Jdb_kobject_handler::Op::Get_name (no l4sys name)
_OP_OBJ_INFO = 16                   # Op::Obj_info (L4_DEBUGGER_OBJ_INFO_OP)
_HEX = {_lib.L4_KDEBUG_OUTHEX32: (8, 0xFFFFFFFF), _lib.L4_KDEBUG_OUTHEX20: (5, 0xFFFFF),
        _lib.L4_KDEBUG_OUTHEX16: (4, 0xFFFF), _lib.L4_KDEBUG_OUTHEX12: (3, 0xFFF),
        _lib.L4_KDEBUG_OUTHEX8: (2, 0xFF)}


def invoke(inv):
    if inv.words == 0 and inv.items == 0 and inv.label == _lib.L4_PROTO_DEBUGGER:
        return reply(0)                 # kdb_ke("user"): there is no JDB to stop in
    if inv.label != _lib.L4_PROTO_DEBUGGER:
        return reply(-_lib.L4_EBADPROTO)
    if inv.words < 1:
        return reply(-_lib.L4_EMSGTOOSHORT)
    op = inv.mr(0) & 0xFFFFFFFF         # Fiasco reads it as an unsigned int
    group, op = op >> 8, op & 0xFF
    if group == _lib.L4_KDEBUG_GROUP_KOBJ >> 8:
        inv.utcb.mr[0] = op             # Fiasco strips the group in the caller's MR0
        return _kobject(inv, op)
    if group == _lib.L4_KDEBUG_GROUP_TRACE >> 8:
        return _tbuf(inv, op)
    if group == _lib.L4_KDEBUG_GROUP_COV >> 8:
        return reply(-_lib.L4_ENOSYS)
    return _jdb(inv, op)


# ---- group 0: output on the kernel console

def _print(inv, data):
    task, name, now = writer(inv)
    inv.kernel._console.write(task, name, data, now)


def _jdb(inv, op):
    if inv.words < 2:
        return reply(-_lib.L4_EMSGTOOSHORT)
    value = inv.mr(1)
    if op == _lib.L4_KDEBUG_ENTER:
        return reply(0)
    if op == _lib.L4_KDEBUG_OUTCHAR:
        _print(inv, bytes([value & 0xFF]))
    elif op == _lib.L4_KDEBUG_OUTNSTRING:
        n = min(value, (inv.words - 2) * _WORD)
        _print(inv, mr_bytes(inv)[2 * _WORD:2 * _WORD + n].tobytes())
    elif op in _HEX:
        digits, mask = _HEX[op]
        _print(inv, f"{value & mask:0{digits}x}".encode())
    elif op == _lib.L4_KDEBUG_OUTDEC:
        _print(inv, str(value).encode())
    else:
        return reply(-_lib.L4_ENOSYS)
    return reply(0)


# ---- group 1: object names and global ids

def global_id(k, obj):
    """The debugger's global id of a live object, or ~0."""
    info = k._ffi.new("struct kobj_info *")
    return info.dbg_id if obj and k._lib.kobj_info(k._k, [obj], info) == 0 else _NO_ID


def _name_reply(inv, obj):
    """MR0.. = the object's name and a NUL (Jdb_name_hdl::get_name), or -L4_ENOENT."""
    k = inv.kernel
    out = k._ffi.new("char[]", _NAME_MAX + 1)
    if k._lib.kobj_get_name(k._k, [obj], out) < 0:
        return reply(-_lib.L4_ENOENT)
    name = k._ffi.buffer(out)[:]
    mr_bytes(inv)[:_NAME_MAX + 1] = np.frombuffer(name, dtype=np.uint8)
    return reply(0, (_NAME_MAX + 1 + _WORD - 1) // _WORD)


def _kobject(inv, op):
    found, err = item_object(inv, 0)
    if err is not None:
        return err
    obj = found[0]
    k = inv.kernel
    if op == _lib.L4_DEBUGGER_NAME_SET_OP:
        # Up to (words - 1) words from MR1, cut at 16 bytes and at a NUL.
        name = mr_bytes(inv)[_WORD:_WORD + (inv.words - 1) * _WORD].tobytes()
        return reply(k._lib.kobj_set_name(k._k, [obj], name, len(name)))
    if op == _lib.L4_DEBUGGER_GLOBAL_ID_OP:
        inv.utcb.mr[0] = global_id(k, obj)
        return reply(0, 1)
    if op == _lib.L4_DEBUGGER_KOBJ_TO_ID_OP:
        inv.utcb.mr[0] = global_id(k, inv.mr(1)) if inv.words > 1 else _NO_ID
        return reply(0, 1)
    if op == _lib.L4_DEBUGGER_NAME_GET_OP:          # by global id (Query_name)
        if inv.words < 2:
            return reply(-_lib.L4_EMSGTOOSHORT)
        found = k._ffi.new("kobj_id_t *")
        if k._lib.kobj_by_dbg_id(k._k, inv.mr(1), found) < 0:
            return reply(-_lib.L4_ENOENT)
        return _name_reply(inv, found.raw)
    if op == _OP_GET_NAME:
        return _name_reply(inv, obj)
    if op == _lib.L4_DEBUGGER_QUERY_LOG_TYPEID_OP:
        return _query_log_typeid(inv)
    if op == _lib.L4_DEBUGGER_SWITCH_LOG_OP:
        return _switch_log(inv)
    if op == _lib.L4_DEBUGGER_QUERY_LOG_NAME_OP:
        return _query_log_name(inv)
    if op == _OP_OBJ_INFO:
        return _obj_info(inv)
    return reply(-_lib.L4_ENOSYS)


# ---- log types (ops 3, 4, 6; Jdb_log_list_hdl, src/jdb/jdb_log.cpp): the trace kinds the
# kernel records, as Fiasco's table of log events: a name and a short name each. The
# µApps' own records (ke, ke_reg, ke_bin) are not in it, as Fiasco's static tbuf entries
# are not; a type id is the kind that trace records carry (op 0x30 MR2).

def _log_table():
    from ..trace import KINDS
    kernel = [_lib.TRACE_IPC, _lib.TRACE_IPC_ERROR, _lib.TRACE_PAGE_FAULT, _lib.TRACE_MAP,
              _lib.TRACE_UNMAP, _lib.TRACE_IRQ, _lib.TRACE_SWITCH, _lib.TRACE_VCPU_UPCALL,
              _lib.TRACE_VCPU_RESUME, _lib.TRACE_VM_ENTRY, _lib.TRACE_VM_EXIT]
    return [(kind, LOG_NAMES[kind], KINDS[kind]) for kind in kernel]


LOG_NAMES = {_lib.TRACE_IPC: "IPC", _lib.TRACE_IPC_ERROR: "IPC error",
             _lib.TRACE_PAGE_FAULT: "Page fault", _lib.TRACE_MAP: "Map",
             _lib.TRACE_UNMAP: "Unmap", _lib.TRACE_IRQ: "IRQ delivery",
             _lib.TRACE_SWITCH: "Context switch", _lib.TRACE_VCPU_UPCALL: "vCPU upcall",
             _lib.TRACE_VCPU_RESUME: "vCPU resume", _lib.TRACE_VM_ENTRY: "VM entry",
             _lib.TRACE_VM_EXIT: "VM exit"}
_LOG_NAME_MAX = 32                  # Fiasco copies the name into a 32-byte buffer


def _log_name_arg(inv):
    """The NUL-terminated name from MR2 on (at most 31 bytes, as strncpy into 32)."""
    raw = mr_bytes(inv)[2 * _WORD:2 * _WORD + _LOG_NAME_MAX].tobytes()
    return raw[:_LOG_NAME_MAX - 1].split(b"\0", 1)[0]


def _matches(entry, name):
    return name in (entry[1].encode(), entry[2].encode())


def _query_log_typeid(inv):
    """MR1 = table index to search from, MR2.. = name or short name: MR0 = the first
    matching type id at or after the index, ~0 if none. < 3 words or an index past the
    table: -L4_EINVAL."""
    table = _log_table()
    idx = inv.mr(1) & 0xFF              # Fiasco reads it as an unsigned char
    if inv.words < 3 or idx >= len(table):
        return reply(-_lib.L4_EINVAL)
    name = _log_name_arg(inv)
    found = [e[0] for e in table[idx:] if _matches(e, name)]
    inv.utcb.mr[0] = found[0] if found else _U64
    return reply(0, 1)


def _query_log_name(inv):
    """MR1 = table index (exactly 2 words, else -L4_EINVAL): MR0.. = name NUL short name
    NUL."""
    table = _log_table()
    idx = inv.mr(1) & 0xFF
    if inv.words != 2 or idx >= len(table):
        return reply(-_lib.L4_EINVAL)
    _, name, short = table[idx]
    data = name.encode() + b"\0" + short.encode() + b"\0"
    mr_bytes(inv)[:len(data)] = np.frombuffer(data, dtype=np.uint8)
    return reply(0, (len(data) + _WORD - 1) // _WORD)


def _switch_log(inv):
    """MR1 = on (not 0) / off, MR2.. = name or short name: every matching type is switched
    (trace_kind_switch); none: -L4_ENOENT. < 3 words: -L4_EINVAL."""
    if inv.words < 3:
        return reply(-_lib.L4_EINVAL)
    k = inv.kernel
    name = _log_name_arg(inv)
    hits = [e[0] for e in _log_table() if _matches(e, name)]
    for kind in hits:
        k._lib.trace_kind_switch(k._k, kind, 1 if inv.mr(1) else 0)
    return reply(0 if hits else -_lib.L4_ENOENT)


def _obj_info(inv):
    """MR1 = ku_mem address, MR2 = its size, MR3 = records to skip (Jdb_obj_info_hdl):
    MR0 = records written, MR1 = records there are after the skipped ones."""
    from .. import introspect
    if inv.words < 4:
        return reply(-_lib.L4_EINVAL)
    k = inv.kernel
    task = k._thread_info(inv.thread).task.raw
    done = introspect.query(k, task, inv.mr(1), inv.mr(2), inv.mr(3))
    if isinstance(done, int):
        return reply(done)
    inv.utcb.mr[0], inv.utcb.mr[1] = done
    return reply(0, 2)


# ---- group 2: the trace ring

def _text_words(data):
    """Up to 24 bytes packed into three words (host order, as they lay in the MRs)."""
    data = bytes(data[:_KE_BYTES]).ljust(_KE_BYTES, b"\0")
    return [int(w) for w in np.frombuffer(data, dtype=np.uint64)]


def _add(inv, kind, a, b, c):
    k = inv.kernel
    return reply(k._lib.trace_add(k._k, [inv.thread], kind, a, b, c))


def _tbuf(inv, op):
    k = inv.kernel
    if op == _lib.TBUF_OP_LOG or op in (_lib.TBUF_OP_LOG_BIN, _lib.TBUF_OP_LOG_BIN_L4SYS):
        if inv.words < 2:
            return reply(-_lib.L4_EMSGTOOSHORT)
        n = min(inv.mr(1), (inv.words - 2) * _WORD)
        data = mr_bytes(inv)[2 * _WORD:2 * _WORD + n].tobytes()
        kind = _lib.TRACE_KE if op == _lib.TBUF_OP_LOG else _lib.TRACE_KE_BIN
        return _add(inv, kind, *_text_words(data))
    if op == _lib.TBUF_OP_LOG_3VAL:
        if inv.words < 5:
            return reply(-_lib.L4_EMSGTOOSHORT)
        return _add(inv, _lib.TRACE_KE_REG, inv.mr(1), inv.mr(2), inv.mr(3))
    if op == _lib.TBUF_OP_CLEAR:
        return reply(k._lib.trace_clear(k._k))
    if op == _lib.TBUF_OP_DUMP:
        return reply(0)
    if op in (_lib.TBUF_OP_SIZE, _lib.TBUF_OP_ENTRIES, _lib.TBUF_OP_LAST_COMMITTED):
        st = k._ffi.new("struct trace_stats *")
        k._lib.trace_stats(k._k, st)
        inv.utcb.mr[0] = {_lib.TBUF_OP_SIZE: st.capacity * _lib.TRACE_SLOT_BYTES,
                          _lib.TBUF_OP_ENTRIES: st.capacity,
                          _lib.TBUF_OP_LAST_COMMITTED: st.recorded}[op]
        return reply(0, 1)
    if op == _lib.TBUF_OP_READ:
        return _read(inv)
    return reply(-_lib.L4_ENOSYS)                 # map (0x21): the ring is not user memory


def _read(inv):
    """MR1 = a sequence number: the oldest record still held with at least that number.
    MR0 = its number, MR1 = time (ns), MR2 = kind | cpu << 32, MR3 = the thread's global
    id, MR4..MR6 = a, b, c with object ids turned into global ids (docs/trace.md)."""
    if inv.words < 2:
        return reply(-_lib.L4_EMSGTOOSHORT)
    from ..trace import ID_FIELDS
    k = inv.kernel
    rec = k._ffi.new("struct trace_record[1]")
    count = k._ffi.new("uint32_t *")
    k._lib.trace_read(k._k, inv.mr(1), rec, 1, count)
    if not count[0]:
        return reply(-_lib.L4_ENOENT)
    r = rec[0]
    fields = [r.a, r.b, r.c]
    for i in ID_FIELDS.get(r.kind, ()):
        fields[i] = global_id(k, fields[i]) if fields[i] else 0
    words = [r.seq, r.time_ns, r.kind | (r.cpu << 32),
             global_id(k, r.thread.raw) if r.thread.raw else 0] + fields
    for i, w in enumerate(words):
        inv.utcb.mr[i] = w & _U64
    return reply(0, len(words))
