"""Vcon (virtual console) calls for µApps, with l4sys names and argument order (§8.9; the
kernel's Log object at env.log speaks this protocol, as moe's log objects do).

As in l4sys: `l4_vcon_send` is a send-only IPC with L4_MSGTAG_SCHEDULE (the kernel sends
no reply: the returned tag only tells whether the send failed); `l4_vcon_write` cuts the
data at L4_VCON_WRITE_SIZE and returns how much it sent or an error; `l4_vcon_read`
returns l4sys's int (an error, the count, or size + 1 when more input waits) together
with the bytes, which l4sys returns through its buffer. Buffers are bytes (or str, sent
as UTF-8). Unlike l4sys, sizes beyond what the message registers hold are refused.
"""
from dataclasses import dataclass

import numpy as np

from .. import traps
from . import _check, _kobj
from .consts import (
    L4_IPC_NEVER, L4_MSGTAG_SCHEDULE, L4_PROTO_LOG, L4_SYSF_SEND, L4_VCON_GET_ATTR_OP,
    L4_VCON_READ_OP, L4_VCON_READ_SIZE, L4_VCON_READ_SIZE_MASK, L4_VCON_READ_STAT_DONE,
    L4_VCON_SET_ATTR_OP, L4_VCON_WRITE_OP, L4_VCON_WRITE_SIZE,
)
from .errors import l4_error, l4_error_u
from .msgtag import l4_msgtag, l4_msgtag_has_error
from .utcb import l4_utcb

_WORD = 8
_SEL_FLAGS = 0xF


@dataclass
class l4_vcon_attr_t:
    """Console attributes: input, output and local flags (L4_VCON_* values)."""
    i_flags: int = 0
    o_flags: int = 0
    l_flags: int = 0

    def set_raw(self):
        """No processing of the characters at all (l4_vcon_attr_t::set_raw)."""
        l4_vcon_set_attr_raw(self)


def l4_vcon_set_attr_raw(attr):
    attr.i_flags = attr.o_flags = attr.l_flags = 0


def _data(buf, size, fn):
    if isinstance(buf, str):
        buf = buf.encode()
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise TypeError(f"{fn}: buf must be bytes or str, not {type(buf).__name__}")
    buf = bytes(buf)
    if size is None:
        return buf
    size = _check.in_range(size, 0, len(buf), f"{fn}: size")
    return buf[:size]


async def _send(vcon, data):
    u = l4_utcb()
    u.mr[0] = L4_VCON_WRITE_OP
    u.mr[1] = len(data)
    u.mr.view(np.uint8)[2 * _WORD:2 * _WORD + len(data)] = np.frombuffer(data, dtype=np.uint8)
    tag = l4_msgtag(L4_PROTO_LOG, 2 + (len(data) + _WORD - 1) // _WORD, 0, L4_MSGTAG_SCHEDULE)
    raw, _ = await traps.enter((vcon & ~_SEL_FLAGS) | L4_SYSF_SEND, tag.raw, 0, L4_IPC_NEVER)
    return _kobj.tag(raw)


async def l4_vcon_send(vcon, buf, size=None):
    """Send `buf` (its first `size` bytes; at most L4_VCON_WRITE_SIZE) to the console:
    a send-only IPC; check the tag with l4_ipc_error, not l4_error."""
    fn = "l4_vcon_send"
    vcon = _kobj.cap(vcon, fn, "vcon")
    data = _data(buf, size, fn)
    if len(data) > L4_VCON_WRITE_SIZE:
        raise ValueError(f"{fn}: {len(data)} bytes do not fit one message "
                         f"(L4_VCON_WRITE_SIZE = {L4_VCON_WRITE_SIZE}); use l4_vcon_write")
    return await _send(vcon, data)


async def l4_vcon_write(vcon, buf, size=None):
    """Write up to L4_VCON_WRITE_SIZE bytes of `buf`: the number sent, or an error (< 0)."""
    fn = "l4_vcon_write"
    vcon = _kobj.cap(vcon, fn, "vcon")
    data = _data(buf, size, fn)[:L4_VCON_WRITE_SIZE]
    tag = await _send(vcon, data)
    if l4_msgtag_has_error(tag):
        return l4_error(tag)
    return len(data)


async def l4_vcon_read_with_flags(vcon, size):
    """(ret, data): ret < 0 an error; ret > size: more input waits, `data` holds `size`
    bytes; else ret bytes were read. Flag bits (L4_VCON_READ_STAT_BREAK) are ORed in."""
    fn = "l4_vcon_read_with_flags"
    vcon = _kobj.cap(vcon, fn, "vcon")
    size = _check.in_range(size, 0, L4_VCON_READ_SIZE, f"{fn}: size")
    u = l4_utcb()
    u.mr[0] = (size << 16) | L4_VCON_READ_OP
    tag = await _kobj.call(vcon, l4_msgtag(L4_PROTO_LOG, 1, 0, 0).raw)
    ret = l4_error_u(tag, u)
    if ret < 0:
        return ret, b""
    mr0 = int(u.mr[0])
    r = mr0 & L4_VCON_READ_SIZE_MASK
    if not mr0 & L4_VCON_READ_STAT_DONE:
        ret = size + 1
    else:
        ret = min(r, size)
    data = u.mr.view(np.uint8)[_WORD:_WORD + min(r, size)].tobytes()
    return ret | (mr0 & ~(L4_VCON_READ_STAT_DONE | L4_VCON_READ_SIZE_MASK)), data


async def l4_vcon_read(vcon, size):
    """(ret, data) as l4_vcon_read_with_flags, without the flag bits."""
    ret, data = await l4_vcon_read_with_flags(_kobj.cap(vcon, "l4_vcon_read", "vcon"), size)
    return (ret if ret < 0 else ret & L4_VCON_READ_SIZE_MASK), data


def _attr(attr, fn):
    if not isinstance(attr, l4_vcon_attr_t):
        raise TypeError(f"{fn}: attr must be an l4_vcon_attr_t, not {type(attr).__name__}")
    return [_kobj.word(getattr(attr, f), fn, f) for f in ("i_flags", "o_flags", "l_flags")]


async def l4_vcon_set_attr(vcon, attr):
    """Set the console attributes (the kernel's Log always adds L4_VCON_ONLCR)."""
    fn = "l4_vcon_set_attr"
    vcon = _kobj.cap(vcon, fn, "vcon")
    flags = _attr(attr, fn)
    u = l4_utcb()
    u.mr[0] = L4_VCON_SET_ATTR_OP
    u.mr[1:4] = flags
    return await _kobj.call(vcon, l4_msgtag(L4_PROTO_LOG, 4, 0, 0).raw)


async def l4_vcon_get_attr(vcon):
    """(tag, attr): the console attributes, attr None if the call failed."""
    vcon = _kobj.cap(vcon, "l4_vcon_get_attr", "vcon")
    u = l4_utcb()
    u.mr[0] = L4_VCON_GET_ATTR_OP
    tag = await _kobj.call(vcon, l4_msgtag(L4_PROTO_LOG, 1, 0, 0).raw)
    if l4_error_u(tag, u) < 0:
        return tag, None
    return tag, l4_vcon_attr_t(int(u.mr[1]), int(u.mr[2]), int(u.mr[3]))


async def write_all(vcon, text):
    """pyl4re.log: all of `text` through l4_vcon_write, piece by piece; the bytes written,
    or the first error."""
    data = _data(text, None, "pyl4re.log")
    sent = 0
    while True:
        n = await l4_vcon_write(vcon, data[sent:])
        if n < 0:
            return n
        sent += n
        if sent >= len(data):
            return sent


__all__ = ["l4_vcon_attr_t", "l4_vcon_set_attr_raw", "l4_vcon_send", "l4_vcon_write",
           "l4_vcon_read", "l4_vcon_read_with_flags", "l4_vcon_set_attr", "l4_vcon_get_attr"]
