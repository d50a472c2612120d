"""The VMM's view of a hardware VM's extended vCPU area (docs/vm.md).

`ExtState(kernel, tid)` is the extended area of vCPU thread `tid` (after
`l4_thread_vcpu_control_ext`): `get(id)` / `set(id, value)` read and write one field by
the architecture's id (x86-64: a VMCS field encoding such as 0x681E guest RIP; arm64: an
`L4_VCPU_E_*` id such as 0x8008 guest HCR; mips64: a byte offset into `l4_vm_state_t`);
`exit()` decodes the last VM exit (kind, guest-physical address, access size and
direction, the data register, a store's value, a hypercall's immediate, how far to advance
the guest ip); `inject(vector)` / `withdraw(vector)` raise and take back a virtual
interrupt as the architecture does it; `guest_ip` / `advance(n)` move the guest's ip.
Every layout fact comes from arch/<arch>/vm.c; nothing here knows an architecture.
"""
from dataclasses import dataclass

from . import _core
from .vcpu import info as vcpu_info, of as vcpu_of

_lib = _core.abi()
EXITS = {_lib.VM_EXIT_STAGE2: "stage2", _lib.VM_EXIT_HYPERCALL: "hypercall",
         _lib.VM_EXIT_HALT: "halt", _lib.VM_EXIT_IRQ: "irq",
         _lib.VM_EXIT_FAULT: "fault"}


@dataclass(frozen=True)
class VmExit:
    """One decoded exit: `kind` ("stage2", "hypercall", "halt", "irq", or None), the
    architecture's `code` (VMX exit reason, ESR_EL2, the MIPS cause), and its details."""
    kind: object
    code: int
    gpa: int
    size: int
    write: bool
    exec: bool
    reg: int
    value: int
    imm: int
    advance: int


def layout(kernel):
    """The architecture's vm_layout as a dict (data register, hypercall registers, ...)."""
    l = kernel._lib.arch_vm_layout()
    return {"data_reg": l.data_reg, "hc_regs": tuple(l.hc_regs), "len_access": l.len_access,
            "len_hypercall": l.len_hypercall, "len_halt": l.len_halt,
            "hypercall_ip_after": l.hypercall_ip_after, "ip_field": l.ip_field}


class ExtState:
    """The extended area of one extended vCPU (see module doc)."""

    def __init__(self, kernel, tid):
        if not vcpu_info(kernel, tid).ext:
            raise ValueError(f"thread {tid:#x} is no extended vCPU")
        self.kernel, self.tid = kernel, tid
        self.vcpu = vcpu_of(kernel, tid)
        self._value = kernel._ffi.new("uint64_t *")
        self._exit = kernel._ffi.new("struct vm_exit_desc *")
        self.layout = layout(kernel)

    def _field(self, id_, write):
        if isinstance(id_, bool) or not isinstance(id_, int) or not 0 <= id_ < 1 << 32:
            raise TypeError(f"a field id (int) is needed, not {id_!r}")
        k = self.kernel
        if k._lib.vm_field(k._k, [self.tid], id_, write, self._value) < 0:
            raise ValueError(f"the extended area has no field {id_:#x}")
        return int(self._value[0])

    def get(self, id_):
        """The field `id_` (see module doc)."""
        return self._field(id_, 0)

    def set(self, id_, value):
        """Write the field `id_` (its low bytes, for fields narrower than 64 bits)."""
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
            raise ValueError(f"a field value is a 64-bit int, not {value!r}")
        self._value[0] = value
        self._field(id_, 1)

    @property
    def guest_ip(self):
        f = self.layout["ip_field"]
        return self.get(f) if f else self.vcpu.ip

    @guest_ip.setter
    def guest_ip(self, ip):
        f = self.layout["ip_field"]
        if f:
            self.set(f, ip)
        else:
            self.vcpu.ip = ip

    def advance(self, n):
        """Move the guest ip past an instruction of n bytes (an emulated one)."""
        self.guest_ip = self.guest_ip + n

    def exit(self):
        """The last VM exit, decoded (VmExit)."""
        k, e = self.kernel, self._exit
        k._lib.vm_exit_decode(k._k, [self.tid], e)
        return VmExit(EXITS.get(e.exit), int(e.code), int(e.gpa), int(e.size), bool(e.write),
                      bool(e.exec), int(e.reg), int(e.value), int(e.imm), int(e.advance))

    def complete_load(self, exit_, value):
        """Finish an emulated load: the value into its register, the ip past it."""
        self.vcpu.r[exit_.reg] = value & ((1 << 8 * exit_.size) - 1 if exit_.size else ~0)
        self.advance(exit_.advance)

    def inject(self, vector):
        """Raise virtual interrupt `vector` (ValueError if the architecture has no such
        vector, RuntimeError if every slot is taken)."""
        self._inject(vector, 1)

    def withdraw(self, vector):
        """Take back virtual interrupt `vector` (a MIPS level line the guest acknowledged)."""
        self._inject(vector, 0)

    def _inject(self, vector, raise_):
        if isinstance(vector, bool) or not isinstance(vector, int) or not 0 <= vector < 1 << 32:
            raise ValueError(f"a vector is an int, not {vector!r}")
        k = self.kernel
        rc = k._lib.vm_inject(k._k, [self.tid], vector, raise_)
        if rc == -_lib.L4_EBUSY:
            raise RuntimeError(f"no free injection slot for vector {vector}")
        if rc < 0:
            raise ValueError(f"vector {vector} does not exist on this architecture")


def is_vm(kernel, task_id):
    """Whether the task object `task_id` is a VM."""
    rc = kernel._lib.task_is_vm(kernel._k, [task_id])
    if rc < 0:
        raise ValueError(f"{task_id:#x} is no task")
    return bool(rc)


def ext_state():
    """The running µApp thread's own extended area (an extended vCPU's VMM)."""
    from . import traps
    cur = traps.running()
    return ExtState(cur.kernel, cur.id)
