"""What a control-plane handler works with: one slow-path entry and the answers it gives.

`Invocation` is a kernel entry as a handler sees it (the caller, its UTCB, the message tag,
the invoked object and the rights it was invoked with). The helpers build the answers every
handler gives (a reply tag, an IPC error, a refusal for a missing right) and read what
several protocols carry (an object named by a send item, a signed word). The handler
modules import from here and the dispatcher imports the handlers, so imports go one way.
"""
from .. import _core

_lib = _core.abi()

_U64 = (1 << 64) - 1


class Invocation:
    """One slow-path entry as a handler sees it."""
    __slots__ = ("kernel", "thread", "task", "utcb", "tag", "dest", "obj", "type", "rights",
                 "attrs", "needed")

    def __init__(self, kernel, cur, res, dest, tag):
        self.kernel = kernel
        self.thread = cur.thread
        self.task = cur.task
        self.utcb = cur.utcb
        self.needed = 0          # a handler refusing for a missing right names it here
        self.tag = tag
        self.dest = dest
        self.obj = res.obj.raw
        self.type = res.type
        self.rights = res.rights
        self.attrs = res.attrs

    @property
    def label(self):
        raw = self.tag
        return (raw >> 16) - (1 << 48) if raw >> 63 else raw >> 16

    @property
    def words(self):
        return self.tag & 0x3F

    @property
    def items(self):
        return (self.tag >> 6) & 0x3F

    @property
    def has_send(self):
        return bool(self.dest & _lib.L4_SYSF_SEND)

    @property
    def has_receive(self):
        return bool(self.dest & _lib.L4_SYSF_RECV)

    def mr(self, i):
        return int(self.utcb.mr[i])


def reply(result, words=0, items=0):
    """A reply tag: label = result (0, a value, or -L4_Exxx), words and items."""
    return ((result << 16) | (words & 0x3F) | ((items & 0x3F) << 6)) & _U64


def ipc_error(code):
    """A reply that is an IPC error instead (the error TCR gets `code`)."""
    return ("ipc-error", code)


def item_object(inv, n, want_type=None):
    """The object named by the n-th send item of the invocation (§8.0): (id, type, rights),
    or an error answer: missing item -L4_EINVAL, not an object fpage Overflow, wrong kind
    -L4_EINVAL. The kernel only looks the capability up; nothing is mapped."""
    if n >= inv.items:
        return None, reply(-_lib.L4_EINVAL)
    pos = inv.words + 2 * n
    if pos + 1 >= 63:
        return None, ipc_error(_lib.L4_IPC_SEMSGCUT)
    ctl, fp = inv.mr(pos), inv.mr(pos + 1)
    if not ctl & _lib.L4_ITEM_MAP or (fp >> 4) & 3 != 3:
        return None, ipc_error(_lib.L4_IPC_SEMSGCUT)
    k = inv.kernel
    info = k._ffi.new("struct cap_info *")
    index = fp >> 12
    if index >= 1 << 20 or k._lib.cspace_lookup(k._k, [inv.task], [index], info) < 0:
        return None, reply(-_lib.L4_EINVAL)
    if want_type is not None and info.type != want_type:
        return None, reply(-_lib.L4_EINVAL)
    # The rights the item carries limit what the capability gives (fpage rights).
    return (info.obj.raw, info.type, info.rights & (fp & 0xF)), None


def refuse(inv, right):
    """-L4_EPERM because the invoked (or an item's) capability lacks `right`; the right is
    noted for explain_last_error()."""
    inv.needed = right
    return reply(-_lib.L4_EPERM)


def signed(word):
    """A message word read as the kernel's signed Smword."""
    return word - (1 << 64) if word >> 63 else word
