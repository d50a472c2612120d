"""Booting a Kernel: configuration, refusals, physical memory shared with C, base caps."""
import numpy as np
import pytest

import pyl4re
from pyl4re import CapIndex, Kernel, _core

SPEC_EXC_WORDS = {"x86_64": 26, "arm64": 40, "mips64": 41}


def test_every_architecture_boots_with_defaults():
    for arch in _core.available_arches():
        k = Kernel(arch=arch)
        assert k.arch == arch and k.cpus == 1 and k.memory == 64 << 20 and k.seed is None
        assert k.arch_info["name"] == arch


def test_arch_info_matches_spec(kernel, arch):
    info = kernel.arch_info
    assert info["mword_bits"] == 64
    assert info["utcb_size"] == 1024
    assert info["exc_regs_words"] == SPEC_EXC_WORDS[arch]


def test_physmem_is_a_numpy_array_shared_with_c(kernel):
    mem = kernel.physmem
    assert isinstance(mem, np.ndarray) and mem.dtype == np.uint8 and mem.size == 16 << 20
    mem[0x300000] = 0xAB
    # The C allocator zeroes what it hands out: writing then allocating shows sharing.
    pa = kernel.frames.alloc()
    mem[pa.value:pa.value + 4096] = 0x5A
    kernel.frames.free(pa)
    again = kernel.frames.alloc()
    assert again == pa
    assert not mem[pa.value:pa.value + 4096].any()


def test_physmem_is_the_same_object_each_time(kernel):
    assert kernel.physmem is kernel.physmem


@pytest.mark.parametrize("kwargs, exc", [
    ({"arch": "sparc"}, ValueError),
    ({"cpus": 0}, ValueError),
    ({"cpus": 65}, ValueError),
    ({"cpus": 1.5}, TypeError),
    ({"cpus": True}, TypeError),
    ({"memory": 1 << 19}, ValueError),            # below 1 MiB
    ({"memory": (16 << 20) + 1}, ValueError),     # not whole frames
    ({"memory": 1 << 33}, ValueError),            # above 4 GiB
    ({"memory": -4096}, ValueError),
    ({"seed": -1}, ValueError),
    ({"seed": "0"}, TypeError),
    ({"memory": 4 << 20, "kernel_memory": 4 << 20}, ValueError),
    ({"kernel_memory": 4096}, ValueError),
    ({"kernel_memory": (1 << 20) + 1}, ValueError),
])
def test_bad_configuration_is_refused(kwargs, exc):
    with pytest.raises(exc):
        Kernel(**{"memory": 16 << 20, **kwargs})


def test_unbuilt_architecture_names_the_fix(monkeypatch):
    monkeypatch.setattr(_core, "_loaded", {})
    real = _core.importlib.import_module

    def only_x86(name):
        if name.endswith(("arm64", "mips64")):
            raise ImportError(name)
        return real(name)
    monkeypatch.setattr(_core.importlib, "import_module", only_x86)
    with pytest.raises(ValueError, match="PYL4RE_ARCHES"):
        _core.load("arm64")
    assert _core.available_arches() == ("x86_64",)


def test_root_task_holds_the_base_capabilities(kernel):
    root = kernel.root_task
    expected = {1: "task", 2: "factory", 5: "log", 6: "icu", 7: "scheduler", 8: "iommu",
                10: "debugger"}
    for index, kind in expected.items():
        cap = root.cap(CapIndex(index))
        assert cap is not None and cap.type == kind, index
        assert cap.rights == 0xF
    for empty in (0, 3, 4, 9, 11, 12):
        assert root.cap(CapIndex(empty)) is None
    assert root.cap(CapIndex(1)).object_id == root.id
    assert kernel.root_factory.quota.limit == 0      # unlimited


def test_boot_objects_cannot_be_deleted(kernel):
    root = kernel.root_task
    alive = kernel.objects_alive
    root.delete_obj(CapIndex(2))
    assert kernel.root_factory.alive and kernel.objects_alive == alive
    assert root.cap(CapIndex(2)) is None            # the capability itself is gone


def test_memory_is_split_between_kernel_pool_and_sigma0(arch):
    k = Kernel(arch=arch, memory=8 << 20, kernel_memory=1 << 20)
    s = k.frames.stats()
    assert s["total_frames"] == 2048
    assert s["kernel_frames"] == 255                 # frame 0 is reserved
    sigma0_utcb = 1 << (k.arch_info["page_shift"] - 12)
    assert s["kernel_free_frames"] == 255 - sigma0_utcb
    assert s["sigma0_frames"] == 2048 - 256
    assert s["sigma0_first_pfn"] == 256


def test_describe_names_the_configuration(kernel, arch):
    text = kernel.describe()
    assert arch in text and "sigma0" in text and "16 MiB" in text


def test_public_surface():
    for name in pyl4re.__all__:
        assert hasattr(pyl4re, name), name
