"""vm-basic (the shape of L4Re's `vm-basic.cfg`): one VMM µApp boots one guest, tagged
"vm-1", with a VirtIO console and a VirtIO block device over MMIO.

The VMM (pyl4re.vmm.vmm) creates the VM, backs 1 MiB of guest RAM with memory from
sigma0, writes the device tree to the top of guest RAM, and serves the devices' MMIO
windows on the VM's exits. The guest (pyl4re.guest.virtio_program) finds the devices in
the device tree, prints LINES on the console (the VMM writes them to its log with the
VM's tag), reads sector 0 of the disk, writes WRITES and reads them back, and powers off.

Run it: `python examples/vm_basic.py [arch]`; tests/test_example_vm_basic.py checks the
console output line by line and the disk after the run on every architecture.
"""
import sys

from pyl4re import Kernel
from pyl4re.guest.virtio_program import program
from pyl4re.vmm.block import Block
from pyl4re.vmm.console import Console
from pyl4re.vmm.vmm import Device, VmConfig, Vmm

LINES = ["Hello from the guest", "virtio console over MMIO"]
DISK_SECTORS = 64
LABEL = b"pyl4re disk"
WRITES = [(1, b"written by the guest".ljust(512, b".")), (7, bytes(range(256)) * 4)]
RAM_BASE = {"x86_64": 0x0, "arm64": 0x4000_0000, "mips64": 0x0}
CONSOLE_BASE, BLOCK_BASE = 0x2000_0000, 0x2000_1000


def make_disk():
    disk = bytearray(DISK_SECTORS * 512)
    disk[:len(LABEL)] = LABEL
    return disk


def start_vm(k, arch, tag, cpu=0, lines=LINES, writes=WRITES):
    """A VMM µApp named `tag` on `cpu`; returns (its Vmm, its disk)."""
    disk = make_disk()
    config = VmConfig(tag=tag, program=program(lines, writes), ram_base=RAM_BASE[arch],
                      devices=[Device("console", Console(), CONSOLE_BASE, 1),
                               Device("block", Block(disk), BLOCK_BASE, 2)])
    vmm = Vmm(arch, config)
    k.start_task(vmm.main, name=tag, cpu=cpu)
    return vmm, disk


def expected_console(tag, lines=LINES, writes=WRITES):
    """The log lines the VM's console should produce."""
    return [f"{tag}: {line}" for line in [
        *lines,
        f"block: {DISK_SECTORS} sectors, status 0, sector 0 starts {LABEL.decode()!r}",
        f"block: {len(writes)} writes ok",
        "interrupts taken: yes",
        "powering off"]]


def expected_disk(writes=WRITES):
    disk = make_disk()
    for sector, data in writes:
        disk[sector * 512:sector * 512 + len(data)] = data
    return disk


def run(arch="x86_64"):
    k = Kernel(arch=arch, memory=32 << 20)
    vmm, disk = start_vm(k, arch, "vm-1")
    return {"result": k.run(), "kernel": k, "vmm": vmm, "disk": disk}


if __name__ == "__main__":
    out = run(sys.argv[1] if len(sys.argv) > 1 else "x86_64")    # the log prints itself
    print("vmm:", out["result"].exited, "exits:", out["vmm"].exits)
