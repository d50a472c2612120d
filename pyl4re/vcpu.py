"""The vCPU state area (`l4_vcpu_state_t`, §11.1) as Python sees it: a structured numpy view
over the physical memory the kernel reads and writes, never a copy.

`VcpuState(kernel, pa)` lays the fields out at the offsets of this build's architecture
(arch/<arch>/vcpu.c says where each one is; nothing here knows an architecture). Fields:
`version`, `user_data`, `r` (the interrupted registers, l4_exc_regs_t words, a uint64 array
view), `i` (`i.tag`, `i.label`: an IPC or IRQ message an upcall delivered), `state`,
`saved_state`, `sticky_flags`, `user_task`, `entry_sp`, `entry_ip`, `reserved_sp`; plus the
named registers of `r` (`ip`, `sp`, `flags`, `pfa`, `err`, `trapno`) and `event` (what an
upcall was: libvcpu's classifiers). `state()` is the running vCPU's own area: the entry
function of an upcall also receives it as its argument (docs/vcpu.md); `of(kernel, tid)`
is any thread's, for harnesses.
"""
import numpy as np

from . import traps

_NO_WORD = 0xFF
EVENT_NAMES = {1: "ipc", 2: "page_fault", 3: "exception", 4: "syscall", 5: "resume_irq"}


def layout(kernel):
    """The architecture's vcpu_layout as a dict of ints (offsets, sizes, r word indices)."""
    l = kernel._lib.arch_vcpu_layout()
    names = [f[0] for f in kernel._ffi.typeof("struct vcpu_layout").fields]
    return {n: int(getattr(l, n)) for n in names}


def _dtype(l):
    """The numpy dtype of l4_vcpu_state_t at this architecture's offsets."""
    ipc = np.dtype({"names": ["tag", "label"], "formats": ["<u8", "<u8"],
                    "offsets": [l["i_tag"] - l["i"], l["i_label"] - l["i"]],
                    "itemsize": l["state"] - l["i"]})
    fields = [("version", "<u8", 0), ("user_data", ("<u8", 7), 8),
              ("r", ("<u8", l["r_words"]), l["r"]), ("i", ipc, l["i"]),
              ("state", "<u2", l["state"]), ("saved_state", "<u2", l["saved_state"]),
              ("sticky_flags", "<u2", l["sticky_flags"]), ("user_task", "<u8", l["user_task"]),
              ("entry_sp", "<u8", l["entry_sp"]), ("entry_ip", "<u8", l["entry_ip"]),
              ("reserved_sp", "<u8", l["reserved_sp"])]
    return np.dtype({"names": [f[0] for f in fields], "formats": [f[1] for f in fields],
                     "offsets": [f[2] for f in fields], "itemsize": l["state_size"]})


class IpcRegs:
    """`i` of the state area: the tag and label of the message an upcall delivered."""
    __slots__ = ("_a",)

    def __init__(self, a):
        self._a = a

    tag = property(lambda self: int(self._a["tag"]),
                   lambda self, v: self._a.__setitem__("tag", v))
    label = property(lambda self: int(self._a["label"]),
                     lambda self, v: self._a.__setitem__("label", v))


def _field(name):
    def get(self):
        return int(self.array[name])

    def set_(self, value):
        self.array[name] = value
    return property(get, set_, doc=f"l4_vcpu_state_t.{name}")


class VcpuState:
    """One vCPU state area (see module doc)."""

    def __init__(self, kernel, pa):
        l = layout(kernel)
        pa = int(pa)
        if not (0 < pa and pa + l["state_size"] <= kernel.memory and not pa & 7):
            raise ValueError(f"no vCPU state area fits at physical address {pa:#x}")
        self.kernel = kernel
        self.pa = pa
        self.layout = l
        self.array = np.ndarray((), dtype=_dtype(l), buffer=kernel.physmem, offset=pa)
        self.r = self.array["r"]              # views: writing them writes the area
        self.user_data = self.array["user_data"]
        self.i = IpcRegs(self.array["i"])

    version = _field("version")
    state = _field("state")
    saved_state = _field("saved_state")
    sticky_flags = _field("sticky_flags")
    user_task = _field("user_task")
    entry_sp = _field("entry_sp")
    entry_ip = _field("entry_ip")
    reserved_sp = _field("reserved_sp")

    def _reg(index_name):
        def get(self):
            return int(self.r[self.layout[index_name]])

        def set_(self, value):
            self.r[self.layout[index_name]] = value
        return property(get, set_, doc=f"r's {index_name[2:]} word")

    ip = _reg("r_ip")
    sp = _reg("r_sp")
    flags = _reg("r_flags")
    pfa = _reg("r_pfa")
    err = _reg("r_err")
    del _reg

    @property
    def trapno(self):
        """The trap number in r: its own word, or the arch's field of err."""
        l = self.layout
        if l["r_trapno"] != _NO_WORD:
            return int(self.r[l["r_trapno"]])
        return int(self.r[l["r_err"]]) >> l["r_trapno_shift"]

    @property
    def event(self):
        """What the last upcall was, from r as libvcpu reads it: "ipc" (an IPC or IRQ
        message in i), "page_fault" (address in pfa), "exception" or "syscall"."""
        k = self.kernel
        ptr = k._ffi.cast("uint64_t *", k._ffi.from_buffer(self.r))
        return EVENT_NAMES[k._lib.arch_vcpu_classify(ptr)]

    def regs(self):
        """A copy of r (to keep a user context while another runs)."""
        return self.r.copy()

    def set_regs(self, saved):
        """Write back a copy regs() took."""
        self.r[:] = saved

    def __repr__(self):
        return (f"<VcpuState at {self.pa:#x} state={self.state:#x} "
                f"saved_state={self.saved_state:#x} ip={self.ip:#x}>")


def info(kernel, tid):
    """The kernel's vcpu_info for thread `tid` (state area pa/va, user task, user mode)."""
    if isinstance(tid, bool) or not isinstance(tid, int) or not 0 <= tid < 1 << 64:
        raise TypeError(f"a thread id (int) is needed, not {tid!r}")
    out = kernel._ffi.new("struct vcpu_info *")
    if kernel._lib.vcpu_info(kernel._k, [tid], out) < 0:
        raise ValueError(f"{tid:#x} is no live thread")
    return out


def of(kernel, tid):
    """For harnesses: the state area of thread `tid` as a VcpuState, or None if it is no
    vCPU."""
    pa = info(kernel, tid).state.raw
    return VcpuState(kernel, pa) if pa else None


def state():
    """The running µApp thread's own vCPU state area (RuntimeError if it has none)."""
    cur = traps.running()
    if cur.vcpu is None:
        pa = info(cur.kernel, cur.id).state.raw
        if not pa:
            raise RuntimeError("the running thread is not a vCPU (l4_thread_vcpu_control first)")
        cur.vcpu = VcpuState(cur.kernel, pa)
    return cur.vcpu
