"""examples/vm_guest.py, the "Done when" of hardware VMs: on every architecture a VMM µApp
maps 16 MiB into a VM, its guest program writes and checksums all of it, and at least
1000 exits of each kind (stage-2 miss, MMIO, hypercall, halt, IRQ) come back with the
exit information of the architecture's layout."""
import importlib.util
import pathlib
import zlib

import pytest

_PATH = pathlib.Path(__file__).resolve().parent.parent / "examples" / "vm_guest.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("vm_guest", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_guest_checksums_16_mib_and_makes_every_kind_of_exit(arch, example):
    out = example.run(arch)
    res, k = out["result"], out["kernel"]
    assert res.exited == {"vmm": "guest done"} and not out["errors"]
    assert not res.failed and not res.blocked
    assert out["checksum"] == example.expected_checksum()
    for kind, count in out["exits"].items():
        assert count >= example.EXITS, (kind, count)
    assert out["exits"]["mmio"] >= 2 * example.EXITS          # a store and a load each
    total, irqs = out["done"]
    assert total == sum(range(example.EXITS))                  # the VMM's additions
    assert irqs == example.EXITS                               # one handler run per halt
    assert out["layout_ok"]


def test_vmm_memory_holds_what_the_guest_wrote(arch, example):
    # The guest's writes went through the nested table into the VMM's own RAM.
    out = example.run(arch, steps=0)
    k, ram = out["kernel"], out["ram"]
    assert zlib.crc32(bytes(k.physmem[ram:ram + (1 << example.RAM_ORDER)])) \
        == example.expected_checksum()
