"""Typed integer values as in Fiasco (spec §15): VirtAddr, PhysAddr, PageNumber, CpuNumber,
CapIndex.

Each wraps one int (`.value`, the explicit escape hatch, like Fiasco's cxx::int_value) and
is immutable and hashable. Only meaningful operations exist: an absolute value plus or
minus a plain int count gives the same type, the difference of two values of one type is
a plain int, and values compare only with their own type (`==` with a number or another
kind raises TypeError instead of being silently False). Adding two addresses, mixing
physical and virtual addresses, or passing a page number where a byte address is meant
raise TypeError; conversions are explicit (`pfn()`, `phys()`, `virt()`, `selector`).

On purpose these types have neither `__index__` nor `__int__`: with either, Python and
cffi convert them silently (cffi accepts any object with `__int__` as a C integer
argument), which is exactly the slip the types exist to stop. Use `.value` at the C
boundary. This module must not grow arithmetic that has no meaning in the kernel
(multiplying addresses, shifting by plain ints).
"""
import operator

from pyl4re import _core

_lib = _core.abi()
_CAP_SHIFT = _lib.L4_CAP_SHIFT                # selector = index << 12 (§6.1)
_CAP_SLOTS = _lib.CSPACE_SLOTS                # 2^20 capability slots per task (§6.1)
_SELECTOR_SPECIAL = _lib.L4_REPLY_CAP_BIT | _lib.L4_INVALID_CAP_BIT
_FRAME_SHIFT = _lib.FRAME_SHIFT               # 4 KiB frames, as page_number_t in C
_U64_MAX = (1 << 64) - 1
_U32_MAX = (1 << 32) - 1
del _lib


def _describe(value):
    """How an argument is named in an error message: type and value."""
    if isinstance(value, _Typed):
        return repr(value)
    return f"{type(value).__name__} {value!r}"


def _plain_int(value, what):
    """`value` as an int if it is a plain integer (not bool, not a typed value), else
    TypeError naming `what`."""
    if value.__class__ is int:
        return value
    if isinstance(value, (bool, _Typed)):
        raise TypeError(f"{what}: expected a plain integer, got {_describe(value)}")
    try:
        return operator.index(value)  # numpy integers, int subclasses
    except TypeError:
        raise TypeError(f"{what}: expected a plain integer, got {_describe(value)}") from None


def _is_integer(value):
    """int, bool, numpy integers: anything Python would treat as a number here."""
    if isinstance(value, (int, float, complex)):
        return True
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _shift(shift, what):
    if shift.__class__ is int and 0 <= shift < 64:
        return shift
    shift = _plain_int(shift, what)
    if not 0 <= shift < 64:
        raise ValueError(f"{what}: shift {shift} is out of range 0..63")
    return shift


class _Typed:
    """One immutable integer of a distinct kind. Subclasses set _MAX and _HEX."""

    __slots__ = ("value",)
    _MAX = _U64_MAX
    _HEX = True
    _KIND = 0

    def __init__(self, value):
        if not (value.__class__ is int and 0 <= value <= self._MAX):
            value = self._check(value)
        _set_value(self, value)

    @classmethod
    def _check(cls, value):
        name = cls.__name__
        if isinstance(value, _Typed):
            why = _CONVERSIONS.get((type(value), cls), "the kinds do not mix")
            raise TypeError(f"cannot make a {name} from {value!r}: {why}")
        value = _plain_int(value, name)
        if not 0 <= value <= cls._MAX:
            cls._out_of_range(value)
        return value

    @classmethod
    def _out_of_range(cls, value):
        if cls._HEX:
            raise ValueError(f"{cls.__name__}: {value:#x} is out of range 0..{cls._MAX:#x}")
        raise ValueError(f"{cls.__name__}: {value} is out of range 0..{cls._MAX}")

    @classmethod
    def _make(cls, value):
        """A new instance from a value already known to be an int (range still checked)."""
        if not 0 <= value <= cls._MAX:
            cls._out_of_range(value)
        obj = _new(cls)
        _set_value(obj, value)
        return obj

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name):
        self.__setattr__(name, None)

    def __reduce__(self):
        return (type(self), (self.value,))

    def __repr__(self):
        if self._HEX:
            return f"{type(self).__name__}({self.value:#x})"
        return f"{type(self).__name__}({self.value})"

    def __format__(self, spec):
        # f"{addr:#x}" formats the number; a bare f"{addr}" gives the repr.
        return format(self.value, spec) if spec else repr(self)

    def __bool__(self):
        return self.value != 0

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return self.value == other.value
        return self._refuse_equality(other, "==")

    def __ne__(self, other):
        if other.__class__ is self.__class__:
            return self.value != other.value
        return self._refuse_equality(other, "!=")

    def _refuse_equality(self, other, op):
        """A number or another kind is refused: `VirtAddr(0x1000) == 0x1000` would be
        silently False, so an assertion comparing them would pass or fail by accident.
        Other objects (None, strings) are simply unequal."""
        if isinstance(other, _Typed) or _is_integer(other):
            raise TypeError(f"cannot compare {self!r} {op} {_describe(other)}: "
                            f"{type(self).__name__} compares only with "
                            f"{type(self).__name__} (wrap the number, or compare .value)")
        return NotImplemented

    def __hash__(self):
        # Kinds hash apart, so a set or dict mixing kinds (or ints) does not compare them.
        return hash((self._KIND, self.value))

    def _refuse_order(self, other, op):
        raise TypeError(f"cannot order {self!r} {op} {_describe(other)}: "
                        f"{type(self).__name__} compares only with {type(self).__name__}")

    def __lt__(self, other):
        if other.__class__ is self.__class__:
            return self.value < other.value
        self._refuse_order(other, "<")

    def __le__(self, other):
        if other.__class__ is self.__class__:
            return self.value <= other.value
        self._refuse_order(other, "<=")

    def __gt__(self, other):
        if other.__class__ is self.__class__:
            return self.value > other.value
        self._refuse_order(other, ">")

    def __ge__(self, other):
        if other.__class__ is self.__class__:
            return self.value >= other.value
        self._refuse_order(other, ">=")


_set_value = _Typed.value.__set__     # the slot's setter, past the refusing __setattr__
_new = object.__new__


class _Absolute(_Typed):
    """A position in some space: position ± count = position, position - position = count."""

    __slots__ = ()

    def _count(self, other, op):
        if other.__class__ is int:
            return other
        if isinstance(other, _Typed):
            if other.__class__ is self.__class__ and op == "+":
                why = f"adding two {type(self).__name__}s has no meaning"
            else:
                why = _MIXING.get((type(self), type(other)), "the kinds do not mix")
            raise TypeError(f"cannot compute {self!r} {op} {other!r}: {why}")
        if not isinstance(other, bool):
            try:
                return operator.index(other)  # numpy integers, int subclasses
            except TypeError:
                pass
        raise TypeError(f"cannot compute {self!r} {op} {_describe(other)}: only a plain "
                        f"integer count can be added to or subtracted from a "
                        f"{type(self).__name__}")

    def __add__(self, other):
        return self._make(self.value + self._count(other, "+"))

    def __radd__(self, other):
        return self._make(self.value + self._count(other, "+"))

    def __sub__(self, other):
        if other.__class__ is self.__class__:
            return self.value - other.value
        return self._make(self.value - self._count(other, "-"))

    def __rsub__(self, other):
        raise TypeError(f"cannot compute {_describe(other)} - {self!r}: subtract a count "
                        f"from a {type(self).__name__}, not the other way round")


class VirtAddr(_Absolute):
    """A virtual byte address (0..2^64-1)."""

    __slots__ = ()
    _KIND = 1

    def pfn(self, shift=_FRAME_SHIFT):
        """The number of the page holding this address (value >> shift)."""
        return PageNumber._make(self.value >> _shift(shift, "VirtAddr.pfn"))


class PhysAddr(_Absolute):
    """A physical byte address (0..2^64-1)."""

    __slots__ = ()
    _KIND = 2

    def pfn(self, shift=_FRAME_SHIFT):
        """The number of the frame holding this address (value >> shift)."""
        return PageNumber._make(self.value >> _shift(shift, "PhysAddr.pfn"))


class PageNumber(_Absolute):
    """A page or frame number: an address >> page shift, never a byte address itself."""

    __slots__ = ()
    _KIND = 3

    def phys(self, shift=_FRAME_SHIFT):
        """The physical byte address where this frame starts."""
        return PhysAddr._make(self.value << _shift(shift, "PageNumber.phys"))

    def virt(self, shift=_FRAME_SHIFT):
        """The virtual byte address where this page starts."""
        return VirtAddr._make(self.value << _shift(shift, "PageNumber.virt"))


class CapIndex(_Absolute):
    """A slot in a task's capability table (0..2^20-1); its selector is index << 12."""

    __slots__ = ()
    _KIND = 4
    _MAX = _CAP_SLOTS - 1
    _HEX = False

    @property
    def selector(self):
        return self.value << _CAP_SHIFT

    @classmethod
    def from_selector(cls, sel):
        """The index a selector names (sel >> 12). Operation flags in bits 0..3 are
        ignored; the reply-cap and invalid bits are refused (they name no slot here)."""
        if not (sel.__class__ is int and 0 <= sel <= _U64_MAX):
            sel = _plain_int(sel, "CapIndex.from_selector")
            if not 0 <= sel <= _U64_MAX:
                raise ValueError(f"CapIndex.from_selector: {sel:#x} is not a 64-bit selector")
        if sel & _SELECTOR_SPECIAL:
            raise ValueError(f"CapIndex.from_selector: {sel:#x} has the reply-cap or invalid "
                             "bit set and names no capability slot")
        return cls._make(sel >> _CAP_SHIFT)


class CpuNumber(_Typed):
    """A logical CPU number (0..2^32-1); compares and hashes, no arithmetic."""

    __slots__ = ()
    _KIND = 5
    _MAX = _U32_MAX
    _HEX = False


# Hints for the refusals, keyed by (what we have, what was asked for / mixed with).
_NO_MIX_TRANSLATE = ("physical and virtual addresses do not mix "
                     "(translate through a page table)")
_PAGE_HINT = "a PageNumber counts pages, not bytes: convert with .phys() or .virt()"
_MIXING = {
    (VirtAddr, PhysAddr): "physical and virtual addresses do not mix",
    (PhysAddr, VirtAddr): "physical and virtual addresses do not mix",
    (VirtAddr, PageNumber): _PAGE_HINT,
    (PhysAddr, PageNumber): _PAGE_HINT,
    (PageNumber, VirtAddr): "convert the address with .pfn() first",
    (PageNumber, PhysAddr): "convert the address with .pfn() first",
}
_CONVERSIONS = {
    (PageNumber, PhysAddr): "use PageNumber.phys()",
    (PageNumber, VirtAddr): "use PageNumber.virt()",
    (PhysAddr, PageNumber): "use PhysAddr.pfn()",
    (VirtAddr, PageNumber): "use VirtAddr.pfn()",
    (VirtAddr, PhysAddr): _NO_MIX_TRANSLATE,
    (PhysAddr, VirtAddr): _NO_MIX_TRANSLATE,
}


def expect(value, cls, what):
    """Returns `value` if it is a `cls` (a class or a tuple of classes); otherwise raises
    TypeError naming `what` was expected, what came instead, and how to convert."""
    if value.__class__ is cls or isinstance(value, cls):
        return value
    wanted = cls.__name__ if isinstance(cls, type) else " or ".join(c.__name__ for c in cls)
    msg = f"expected {what} ({wanted}), got {_describe(value)}"
    target = cls if isinstance(cls, type) else None
    hint = _CONVERSIONS.get((type(value), target))
    if hint is None and isinstance(value, int) and not isinstance(value, bool) and target:
        hint = f"wrap a plain number explicitly: {wanted}({value:#x})" \
            if target._HEX else f"wrap a plain number explicitly: {wanted}({value})"
    if hint:
        msg += f"; {hint}"
    raise TypeError(msg)


def accept(value, cls, what):
    """The harness surface's rule: a `cls` as is, or a plain int made into one (range
    checked); anything else (another kind, a float, a bool) is refused as `expect` does.
    Inside the package, past the surface, only `expect` is used."""
    if value.__class__ is cls:
        return value
    if value.__class__ is int:
        return cls(value)
    if not isinstance(value, (_Typed, bool)) and _is_integer(value) \
            and not isinstance(value, (float, complex)):
        return cls(operator.index(value))
    return expect(value, cls, what)


def int_value(x):
    """The plain int inside a typed value (Fiasco's cxx::int_value); same as `x.value`."""
    if isinstance(x, _Typed):
        return x.value
    raise TypeError(f"int_value: expected a pyl4re typed value, got {_describe(x)}")


__all__ = ["VirtAddr", "PhysAddr", "PageNumber", "CpuNumber", "CapIndex", "accept", "expect",
           "int_value"]
