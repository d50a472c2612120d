"""Memory access for µApps: `await pyl4re.mem.read(va, n)`, `write`, `load`, `store`,
`fetch` (§10.1).

Each access is translated by the kernel through the task's page table (a software TLB per
CPU makes repeated hits cheap) and then done directly in physical memory. An access the
page table cannot satisfy is a page fault: the kernel sends the page-fault IPC to the
thread's pager and the thread waits; when the pager has answered, the access is retried.
A fault the pager refuses (or an access outside user space) becomes the CPU's page-fault
exception, as in Fiasco (§10.1): the thread calls its exception handler, and goes on at
the ip the reply sets, or tries the access again. Without an exception handler, or
without a pager at all (Fiasco kills such a thread), it raises `PageFaultError`, saying
why: what the pager's reply did (docs/pager.md). Addresses are ints or `VirtAddr`; a
physical address is refused. Values are little-endian.
"""
from . import _core, traps
from .types import PhysAddr, PageNumber, VirtAddr

READ, WRITE, EXEC = 4, 2, 1             # L4_FPAGE_RO, L4_FPAGE_W, L4_FPAGE_X


class PageFaultError(RuntimeError):
    """An access at `address` that no pager resolved. `reason` says why in words (what
    the pager's reply did: no map item, an fpage it does not hold, an address sigma0 does
    not own, ...); `kind` is the short name of that case (e.g. "no_item", "sigma0_taken")."""

    def __init__(self, address, reason, kind="unresolved"):
        self.address = address
        self.reason = reason
        self.kind = kind
        super().__init__(f"unresolved page fault at {address:#x}: {reason}")


# enum fault_reason (kernel_c/pyl4re.h) -> short name: FAULT_NO_ITEM -> "no_item"
FAULT_KINDS = {v: n[len("FAULT_"):].lower()
               for n, v in _core.abi_build()[0].typeof("enum fault_reason").relements.items()}


def _rights(bits):
    return "".join(c for c, b in (("r", READ), ("w", WRITE), ("x", EXEC)) if bits & b) or "none"


def fault_reason(kernel, reason, address, access, label, ctl, fpage, owner):
    """Why a fault stayed unresolved, in words: from the kernel's fault record (the
    mem_result of the access, or the last error)."""
    from .l4sys import l4_fpage_t, l4sys_errtostr
    kind = FAULT_KINDS.get(reason, "unresolved")
    fp = l4_fpage_t(fpage) if fpage else None
    base = ctl & ~0xFFF
    if kind == "no_pager":
        return ("the thread has no pager (its pager selector is invalid or names an empty "
                "slot)")
    if kind == "not_user":
        return f"outside the user address space (above {kernel.arch_info['user_max']:#x})"
    if kind == "pager_gone":
        return ("the pager capability names no object (the page-fault IPC failed with "
                "L4_IPC_ENOT_EXISTENT)")
    if kind == "pager_error":
        return f"the pager replied with the error label {label} ({l4sys_errtostr(label)})"
    if kind == "alien":
        return ("the thread is an alien: its page faults go to its exception handler, "
                "never to its pager, and it has none")
    if kind == "no_item":
        return "the pager replied without a map item, and nothing else mapped the page"
    if kind == "too_small":
        return f"the pager's map item {fp!r} is smaller than a page"
    if kind == "elsewhere":
        return (f"the pager's map item {fp!r} with send base {base:#x} lands elsewhere: "
                f"the send base (the control word's hot spot) chooses where it goes in "
                f"the whole-space receive window, so it must be the fault address")
    if kind == "rights":
        return (f"the pager's map item {fp!r} gives rights {_rights(fpage & 7)}, the "
                f"access needs {_rights(access)}")
    if kind == "not_held":
        return (f"the pager's map item {fp!r} names memory the pager does not hold with "
                f"rights {_rights(access)}: a pager can only map what is mapped to it")
    stats = kernel.frames.stats()
    first = stats["sigma0_first_pfn"] << 12
    end = first + (stats["sigma0_frames"] << 12)
    page = address & ~((1 << kernel.arch_info["page_shift"]) - 1)
    if kind == "sigma0_not_ram":
        return (f"sigma0 does not own the frame at {page:#x}: it maps va == pa only inside "
                f"the memory it owns, {first:#x}..{end:#x} (below is the kernel's pool, "
                f"above is no RAM)")
    if kind == "sigma0_kernel":
        return f"sigma0 keeps the frame at {page:#x} for the kernel (the KIP)"
    if kind == "sigma0_taken":
        return (f"sigma0 gave the frame at {page:#x} to {kernel._harness.sigma0_owner(owner)} "
                f"first: it maps each frame to the first owner that asks")
    return "the pager did not resolve it"


def _fault_error(kernel, res):
    reason = fault_reason(kernel, res.reason, res.fault_addr, res.access, res.label, res.ctl,
                          res.fpage, res.owner)
    return PageFaultError(res.fault_addr, reason, FAULT_KINDS.get(res.reason, "unresolved"))


def _va(va):
    if isinstance(va, VirtAddr):
        return va.value
    if isinstance(va, (PhysAddr, PageNumber)) or isinstance(va, bool) or not isinstance(va, int):
        raise TypeError(f"a virtual address (int or VirtAddr) is needed, not {va!r}")
    if not 0 <= va < 1 << 64:
        raise ValueError(f"address {va:#x} does not fit 64 bits")
    return va


def _access(cur, va, access):
    """One try in C; its status (the result is in the kernel's mem_result). A fault a
    native pager resolves at once is retried inside the call."""
    return cur.mem_access(cur.kk, cur.ref, [va], access, cur.mem_result, cur.next)


async def _page(cur, va, access, status):
    """(physical address, bytes left in its 4 KiB page) of va, given the status of the
    try just made: waits for the pager and tries again as long as it takes."""
    k = cur.kernel
    lib, res = k._lib, k._mem_result
    while True:
        if status == lib.SYS_DONE:
            return res.pa.raw, res.avail
        if status in (lib.SYS_SUSPEND, lib.SYS_SWITCH):   # page-fault IPC: wait for the pager
            await (traps._suspend() if status == lib.SYS_SUSPEND else traps._switched())
            status = lib.mem_fault_done(k._k, cur.ref, res)
            if status == lib.SYS_DONE:                   # resolved (or to be retried): again
                status = _access(cur, va, access)
                continue
        if status == lib.SYS_UPCALL:         # a vCPU upcall (a fault it handles, an IRQ)
            await traps._suspend()             # resumed: make the access again
            status = _access(cur, va, access)
            continue
        if status == lib.SYS_FAULT:
            if res.reason != lib.FAULT_NO_PAGER and await _fault_exception(cur, va, access):
                status = _access(cur, va, access)         # the handler answered: again
                continue
            raise _fault_error(k, res)
        if status == lib.SYS_GONE:
            raise traps.ThreadGone()
        raise RuntimeError(f"memory access refused by the kernel ({status})")


async def _fault_exception(cur, va, access):
    """The unresolved fault at va as the CPU's page-fault exception to the thread's
    handler. False if it has none, the exception IPC failed or the handler refused it (a
    negative reply label); if the reply moves the thread, its code ends here."""
    k = cur.kernel
    lib = k._lib
    status = lib.thread_page_fault_exception(k._k, cur.ref, [va], access)
    if status == lib.SYS_GONE:
        raise traps.ThreadGone()
    if status != lib.SYS_SUSPEND:
        return False
    await traps._suspend()
    refused = cur.next.tag >> 63       # a negative reply label: the handler refuses it
    out = k._exc_result
    lib.thread_exception_done(k._k, cur.ref, out)
    if out.ip_changed:
        raise traps.JumpTo(out.ip)
    # An exception IPC that failed (nobody heard it) or was refused: the fault stands.
    return bool(out.handled) and not refused


async def _span(cur, va, n, access, status):
    """(physical address, length) pieces covering [va, va + n), n > 0; `status`: of the
    try at va just made."""
    pieces = []
    while True:
        pa, avail = await _page(cur, va, access, status)
        step = min(n, avail)
        pieces.append((pa, step))
        va += step
        n -= step
        if n <= 0:
            return pieces
        status = _access(cur, va, access)


async def _bytes(va, n, access):
    """The n > 0 bytes at va, as a bytes object; one page's worth goes the short way (a
    hit costs one call into C and no further coroutine)."""
    cur = traps._current[0] or traps.running()
    mem = cur.kernel._physbytes
    status = _access(cur, va, access)
    if status == 0:
        res = cur.mem_result
        if res.avail >= n:
            pa = res.pa.raw
            return mem[pa:pa + n].tobytes()
    return b"".join(mem[pa:pa + m].tobytes()
                    for pa, m in await _span(cur, va, n, access, status))


async def read(va, n):
    """n bytes at va."""
    va = _va(va)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"a byte count is a non-negative int, not {n!r}")
    return await _bytes(va, n, READ) if n else b""


async def write(va, data):
    """Write bytes at va."""
    va = _va(va)
    data = memoryview(bytes(data))
    if not data.nbytes:
        return
    cur = traps._current[0] or traps.running()
    mem = cur.kernel._physbytes
    status = _access(cur, va, WRITE)
    if status == 0:
        res = cur.mem_result
        if res.avail >= data.nbytes:
            pa = res.pa.raw
            mem[pa:pa + data.nbytes] = data
            return
    done = 0
    for pa, m in await _span(cur, va, data.nbytes, WRITE, status):
        mem[pa:pa + m] = data[done:done + m]
        done += m


def _size(size):
    if size not in (1, 2, 4, 8):
        raise ValueError(f"size must be 1, 2, 4 or 8 bytes, not {size!r}")
    return size


async def load(va, size=8):
    """An unsigned little-endian integer of `size` bytes at va."""
    return int.from_bytes(await _bytes(_va(va), _size(size), READ), "little")


async def store(va, value, size=8):
    """Store an unsigned integer of `size` bytes at va."""
    size = _size(size)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{value!r} does not fit {size} bytes")
    await write(va, value.to_bytes(size, "little"))


async def fetch(va):
    """An instruction fetch at va (an execute access): the 4-byte word there."""
    return int.from_bytes(await _bytes(_va(va), 4, EXEC), "little")
