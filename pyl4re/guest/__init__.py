"""What runs inside a VM: guest programs (here; docs/vm.md) and the guest side of devices
(virtio.py; docs/vmm.md).

A guest program is an async function started at a guest entry point (`pyl4re.entry(fn)`,
written to the guest ip by its VMM) on an extended vCPU whose user task is a VM. It
touches guest-physical memory with `load`, `store`, `read` and `write`: every access is
translated by the kernel through the VM's nested page table (EPT, ARM stage 2, the MIPS VZ
table), so a missing or read-only mapping is a real stage-2 exit to the VMM. An access the
VMM emulates (MMIO: it advanced the guest ip past the access) returns what the VMM put in
the data register; an access it resolved by mapping memory is made again. `hypercall`
(VMCALL / HVC / HYPCALL) and `wait_for_interrupt` (HLT / WFI / WAIT) exit too. Virtual
interrupts the VMM injects reach the handler set with `on_interrupt`, at the guest's next
instruction boundary after an entry (the handler runs with interrupts masked; one more that
arrives meanwhile runs after it).

A guest that enabled its own MMU (x86-64: CR0.PG in IA-32e mode with CR3; arm64:
SCTLR_EL1.M with TTBR0_EL1 and TCR_EL1; set in the extended area by its VMM) addresses
guest-virtual memory: the kernel walks the guest's tables, each entry read through the
nested table (a missing table page is a stage-2 exit flagged as a table walk), then the
data's guest-physical address. A fault in the guest's own tables is the guest's exception,
not an exit: the access raises `GuestFault` with the architecture's syndrome (x86 #PF /
#GP and the error code, CR2 written; arm64 the data abort's ESR_EL1, FAR_EL1 written).
"""
import weakref

from .. import _core, traps
from ..vcpu import state

_lib = _core.abi()
READ, WRITE = 4, 2
KINDS = {_lib.VM_S1_TRANSLATION: "translation", _lib.VM_S1_PERMISSION: "permission",
         _lib.VM_S1_RESERVED: "reserved", _lib.VM_S1_ACCESS_FLAG: "access flag",
         _lib.VM_S1_NONCANONICAL: "non-canonical"}


class GuestFault(Exception):
    """The guest's own stage-1 translation faulted: the exception the guest takes (x86:
    `vector` 14 #PF with the error `code`, or 13 #GP(0) for a non-canonical address;
    arm64: `vector` the EC 0x25 / 0x24 and `code` the ESR_EL1 of the data abort), at
    guest-virtual `address`; `kind` names the cause, `level` the table level."""

    def __init__(self, kind, level, vector, code, address):
        super().__init__(f"guest {kind} fault at {address:#x} (level {level}, vector "
                         f"{vector:#x}, code {code:#x})")
        self.kind, self.level, self.vector, self.code, self.address = (kind, level, vector,
                                                                       code, address)


class _Guest:
    """A guest program's interrupt side: its handler, what waits for it, whether it runs."""
    __slots__ = ("handler", "queue", "busy")

    def __init__(self):
        self.handler, self.queue, self.busy = None, [], False


_guests = weakref.WeakKeyDictionary()    # kernel -> {thread id: _Guest}


def _guest(k, tid):
    return _guests.setdefault(k, {}).setdefault(tid, _Guest())


def _cur():
    cur = traps._current[0] or traps.running()
    return cur, cur.kernel


def _layout(k):
    return k._lib.arch_vm_layout()


def on_interrupt(handler):
    """Set the running guest's interrupt handler: `async def handler(vector)` (the x86
    vector, the ARM vINTID, the MIPS interrupt line 2..7). None removes it."""
    cur, k = _cur()
    _guest(k, cur.id).handler = handler


async def _interrupts(cur, k):
    """Runs the handler for what the last entry delivered (and what queued meanwhile)."""
    vector = k._lib.vm_take_injection(k._k, cur.ref)
    if vector < 0:
        return False
    g = _guest(k, cur.id)
    g.queue.append(vector)
    if g.busy:                                   # masked while its handler runs
        return True
    g.busy = True
    try:
        while g.queue:
            v = g.queue.pop(0)
            if g.handler is not None:
                await g.handler(v)
    finally:
        g.busy = False
    return True


def _check_gpa(gpa):
    if isinstance(gpa, bool) or not isinstance(gpa, int) or not 0 <= gpa < 1 << 64:
        raise TypeError(f"a guest address (int) is needed, not {gpa!r}")
    return gpa


def _check_size(size):
    if size not in (1, 2, 4, 8):
        raise ValueError(f"size must be 1, 2, 4 or 8 bytes, not {size!r}")
    return size


async def _access(gpa, access, size, value, reg=None, info=0):
    """One guest access: the host-physical address, or None when the VMM emulated it
    (then the data register holds a load's result). `reg`/`info`: the syndrome's register
    and extra bits as the architecture names them (guest machine code, machine.py);
    None: the layout's data register."""
    cur, k = _cur()
    lib = k._lib
    while True:
        if (lib.vm_guest_operand(k._k, cur.ref, size, value) if reg is None else
                lib.vm_guest_syndrome(k._k, cur.ref, size, value, reg, info)) < 0:
            raise RuntimeError("guest memory access: the thread runs no guest in a VM")
        status = cur.mem_access(cur.kk, cur.ref, [gpa], access, cur.mem_result, cur.next)
        if status == lib.SYS_DONE:
            res = cur.mem_result
            if res.avail < size:
                raise ValueError(f"guest access at {gpa:#x} crosses a page")
            return res.pa.raw, res.avail
        if status == lib.SYS_GONE:
            raise traps.ThreadGone()
        if status == lib.SYS_FAULT and cur.mem_result.reason == lib.FAULT_GUEST:
            f = k._ffi.new("struct vm_guest_fault *")
            lib.vm_guest_fault(k._k, cur.ref, f)
            raise GuestFault(KINDS.get(f.kind), int(f.level), int(f.vector), int(f.code),
                             int(f.addr))
        if status == -lib.L4_ENOSYS:
            raise NotImplementedError("the guest's translation regime is not modelled (only "
                                      "4-level IA-32e / 48-bit 4 KiB TTBR0; docs/vm.md)")
        if status != lib.SYS_UPCALL:
            raise RuntimeError(f"guest memory access refused by the kernel ({status}): "
                               f"the thread runs no guest in a VM")
        resume = await traps._suspend()            # the exit; resumed by the VMM
        await _interrupts(cur, k)
        if resume == lib.RESUME_RESULT:            # past the access: emulated
            return None, 0


async def load(gpa, size=8):
    """An unsigned little-endian integer of `size` bytes at guest address `gpa` (guest-
    physical; guest-virtual when the guest's MMU is on)."""
    gpa, size = _check_gpa(gpa), _check_size(size)
    pa, _ = await _access(gpa, READ, size, 0)
    cur, k = _cur()
    if pa is None:
        return int(state().r[_layout(k).data_reg]) & ((1 << 8 * size) - 1)
    return int.from_bytes(k._physbytes[pa:pa + size].tobytes(), "little")


async def store(gpa, value, size=8):
    """Write `value` as `size` little-endian bytes at guest address `gpa` (guest-
    physical; guest-virtual when the guest's MMU is on)."""
    gpa, size = _check_gpa(gpa), _check_size(size)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 8 * size:
        raise ValueError(f"value must be an int of {size} bytes, not {value!r}")
    pa, _ = await _access(gpa, WRITE, size, value)
    if pa is not None:
        _, k = _cur()
        k._physbytes[pa:pa + size] = value.to_bytes(size, "little")


async def read(gpa, n):
    """n bytes at guest address `gpa` (guest-physical; guest-virtual when the guest's
    MMU is on): a copy, page by page; no MMIO syndrome."""
    gpa = _check_gpa(gpa)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"a byte count is a non-negative int, not {n!r}")
    out = bytearray()
    while len(out) < n:
        pa, avail = await _access(gpa + len(out), READ, 0, 0)
        if pa is None:
            continue                               # nothing to emulate a copy with: again
        _, k = _cur()
        step = min(avail, n - len(out))
        out += k._physbytes[pa:pa + step].tobytes()
    return bytes(out)


async def write(gpa, data):
    """Write bytes at guest address `gpa` (guest-physical; guest-virtual when the
    guest's MMU is on), page by page; no MMIO syndrome."""
    gpa = _check_gpa(gpa)
    data = memoryview(bytes(data))
    done = 0
    while done < data.nbytes:
        pa, avail = await _access(gpa + done, WRITE, 0, 0)
        if pa is None:
            continue
        _, k = _cur()
        step = min(avail, data.nbytes - done)
        k._physbytes[pa:pa + step] = data[done:done + step]
        done += step


async def hypercall(number, *args, imm=0):
    """VMCALL / HVC #imm / HYPCALL imm with `number` and up to three arguments in the
    architecture's registers; returns what the VMM left in the result register."""
    if len(args) > 3:
        raise ValueError("a hypercall has at most 3 arguments")
    for v in (number, *args):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << 64:
            raise ValueError(f"hypercall registers are 64-bit ints, not {v!r}")
    if isinstance(imm, bool) or not isinstance(imm, int) or not 0 <= imm < 1 << 10:
        raise ValueError(f"imm must be an int 0..1023, not {imm!r}")
    cur, k = _cur()
    lib, regs = k._lib, _layout(k).hc_regs
    if lib.vm_guest_operand(k._k, cur.ref, 0, 0) < 0:
        raise RuntimeError("hypercall(): the thread runs no guest in a VM")
    v = state()
    for i, val in enumerate((number, *args)):
        v.r[regs[i]] = val
    while not (await _exit(lib.VM_EXIT_HYPERCALL, imm, "hypercall()"))[0]:
        pass
    return int(state().r[regs[0]])


async def _exit(why, imm, what):
    """One hypercall or halt exit (the registers as they are in r): (completed, an
    interrupt was delivered); completed when the VMM resumed past the instruction."""
    cur, k = _cur()
    lib = k._lib
    status = lib.vm_guest_exit(k._k, cur.ref, why, imm)
    if status == lib.SYS_GONE:
        raise traps.ThreadGone()
    if status != lib.SYS_UPCALL:
        raise RuntimeError(f"{what}: the thread runs no guest in a VM")
    resume = await traps._suspend()
    took = await _interrupts(cur, k)
    return resume == lib.RESUME_RESULT, took


async def wait_for_interrupt():
    """HLT / WFI / WAIT: exits to the VMM; returns once an interrupt was delivered or the
    VMM resumed the guest past the instruction."""
    _, k = _cur()
    while True:
        done, took = await _exit(k._lib.VM_EXIT_HALT, 0, "wait_for_interrupt()")
        if done or took:
            return


__all__ = ["load", "store", "read", "write", "hypercall", "wait_for_interrupt",
           "on_interrupt", "GuestFault"]
