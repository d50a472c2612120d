"""Guest machine code on ARM64 (pyl4re.guest.machine, cpu_arm64; docs/vm.md "Guest machine
code"): a guest assembled here with llvm-mc runs under the VMM on Unicorn, its memory
through the VM's nested table, its MMIO as stage-2 exits with the real syndrome."""
import pytest

from pyl4re import Kernel, mem, trace
from pyl4re.guest import images
from pyl4re.guest.cpu_arm64 import Arm64
from pyl4re.guest.machine import Machine
from pyl4re.l4sys import (
    L4_BASE_TASK_CAP, L4_CAP_SHIFT, L4_FP_ALL_SPACES, L4_FPAGE_RWX, l4_error,
    l4_factory_create_irq, l4_fpage, l4_icu_bind, l4_ipc_sleep, l4_map_control,
    l4_rcv_ep_bind_thread, l4_task_map, l4_task_unmap, l4_timeout_from_us,
)
from pyl4re.vmm.vmm import VM_CAP, VmConfig, Vmm

from guest_util import BLK, CON, RAM, assembled, assert_hello_ran, boot_vm, hello_runs


@pytest.fixture(scope="module")
def hello():
    return assembled("arm64", "hello")


def boot(machine, disk=None):
    return boot_vm("arm64", machine, disk)


def test_the_guest_prints_uses_the_disk_takes_interrupts_and_powers_off(hello):
    m = Machine(Arm64, hello, load_gpa=RAM)
    k, result, vmm, disk = boot(m)
    assert_hello_ran(k, result, vmm, m, disk)
    assert m.exits["timer_wait"] == 1


def test_runs_are_identical_byte_for_byte(hello):
    runs = hello_runs("arm64", "cpu_arm64", "Arm64")
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


def words(*insns):
    return b"".join(i.to_bytes(4, "little") for i in insns)


def patched(name, count):
    """Test guest `name` with its loop count (image bytes 8..15; 0: forever)."""
    image = bytearray(images.build("arm64", name))
    image[8:16] = count.to_bytes(8, "little")
    return bytes(image)


def test_an_undefined_instruction_enters_the_guests_sync_vector():
    m = Machine(Arm64, images.build("arm64", "undef"), load_gpa=RAM)
    _, result, vmm, _ = boot(m)
    # The handler at VBAR_EL1 + 0x200 saw ESR_EL1 = EC 0 (unknown), IL, and ELR_EL1 = the
    # UDF; its ERET came back to EL1h with DAIF masked: the code is that ESR
    assert result == ("shutdown", 1 << 25), m.stopped
    assert m.stopped is None and vmm.exits["hypercall"] == 1      # no exit for the UDF


def test_svc_and_brk_from_el0_enter_the_guests_lower_el_vector():
    """svc.S: SVC and BRK at EL0 are taken to EL1 at VBAR_EL1 + 0x400 with EC 0x15 / 0x3C,
    IL and the immediate, ELR_EL1 past the SVC and at the BRK; the guest's own checks of
    all four give the shutdown code 0 (a failing check's number otherwise)."""
    m = Machine(Arm64, images.build("arm64", "svc"), load_gpa=RAM)
    _, result, vmm, _ = boot(m)
    assert result == ("shutdown", 0), m.stopped
    assert vmm.exits["hypercall"] == 1                 # no exit for SVC or BRK


@pytest.mark.parametrize("insn, intno", [(0xD4000001 | 0x12 << 5, 2), (0xD4200000 | 0x34 << 5, 7)])
def test_svc_or_brk_with_no_vector_table_stops_the_vm_naming_it(insn, intno):
    m = Machine(Arm64, words(0xD503201F, insn), load_gpa=RAM)      # nop; svc/brk
    _, result, _, _ = boot(m)
    assert result == "guest stopped: fault"
    assert m.stopped == f"exception {intno} ({insn:#x}) at pc {RAM + 4:#x}"


# ---- the VMM's timer, unmapping, code writes ---------------------------------------------

TIMER_LINE, TIMER_LABEL, PERIOD = 9, 0x90, 7_000


def spin_under_the_vmm(timer, budget=300_000):
    """The spin guest looping forever (count 0) until its budget; with `timer`, an Irq
    bound to the VMM's thread gets an edge every PERIOD ns from 40 us on. (kernel, result,
    vmm, machine, the pulses' times)."""
    m = Machine(Arm64, patched("spin", 0), load_gpa=RAM, max_instructions=budget)
    k = Kernel(arch="arm64", memory=32 << 20, trace_size=1 << 14)
    vmm = Vmm("arm64", VmConfig(tag="vm-1", ram_base=RAM, program=m.program))

    async def main(env):                      # the VMM µApp, with its timer
        irq = env.cap_alloc()
        assert l4_error(await l4_factory_create_irq(env.factory, irq)) == 0
        assert l4_error(await l4_rcv_ep_bind_thread(irq, env.thread, TIMER_LABEL)) == 0
        assert l4_error(await l4_icu_bind(env.icu, TIMER_LINE, irq)) == 0
        return await vmm.main(env)
    k.start_task(main if timer else vmm.main, name="vm-1")
    pulses = [40_000 + PERIOD * i for i in range(100)] if timer else []
    line = k.hw.irq_line(TIMER_LINE)
    for t in pulses:
        k.hw.at(t, line.pulse)
    return k, k.run().exited["vm-1"], vmm, m, pulses


def guest_stretch(k):
    """(ns from the guest's first instruction to its stop exit, the irq exits' times)."""
    recs = [r for r in trace.records(k) if r.kind in ("vm_entry", "vm_exit")]
    miss = [i for i, r in enumerate(recs) if r.kind == "vm_exit" and r.fields["gpa"] == RAM]
    code = [r.time_ns for r in recs[miss[0]:] if r.kind == "vm_entry"]    # its code mapped
    stop = [r.time_ns for r in recs if r.kind == "vm_exit" and r.fields["reason"] == "fault"]
    irqs = [r.time_ns for r in recs if r.kind == "vm_exit" and r.fields["reason"] == "irq"]
    return stop[-1] - code[0], irqs


def test_the_vmms_timer_preempts_a_guest_that_loops_forever():
    k0, quiet, _, m0, _ = spin_under_the_vmm(timer=False)
    k, result, vmm, m, pulses = spin_under_the_vmm(timer=True)
    for res, machine in ((quiet, m0), (result, m)):
        assert res == "guest stopped: fault"                    # it never ends by itself
        assert "300000 instructions" in machine.stopped and machine.instructions == 300_000
    alone, none = guest_stretch(k0)
    stretch, irqs = guest_stretch(k)
    assert none == [] and vmm.exits["irq"] == len(irqs) > 30
    # Each edge cuts the guest at once, inside a 20 000-instruction slice (20 us): every
    # irq exit follows its edge by the same few hundred ns, PERIOD apart
    assert len({t - p for t, p in zip(irqs, pulses)}) == 1 and 0 <= irqs[0] - pulses[0] < 1000
    assert irqs[-1] < k.now_ns and len(irqs) == sum(p < irqs[-1] for p in pulses)
    # Virtual time: INSN_NS per instruction, and each preemption costs the same exit and
    # re-entry on top
    assert 300_000 * Arm64.INSN_NS <= alone < 300_000 * Arm64.INSN_NS + 1000
    per_exit, rest = divmod(stretch - alone, len(irqs))
    assert rest == 0 and 0 < per_exit < 2000


WATCHED = RAM + 0x2000               # the word poll.S polls
POLL_BRANCH = 0x10                   # its poll loop's branch (cbz x2, loop)


def poll_with(meddle):
    """poll.S under the VMM; at 200 us a second thread of the VMM's task (priority 2)
    runs `await meddle(vmm, vm_cap, seen)`. (result, vmm, machine, seen)."""
    m = Machine(Arm64, images.build("arm64", "poll"), load_gpa=RAM,
                max_instructions=2_000_000)
    k = Kernel(arch="arm64", memory=32 << 20, trace_size=1 << 14)
    vmm = Vmm("arm64", VmConfig(tag="vm-1", ram_base=RAM, program=m.program))
    h = k.start_task(vmm.main, name="vm-1")
    seen = {}

    async def meddler():
        await l4_ipc_sleep(l4_timeout_from_us(200))
        seen.update(at=k.now_ns, page=m.exits["page"], ram=vmm.exits["ram"])
        await meddle(vmm, VM_CAP << L4_CAP_SHIFT, seen)
    k.start_thread(h, meddler, "meddler", prio=2)
    result = k.run().exited["vm-1"]
    seen["stage2"] = [r.fields["gpa"] for r in trace.records(k) if r.kind == "vm_exit"
                      and r.fields["reason"] == "stage2" and r.time_ns > seen["at"]]
    return result, vmm, m, seen


def test_a_page_the_vmm_unmaps_is_a_stage2_exit_again():
    async def unmap(vmm, vm, seen):
        await l4_task_unmap(vm, l4_fpage(WATCHED, 12, L4_FPAGE_RWX), L4_FP_ALL_SPACES)
        await mem.write(vmm.ram + WATCHED - RAM, (5).to_bytes(8, "little"))
    result, vmm, m, seen = poll_with(unmap)
    assert result == ("shutdown", 5), m.stopped
    assert seen["ram"] == 2 and vmm.exits["ram"] == 3          # the code page, the word's
    assert seen["stage2"] == [WATCHED]      # its next load: the VMM's stage-2 exit again
    assert m.exits["page"] > seen["page"]


def test_a_page_the_vmm_remaps_reads_the_new_frame_not_the_old():
    async def remap(vmm, vm, seen):
        other = vmm.ram + 0x5000                             # another page of ours
        await mem.write(other, (0x1234).to_bytes(8, "little"))
        await l4_task_unmap(vm, l4_fpage(WATCHED, 12, L4_FPAGE_RWX), L4_FP_ALL_SPACES)
        assert l4_error(await l4_task_map(vm, L4_BASE_TASK_CAP,
                                          l4_fpage(other, 12, L4_FPAGE_RWX),
                                          l4_map_control(WATCHED, 0, 0))) == 0
    result, vmm, m, seen = poll_with(remap)
    # Unicorn let go of the old frame (still 0): the guest read 0x1234 from the new one
    assert result == ("shutdown", 0x1234), m.stopped
    assert seen["stage2"] == [] and vmm.exits["ram"] == 2    # mapped by us: no VMM exit
    assert m.exits["page"] > seen["page"]                    # but a walk again


def test_a_host_write_to_the_guests_code_frame_is_what_the_guest_runs():
    async def patch(vmm, vm, seen):         # as a device's DMA or a loader would write it
        await mem.write(vmm.ram + POLL_BRANCH, words(0xD28000E2))   # mov x2, #7
    result, _, m, _ = poll_with(patch)
    assert result == ("shutdown", 7), m.stopped


def test_the_guest_runs_the_code_it_wrote_after_an_isb():
    # adr x1, 1f; ldr w2, 2f; str w2, [x1]; isb; 1: mov x1, #1; mov x0, #0x5d; hvc #0;
    # 2: (mov x1, #42)
    m = Machine(Arm64, words(0x10000081, 0x180000C2, 0xB9000022, 0xD5033FDF, 0xD2800021,
                             0xD2800BA0, 0xD4000002, 0xD2800541), load_gpa=RAM)
    _, result, _, _ = boot(m)
    assert result == ("shutdown", 42), m.stopped


def test_a_jump_outside_ram_is_the_vmms_stage2_fault():
    # ldr x1, 1f; br x1; 1: .quad 0x90000000
    m = Machine(Arm64, words(0x58000041, 0xD61F0020) + (0x9000_0000).to_bytes(8, "little"),
                load_gpa=RAM)
    _, result, vmm, _ = boot(m)
    assert result == "guest fault at 0x90000000" and m.instructions == 2


def test_a_jump_into_a_device_window_ends_the_vm_naming_the_fetch():
    """No device is asked to answer an instruction fetch."""
    m = Machine(Arm64, words(0x58000041, 0xD61F0020) + CON.to_bytes(8, "little"),
                load_gpa=RAM)
    _, result, vmm, _ = boot(m)
    assert result == f"guest fault at {CON:#x}: an instruction fetch from a device window"
    assert vmm.exits["mmio"] == 0
