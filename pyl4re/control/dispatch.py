"""The control plane's front door: a slow-path kernel entry, dispatched by object type.

When C answers a µApp's kernel entry with SYS_SLOWPATH, the trap hands it here. The
handler for the invoked object's kind decodes the message in the caller's UTCB by the
real protocol and opcode (§8), acts through C, writes the reply words, and returns the
reply; `invoke()` then finishes the entry in C (sys_complete) so time, scheduling and the
caller's result go the one way every other entry goes.
"""
from .. import _core
from . import factory

_lib = _core.abi()

L4_MSGTAG_ERROR = _lib.L4_MSGTAG_ERROR
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


class ControlPlane:
    """Routes slow-path entries of one kernel to the handler of the invoked object's kind."""

    def __init__(self, kernel):
        # The handler modules use this module's helpers: imported here, not at the top.
        from . import debugger, gate, icu, iommu, irq, log, scheduler, task, thread
        self.kernel = kernel
        self.handlers = {
            _lib.KOBJ_FACTORY: factory.invoke,
            _lib.KOBJ_TASK: task.invoke,
            _lib.KOBJ_DMA_SPACE: task.invoke,     # a DMA space speaks the Task protocol
            _lib.KOBJ_IOMMU: iommu.invoke,
            _lib.KOBJ_THREAD: thread.invoke,
            _lib.KOBJ_GATE: gate.invoke,
            _lib.KOBJ_SCHEDULER: scheduler.invoke,
            _lib.KOBJ_ICU: icu.invoke,
            _lib.KOBJ_IRQ: irq.invoke,
            _lib.KOBJ_SEMAPHORE: irq.invoke,
            _lib.KOBJ_LOG: log.invoke,
            _lib.KOBJ_DEBUGGER: debugger.invoke,
        }

    def register(self, kind, handler):
        self.handlers[kind] = handler

    def invoke(self, cur, res, dest, tag):
        """Handles the entry described by `res` (the selector word `dest` and the `tag` it
        was made with) for the running thread `cur`; returns the kernel entry's status as
        sys_complete gives it."""
        k = self.kernel
        inv = Invocation(k, cur, res, dest, tag)
        handler = self.handlers.get(inv.type, unsupported)
        answer = handler(inv)
        err = 0
        if isinstance(answer, tuple):
            err, answer = answer[1], 0
        if err:
            k._note_error(inv, err)
        elif answer >> 63 and (answer >> 16) & 0xFFFF:
            k._note_error(inv, None, result=(answer >> 16) - (1 << 48))
        # sys_complete also ends the entry of a caller the operation took off its CPU
        # (SYS_SUSPEND) or deleted (SYS_GONE).
        return k._lib.sys_complete(k._k, [inv.thread], answer, err, cur.result)


def unsupported(inv):
    """Kernel objects whose protocols arrive with later work answer -L4_ENOSYS."""
    return reply(-_lib.L4_ENOSYS)


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
