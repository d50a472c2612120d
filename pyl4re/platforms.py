"""Platform profiles: a clock frequency and a cost table in cycles per modelled machine.

`Kernel(arch=..., platform=NAME)` charges virtual time from the profile instead of the
architecture's model table (docs/time.md). Each profile is calibrated on L4Re's published
ipcbench figures for that machine (l4re.org, "Performance Overview"): cycles for one IPC
between two threads of one task (intra), of two tasks (inter), and for one system call
(a thread-control invocation the kernel bails out of early). The model charges

    intra   = syscall entry + IPC transfer + context switch
    inter   = intra + address-space switch
    syscall = syscall entry + kernel-object operation

so three published figures fix four costs once one split is chosen (below, `ENTRY_SHARE`
and `TRANSFER_SHARE`, estimates). Costs with no published figure keep their ratio to the
kernel entry from the model table (estimates too). docs/benchmarks.md has the table of
published against modelled figures and the reasoning.
"""
from dataclasses import dataclass, field

MODEL = "model"

# Estimates (no published split): the share of the syscall figure that is the bare kernel
# entry and exit (the rest is the thread's control function deciding there is nothing to
# do), and the share of an intra-task IPC after its entry that is the transfer (the rest:
# the switch to the partner).
ENTRY_SHARE = 0.6
TRANSFER_SHARE = 0.5
# Ratios to the kernel entry of the costs no figure calibrates, from the model table
# (arch_abi.h, x86_64 column: item 80, IPI 1000, vCPU upcall 200, resume 150 per 100).
UNCALIBRATED_PER_ENTRY = {"item": 0.8, "ipi": 10.0, "vcpu_upcall": 2.0, "vcpu_resume": 1.5}
WORD_CYCLES = 1          # one word copied per cycle (estimate); at least 1 ns in the model

COSTS = ("syscall", "ipc", "word", "item", "switch", "space", "ipi", "kobj", "vcpu_upcall",
         "vcpu_resume")


@dataclass(frozen=True)
class Platform:
    """One modelled machine: its published ipcbench figures (cycles per operation) and the
    cost table in cycles derived from them."""
    name: str
    arch: str
    machine: str              # the published row: processor, board, kernel configuration
    ghz: float                # core clock, GHz: turns cycles into the model's ns
    ghz_source: str           # where the frequency comes from
    intra: int                # published cycles per IPC, one task
    inter: int                # published cycles per IPC, two tasks
    syscall: int              # published cycles per system call
    image: str = ""           # the published benchmark image
    cycles: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "cycles", derive_cycles(self.intra, self.inter, self.syscall))

    def cost_ns(self):
        """The cost table in the model's ns (integers: its clock resolution)."""
        ns = {}
        for name, cycles in self.cycles.items():
            ns[name] = round(cycles / self.ghz)
        ns["word"] = max(1, ns["word"])
        return ns

    def to_cycles(self, ns):
        return ns * self.ghz


def derive_cycles(intra, inter, syscall):
    """The cost table in cycles from the three published figures (module doc)."""
    entry = round(syscall * ENTRY_SHARE)
    after_entry = intra - entry
    transfer = round(after_entry * TRANSFER_SHARE)
    cycles = {"syscall": entry, "ipc": transfer, "switch": after_entry - transfer,
              "space": inter - intra, "kobj": syscall - entry, "word": WORD_CYCLES}
    for name, ratio in UNCALIBRATED_PER_ENTRY.items():
        cycles[name] = round(entry * ratio)
    return cycles


_F2 = "https://l4re.org/download/ipcbench/"


def _arm(name, machine, ghz, ghz_source, intra, inter, syscall, image):
    return Platform(name, "arm64", machine, ghz, ghz_source, intra, inter, syscall,
                    _F2 + "arm64/" + image)


def _x86(name, machine, ghz, ghz_source, intra, inter, syscall, image):
    return Platform(name, "x86_64", machine, ghz, ghz_source, intra, inter, syscall,
                    _F2 + "amd64/" + image)


# x86 rows: the published "clocks unhalted" counter (core cycles); the frequency is the
# published core/TSC cycle ratio times the processor's nominal (TSC) frequency.
PLATFORMS = {p.name: p for p in (
    _arm("rpi5-el1", "Raspberry Pi 5, Arm Cortex-A76, kernel at EL1", 2.4,
         "BCM2712 nominal clock", 247, 384, 138, "l4re_ipcbench_rpi5-el1.uimage"),
    _arm("rpi5-el2", "Raspberry Pi 5, Arm Cortex-A76, kernel at EL2", 2.4,
         "BCM2712 nominal clock", 300, 401, 202, "l4re_ipcbench_rpi5-el2.uimage"),
    _arm("rpi4-el1", "Raspberry Pi 4, Arm Cortex-A72, kernel at EL1", 1.5,
         "BCM2711 nominal clock (1.8 GHz on later boards)", 505, 702, 305,
         "l4re_ipcbench_rpi4-el1.uimage"),
    _arm("rpi4-el2", "Raspberry Pi 4, Arm Cortex-A72, kernel at EL2", 1.5,
         "BCM2711 nominal clock (1.8 GHz on later boards)", 1388, 1600, 567,
         "l4re_ipcbench_rpi4-el2.uimage"),
    _arm("s32g2-el1", "NXP S32G2, Arm Cortex-A53, kernel at EL1", 1.0,
         "S32G2 Cortex-A53 maximum clock", 562, 691, 230, "l4re_ipcbench_s32g-el1.uimage"),
    _arm("s32g2-el2", "NXP S32G2, Arm Cortex-A53, kernel at EL2", 1.0,
         "S32G2 Cortex-A53 maximum clock", 661, 770, 228, "l4re_ipcbench_s32g-el2.uimage"),
    _arm("altra-el1", "Ampere Altra (32/80 cores), Arm Neoverse-N1, kernel at EL1", 3.0,
         "estimate: Altra Q80-30 maximum clock", 257, 399, 142,
         "l4re_ipcbench-sbsa-el1-20250602.elf"),
    _arm("altra-el2", "Ampere Altra (32/80 cores), Arm Neoverse-N1, kernel at EL2", 3.0,
         "estimate: Altra Q80-30 maximum clock", 299, 440, 148,
         "l4re_ipcbench-sbsa-el2-20250602.elf"),
    _x86("n100", "Intel N100", 3.4, "estimate: maximum turbo clock (TSC rate unpublished)",
         622, 1388, 188, "l4re_ipcbench-20250602.elf"),
    _x86("i9-13900k", "Intel Core i9-13900K", 4.0,
         "687/516 core/TSC cycles x 3.0 GHz P-core base", 687, 1240, 158,
         "l4re_ipcbench-20250602.elf"),
    _x86("xeon-8352s", "Intel Xeon Platinum 8352S", 2.8,
         "649/511 core/TSC cycles x 2.2 GHz base", 649, 1128, 160, "l4re_ipcbench.elf32"),
    _x86("xeon-6248r", "Intel Xeon Gold 6248R", 3.0,
         "663/664 core/TSC cycles x 3.0 GHz base", 663, 1172, 146,
         "l4re_ipcbench-20250602.elf"),
)}


def names(arch=None):
    """The profile names (for one architecture, if given), `model` first."""
    return [MODEL] + [n for n, p in PLATFORMS.items() if arch is None or p.arch == arch]


def lookup(platform, arch):
    """The Platform for a name (None for `model`); ValueError naming the argument if the
    name is unknown or belongs to another architecture."""
    if not isinstance(platform, str):
        raise TypeError(f"platform must be a str, not {type(platform).__name__}")
    if platform == MODEL:
        return None
    p = PLATFORMS.get(platform)
    if p is None:
        raise ValueError(f"platform {platform!r} is not known; for {arch}: "
                         f"{', '.join(names(arch))}")
    if p.arch != arch:
        raise ValueError(f"platform {platform!r} is a {p.arch} machine, not {arch}; for "
                         f"{arch}: {', '.join(names(arch))}")
    return p
