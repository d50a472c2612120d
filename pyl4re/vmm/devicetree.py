"""The flattened device tree a VM boots with, in the shape of uvmm's device trees
(kernkonzept/uvmm `configs/dts/`): model "L4 VM", compatible "l4,virt" /
"linux,dummy-virt", the memory node (`l4vmm,dscap = "ram"`), the CPUs, the interrupt
controller of the architecture, and one `virtio,mmio` node per device with its
`l4vmm,vdev` kind, register window and interrupt.

Built with `fdt` (PyPI): a pure-Python DTB writer and parser. The official libfdt binding
(pylibfdt) ships only as source needing SWIG and a C build on every install, which the
quickstart's one command should not need; `fdt` writes and reads DTB version 17 and the
guest driver parses the same bytes back.

The interrupt controllers per architecture follow uvmm's trees: ARM64 a GICv2
("arm,gic-400", 3 interrupt cells: SPI number, level-high), x86-64 an IOAPIC
("intel,ioapic", 1 cell), MIPS64 the MIPS GIC ("mti,gic", 3 cells: shared, number,
level-high). What a VMM does with them is its virtual interrupt controller's business.
"""
from dataclasses import dataclass, field

import fdt

GIC_SPI, IRQ_LEVEL_HIGH = 0, 4
CONTROLLERS = {
    # arch: (node name, compatible, #interrupt-cells, cpu compatible, reg of the controller)
    "arm64": ("interrupt-controller@8000000", "arm,gic-400", 3, ["arm,cortex-a53", "arm,armv8"],
              [0, 0x08000000, 0, 0x10000, 0, 0x08010000, 0, 0x10000]),
    "x86_64": ("ioapic", "intel,ioapic", 1, ["virt-intel"], None),
    "mips64": ("interrupt-controller@1bdc0000", "mti,gic", 3, ["mips,i6400"],
               [0, 0x1BDC0000, 0, 0x20000]),
}


@dataclass
class VirtioNode:
    """A virtio,mmio device: its kind (uvmm's l4vmm,vdev), window and interrupt."""
    kind: str
    base: int
    irq: int
    size: int = 0x1000


@dataclass
class Platform:
    """What a VM is given: architecture, RAM, CPUs, devices and the kernel command line."""
    arch: str
    ram_base: int
    ram_size: int
    cpus: int = 1
    devices: list = field(default_factory=list)
    bootargs: str = ""


def _interrupts(arch, irq):
    cells = CONTROLLERS[arch][2]
    return [irq] if cells == 1 else [GIC_SPI, irq, IRQ_LEVEL_HIGH]


def build(p):
    """The DTB bytes for platform `p`."""
    if p.arch not in CONTROLLERS:
        raise ValueError(f"no device-tree shape for architecture {p.arch!r}")
    name, compatible, cells, cpu_compat, reg = CONTROLLERS[p.arch]
    t = fdt.FDT()
    t.add_item(fdt.PropStrings("model", "L4 VM"))
    t.add_item(fdt.PropStrings("compatible", "l4,virt", "linux,dummy-virt"))
    t.add_item(fdt.PropWords("#address-cells", 2))
    t.add_item(fdt.PropWords("#size-cells", 2))
    t.add_item(fdt.PropWords("interrupt-parent", 1))
    chosen = fdt.Node("chosen")
    if p.bootargs:
        chosen.append(fdt.PropStrings("bootargs", p.bootargs))
    t.add_item(chosen)
    mem = fdt.Node(f"memory@{p.ram_base:x}")
    mem.append(fdt.PropStrings("device_type", "memory"))
    mem.append(fdt.PropWords("reg", p.ram_base >> 32, p.ram_base & 0xFFFFFFFF,
                             p.ram_size >> 32, p.ram_size & 0xFFFFFFFF))
    mem.append(fdt.PropStrings("l4vmm,dscap", "ram"))
    t.add_item(mem)
    cpus = fdt.Node("cpus")
    cpus.append(fdt.PropWords("#address-cells", 1))
    cpus.append(fdt.PropWords("#size-cells", 0))
    for i in range(p.cpus):
        cpu = fdt.Node(f"cpu@{i}")
        cpu.append(fdt.PropStrings("device_type", "cpu"))
        cpu.append(fdt.PropStrings("compatible", *cpu_compat))
        cpu.append(fdt.PropWords("reg", i))
        if p.arch == "arm64":
            cpu.append(fdt.PropStrings("enable-method", "psci"))
        cpus.append(cpu)
    t.add_item(cpus)
    ic = fdt.Node(name)
    ic.append(fdt.PropStrings("compatible", compatible))
    ic.append(fdt.Property("interrupt-controller"))
    ic.append(fdt.PropWords("#interrupt-cells", cells))
    ic.append(fdt.PropWords("phandle", 1))
    if reg:
        ic.append(fdt.PropWords("reg", *reg))
    t.add_item(ic)
    for d in p.devices:
        node = fdt.Node(f"virtio_mmio@{d.base:x}")
        node.append(fdt.PropStrings("compatible", "virtio,mmio"))
        node.append(fdt.PropWords("reg", d.base >> 32, d.base & 0xFFFFFFFF, 0, d.size))
        node.append(fdt.PropWords("interrupts", *_interrupts(p.arch, d.irq)))
        node.append(fdt.PropStrings("l4vmm,vdev", d.kind))
        t.add_item(node)
    return t.to_dtb(version=17)


def virtio_devices(dtb):
    """What a guest finds in a DTB: [(kind, base, size, interrupt cells)] of its
    virtio,mmio nodes, in order; and the RAM (base, size)."""
    t = fdt.parse_dtb(bytes(dtb))
    found, ram = [], None
    for node in t.root.nodes:
        compat = node.get_property("compatible")
        reg = node.get_property("reg")
        if node.name.startswith("memory@") and reg:
            w = list(reg.data)
            ram = (w[0] << 32 | w[1], w[2] << 32 | w[3])
        if compat and "virtio,mmio" in compat.data and reg:
            w = list(reg.data)
            kind = node.get_property("l4vmm,vdev")
            found.append((kind.value if kind else None, w[0] << 32 | w[1],
                          w[2] << 32 | w[3], list(node.get_property("interrupts").data)))
    return found, ram
