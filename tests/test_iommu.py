"""The IOMMU and DMA spaces (§8.11, §8.3 DMA space): a driver µApp creates a DMA space,
binds a device to it, maps a buffer into it with l4_task_map; the device model's DMA
(k.hw) reaches exactly what was mapped, and every other access is an IOMMU fault. Also
the page table in each architecture's IOMMU format, unmap, rebinding, deleting a bound
DMA space, and the malformed requests with the kernel's answers."""
import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.hw import IommuFault
from pyl4re.l4sys import (
    L4_BASE_IOMMU_CAP, L4_CAP_FPAGE_RW, L4_CAP_FPAGE_RWS, L4_EBADPROTO, L4_EINVAL,
    L4_EMSGTOOSHORT, L4_ENOSYS, L4_EPERM, L4_ERANGE, L4_FP_ALL_SPACES, L4_FP_OTHER_SPACES,
    L4_FPAGE_RO, L4_FPAGE_RW, L4_FPAGE_W, L4_PROTO_DMA_SPACE, L4_PROTO_IOMMU, L4_PROTO_TASK,
    l4_error, l4_factory_create, l4_fpage, l4_iommu_bind, l4_iommu_unbind, l4_ipc_sleep,
    l4_map_control, l4_map_obj_control, l4_obj_fpage, l4_task_add_ku_mem, l4_task_cap_valid,
    l4_task_delete_obj, l4_task_map, l4_task_unmap, l4_timeout, l4_timeout_from_us, l4_utcb,
    l4_msgtag_label,
)

from kobj_util import invoke, ok, sel

DMA, DMA2, TASK_SEL = sel(0), sel(1), sel(2)
DEVICE = 0x2A                     # bus 0, device 5, function 2 on x86; stream 42 elsewhere
BUF_A, BUF_B = 0x800000, 0x840000     # sigma0-backed (1:1) buffers of the driver
IOVA_A, IOVA_B = 0x100000, 0x200000   # where BUF_A is mapped for the device; B is not
DEVICE_TIME_NS = 2_000_000


def page(k):
    return 1 << k.arch_info["page_shift"]


async def sleep_us(us):
    await l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(us)))


async def make_dma_space(env, cap=DMA):
    return ok(await l4_factory_create(env.factory, L4_PROTO_DMA_SPACE, cap))


def dma_space_id(k, h, n=0):
    return h.task.cap(pyl4re.CapIndex(0x40 + n)).object_id


# ---- the Done-when scenario

def test_device_reaches_only_what_its_driver_mapped(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    src = k.hw.dma_source_id(DEVICE)
    n = page(k)
    seen = {}

    def device():
        k.hw.dma_write(DEVICE, IOVA_A + 8, b"from the device")
        try:
            k.hw.dma_write(DEVICE, IOVA_B, b"stray")           # BUF_B is not mapped
        except IommuFault as e:
            seen["fault"] = e

    async def driver(env):
        await pyl4re.mem.write(BUF_A, b"\0" * 32)
        await pyl4re.mem.write(BUF_B, b"untouched")
        await make_dma_space(env)
        ok(await l4_iommu_bind(L4_BASE_IOMMU_CAP, src, DMA))
        ok(await l4_task_map(DMA, env.task, l4_fpage(BUF_A, k.arch_info["page_shift"],
                                                     L4_FPAGE_RW),
                             l4_map_control(IOVA_A, 0, 0)))
        await sleep_us(2 * DEVICE_TIME_NS // 1000)              # the device works meanwhile
        return await pyl4re.mem.read(BUF_A + 8, 15), await pyl4re.mem.read(BUF_B, 9)

    k.hw.at(DEVICE_TIME_NS, device)
    k.start_task(driver, name="driver")
    res = k.run()
    assert res.exited["driver"] == (b"from the device", b"untouched")
    fault = seen["fault"]
    assert (fault.device, fault.iova, fault.write, fault.reason) == \
        (DEVICE, IOVA_B, True, "not mapped")
    assert k.hw.dma_faults == [fault]
    assert k.hw.iommu_stats() == (1, 1)
    # The device reads what it wrote; the page ends where the mapping ends.
    assert k.hw.dma_read(DEVICE, IOVA_A + 8, 15) == b"from the device"
    with pytest.raises(IommuFault):
        k.hw.dma_read(DEVICE, IOVA_A + n - 4, 8)                # runs into unmapped memory
    assert k.hw.iommu_stats() == (2, 2)


def run_driver(arch, driver, **kw):
    k = Kernel(arch=arch, memory=16 << 20)
    h = k.start_task(driver, name="driver", **kw)
    res = k.run()
    assert "driver" in res.exited, res
    return k, h, res.exited["driver"]


def mapped_driver(k, extra=None, rights=L4_FPAGE_RW):
    """A driver that binds DEVICE to a DMA space with BUF_A mapped at IOVA_A, then runs
    `extra(env)`; returns what extra returned."""
    src = k.hw.dma_source_id(DEVICE)
    shift = k.arch_info["page_shift"]

    async def driver(env):
        await pyl4re.mem.write(BUF_A, b"A" * 16)
        await make_dma_space(env)
        ok(await l4_iommu_bind(L4_BASE_IOMMU_CAP, src, DMA))
        ok(await l4_task_map(DMA, env.task, l4_fpage(BUF_A, shift, rights),
                             l4_map_control(IOVA_A, 0, 0)))
        return await extra(env) if extra else None
    return driver


def test_dma_space_page_table_is_the_iommu_format(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    h = k.start_task(mapped_driver(k), name="driver")
    k.run()
    space = k.object(k.hw.dma_space_of(DEVICE))
    assert space.info().type == "dma_space"
    lib = k._lib
    out = k._ffi.new("struct vspace_page *")
    assert lib.vspace_translate(k._k, [space.id], [IOVA_A + 5], out) == 0
    assert out.pa.raw == BUF_A + 5
    rootp, kindp = k._ffi.new("phys_addr_t *"), k._ffi.new("uint32_t *")
    assert lib.vspace_root(k._k, [space.id], rootp, kindp) == 0
    assert kindp[0] == lib.VSPACE_KIND_DMA
    # Walk the table by hand in the architecture's IOMMU format.
    mem = k.physmem
    entry = lambda table, idx: int(mem[table + 8 * idx:table + 8 * idx + 8].view("uint64")[0])
    table = rootp[0].raw
    if arch == "x86_64":                     # VT-d second level: phys | R | W, 4 levels
        for shift in (39, 30, 21):
            e = entry(table, (IOVA_A >> shift) & 511)
            assert e & 3 == 3 and not e & 0x80
            table = e & 0x000FFFFFFFFFF000
        leaf = entry(table, (IOVA_A >> 12) & 511)
        assert leaf == BUF_A | 0x3                                # R | W, no SP, no X bit
    elif arch == "arm64":                    # SMMU stage 2: S2AP R|W, MemAttr WB, AF, page
        for shift in (39, 30, 21):
            e = entry(table, (IOVA_A >> shift) & 511)
            assert e & 3 == 3
            table = e & 0x0000FFFFFFFFF000
        leaf = entry(table, (IOVA_A >> 12) & 511)
        assert leaf & 0x0000FFFFFFFFF000 == BUF_A
        assert leaf & 0xC0 == 0xC0 and leaf & 0x3C == 0x3C and leaf & 0x400 and leaf & 3 == 3
    else:                                    # the model's choice: the MIPS user format
        assert out.page_shift == k.arch_info["page_shift"]


def test_read_only_mapping_refuses_device_writes(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(mapped_driver(k, rights=L4_FPAGE_RO), name="driver")
    k.run()
    assert k.hw.dma_read(DEVICE, IOVA_A, 4) == b"AAAA"
    with pytest.raises(IommuFault) as e:
        k.hw.dma_write(DEVICE, IOVA_A, b"xx")
    assert e.value.reason == "read-only"
    assert k.hw.dma_read(DEVICE, IOVA_A, 4) == b"AAAA"       # nothing moved


def test_unmap_revokes_the_device_access(arch):
    k = Kernel(arch=arch, memory=16 << 20)

    async def extra(env):
        u = l4_utcb()
        # Revoking W from the driver's own page takes it from the DMA space too.
        ok(await l4_task_unmap(env.task, l4_fpage(BUF_A, k.arch_info["page_shift"],
                                                  L4_FPAGE_W), L4_FP_OTHER_SPACES))
        await sleep_us(1000)
        # Unmapping in the DMA space itself (ALL_SPACES covers the space invoked).
        ok(await l4_task_unmap(DMA, l4_fpage(IOVA_A, k.arch_info["page_shift"], L4_FPAGE_RW | 4),
                               L4_FP_ALL_SPACES))
        return l4_error(await l4_task_cap_valid(DMA, DMA), u)

    def device_after_revoke():
        seen["read"] = k.hw.dma_read(DEVICE, IOVA_A, 2)
        try:
            k.hw.dma_write(DEVICE, IOVA_A, b"no")
        except IommuFault as e:
            seen["write"] = e.reason

    seen = {}
    k.hw.at(500_000, device_after_revoke)
    k.start_task(mapped_driver(k, extra), name="driver")
    res = k.run()
    assert seen == {"read": b"AA", "write": "read-only"}
    assert res.exited["driver"] == 0          # a DMA space has no capability slots
    with pytest.raises(IommuFault) as e:
        k.hw.dma_read(DEVICE, IOVA_A, 2)
    assert e.value.reason == "not mapped"


def test_without_a_bound_dma_space_dma_fails(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    with pytest.raises(IommuFault) as e:
        k.hw.dma_read(DEVICE, 0, 1)
    assert e.value.reason == "no DMA space bound"
    assert k.hw.dma_space_of(DEVICE) is None


def test_rebinding_replaces_and_unbind_of_another_space_does_nothing(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    src = k.hw.dma_source_id(DEVICE)

    async def extra(env):
        await make_dma_space(env, DMA2)
        ok(await l4_iommu_unbind(L4_BASE_IOMMU_CAP, src, DMA2))     # not its space: no-op
        first = k.hw.dma_read(DEVICE, IOVA_A, 1)
        ok(await l4_iommu_bind(L4_BASE_IOMMU_CAP, src, DMA2))       # bound twice: replaced
        try:
            k.hw.dma_read(DEVICE, IOVA_A, 1)
            second = "read"
        except IommuFault as e:
            second = e.reason
        ok(await l4_iommu_unbind(L4_BASE_IOMMU_CAP, src, DMA2))
        return first, second, k.hw.dma_space_of(DEVICE)

    k.start_task(mapped_driver(k, extra), name="driver")
    assert k.run().exited["driver"] == (b"A", "not mapped", None)


def test_deleting_a_bound_dma_space_unbinds_its_devices(arch):
    k = Kernel(arch=arch, memory=16 << 20)

    async def extra(env):
        before = k.hw.dma_read(DEVICE, IOVA_A, 1)
        ok(await l4_task_delete_obj(env.task, DMA))
        return before, k.hw.dma_space_of(DEVICE)

    k.start_task(mapped_driver(k, extra), name="driver")
    assert k.run().exited["driver"] == (b"A", None)
    with pytest.raises(IommuFault) as e:
        k.hw.dma_write(DEVICE, IOVA_A, b"x")
    assert e.value.reason == "no DMA space bound"
    assert k.physmem[BUF_A] == ord("A")


def test_dma_space_takes_no_capabilities_and_no_ku_mem(arch):
    k = Kernel(arch=arch, memory=16 << 20)

    async def extra(env):
        u = l4_utcb()
        tag = await l4_task_map(DMA, env.task, l4_obj_fpage(env.factory, 0, L4_CAP_FPAGE_RWS),
                                l4_map_obj_control(0x10 << 12, 0))
        mapped = l4_error(tag, u), l4_msgtag_label(await l4_task_cap_valid(DMA, 0x10 << 12))
        ku = l4_error(await l4_task_add_ku_mem(DMA, l4_fpage(0xa0000000, 12, L4_FPAGE_RW)), u)
        return mapped, ku

    k.start_task(mapped_driver(k, extra), name="driver")
    assert k.run().exited["driver"] == ((0, 0), -L4_ENOSYS)


# ---- bad input: the kernel's answers

def test_iommu_bad_requests(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    src = k.hw.dma_source_id(DEVICE)

    async def extra(env):
        u = l4_utcb()
        r = {}
        r["label"] = await invoke(L4_BASE_IOMMU_CAP, L4_PROTO_TASK, [0, src])
        r["op"] = await invoke(L4_BASE_IOMMU_CAP, L4_PROTO_IOMMU, [7, src])
        r["short"] = await invoke(L4_BASE_IOMMU_CAP, L4_PROTO_IOMMU, [0])
        r["no item"] = await invoke(L4_BASE_IOMMU_CAP, L4_PROTO_IOMMU, [0, src])
        r["not a dma space"] = l4_error(await l4_iommu_bind(L4_BASE_IOMMU_CAP, src, env.task), u)
        r["other iommu"] = l4_error(await l4_iommu_bind(L4_BASE_IOMMU_CAP, src | 1 << 32, DMA), u)
        # A weaker IOMMU capability without S.
        ok(await l4_task_map(env.task, env.task,
                             l4_obj_fpage(L4_BASE_IOMMU_CAP, 0, L4_CAP_FPAGE_RW),
                             l4_map_obj_control(sel(5), 0)))
        r["no S"] = l4_error(await l4_iommu_bind(sel(5), src, DMA), u)
        return r

    k.start_task(mapped_driver(k, extra), name="driver")
    r = k.run().exited["driver"]
    assert r == {"label": -L4_EBADPROTO, "op": -L4_ENOSYS, "short": -L4_EMSGTOOSHORT,
                 "no item": -L4_EINVAL, "not a dma space": -L4_EINVAL,
                 "other iommu": -L4_EINVAL, "no S": -L4_EPERM}
    assert k.hw.dma_read(DEVICE, IOVA_A, 1) == b"A"           # the binding survived


def test_source_id_formats(arch):
    k = Kernel(arch=arch, memory=16 << 20)

    async def driver(env):
        await make_dma_space(env)
        u = l4_utcb()
        if arch == "x86_64":
            bus_match = (2 << 18) | DEVICE                          # type 2: bus matching
            return l4_error(await l4_iommu_bind(L4_BASE_IOMMU_CAP, bus_match, DMA), u)
        huge_stream = 0x10000
        return l4_error(await l4_iommu_bind(L4_BASE_IOMMU_CAP, huge_stream, DMA), u)

    k.start_task(driver, name="driver")
    expected = -L4_EINVAL if arch == "x86_64" else -L4_ERANGE
    assert k.run().exited["driver"] == expected
    assert k.hw.dma_source_id(DEVICE) == ((1 << 18) | DEVICE if arch == "x86_64" else DEVICE)


def test_hw_dma_argument_checks(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    for bad in (-1, 1 << 16, True, "1"):
        with pytest.raises(ValueError):
            k.hw.dma_read(bad, 0, 1)
    with pytest.raises(ValueError):
        k.hw.dma_read(0, -1, 1)
    with pytest.raises(ValueError):
        k.hw.dma_read(0, 0, -1)
    with pytest.raises(TypeError):
        k.hw.dma_write(0, 0, "text")
    with pytest.raises(pyl4re.L4InvalidArgumentError):
        k.hw.dma_write(0, (1 << 64) - 1, b"xy")                  # wraps around
    with pytest.raises(IommuFault):
        k.hw.dma_read(0, 0, 0)                 # even an empty access needs a bound space
    assert k.hw.iommu_stats() == (1, 0)
