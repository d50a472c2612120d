"""Kernel-debugger calls for µApps (§8.10), with the l4sys names of debugger.h, kdebug.h
and ktrace.h: object names and global ids, console output through the debugger, and the
kernel's trace buffer.

As in l4sys, object operations go through `l4_invoke_debugger(obj, tag)`: it adds
L4_KDEBUG_GROUP_KOBJ to MR0, appends `obj` as a send item and calls the debugger at
L4_BASE_DEBUGGER_CAP. The kdebug/ktrace helpers save the message registers they borrow
and put them back, as l4sys does. What l4sys returns through pointers comes back in a
tuple. `pyl4re_tbuf_read` is pyl4re's: Fiasco maps the trace buffer into the reader's
address space instead (docs/trace.md).
"""
import numpy as np

from .. import _core
from . import _kobj
from .consts import (
    L4_BASE_DEBUGGER_CAP, L4_CAP_FPAGE_RWS, L4_DEBUGGER_GLOBAL_ID_OP, L4_DEBUGGER_KOBJ_TO_ID_OP,
    L4_DEBUGGER_NAME_GET_OP, L4_DEBUGGER_NAME_SET_OP, L4_DEBUGGER_OBJ_INFO_OP,
    L4_DEBUGGER_QUERY_LOG_NAME_OP, L4_DEBUGGER_QUERY_LOG_TYPEID_OP, L4_DEBUGGER_SWITCH_LOG_OP,
    L4_EINVAL,
    L4_EMSGTOOLONG, L4_ITEM_MAP,
    L4_KDEBUG_ENTER, L4_KDEBUG_GROUP_KOBJ, L4_KDEBUG_GROUP_TRACE, L4_KDEBUG_OUTCHAR,
    L4_KDEBUG_OUTDEC, L4_KDEBUG_OUTHEX8, L4_KDEBUG_OUTHEX12, L4_KDEBUG_OUTHEX16,
    L4_KDEBUG_OUTHEX20, L4_KDEBUG_OUTHEX32, L4_KDEBUG_OUTNSTRING, L4_PROTO_DEBUGGER,
    L4_UTCB_GENERIC_DATA_SIZE,
)
from .cap import l4_is_invalid_cap
from .errors import l4_error, l4_error_u
from .fpage import l4_obj_fpage
from .msgtag import l4_msgtag, l4_msgtag_flags, l4_msgtag_words
from .utcb import l4_utcb

_lib = _core.abi()
_WORD = 8
_U64 = (1 << 64) - 1
_NAME_BYTES = (L4_UTCB_GENERIC_DATA_SIZE - 2) * _WORD


def _bytes(text, fn):
    if isinstance(text, str):
        text = text.encode()
    if not isinstance(text, (bytes, bytearray)):
        raise TypeError(f"{fn}: expected bytes or str, not {type(text).__name__}")
    return bytes(text)


def _put(u, offset_words, data):
    u.mr.view(np.uint8)[offset_words * _WORD:offset_words * _WORD + len(data)] = \
        np.frombuffer(data, dtype=np.uint8)


def _strcpy_maxlen(u, offset_words, src, maxlen):
    """l4sys's __strcpy_maxlen into the MRs: src up to its first NUL, cut to maxlen - 1,
    then a NUL; returns the bytes written."""
    src = src.split(b"\0", 1)[0][:maxlen - 1] + b"\0"
    _put(u, offset_words, src)
    return len(src)


def _words(nbytes):
    return (nbytes + _WORD - 1) // _WORD


async def l4_invoke_debugger(obj, tag):
    """Send the message in the UTCB (tag: words, flags) to the debugger, with MR0 in the
    object group and `obj` as a send item. An invalid obj: -L4_EINVAL without a call."""
    obj = _kobj.cap(obj, "l4_invoke_debugger", "obj")
    if l4_is_invalid_cap(obj):
        return _kobj.tag(l4_msgtag(-L4_EINVAL, 0, 0, 0).raw)
    words = l4_msgtag_words(tag)
    if words + 2 > L4_UTCB_GENERIC_DATA_SIZE:
        return _kobj.tag(l4_msgtag(-L4_EMSGTOOLONG, 0, 0, 0).raw)
    u = l4_utcb()
    u.mr[0] = (int(u.mr[0]) + L4_KDEBUG_GROUP_KOBJ) & _U64
    u.mr[words] = L4_ITEM_MAP
    u.mr[words + 1] = l4_obj_fpage(obj, 0, L4_CAP_FPAGE_RWS).raw
    t = l4_msgtag(L4_PROTO_DEBUGGER, words, 1, l4_msgtag_flags(tag))
    return await _kobj.call(L4_BASE_DEBUGGER_CAP, t.raw)


async def l4_debugger_set_object_name(cap, name):
    """Name the object behind `cap` for the debugger (the kernel keeps 16 bytes)."""
    cap = _kobj.cap(cap, "l4_debugger_set_object_name", "cap")
    name = _bytes(name, "l4_debugger_set_object_name")
    u = l4_utcb()
    u.mr[0] = L4_DEBUGGER_NAME_SET_OP
    n = _strcpy_maxlen(u, 1, name, _NAME_BYTES)
    return await l4_invoke_debugger(cap, l4_msgtag(0, 1 + _words(n), 0, 0))


async def l4_debugger_global_id(cap):
    """The global id of the object behind `cap`; ~0 if the call failed."""
    cap = _kobj.cap(cap, "l4_debugger_global_id", "cap")
    u = l4_utcb()
    u.mr[0] = L4_DEBUGGER_GLOBAL_ID_OP
    if l4_error_u(await l4_invoke_debugger(cap, l4_msgtag(0, 1, 0, 0)), u):
        return _U64
    return int(u.mr[0])


async def l4_debugger_kobj_to_id(cap, kobjp):
    """The global id of the object with the kernel "pointer" kobjp (in the model: its
    object id); ~0 if unknown or the call failed."""
    cap = _kobj.cap(cap, "l4_debugger_kobj_to_id", "cap")
    kobjp = _kobj.word(kobjp, "l4_debugger_kobj_to_id", "kobjp")
    u = l4_utcb()
    u.mr[0] = L4_DEBUGGER_KOBJ_TO_ID_OP
    u.mr[1] = kobjp
    if l4_error_u(await l4_invoke_debugger(cap, l4_msgtag(0, 2, 0, 0)), u):
        return _U64
    return int(u.mr[0])


async def l4_debugger_get_object_name(cap, id, size=_lib.KOBJ_NAME_MAX + 1):  # noqa: A002
    """(tag, name): the name of the object with global id `id` (at most size - 1 bytes,
    as l4sys copies it; "" when the call failed)."""
    fn = "l4_debugger_get_object_name"
    cap = _kobj.cap(cap, fn, "cap")
    id = _kobj.word(id, fn, "id")  # noqa: A001 - l4sys' name
    u = l4_utcb()
    u.mr[0] = L4_DEBUGGER_NAME_GET_OP
    u.mr[1] = id
    tag = await l4_invoke_debugger(cap, l4_msgtag(0, 2, 0, 0))
    if l4_error_u(tag, u) < 0 or size < 1:
        return tag, ""
    raw = u.mr.view(np.uint8)[:size - 1].tobytes().split(b"\0", 1)[0]
    return tag, raw.decode("utf-8", errors="replace")


_LOG_NAME = 32                          # l4sys copies a log name with __strcpy_maxlen(..., 32)


async def _word_and_log_name(fn, cap, op, what, word, name):
    """Invoke the debugger with MR0 = op, MR1 = word and the log name from MR2 on (the
    message layout of query_log_typeid and switch_log): the reply tag."""
    cap = _kobj.cap(cap, fn, "cap")
    name = _bytes(name, fn)
    word = _kobj.word(word, fn, what)
    u = l4_utcb()
    u.mr[0] = op
    u.mr[1] = word
    n = _strcpy_maxlen(u, 2, name, _LOG_NAME)
    return await l4_invoke_debugger(cap, l4_msgtag(0, 2 + _words(n), 0, 0))


async def l4_debugger_query_log_typeid(cap, name, idx):
    """The type id of the first log type at or after table index `idx` whose name or
    short name is `name` (~0 if none), or a negative error (l4sys's l4_ret_t)."""
    tag = await _word_and_log_name("l4_debugger_query_log_typeid", cap,
                                   L4_DEBUGGER_QUERY_LOG_TYPEID_OP, "idx", idx, name)
    u = l4_utcb()
    e = l4_error_u(tag, u)
    return e if e < 0 else int(u.mr[0])


async def l4_debugger_query_log_name(cap, idx, namelen=_LOG_NAME, shortnamelen=_LOG_NAME):
    """(error, name, short name) of the log type at table index `idx`; each name cut to
    its length - 1 bytes as l4sys copies it; ("", "") on an error."""
    fn = "l4_debugger_query_log_name"
    cap = _kobj.cap(cap, fn, "cap")
    idx = _kobj.word(idx, fn, "idx")
    u = l4_utcb()
    u.mr[0] = L4_DEBUGGER_QUERY_LOG_NAME_OP
    u.mr[1] = idx
    e = l4_error_u(await l4_invoke_debugger(cap, l4_msgtag(0, 2, 0, 0)), u)
    if e < 0:
        return e, "", ""
    raw = u.mr.view(np.uint8).tobytes()
    name, short = (raw.split(b"\0", 2) + [b"", b""])[:2]
    return (0, name[:max(namelen - 1, 0)].decode("utf-8", errors="replace"),
            short[:max(shortnamelen - 1, 0)].decode("utf-8", errors="replace"))


async def l4_debugger_switch_log(cap, name, on_off):
    """Turn recording of the log types named `name` (name or short name) on or off: the
    tag (-L4_ENOENT if no type has that name)."""
    return await _word_and_log_name("l4_debugger_switch_log", cap,
                                    L4_DEBUGGER_SWITCH_LOG_OP, "on_off", on_off, name)


async def l4_debugger_query_obj_infos(cap, ku_mem_addr, ku_mem_size, skip):
    """(tag, result_cnt, result_all) of L4_DEBUGGER_OBJ_INFO_OP (obj_info.h): the kernel
    writes 64-byte L4_kobj_info records of every object and capability, from record `skip`
    on, into the caller's ku_mem at ku_mem_addr as far as ku_mem_size holds whole ones;
    result_cnt is how many it wrote, result_all how many there are after `skip`."""
    fn = "l4_debugger_query_obj_infos"
    cap = _kobj.cap(cap, fn, "cap")
    addr = _kobj.word(ku_mem_addr, fn, "ku_mem_addr")
    size = _kobj.word(ku_mem_size, fn, "ku_mem_size")
    skip = _kobj.word(skip, fn, "skip")
    u = l4_utcb()
    u.mr[0] = L4_DEBUGGER_OBJ_INFO_OP
    u.mr[1], u.mr[2], u.mr[3] = addr, size, skip
    tag = await l4_invoke_debugger(cap, l4_msgtag(0, 4, 0, 0))
    return tag, int(u.mr[0]), int(u.mr[1])


# ---- kdebug.h: output on the kernel console

async def _kdebug(op, words, *values, text=None, text_at=None):
    """One call on the debugger capability with MR0 = op, MR1.. = values, and text at
    word text_at; the borrowed MRs are put back afterwards."""
    u = l4_utcb()
    saved = u.mr.copy()
    try:
        u.mr[0] = op
        for i, v in enumerate(values):
            u.mr[1 + i] = v & _U64
        if text is not None:
            _put(u, text_at, text)
        return await _kobj.call(L4_BASE_DEBUGGER_CAP,
                                l4_msgtag(L4_PROTO_DEBUGGER, words, 0, 0).raw)
    finally:
        u.mr[:] = saved


def _text_args(text, fn, room_words):
    text = _bytes(text, fn)
    return text[:(L4_UTCB_GENERIC_DATA_SIZE - room_words) * _WORD]


async def enter_kdebug(text=None):
    """Enter the kernel debugger (there is none to stop in: the call returns at once)."""
    if text is None:
        return await _kobj.call(L4_BASE_DEBUGGER_CAP, l4_msgtag(L4_PROTO_DEBUGGER, 0, 0, 0).raw)
    text = _text_args(text, "enter_kdebug", 2)
    return await _kdebug(L4_KDEBUG_ENTER, 2 + _words(len(text)), len(text), text=text,
                         text_at=2)


async def outnstring(text, length=None):
    text = _text_args(text, "outnstring", 2)
    if length is not None:
        text = text[:length]
    await _kdebug(L4_KDEBUG_OUTNSTRING, 2 + _words(len(text)), len(text), text=text,
                  text_at=2)


async def outstring(text):
    await outnstring(text)


async def outchar(c):
    if isinstance(c, str):
        c = ord(c)
    await _kdebug(L4_KDEBUG_OUTCHAR, 2, _kobj.word(c, "outchar", "c"))


async def _outnum(op, number, fn):
    await _kdebug(op, 2, _kobj.word(number, fn, "number"))


async def outhex32(number):
    await _outnum(L4_KDEBUG_OUTHEX32, number, "outhex32")


async def outhex20(number):
    await _outnum(L4_KDEBUG_OUTHEX20, number, "outhex20")


async def outhex16(number):
    await _outnum(L4_KDEBUG_OUTHEX16, number, "outhex16")


async def outhex12(number):
    await _outnum(L4_KDEBUG_OUTHEX12, number, "outhex12")


async def outhex8(number):
    await _outnum(L4_KDEBUG_OUTHEX8, number, "outhex8")


async def outhex64(number):
    number = _kobj.word(number, "outhex64", "number")
    await outhex32(number >> 32)
    await outhex32(number & 0xFFFFFFFF)


outumword = outhex64                      # 64-bit words: two 32-bit halves


async def outdec(number):
    await _kdebug(L4_KDEBUG_OUTDEC, 2, _kobj.sword(number, "outdec", "number"))


# ---- ktrace.h: the kernel's trace buffer (MR0 = L4_KDEBUG_GROUP_TRACE + op)

_TRACE = L4_KDEBUG_GROUP_TRACE


async def fiasco_tbuf_log(text):
    """A trace entry with up to 24 bytes of text (the rest is cut). Returns l4_error."""
    text = _text_args(text, "fiasco_tbuf_log", 2)
    return l4_error(await _kdebug(_TRACE + _lib.TBUF_OP_LOG, 2 + _words(len(text)), len(text),
                                  text=text, text_at=2))


async def fiasco_tbuf_log_3val(text, v1, v2, v3):
    """A trace entry with three values (the model keeps the values, not the text)."""
    fn = "fiasco_tbuf_log_3val"
    text = _text_args(text, fn, 5)
    values = [_kobj.word(v, fn, name) for v, name in ((v1, "v1"), (v2, "v2"), (v3, "v3"))]
    return l4_error(await _kdebug(_TRACE + _lib.TBUF_OP_LOG_3VAL, 5 + _words(len(text)),
                                  *values, len(text), text=text, text_at=5))


async def fiasco_tbuf_log_binary(data):
    """A trace entry with 24 bytes of binary data."""
    data = _bytes(data, "fiasco_tbuf_log_binary")[:24].ljust(24, b"\0")
    return l4_error(await _kdebug(_TRACE + _lib.TBUF_OP_LOG_BIN_L4SYS, 2 + _words(24), 24,
                                  text=data, text_at=2))


async def fiasco_tbuf_clear():
    await _kdebug(_TRACE + _lib.TBUF_OP_CLEAR, 1)


async def fiasco_tbuf_dump():
    await _kdebug(_TRACE + _lib.TBUF_OP_DUMP, 1)


async def _tbuf_query(op):
    u = l4_utcb()
    u.mr[0] = _TRACE + op
    tag = await _kobj.call(L4_BASE_DEBUGGER_CAP, l4_msgtag(L4_PROTO_DEBUGGER, 1, 0, 0).raw)
    return 0 if l4_error_u(tag, u) < 0 else int(u.mr[0])


async def fiasco_tbuf_size():
    """The trace buffer's size in bytes (entries × entry size); 0 on failure."""
    return await _tbuf_query(_lib.TBUF_OP_SIZE)


async def fiasco_tbuf_entries():
    """How many entries the trace buffer holds at most; 0 on failure."""
    return await _tbuf_query(_lib.TBUF_OP_ENTRIES)


async def fiasco_tbuf_last_committed():
    """The number of the newest entry (entries count from 1; 0: none yet)."""
    return await _tbuf_query(_lib.TBUF_OP_LAST_COMMITTED)


async def pyl4re_tbuf_read(seq):
    """(tag, record): the oldest entry still held whose number is at least `seq`, as
    (seq, time_ns, kind, cpu, thread global id, a, b, c) with object ids in a..c as
    global ids (docs/trace.md); record None if there is none (-L4_ENOENT) or on error."""
    seq = _kobj.word(seq, "pyl4re_tbuf_read", "seq")
    u = l4_utcb()
    u.mr[0] = _TRACE + _lib.TBUF_OP_READ
    u.mr[1] = seq
    tag = await _kobj.call(L4_BASE_DEBUGGER_CAP, l4_msgtag(L4_PROTO_DEBUGGER, 2, 0, 0).raw)
    if l4_error_u(tag, u) < 0:
        return tag, None
    w = [int(x) for x in u.mr[:7]]
    return tag, (w[0], w[1], w[2] & 0xFFFFFFFF, w[2] >> 32, w[3], w[4], w[5], w[6])


__all__ = ["l4_invoke_debugger", "l4_debugger_query_obj_infos", "l4_debugger_set_object_name", "l4_debugger_global_id",
           "l4_debugger_kobj_to_id", "l4_debugger_get_object_name",
           "l4_debugger_query_log_typeid", "l4_debugger_query_log_name",
           "l4_debugger_switch_log", "enter_kdebug",
           "outnstring", "outstring", "outchar", "outhex32", "outhex20", "outhex16",
           "outhex12", "outhex8", "outhex64", "outumword", "outdec", "fiasco_tbuf_log",
           "fiasco_tbuf_log_3val", "fiasco_tbuf_log_binary", "fiasco_tbuf_clear",
           "fiasco_tbuf_dump", "fiasco_tbuf_size", "fiasco_tbuf_entries",
           "fiasco_tbuf_last_committed", "pyl4re_tbuf_read"]
