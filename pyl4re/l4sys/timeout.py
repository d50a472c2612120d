"""IPC timeouts (spec §4) as plain ints, with l4sys names.

An `l4_timeout_s` is a 16-bit int: relative `exponent << 10 | mantissa` meaning m·2^e µs
(raw 0 = never, 0x400 = zero), or absolute `0x8000 | pos` with the deadline in BR[pos].
An `l4_timeout_t` pair is a 32-bit int, send timeout in the high half. The C functions that
update a pair through a pointer return the new pair here. Unlike l4sys, which masks, the
builders refuse a mantissa, exponent or half that does not fit. No clock is read here.
"""
from . import _check
from .consts import (
    L4_IPC_TIMEOUT_0, L4_IPC_TIMEOUT_NEVER, L4_TIMEOUT_ABS_BR_MASK, L4_TIMEOUT_ABS_MASK,
    L4_TIMEOUT_EXP_MASK, L4_TIMEOUT_EXP_SHIFT, L4_TIMEOUT_MAN_MASK, L4_TIMEOUT_SND_SHIFT,
    L4_TIMEOUT_US_MAX, L4_TIMEOUT_US_NEVER, L4_UTCB_GENERIC_BUFFERS_SIZE,
)
from .utcb import l4_utcb

_HALF_MASK = (1 << L4_TIMEOUT_SND_SHIFT) - 1          # one l4_timeout_s
_PAIR_MASK = (1 << (2 * L4_TIMEOUT_SND_SHIFT)) - 1    # an l4_timeout_t
_U64_MAX = L4_TIMEOUT_US_NEVER
# The kernel reads the deadline from BR[min(pos, 58 - 1)] on 64-bit (one BR per value);
# any pos above that would silently alias BR57, so it is refused.
_ABS_POS_MAX = min(L4_TIMEOUT_ABS_BR_MASK, L4_UTCB_GENERIC_BUFFERS_SIZE - 1)


def _half(t, what):
    if t.__class__ is int and 0 <= t <= _HALF_MASK:
        return t
    return _check.in_range(t, 0, _HALF_MASK, what, hex_=True)


def l4_timeout_rel(man, exp):
    """A relative timeout of man·2^exp µs (man 0..1023, exp 0..31)."""
    if not (man.__class__ is int and 0 <= man <= L4_TIMEOUT_MAN_MASK):
        man = _check.in_range(man, 0, L4_TIMEOUT_MAN_MASK, "l4_timeout_rel: man")
    if not (exp.__class__ is int and 0 <= exp <= L4_TIMEOUT_EXP_MASK):
        exp = _check.in_range(exp, 0, L4_TIMEOUT_EXP_MASK, "l4_timeout_rel: exp")
    return (exp << L4_TIMEOUT_EXP_SHIFT) | man


def l4_timeout(snd, rcv):
    """The pair: send timeout in bits 16..31, receive timeout in bits 0..15."""
    return (_half(snd, "l4_timeout: snd") << L4_TIMEOUT_SND_SHIFT) | _half(rcv, "l4_timeout: rcv")


def l4_ipc_timeout(snd_man, snd_exp, rcv_man, rcv_exp):
    return l4_timeout(l4_timeout_rel(snd_man, snd_exp), l4_timeout_rel(rcv_man, rcv_exp))


def _pair(to, what):
    if to.__class__ is int and 0 <= to <= _PAIR_MASK:
        return to
    return _check.in_range(to, 0, _PAIR_MASK, what, hex_=True)


def l4_snd_timeout(snd, to):
    """`to` with its send half replaced by `snd` (C updates *to in place)."""
    to = _pair(to, "l4_snd_timeout: to")
    return (_half(snd, "l4_snd_timeout: snd") << L4_TIMEOUT_SND_SHIFT) | (to & _HALF_MASK)


def l4_rcv_timeout(rcv, to):
    """`to` with its receive half replaced by `rcv` (C updates *to in place)."""
    to = _pair(to, "l4_rcv_timeout: to")
    return (to & (_HALF_MASK << L4_TIMEOUT_SND_SHIFT)) | _half(rcv, "l4_rcv_timeout: rcv")


def l4_timeout_is_absolute(t):
    return bool(_half(t, "l4_timeout_is_absolute: t") & L4_TIMEOUT_ABS_MASK)


def l4_timeout_rel_get(t):
    """The duration in µs of a relative timeout; L4_TIMEOUT_US_NEVER for never (0)."""
    t = _half(t, "l4_timeout_rel_get: t")
    if t == L4_IPC_TIMEOUT_NEVER:
        return L4_TIMEOUT_US_NEVER
    if t & L4_TIMEOUT_ABS_MASK:
        raise ValueError(f"l4_timeout_rel_get: {t:#06x} is an absolute timeout "
                         "(its deadline is in a buffer register)")
    return (t & L4_TIMEOUT_MAN_MASK) << ((t >> L4_TIMEOUT_EXP_SHIFT) & L4_TIMEOUT_EXP_MASK)


def l4_timeout_get(cur, t):
    """The deadline of `t` counted from clock value `cur`: 0 for an absolute timeout (as
    l4sys: its value is not in `t`), L4_TIMEOUT_US_NEVER for never (l4sys would wrap)."""
    cur = _check.in_range(cur, 0, _U64_MAX, "l4_timeout_get: cur", hex_=True)
    t = _half(t, "l4_timeout_get: t")
    if t & L4_TIMEOUT_ABS_MASK:
        return 0
    if t == L4_IPC_TIMEOUT_NEVER:
        return L4_TIMEOUT_US_NEVER
    return min(cur + l4_timeout_rel_get(t), _U64_MAX)


def l4_timeout_from_us(us):
    """The shortest relative timeout not shorter than `us` µs (rounds up, so it never fires
    early): 0 gives L4_IPC_TIMEOUT_0; above L4_TIMEOUT_US_MAX (incl. ~0) it is never."""
    if not (us.__class__ is int and 0 <= us <= _U64_MAX):
        us = _check.in_range(us, 0, _U64_MAX, "l4_timeout_from_us: us", hex_=True)
    if us == 0:
        return L4_IPC_TIMEOUT_0
    if us > L4_TIMEOUT_US_MAX:
        return L4_IPC_TIMEOUT_NEVER
    e = us.bit_length() - 10          # msb(us) - 9: leaves a 10-bit mantissa
    if e < 0:
        e = 0
    m = -(-us >> e)                   # ceil(us / 2^e)
    if m > L4_TIMEOUT_MAN_MASK:       # rounding up reached 1024
        e += 1
        m >>= 1
    if e > L4_TIMEOUT_EXP_MASK:
        # us > 1023·2^31: no relative encoding is long enough, and "never" is the only
        # value that does not fire early (an exponent of 32 would set the absolute bit).
        return L4_IPC_TIMEOUT_NEVER
    return (e << L4_TIMEOUT_EXP_SHIFT) | m


def l4_timeout_abs_u(val, pos, utcb):
    """Stores the absolute deadline `val` (kernel clock, µs) in utcb.br[pos] and returns the
    absolute timeout that names it (0x8000 | pos)."""
    if not (val.__class__ is int and 0 <= val <= _U64_MAX):
        val = _check.in_range(val, 0, _U64_MAX, "l4_timeout_abs_u: val", hex_=True)
    if not (pos.__class__ is int and 0 <= pos <= _ABS_POS_MAX):
        pos = _check.in_range(pos, 0, _ABS_POS_MAX, "l4_timeout_abs_u: pos")
    utcb.br[pos] = val
    return L4_TIMEOUT_ABS_MASK | pos


def l4_timeout_abs(val, pos, utcb=None):
    """As l4_timeout_abs_u on the current thread's UTCB, or on `utcb` if given."""
    return l4_timeout_abs_u(val, pos, utcb if utcb is not None else l4_utcb())


__all__ = [
    "l4_timeout_rel", "l4_timeout", "l4_ipc_timeout", "l4_snd_timeout", "l4_rcv_timeout",
    "l4_timeout_is_absolute", "l4_timeout_rel_get", "l4_timeout_get", "l4_timeout_from_us",
    "l4_timeout_abs_u", "l4_timeout_abs",
]
