"""vm-multi (the shape of L4Re's `vm-multi.cfg`): three VMM µApps, one VM each, tagged
"vm-1".."vm-3", side by side on two CPUs (vm-1 and vm-3 on CPU 0, vm-2 on CPU 1). Each
VMM is the vm-basic one (examples/vm_basic.py) with its own guest RAM, console and disk;
each guest prints its own lines and writes its own sectors, so any mix-up between the VMs
shows in the logs or on the disks.

Run it: `python examples/vm_multi.py [arch]`; tests/test_example_vm_multi.py checks every
VM's console lines (in order, per tag) and disk on every architecture.
"""
import importlib.util
import pathlib
import sys

from pyl4re import Kernel

_BASIC = pathlib.Path(__file__).resolve().parent / "vm_basic.py"
_spec = importlib.util.spec_from_file_location("vm_basic", _BASIC)
basic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(basic)

TAGS = ["vm-1", "vm-2", "vm-3"]
CPUS = 2


def lines_of(tag):
    return [f"Hello from {tag}", f"{tag} runs beside {len(TAGS) - 1} other VMs"]


def writes_of(n):
    """What guest n writes: its own sector and its own bytes."""
    return [(2 + n, f"disk of vm-{n + 1}".encode().ljust(512, bytes([0x30 + n])))]


def run(arch="x86_64", log_schedule=False):
    k = Kernel(arch=arch, cpus=CPUS, memory=32 << 20, log_schedule=log_schedule)
    vms = {tag: basic.start_vm(k, arch, tag, cpu=n % CPUS, lines=lines_of(tag),
                               writes=writes_of(n))
           for n, tag in enumerate(TAGS)}
    return {"result": k.run(), "kernel": k, "vms": vms}


if __name__ == "__main__":
    out = run(sys.argv[1] if len(sys.argv) > 1 else "x86_64")    # the log prints itself
    print("vmms:", out["result"].exited)
