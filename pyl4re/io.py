"""x86 I/O ports for µApps: `await pyl4re.io.inb(port)`, `inw`, `inl`, `outb(port, v)`,
`outw`, `outl` (§5.1, §10.1).

The kernel checks each access against the task's I/O space (kernel_c/iospace.c: ports a
task got as I/O flexpages, from sigma0 or a task that has them); a permitted access goes
to the device model at that port (`k.hw.io_device`; a port with none reads all ones and
ignores writes, like a floating bus). Without the port the access raises the CPU's
general-protection exception (trap 13): the thread calls its exception handler, as Fiasco
does when it is built without I/O page faults; the handler's reply may move it to another
ip, otherwise the access is tried again. Without an exception handler it raises
`IoPortError`. Architectures without I/O ports raise `L4NotSupportedError`.
"""
from . import traps
from .errors import L4NotSupportedError


class IoPortError(RuntimeError):
    """An I/O access to `port` the task may not make, with no exception handler to tell."""

    def __init__(self, port, size):
        self.port, self.size = port, size
        super().__init__(f"I/O port {port:#x} (+{size}) is not in the task's I/O space")


def _check(port, size, value=None):
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 0xFFFF - size + 1:
        raise ValueError(f"an I/O port is 0..0x{0x10000 - size:x} for {size}-byte access, "
                         f"not {port!r}")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or not 0 <= value < 1 << (8 * size)):
        raise ValueError(f"{value!r} does not fit {size} bytes")


async def _access(port, size, value=None):
    cur = traps._current[0] or traps.running()
    k = cur.kernel
    lib = k._lib
    while True:
        rc = lib.io_port_access(k._k, [cur.task], port, size)
        if rc == 0:
            return k.hw._io(port, size, value)
        if rc == -lib.L4_ENOSYS:
            raise L4NotSupportedError(lib.L4_ENOSYS, f"{k.arch} has no I/O ports")
        status = lib.thread_io_exception(k._k, cur.ref)
        if status == lib.SYS_GONE:
            raise traps.ThreadGone()
        if status != lib.SYS_SUSPEND:
            raise IoPortError(port, size)
        await traps._suspend()
        refused = cur.next.tag >> 63          # a negative reply label: refused
        out = k._exc_result
        lib.thread_exception_done(k._k, cur.ref, out)
        if out.ip_changed:
            raise traps.JumpTo(out.ip)
        if not out.handled or refused:
            raise IoPortError(port, size)    # nobody heard it, or the handler refused


async def inb(port):
    _check(port, 1)
    return await _access(port, 1)


async def inw(port):
    _check(port, 2)
    return await _access(port, 2)


async def inl(port):
    _check(port, 4)
    return await _access(port, 4)


async def outb(port, value):
    _check(port, 1, value)
    await _access(port, 1, value)


async def outw(port, value):
    _check(port, 2, value)
    await _access(port, 2, value)


async def outl(port, value):
    _check(port, 4, value)
    await _access(port, 4, value)


__all__ = ["inb", "inw", "inl", "outb", "outw", "outl", "IoPortError"]
