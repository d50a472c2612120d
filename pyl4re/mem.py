"""Memory access for µApps: `await pyl4re.mem.read(va, n)`, `write`, `load`, `store`,
`fetch` (§10.1).

Each access is translated by the kernel through the task's page table (a software TLB per
CPU makes repeated hits cheap) and then done directly in physical memory. An access the
page table cannot satisfy is a page fault: the kernel sends the page-fault IPC to the
thread's pager and the thread waits; when the pager has answered, the access is retried.
A fault the pager refuses (or an access outside user space) becomes the CPU's page-fault
exception, as in Fiasco (§10.1): the thread calls its exception handler, and goes on at
the ip the reply sets, or tries the access again. Without an exception handler, or
without a pager at all (Fiasco kills such a thread), it raises `PageFaultError` and the
thread's code ends. Addresses are ints or `VirtAddr`; a physical address is refused.
Values are little-endian.
"""
from . import traps
from .types import PhysAddr, PageNumber, VirtAddr

READ, WRITE, EXEC = 4, 2, 1             # L4_FPAGE_RO, L4_FPAGE_W, L4_FPAGE_X


class PageFaultError(RuntimeError):
    """An access at `address` that no pager resolved (`reason`: no pager, refused,
    outside user space)."""

    def __init__(self, address, reason):
        self.address = address
        self.reason = reason
        super().__init__(f"unresolved page fault at {address:#x}: {reason}")


_REASONS = {1: "the thread has no pager", 2: "the pager did not resolve it",
            3: "outside the user address space"}


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
        if status == lib.SYS_FAULT:
            if res.reason != lib.FAULT_NO_PAGER and await _fault_exception(cur, va, access):
                status = _access(cur, va, access)         # the handler answered: again
                continue
            raise PageFaultError(res.fault_addr, _REASONS.get(res.reason, "?"))
        if status == lib.SYS_GONE:
            raise traps.ThreadGone()
        raise RuntimeError(f"memory access refused by the kernel ({status})")


async def _fault_exception(cur, va, access):
    """The unresolved fault at va as the CPU's page-fault exception to the thread's
    handler. False if it has none; if the reply moves the thread, its code ends here."""
    k = cur.kernel
    lib = k._lib
    status = lib.thread_page_fault_exception(k._k, cur.ref, [va], access)
    if status == lib.SYS_GONE:
        raise traps.ThreadGone()
    if status != lib.SYS_SUSPEND:
        return False
    await traps._suspend()
    out = k._exc_result
    lib.thread_exception_done(k._k, cur.ref, out)
    if out.ip_changed:
        raise traps.JumpTo(out.ip)
    return True


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
    cur = traps._running or traps.running()
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
    cur = traps._running or traps.running()
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
