"""Guest machine code on ARM64 (pyl4re.guest.machine, cpu_arm64; docs/vm.md "Guest machine
code"): a guest assembled here with llvm-mc runs under the VMM on Unicorn, its memory
through the VM's nested table, its MMIO as stage-2 exits with the real syndrome."""
import os
import subprocess
import sys

import pytest

from pyl4re import Kernel, trace
from pyl4re.guest import images
from pyl4re.guest.cpu_arm64 import Arm64
from pyl4re.guest.machine import Machine
from pyl4re.vmm.block import Block
from pyl4re.vmm.console import Console
from pyl4re.vmm.vmm import Device, VmConfig, Vmm

RAM, CON, BLK = 0x4000_0000, 0x2000_0000, 0x2000_1000
EXPECTED = ["Hello from the guest", "block: sector 1 written and read back",
            "timer interrupt taken", "device interrupts taken", "powering off"]


@pytest.fixture(scope="module")
def hello():
    try:
        return images.build("arm64", "hello")
    except images.AssemblerMissing as e:
        pytest.fail(str(e))                    # a missing assembler is a failure: apt install llvm


def boot(machine, disk=None):
    disk = bytearray(64 * 512) if disk is None else disk
    k = Kernel(arch="arm64", memory=32 << 20)
    vmm = Vmm("arm64", VmConfig(tag="vm-1", ram_base=RAM, program=machine.program,
                                devices=[Device("console", Console(), CON, 1),
                                         Device("block", Block(disk), BLK, 2)]))
    k.start_task(vmm.main, name="vm-1")
    res = k.run()
    return k, res.exited["vm-1"], vmm, disk


def test_the_guest_prints_uses_the_disk_takes_interrupts_and_powers_off(hello):
    m = Machine(Arm64, hello, load_gpa=RAM)
    k, result, vmm, disk = boot(m)
    assert result == ("shutdown", 0), m.stopped
    assert k.log_lines == [f"vm-1: {line}" for line in EXPECTED]
    assert disk[512:1024] == bytes((i * 7 + 3) & 0xFF for i in range(512))
    assert disk[:512] == bytes(512) and disk[1024:] == bytes(len(disk) - 1024)
    assert m.stopped is None
    assert m.exits["hypercall"] == 1 and m.exits["timer_wait"] == 1
    assert m.exits["interrupt"] >= 2               # the timer's and the devices'
    assert vmm.exits["mmio"] == m.exits["mmio"] > 0
    assert vmm.exits["ram"] == m.exits["page"] > 0


RERUN = """
import sys
sys.path.insert(0, "tests")
from test_guest_machine_arm64 import Arm64, Machine, RAM, boot, images
m = Machine(Arm64, images.build("arm64", "hello"), load_gpa=RAM)
k, result, _, disk = boot(m)
sys.stdout.write(repr((result, k.log_lines, bytes(disk), m.instructions, k.now_ns)))
sys.stdout.write(k.trace_json())
"""


def test_runs_are_identical_byte_for_byte(hello):
    # Each run in a fresh interpreter: code addresses (pyl4re.entry) are process-global,
    # so a second run in this process would give the VMM's new closures new addresses.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = [subprocess.run([sys.executable, "-c", RERUN], cwd=root, capture_output=True,
                           timeout=120).stdout for _ in range(2)]
    assert b"Hello from the guest" in runs[0] and b"traceEvents" in runs[0]
    assert runs[0] == runs[1]


def test_mmio_exits_carry_the_real_register_and_width(hello):
    m = Machine(Arm64, hello, load_gpa=RAM)
    k, result, _, _ = boot(m)
    assert result == ("shutdown", 0)
    mmio = [r.fields["code"] for r in trace.records(k)
            if r.kind == "vm_exit" and r.fields["reason"] == "stage2"
            and CON <= r.fields["gpa"] < BLK + 0x1000]
    assert mmio and all(c >> 26 == 0x24 and c & 1 << 24 for c in mmio)   # data abort, ISV
    assert {(c >> 22) & 3 for c in mmio} == {2}                          # 32-bit accesses
    srt = {(c >> 16) & 31 for c in mmio}
    # vinit reads MagicValue into w3, writes Status from w3 and wzr, QueueSel from w1,
    # QueueReady from w7; the IRQ handler acknowledges with w2 and w3
    assert {1, 3, 5, 6, 7, 31} <= srt
    writes = [c for c in mmio if c & 1 << 6]
    assert writes and len(writes) < len(mmio)


def test_an_elf_image_runs_as_the_raw_one(hello):
    m = Machine(Arm64, images.elf_exec(hello, RAM, "arm64"))
    k, result, _, _ = boot(m)
    assert result == ("shutdown", 0)
    assert k.log_lines[0] == "vm-1: Hello from the guest"


# ---- bad input ----------------------------------------------------------------------

def test_truncated_wrong_architecture_and_empty_images_are_refused(hello):
    elf = images.elf_exec(hello, RAM, "arm64")
    with pytest.raises(ValueError, match="truncated"):
        Machine(Arm64, elf[:len(elf) - 100])
    with pytest.raises(ValueError, match="truncated|malformed"):
        Machine(Arm64, elf[:70])
    with pytest.raises(ValueError, match="EM_X86_64"):
        Machine(Arm64, images.elf_exec(hello, RAM, "x86_64"))
    with pytest.raises(ValueError, match="empty"):
        Machine(Arm64, b"")
    with pytest.raises(ValueError, match="load_gpa"):
        Machine(Arm64, hello)
    with pytest.raises(TypeError, match="image"):
        Machine(Arm64, "not bytes", load_gpa=RAM)
    with pytest.raises(TypeError, match="cpu"):
        Machine(object, hello, load_gpa=RAM)
    with pytest.raises(ValueError, match="max_instructions"):
        Machine(Arm64, hello, load_gpa=RAM, max_instructions=0)


def test_an_entry_outside_ram_is_the_vmms_stage2_fault(hello):
    m = Machine(Arm64, images.elf_exec(hello, RAM, "arm64", entry=0x9000_0000))
    _, result, _, _ = boot(m)
    assert result == "guest fault at 0x90000000"


def test_an_image_loaded_outside_ram_is_the_vmms_stage2_fault(hello):
    m = Machine(Arm64, hello, load_gpa=0x8000_0000)
    _, result, _, _ = boot(m)
    assert result == "guest fault at 0x80000000"


def test_an_undefined_instruction_stops_the_vm_with_the_reason():
    m = Machine(Arm64, bytes.fromhex("1f2003d5") + bytes(4), load_gpa=RAM)   # nop; udf
    _, result, _, _ = boot(m)
    assert result == "guest stopped: fault"
    assert m.stopped == f"undefined instruction 0x00000000 at pc {RAM + 4:#x}"


def test_a_spinning_guest_is_bounded_and_its_time_is_virtual():
    m = Machine(Arm64, (0x14000000).to_bytes(4, "little"), load_gpa=RAM,   # b .
                max_instructions=30_000, slice_instructions=5_000)
    k, result, _, _ = boot(m)
    assert result == "guest stopped: fault"
    assert "30000 instructions" in m.stopped and f"{RAM:#x}" in m.stopped
    assert m.instructions == 30_000
    assert k.now_ns >= 30_000 * Arm64.INSN_NS
