"""Flexpages and map-item control words (spec §5), with l4sys names.

`l4_fpage_t` is one immutable machine word `.raw`: rights (bits 0..3), type (4..5), order
(6..11) and the address, port << 12 or capability selector (12..63). The builders check
what the encoding cannot hold (order 0..63, rights 0..15, address within 64 bits, port and
I/O order within the I/O space) and raise instead of masking; like l4sys they do not
demand size alignment, because the kernel aligns down itself. Type-specific accessors
(memaddr, obj, ioport) refuse a flexpage of another type rather than return a meaningless
number. No mapping happens here.
"""
from . import _check
from .consts import (
    L4_CAP_SHIFT, L4_FPAGE_ADDR_MASK, L4_FPAGE_ADDR_SHIFT, L4_FPAGE_CONTROL_MASK,
    L4_FPAGE_IO, L4_FPAGE_MEMORY, L4_FPAGE_OBJ, L4_FPAGE_RIGHTS_MASK, L4_FPAGE_RW,
    L4_FPAGE_SIZE_BITS, L4_FPAGE_SIZE_MASK, L4_FPAGE_SIZE_SHIFT, L4_FPAGE_SPECIAL,
    L4_FPAGE_TYPE_MASK, L4_FPAGE_TYPE_SHIFT, L4_FPAGE_W, L4_IOPORT_MAX, L4_ITEM_MAP,
    L4_MAP_ITEM_GRANT, L4_MAP_ITEM_MAP, L4_MWORD_BITS, L4_WHOLE_ADDRESS_SPACE,
    L4_WHOLE_IOADDRESS_SPACE,
)

_MWORD_MASK = (1 << L4_MWORD_BITS) - 1
_ORDER_MAX = (1 << L4_FPAGE_SIZE_BITS) - 1
_SELECTOR_LOW = (1 << L4_CAP_SHIFT) - 1          # flag / special bits below the index
_ATTR_SHIFT = 4         # the control word's attribute nibble is bits 4..7 (l4sys: "<< 4")
_CACHE_MAX = 0xF
_MEMORY_TYPE = L4_FPAGE_MEMORY << L4_FPAGE_TYPE_SHIFT
_TYPE_NAMES = {L4_FPAGE_SPECIAL: "special", L4_FPAGE_MEMORY: "memory",
               L4_FPAGE_IO: "io", L4_FPAGE_OBJ: "obj"}


class l4_fpage_t:
    """One flexpage word; `l4_fpage_t(raw)` wraps any 64-bit value."""

    __slots__ = ("raw",)

    def __init__(self, raw=0):
        if not (raw.__class__ is int and 0 <= raw <= _MWORD_MASK):
            raw = _check.in_range(raw, 0, _MWORD_MASK, "l4_fpage_t: raw", hex_=True)
        _set_raw(self, raw)

    def __setattr__(self, name, value):
        raise AttributeError("l4_fpage_t is immutable; build a new one (l4_fpage_set_rights)")

    def __delattr__(self, name):
        self.__setattr__(name, None)

    def __reduce__(self):
        return (l4_fpage_t, (self.raw,))

    def __eq__(self, other):
        if other.__class__ is l4_fpage_t:
            return self.raw == other.raw
        return NotImplemented

    def __hash__(self):
        return hash(self.raw)

    @property
    def fpage(self):
        """The raw word under l4sys's other union member name."""
        return self.raw

    def __repr__(self):
        raw = self.raw
        kind = (raw & L4_FPAGE_TYPE_MASK) >> L4_FPAGE_TYPE_SHIFT
        order = (raw & L4_FPAGE_SIZE_MASK) >> L4_FPAGE_SIZE_SHIFT
        rights = raw & L4_FPAGE_RIGHTS_MASK
        if kind == L4_FPAGE_MEMORY:
            where = f"addr={raw & L4_FPAGE_ADDR_MASK:#x}"
        elif kind == L4_FPAGE_IO:
            where = f"port={raw >> L4_FPAGE_ADDR_SHIFT:#x}"
        elif kind == L4_FPAGE_OBJ:
            where = f"cap index={raw >> L4_CAP_SHIFT}"
        elif raw == 0:
            return "l4_fpage_t(0x0: invalid)"
        elif order == L4_WHOLE_ADDRESS_SPACE and raw & ~L4_FPAGE_SIZE_MASK == 0:
            return f"l4_fpage_t({raw:#x}: all spaces)"
        else:
            where = f"page={raw >> L4_FPAGE_ADDR_SHIFT:#x}"
        return (f"l4_fpage_t({raw:#x}: {_TYPE_NAMES[kind]} {where} order={order} "
                f"rights={rights:#x})")


_set_raw = l4_fpage_t.raw.__set__
_new = object.__new__


def _make(raw):
    f = _new(l4_fpage_t)
    _set_raw(f, raw)
    return f


def _order(order, hi, what):
    if order.__class__ is int and 0 <= order <= hi:
        return order
    return _check.in_range(order, 0, hi, what)


def _rights(rights, what):
    if rights.__class__ is int and 0 <= rights <= L4_FPAGE_RIGHTS_MASK:
        return rights
    return _check.in_range(rights, 0, L4_FPAGE_RIGHTS_MASK, what, hex_=True)


def l4_fpage(address, order, rights):
    """A memory flexpage of 2^order bytes at `address` (bits below 12 are not encoded).
    Fiasco ignores memory flexpages smaller than a page (order < 12)."""
    if not (address.__class__ is int and order.__class__ is int and rights.__class__ is int
            and 0 <= address <= _MWORD_MASK and 0 <= order <= _ORDER_MAX
            and 0 <= rights <= L4_FPAGE_RIGHTS_MASK):
        address = _check.in_range(address, 0, _MWORD_MASK, "l4_fpage: address", hex_=True)
        order = _order(order, _ORDER_MAX, "l4_fpage: order")
        rights = _rights(rights, "l4_fpage: rights")
    f = _new(l4_fpage_t)
    _set_raw(f, (address & L4_FPAGE_ADDR_MASK) | (order << L4_FPAGE_SIZE_SHIFT)
             | _MEMORY_TYPE | rights)
    return f


def l4_iofpage(port, order):
    """An I/O-port flexpage of 2^order ports at `port` (rights fixed to RW, as in l4sys)."""
    if not (port.__class__ is int and 0 <= port < L4_IOPORT_MAX):
        port = _check.in_range(port, 0, L4_IOPORT_MAX - 1, "l4_iofpage: port", hex_=True)
    order = _order(order, L4_WHOLE_IOADDRESS_SPACE, "l4_iofpage: order")
    return _make((port << L4_FPAGE_ADDR_SHIFT) | (order << L4_FPAGE_SIZE_SHIFT)
                 | (L4_FPAGE_IO << L4_FPAGE_TYPE_SHIFT) | L4_FPAGE_RW)


def l4_obj_fpage(obj, order, rights):
    """An object flexpage of 2^order capability slots from selector `obj` (index << 12, or
    a CapIndex; flag and special bits are refused: they would not be encoded)."""
    if not (obj.__class__ is int and 0 <= obj <= _MWORD_MASK and obj & _SELECTOR_LOW == 0):
        obj = _check.selector(obj, "l4_obj_fpage: obj", allowed=0)
    order = _order(order, _ORDER_MAX, "l4_obj_fpage: order")
    rights = _rights(rights, "l4_obj_fpage: rights")
    return _make(obj | (order << L4_FPAGE_SIZE_SHIFT) | (L4_FPAGE_OBJ << L4_FPAGE_TYPE_SHIFT)
                 | rights)


_ALL = _make(L4_WHOLE_ADDRESS_SPACE << L4_FPAGE_SIZE_SHIFT)
_INVALID = _make(0)


def l4_fpage_all():
    """The special flexpage covering all spaces (memory, I/O and objects) at once."""
    return _ALL


def l4_fpage_invalid():
    return _INVALID


def l4_fpage_rights(f):
    return f.raw & L4_FPAGE_RIGHTS_MASK


def l4_fpage_type(f):
    return (f.raw & L4_FPAGE_TYPE_MASK) >> L4_FPAGE_TYPE_SHIFT


def l4_fpage_size(f):
    """The order (log2 of the size in bytes, ports or capability slots)."""
    return (f.raw & L4_FPAGE_SIZE_MASK) >> L4_FPAGE_SIZE_SHIFT


def l4_fpage_page(f):
    """Bits 12..63 shifted down; what they mean depends on the type."""
    return f.raw >> L4_FPAGE_ADDR_SHIFT


def _expect_type(f, kind, what):
    actual = (f.raw & L4_FPAGE_TYPE_MASK) >> L4_FPAGE_TYPE_SHIFT
    if actual != kind:
        raise ValueError(f"{what}: {f!r} is a {_TYPE_NAMES[actual]} flexpage, "
                         f"not {_TYPE_NAMES[kind]}")


def l4_fpage_memaddr(f):
    """The byte address of a memory flexpage."""
    if f.raw & L4_FPAGE_TYPE_MASK != L4_FPAGE_MEMORY << L4_FPAGE_TYPE_SHIFT:
        _expect_type(f, L4_FPAGE_MEMORY, "l4_fpage_memaddr")
    return f.raw & L4_FPAGE_ADDR_MASK


def fpage_end(f):
    """The first byte address past a memory flexpage (not an l4sys function)."""
    return l4_fpage_memaddr(f) + (1 << l4_fpage_size(f))


def l4_fpage_obj(f):
    """The capability selector of an object flexpage."""
    if f.raw & L4_FPAGE_TYPE_MASK != L4_FPAGE_OBJ << L4_FPAGE_TYPE_SHIFT:
        _expect_type(f, L4_FPAGE_OBJ, "l4_fpage_obj")
    return f.raw & L4_FPAGE_ADDR_MASK


def l4_fpage_ioport(f):
    """The first port of an I/O flexpage."""
    if f.raw & L4_FPAGE_TYPE_MASK != L4_FPAGE_IO << L4_FPAGE_TYPE_SHIFT:
        _expect_type(f, L4_FPAGE_IO, "l4_fpage_ioport")
    return f.raw >> L4_FPAGE_ADDR_SHIFT


def l4_fpage_set_rights(src, new_rights):
    """`src` with its rights replaced."""
    new_rights = _rights(new_rights, "l4_fpage_set_rights: new_rights")
    return _make((src.raw & ~L4_FPAGE_RIGHTS_MASK) | new_rights)


def l4_is_fpage_writable(fp):
    return bool(fp.raw & L4_FPAGE_W)


def l4_fpage_is_valid(fp):
    """The user-side validity test (§5.1): not the special type with order 0 (the
    invalid flexpage). The kernel's own test is only `raw != 0`."""
    return bool(fp.raw & (L4_FPAGE_TYPE_MASK | L4_FPAGE_SIZE_MASK))


def l4_fpage_contains(fpage, addr, log2size):
    """True if [addr, addr + 2^log2size) lies within the memory flexpage."""
    addr = _check.in_range(addr, 0, _MWORD_MASK, "l4_fpage_contains: addr", hex_=True)
    log2size = _order(log2size, L4_MWORD_BITS, "l4_fpage_contains: log2size")
    start = l4_fpage_memaddr(fpage)
    return start <= addr and start + (1 << l4_fpage_size(fpage)) >= addr + (1 << log2size)


def _grant(grant, what):
    if grant.__class__ is int and (grant == L4_MAP_ITEM_MAP or grant == L4_MAP_ITEM_GRANT):
        return grant
    grant = _check.integer(grant, what)
    if grant not in (L4_MAP_ITEM_MAP, L4_MAP_ITEM_GRANT):
        raise ValueError(f"{what}: {grant} is neither L4_MAP_ITEM_MAP ({L4_MAP_ITEM_MAP}) "
                         f"nor L4_MAP_ITEM_GRANT ({L4_MAP_ITEM_GRANT})")
    return grant


def l4_map_control(snd_base, cache, grant):
    """The control word of a memory map item: send base (bits below 12 dropped), the
    cacheability nibble (L4_FPAGE_CACHEABLE ...), L4_ITEM_MAP, and map or grant."""
    if not (snd_base.__class__ is int and 0 <= snd_base <= _MWORD_MASK):
        snd_base = _check.in_range(snd_base, 0, _MWORD_MASK, "l4_map_control: snd_base",
                                   hex_=True)
    if not (cache.__class__ is int and 0 <= cache <= _CACHE_MAX):
        cache = _check.in_range(cache, 0, _CACHE_MAX, "l4_map_control: cache", hex_=True)
    grant = _grant(grant, "l4_map_control: grant")
    return (snd_base & L4_FPAGE_CONTROL_MASK) | (cache << _ATTR_SHIFT) | L4_ITEM_MAP | grant


def l4_map_obj_control(snd_base, grant):
    """The control word of an object (or I/O) map item."""
    if not (snd_base.__class__ is int and 0 <= snd_base <= _MWORD_MASK):
        snd_base = _check.in_range(snd_base, 0, _MWORD_MASK, "l4_map_obj_control: snd_base",
                                   hex_=True)
    grant = _grant(grant, "l4_map_obj_control: grant")
    return (snd_base & L4_FPAGE_CONTROL_MASK) | L4_ITEM_MAP | grant


__all__ = [
    "l4_fpage_t", "l4_fpage", "l4_iofpage", "l4_obj_fpage", "l4_fpage_all",
    "l4_fpage_invalid", "l4_fpage_rights", "l4_fpage_type", "l4_fpage_size",
    "l4_fpage_page", "l4_fpage_memaddr", "l4_fpage_obj", "l4_fpage_ioport",
    "l4_fpage_set_rights", "l4_is_fpage_writable", "l4_fpage_is_valid",
    "l4_fpage_contains", "l4_map_control", "l4_map_obj_control",
]
