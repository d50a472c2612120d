"""examples/vm_basic.py on every architecture: a VMM µApp boots one guest whose VirtIO
console lines reach the VMM's log with the VM's tag, in order, and whose block writes are
on the disk after the run; the whole path goes through real VM exits (MMIO, stage-2
misses in RAM, the shutdown hypercall) and injected device interrupts."""
import importlib.util
import pathlib

import pytest

_PATH = pathlib.Path(__file__).resolve().parent.parent / "examples" / "vm_basic.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("vm_basic", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_console_lines_and_disk_after_the_run(arch, example):
    out = example.run(arch)
    res, k, vmm = out["result"], out["kernel"], out["vmm"]
    assert res.exited == {"vm-1": ("shutdown", 0)}
    assert not res.failed and not res.blocked
    assert k.log_lines == example.expected_console("vm-1")
    assert out["disk"] == example.expected_disk()
    assert vmm.exits["mmio"] > 50 and vmm.exits["ram"] >= 1 and vmm.exits["hypercall"] == 1
    assert all(not t.problems for t in vmm.transports.values())
    assert vmm.injected > 0 and not vmm.pending          # device interrupts went in
    lo, hi = vmm.span                                    # devices stayed in guest RAM
    assert 0 <= lo < hi <= vmm.ram_size


def test_the_guest_reports_a_failed_block_write(arch, example):
    # A write past the end of the disk: the device answers IOERR, the disk is untouched
    # and the guest says so on its console and in its shutdown code.
    k = example.Kernel(arch=arch, memory=32 << 20)
    writes = [(example.DISK_SECTORS, bytes(512))]
    vmm, disk = example.start_vm(k, arch, "vm-1", writes=writes)
    res = k.run()
    assert res.exited == {"vm-1": ("shutdown", 1)}
    assert "vm-1: block: 1 writes FAILED" in k.log_lines
    assert disk == example.make_disk()


def test_a_file_backed_disk_holds_the_guest_writes(arch, example, tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(example.make_disk())
    k = example.Kernel(arch=arch, memory=32 << 20)
    vmm = example.Vmm(arch, example.VmConfig(
        tag="vm-1", program=example.program(example.LINES, example.WRITES),
        ram_base=example.RAM_BASE[arch],
        devices=[example.Device("console", example.Console(), example.CONSOLE_BASE, 1),
                 example.Device("block", example.Block(str(path)), example.BLOCK_BASE, 2)]))
    k.start_task(vmm.main, name="vm-1")
    assert k.run().exited == {"vm-1": ("shutdown", 0)}
    vmm.config.devices[1].device.close()
    assert path.read_bytes() == bytes(example.expected_disk())
    assert k.log_lines == example.expected_console("vm-1")
