"""Console input from the harness reaches the guest through the VMM: text typed on the
VMM's log (`Kernel.log_input`) while the guest halts waiting for it is put into the
guest's receive buffers, the device's interrupt wakes the guest, and the guest prints it
back; on every architecture."""
from pyl4re import Kernel
from pyl4re.guest.virtio_program import program
from pyl4re.vmm.console import Console
from pyl4re.vmm.vmm import Device, VmConfig, Vmm

RAM_BASE = {"x86_64": 0x0, "arm64": 0x4000_0000, "mips64": 0x0}


def start(arch, wait_us):
    k = Kernel(arch=arch, memory=32 << 20)
    vmm = Vmm(arch, VmConfig(tag="vm-1", program=program(["type two lines"], echo=2),
                             ram_base=RAM_BASE[arch], input_wait_us=wait_us,
                             devices=[Device("console", Console(), 0x2000_0000, 1)]))
    k.start_task(vmm.main, name="vm-1")
    return k, vmm


def test_typed_lines_reach_the_guest(arch):
    k, vmm = start(arch, wait_us=20_000)
    k.hw.at(2_000_000, lambda: k.log_input("first line\nsec"))      # while the guest waits
    k.hw.at(5_000_000, lambda: k.log_input("ond\n"))
    res = k.run()
    assert res.exited == {"vm-1": ("shutdown", 0)}, res
    assert k.log_lines == ["vm-1: type two lines", "vm-1: echo: first line",
                           "vm-1: echo: second", "vm-1: interrupts taken: yes",
                           "vm-1: powering off"]
    assert vmm.exits["halt"] >= 2


def test_no_input_in_time_ends_the_halted_vm(arch):
    k, vmm = start(arch, wait_us=3000)
    res = k.run()
    assert res.exited == {"vm-1": "halted"}
    assert k.log_lines == ["vm-1: type two lines"]
