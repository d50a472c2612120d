"""The VMM cases of `pyl4re bench`, with the VMM µApp of pyl4re.vmm (docs/vmm.md):
- an MMIO exit round trip: the guest loads a VirtIO register (MagicValue); the load exits
  to the VMM, which decodes it, asks the device's transport and resumes the guest with
  the value in its register (guest -> VMM -> guest is one op);
- a virtqueue round trip: the guest's console writes 64 bytes through the guest-side
  driver (descriptor and available ring in guest RAM, a QueueNotify exit, the device
  walks the chain and returns it, the driver reaps the used ring and acknowledges the
  interrupt: several exits, one op)."""
import io

from .. import guest
from ..guest import virtio as gv
from ..kernel import Kernel
from ..vmm import virtio_mmio as R
from ..vmm.console import Console
from ..vmm.vmm import HC_SHUTDOWN, Device, VmConfig, Vmm
from .system import System, counter

RAM_BASE = {"x86_64": 0x0, "arm64": 0x4000_0000, "mips64": 0x0}
CONSOLE_BASE = 0x2000_0000
LINE = "x" * 63 + "\n"                  # 64 bytes


def _vmm_system(arch, guest_main):
    """One VMM with a console device; its guest runs `guest_main(n)` (it counts ops in
    n[0]) and then shuts the VM down."""
    k = Kernel(arch=arch, memory=16 << 20, trace_size=0, log_stream=io.StringIO())
    n, done = counter()

    async def main():
        await guest_main(n)
        await guest.hypercall(HC_SHUTDOWN, 0)
    config = VmConfig(tag="vm", program=lambda dtb_gpa: main, ram_base=RAM_BASE[arch],
                      devices=[Device("console", Console(lambda line: None), CONSOLE_BASE, 1)])
    handle = k.start_task(Vmm(arch, config).main, name="vmm")
    return System(k, done, {"vmm": handle})


def mmio_exit_system(arch, rounds):
    """`rounds` guest loads of the console's MagicValue register, each answered by the VMM."""
    async def guest_main(n):
        for _ in range(rounds):
            if await guest.load(CONSOLE_BASE + R.MAGIC_VALUE, 4) != R.MAGIC:
                raise RuntimeError("the VMM answered the MMIO load wrongly")
            n[0] += 1
    return _vmm_system(arch, guest_main)


def virtqueue_system(arch, rounds):
    """`rounds` 64-byte console writes through a real virtqueue."""
    async def guest_main(n):
        guest.on_interrupt(_acknowledge)
        area = gv.Area(RAM_BASE[arch] + 0x80000, 0x40000)
        con = gv.Console(gv.Driver(CONSOLE_BASE, _mmio_read, _mmio_write, guest.read,
                                   guest.write, area))
        await con.start()
        for _ in range(rounds):
            await con.write(LINE)
            n[0] += 1
    return _vmm_system(arch, guest_main)


async def _mmio_read(gpa, width):
    return await guest.load(gpa, width)


async def _mmio_write(gpa, width, value):
    await guest.store(gpa, value, width)


async def _acknowledge(vector):
    status = await guest.load(CONSOLE_BASE + R.INTERRUPT_STATUS, 4)
    if status:
        await guest.store(CONSOLE_BASE + R.INTERRUPT_ACK, status, 4)
