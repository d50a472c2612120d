"""The message tag `l4_msgtag_t` (spec §1) and the l4sys functions that build and read it.

A tag is one machine word: words in bits 0..5, items in 6..11, flags in 12..15 and a signed
label above. `l4_msgtag_t` keeps that word as `.raw` (unsigned, 0..2^64-1) and is immutable,
so a tag can be a dict key and compared cheaply. This module only encodes and decodes; it
does not know about UTCBs or IPC. Unlike l4sys, which masks out-of-range fields silently,
`l4_msgtag()` refuses them (a field that does not fit would change another field's meaning).
"""
from . import _check
from .consts import (
    L4_MSGTAG_ERROR, L4_MSGTAG_FLAGS, L4_MSGTAG_ITEMS_MASK, L4_MSGTAG_ITEMS_SHIFT,
    L4_MSGTAG_LABEL_SHIFT, L4_MSGTAG_PROPAGATE, L4_MSGTAG_SCHEDULE, L4_MSGTAG_TRANSFER_FPU,
    L4_MSGTAG_WORDS_MASK, L4_MWORD_BITS, L4_PROTO_EXCEPTION, L4_PROTO_IO_PAGE_FAULT,
    L4_PROTO_PAGE_FAULT, L4_PROTO_SIGMA0,
)
from . import consts as _consts

_MWORD_MASK = (1 << L4_MWORD_BITS) - 1
_SIGN = 1 << (L4_MWORD_BITS - 1)
_LABEL_MAX = (1 << (L4_MWORD_BITS - L4_MSGTAG_LABEL_SHIFT - 1)) - 1
_LABEL_MIN = -_LABEL_MAX - 1
_ITEMS_FIELD = L4_MSGTAG_ITEMS_MASK << L4_MSGTAG_ITEMS_SHIFT

# For repr only: kernel protocol names and error codes by value (a negative label may be
# either, so both are shown).
_PROTO_NAMES = {}
for _n in dir(_consts):
    if _n.startswith("L4_PROTO_") and _n not in ("L4_PROTO_PLATFORM_CTL", "L4_PROTO_PF_EXCEPTION"):
        _PROTO_NAMES.setdefault(getattr(_consts, _n), _n)
_ERRNO_NAMES = {getattr(_consts, _n): _n for _n in dir(_consts)
                if _n.startswith("L4_E") and not _n.startswith(("L4_EIPC", "L4_ERRNOMAX"))
                and _n != "L4_EOK"}
_FLAG_NAMES = ((L4_MSGTAG_ERROR, "ERROR"), (L4_MSGTAG_PROPAGATE, "PROPAGATE"),
               (L4_MSGTAG_SCHEDULE, "SCHEDULE"), (L4_MSGTAG_TRANSFER_FPU, "TRANSFER_FPU"))
del _n


class l4_msgtag_t:
    """One message tag. `l4_msgtag_t(raw)` wraps a raw word; `l4_msgtag()` builds one."""

    __slots__ = ("raw",)

    def __init__(self, raw=0):
        if not (raw.__class__ is int and 0 <= raw <= _MWORD_MASK):
            # the signed form (l4sys stores an l4_mword_t) is accepted and normalised
            raw = _check.in_range(raw, -_SIGN, _MWORD_MASK, "l4_msgtag_t: raw", hex_=True)
            raw &= _MWORD_MASK
        _set_raw(self, raw)

    def __setattr__(self, name, value):
        raise AttributeError("l4_msgtag_t is immutable; build a new tag with l4_msgtag()")

    def __delattr__(self, name):
        self.__setattr__(name, None)

    def __reduce__(self):
        return (l4_msgtag_t, (self.raw,))

    def __eq__(self, other):
        if other.__class__ is l4_msgtag_t:
            return self.raw == other.raw
        return NotImplemented

    def __hash__(self):
        return hash(self.raw)

    # Read-only views, as the C++ l4_msgtag_t offers them.
    @property
    def label(self):
        return ((self.raw ^ _SIGN) - _SIGN) >> L4_MSGTAG_LABEL_SHIFT

    @property
    def words(self):
        return self.raw & L4_MSGTAG_WORDS_MASK

    @property
    def items(self):
        return (self.raw >> L4_MSGTAG_ITEMS_SHIFT) & L4_MSGTAG_ITEMS_MASK

    @property
    def flags(self):
        return self.raw & L4_MSGTAG_FLAGS

    def has_error(self):
        return bool(self.raw & L4_MSGTAG_ERROR)

    def is_page_fault(self):
        return self.label == L4_PROTO_PAGE_FAULT

    def is_exception(self):
        return self.label == L4_PROTO_EXCEPTION

    def is_sigma0(self):
        return self.label == L4_PROTO_SIGMA0

    def is_io_page_fault(self):
        return self.label == L4_PROTO_IO_PAGE_FAULT

    def __repr__(self):
        label = self.label
        names = []
        if label < 0:
            if label in _PROTO_NAMES:
                names.append(_PROTO_NAMES[label])
            if -label in _ERRNO_NAMES:
                names.append("-" + _ERRNO_NAMES[-label])
        hint = f" ({' or '.join(names)})" if names else ""
        flags = "|".join(n for bit, n in _FLAG_NAMES if self.raw & bit) or "0"
        return (f"l4_msgtag_t({self.raw:#x}: label={label}{hint}, words={self.words}, "
                f"items={self.items}, flags={flags})")


_set_raw = l4_msgtag_t.raw.__set__     # the slot's own setter, past __setattr__
_new = object.__new__
_INTERNED_MAX = 4096


_interned = {}                         # raw word -> tag, for tags the kernel hands back


def _tag_of_raw(raw):
    """The tag for a raw word the kernel returned (0..2^64-1, unchecked). Results repeat
    and tags are immutable, so one object per word is shared, as Python shares small
    ints: this runs on every IPC a µApp makes (traps.py looks `_interned` up itself
    first, and calls this only on a miss)."""
    tag = _interned.get(raw)
    if tag is None:
        tag = _new(l4_msgtag_t)
        _set_raw(tag, raw)
        if len(_interned) < _INTERNED_MAX:
            _interned[raw] = tag
    return tag


def l4_msgtag(label, words, items, flags):
    """Builds a tag: label (signed, fits 48 bits), words and items 0..63, flags from
    L4_MSGTAG_FLAGS. Raises TypeError/ValueError instead of masking like l4sys."""
    if not (label.__class__ is int and words.__class__ is int and items.__class__ is int
            and flags.__class__ is int and _LABEL_MIN <= label <= _LABEL_MAX
            and not (words | items) & ~L4_MSGTAG_WORDS_MASK and not flags & ~L4_MSGTAG_FLAGS):
        label, words, items, flags = _checked_fields(label, words, items, flags)
    tag = _new(l4_msgtag_t)
    _set_raw(tag, ((label << L4_MSGTAG_LABEL_SHIFT) & _MWORD_MASK) | flags
             | (items << L4_MSGTAG_ITEMS_SHIFT) | words)
    return tag


def _checked_fields(label, words, items, flags):
    """The slow path of l4_msgtag: each field converted or refused with its name."""
    label = _check.in_range(label, _LABEL_MIN, _LABEL_MAX, "l4_msgtag: label")
    words = _check.in_range(words, 0, L4_MSGTAG_WORDS_MASK, "l4_msgtag: words")
    items = _check.in_range(items, 0, L4_MSGTAG_ITEMS_MASK, "l4_msgtag: items")
    flags = _check.integer(flags, "l4_msgtag: flags")
    if flags & ~L4_MSGTAG_FLAGS:
        raise ValueError(f"l4_msgtag: flags {flags:#x} has bits outside "
                         f"L4_MSGTAG_FLAGS ({L4_MSGTAG_FLAGS:#x})")
    return label, words, items, flags


def l4_msgtag_label(t):
    """The signed label (protocol, or -L4_Exxx in a kernel reply)."""
    return ((t.raw ^ _SIGN) - _SIGN) >> L4_MSGTAG_LABEL_SHIFT


def l4_msgtag_words(t):
    return t.raw & L4_MSGTAG_WORDS_MASK


def l4_msgtag_items(t):
    return (t.raw & _ITEMS_FIELD) >> L4_MSGTAG_ITEMS_SHIFT


def l4_msgtag_flags(t):
    """The flag bits in place (a combination of L4_MSGTAG_*)."""
    return t.raw & L4_MSGTAG_FLAGS


def l4_msgtag_has_error(t):
    """True if the operation failed; then the UTCB's error TCR holds the code (§3.1)."""
    return bool(t.raw & L4_MSGTAG_ERROR)


def l4_msgtag_is_page_fault(t):
    return l4_msgtag_label(t) == L4_PROTO_PAGE_FAULT


def l4_msgtag_is_exception(t):
    return l4_msgtag_label(t) == L4_PROTO_EXCEPTION


def l4_msgtag_is_sigma0(t):
    return l4_msgtag_label(t) == L4_PROTO_SIGMA0


def l4_msgtag_is_io_page_fault(t):
    return l4_msgtag_label(t) == L4_PROTO_IO_PAGE_FAULT


__all__ = [
    "l4_msgtag_t", "l4_msgtag", "l4_msgtag_label", "l4_msgtag_words", "l4_msgtag_items",
    "l4_msgtag_flags", "l4_msgtag_has_error", "l4_msgtag_is_page_fault",
    "l4_msgtag_is_exception", "l4_msgtag_is_sigma0", "l4_msgtag_is_io_page_fault",
]
