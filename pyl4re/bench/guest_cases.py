"""The guest machine code cases of `pyl4re bench` (docs/benchmarks.md, "Guest machine
code"): a test guest assembled here runs on Unicorn under the VMM of pyl4re.vmm, its
memory through the VM's nested table (pyl4re.guest.machine, docs/vm.md):

- guest instructions: `spin.S`, a loop of register arithmetic that never leaves the CPU
  (no exit but its first page's stage-2 miss and the power-off hypercall); one op is one
  executed guest instruction;
- guest MMIO exits: `mmio.S`, a loop of a load of the VirtIO console's MagicValue and a
  store to its QueueSel; one op is one MMIO exit (stage-2 exit, decoded syndrome, the
  VMM's transport, resume, the access completed in the guest's register).

Both report host ns per op (so instructions or exits per host second) and the virtual ns
the model charged per op. The cases exist per architecture that has a guest CPU class:
`GUEST_CPUS` names its module and class, imported when the report runs; an architecture
whose module is not there (or whose test guests are not) is skipped, and the report says
why. A guest for another architecture keeps the same contract: its `spin.S` and `mmio.S`
in pyl4re/guest/images/<arch>/, loaded at the start of guest RAM (`RAM_BASE`), the
loop's iteration count the little-endian 64-bit word at image bytes 8..15 (patched
here; 0 loops forever), the console window at CONSOLE_BASE, power-off by the VMM's
HC_SHUTDOWN hypercall with code 0 (1 if a load read a wrong value).
"""
import importlib
import io

from .. import _core
from ..guest import images
from ..kernel import Kernel
from ..vmm.console import Console
from ..vmm.vmm import Device, VmConfig, Vmm
from .ipc_cases import Case
from .system import System
from .vmm_cases import CONSOLE_BASE, RAM_BASE

# The guest CPU class of each architecture: (module, class name).
GUEST_CPUS = {"arm64": ("pyl4re.guest.cpu_arm64", "Arm64"),
              "x86_64": ("pyl4re.guest.cpu_x86_64", "X86_64")}
NO_GUEST_CPU = {"mips64": "Unicorn's MIPS64 has no VZ (docs/vm.md, 'Guest machine code')"}
COUNT_AT = slice(8, 16)              # the image's iteration-count parameter
SPIN_LOOP, MMIO_LOOP = 4, 2          # instructions per spin iteration, exits per mmio one


def guest_cpu(arch):
    """(the CPU class, None), or (None, why there is none) for `arch`."""
    if arch not in GUEST_CPUS:
        return None, NO_GUEST_CPU.get(arch, f"no guest CPU class for {arch}")
    module, name = GUEST_CPUS[arch]
    try:
        cpu = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as e:
        if e.name == module:
            return None, f"no guest CPU class yet ({module} is not there)"
        return None, f"{module} cannot be imported: {e}"
    except AttributeError:
        return None, f"{module} has no {name}"
    for image in ("spin", "mmio"):
        try:
            images.source(arch, image)
        except ValueError:
            return None, f"no test guest {image}.S for {arch} (pyl4re/guest/images/{arch}/)"
    try:
        images.assembler()
    except images.AssemblerMissing as e:
        return None, str(e)
    return cpu, None


_BUILT = {}


def guest_image(arch, name, count):
    """Test guest `name` for `arch` with its loop run `count` times (0: forever)."""
    if (arch, name) not in _BUILT:
        _BUILT[arch, name] = images.build(arch, name)
    image = bytearray(_BUILT[arch, name])
    image[COUNT_AT] = count.to_bytes(8, "little")
    return bytes(image)


def guest_system(arch, name, count, done_of, **machine_args):
    """The VMM with a console device running test guest `name` (`count` iterations) on
    `arch`'s guest CPU; `done_of(machine)` counts the ops. The timed part starts when
    the guest program does (after the VMM's set-up and the device tree). The System's
    tasks: "vmm" (the handle), "machine" and "monitor" (the Machine and the Vmm)."""
    from ..guest.machine import Machine
    cpu, why = guest_cpu(arch)
    if cpu is None:
        raise ValueError(f"arch: no guest machine code on {arch}: {why}")
    m = Machine(cpu, guest_image(arch, name, count), load_gpa=RAM_BASE[arch],
                **machine_args)
    k = Kernel(arch=arch, memory=32 << 20, trace_size=0, log_stream=io.StringIO())
    s = System(k, lambda: done_of(m))

    def program(dtb_gpa):
        boot = m.program(dtb_gpa)

        async def main():
            s.mark()
            return await boot()
        return main
    vmm = Vmm(arch, VmConfig(tag="vm", program=program, ram_base=RAM_BASE[arch],
                             devices=[Device("console", Console(lambda line: None),
                                             CONSOLE_BASE, 1)]))
    s.tasks.update(vmm=k.start_task(vmm.main, name="vmm"), machine=m, monitor=vmm)
    return s


def spin_system(arch, instructions):
    """About `instructions` guest instructions of spin.S (whole loop iterations)."""
    return guest_system(arch, "spin", max(instructions // SPIN_LOOP, 1),
                        lambda m: m.instructions)


def mmio_system(arch, exits):
    """About `exits` MMIO exits of mmio.S (a load and a store per iteration)."""
    return guest_system(arch, "mmio", max(exits // MMIO_LOOP, 1),
                        lambda m: m.exits["mmio"])


GUEST_CASES = [
    Case("guest_instructions", "guest instructions: spin loop", "python", spin_system,
         (400_000, 100_000)),
    Case("guest_mmio_exits", "guest MMIO exits: VirtIO register", "python", mmio_system,
         (2_000, 300)),
]


def measure_guests(arches, repeats, quick, measure, step):
    """{arch: {"cpu", "insn_ns", case keys: figures} or {"skipped": why}} for the report."""
    out = {}
    for arch in arches:
        cpu, why = guest_cpu(arch)
        if cpu is None:
            out[arch] = {"skipped": why}
            continue
        figures = out[arch] = {"cpu": cpu.__name__, "insn_ns": cpu.INSN_NS}
        for case in GUEST_CASES:
            ops = case.ops_per_run(quick)
            figures[case.key] = dict(measure(lambda: case.run(arch, ops), repeats), ops=ops)
            step(f"{arch} {case.label}")
    return out


def steps(arches):
    """How many progress steps measure_guests makes."""
    return sum(len(GUEST_CASES) for arch in arches if guest_cpu(arch)[0] is not None)


def print_guests(guests, out, fmt_ns):
    """The guest table of the report: host and virtual rate per case and architecture."""
    if not guests:
        return
    print("\nguest machine code on Unicorn (pyl4re.guest.machine): host ns per op, median "
          "[min..max], and the rate per host second; virtual ns per op and the rate per "
          "virtual second", file=out)
    for arch, figures in guests.items():
        if "skipped" in figures:
            print(f"  {arch}: not measured: {figures['skipped']}", file=out)
            continue
        print(f"  {arch}  ({figures['cpu']}, {figures['insn_ns']} virtual ns per "
              "instruction)", file=out)
        print(f"    {'case':36s} {'median ns':>11s} {'[min..max]':>22s} {'per host s':>12s}"
              f" {'virtual ns':>11s} {'per virtual s':>14s}", file=out)
        for case in GUEST_CASES:
            c = figures[case.key]
            spread = f"[{fmt_ns(c['min_ns'])}..{fmt_ns(c['max_ns'])}]"
            print(f"    {case.label:36s} {fmt_ns(c['median_ns']):>11s} {spread:>22s} "
                  f"{1e9 / c['median_ns']:12,.0f} {c['virtual_ns']:11,.1f} "
                  f"{1e9 / c['virtual_ns']:14,.0f}", file=out)


def available():
    """The built architectures with a guest CPU class."""
    return [arch for arch in _core.available_arches() if guest_cpu(arch)[0] is not None]
