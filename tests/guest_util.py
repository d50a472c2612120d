"""Helpers for the guest machine-code tests (tests/test_guest_machine_*.py): the test
platform (RAM, a VirtIO console and block device, as the test guests' hello.S expect it),
the lines hello.S prints, its image assembled here, and a VMM run of a Machine."""
import os
import subprocess
import sys

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


def assert_hello_ran(k, result, vmm, m, disk):
    """What hello.S does on every architecture: it printed its lines, wrote sector 1 and
    only it, powered off by one hypercall, took interrupts, and its MMIO and RAM exits
    are the VMM's."""
    assert result == ("shutdown", 0), m.stopped
    assert k.log_lines == [f"vm-1: {line}" for line in EXPECTED]
    assert disk[512:1024] == bytes((i * 7 + 3) & 0xFF for i in range(512))
    assert disk[:512] == bytes(512) and disk[1024:] == bytes(len(disk) - 1024)
    assert m.stopped is None
    assert m.exits["hypercall"] == 1
    assert m.exits["interrupt"] >= 2               # the timer's and the devices'
    assert vmm.exits["mmio"] == m.exits["mmio"] > 0
    assert vmm.exits["ram"] == m.exits["page"] > 0


RERUN = """
import sys
sys.path.insert(0, "tests")
from guest_util import RAM, assembled, boot_vm
from pyl4re.guest.machine import Machine
from pyl4re.guest.{module} import {cpu}
m = Machine({cpu}, assembled("{arch}", "hello"), load_gpa=RAM)
k, result, _, disk = boot_vm("{arch}", m)
sys.stdout.write(repr((result, k.log_lines, bytes(disk), m.instructions, k.now_ns)))
sys.stdout.write(k.trace_json())
"""


def hello_runs(arch, module, cpu, times=2):
    """hello.S run `times` times, each in a fresh interpreter (code addresses,
    pyl4re.entry, are process-global: a second run in this process would give the VMM's
    new closures new addresses): what each printed, its trace included."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = RERUN.format(arch=arch, module=module, cpu=cpu)
    return [subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                           timeout=120).stdout for _ in range(times)]
