"""Helpers for the guest machine-code tests (tests/test_guest_machine_*.py): the test
platform (RAM, a VirtIO console and block device, as the test guests' hello.S expect it),
the lines hello.S prints, its image assembled here, and a VMM run of a Machine."""
import pytest

from pyl4re import Kernel
from pyl4re.guest import images
from pyl4re.vmm.block import Block
from pyl4re.vmm.console import Console
from pyl4re.vmm.vmm import Device, VmConfig, Vmm

RAM, CON, BLK = 0x4000_0000, 0x2000_0000, 0x2000_1000
EXPECTED = ["Hello from the guest", "block: sector 1 written and read back",
            "timer interrupt taken", "device interrupts taken", "powering off"]


def assembled(arch, name):
    """Test guest `name` for `arch`; a missing assembler fails the test (apt install llvm)."""
    try:
        return images.build(arch, name)
    except images.AssemblerMissing as e:
        pytest.fail(str(e))


def boot_vm(arch, machine, disk=None):
    """Run `machine` under the VMM with the console and a 64-sector disk (or `disk`):
    (kernel, the VMM's result, the Vmm, the disk)."""
    disk = bytearray(64 * 512) if disk is None else disk
    k = Kernel(arch=arch, memory=32 << 20)
    vmm = Vmm(arch, VmConfig(tag="vm-1", ram_base=RAM, program=machine.program,
                             devices=[Device("console", Console(), CON, 1),
                                      Device("block", Block(disk), BLK, 2)]))
    k.start_task(vmm.main, name="vm-1")
    res = k.run()
    return k, res.exited["vm-1"], vmm, disk
