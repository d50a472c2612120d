"""MSIs (§8.6): l4_icu_info reports them, l4_icu_msi_info gives the message a device writes
(in the architecture's format: VT-d interrupt remapping, GICv3 ITS, the model's MIPS
doorbell) and arms the interrupt remapper for that device; an Irq bound with
L4_ICU_FLAG_MSI gets the device's MSI, and nobody else's write raises it."""
import pytest

from pyl4re import Kernel
from pyl4re.hw import IommuFault
from pyl4re.l4sys import (
    L4_EINVAL, L4_ICU_FLAG_MSI, L4_IPC_NEVER, L4_IPC_RETIMEOUT, l4_error, l4_factory_create_irq,
    l4_icu_bind, l4_icu_info, l4_icu_msi_info, l4_icu_unmask, l4_ipc_error, l4_irq_receive,
    l4_rcv_ep_bind_thread, l4_timeout, l4_timeout_from_us, l4_utcb,
)

from kobj_util import ok, sel

IRQ = sel(0)
DEVICE, OTHER = 0x2A, 0x2B
MSI = 5
def driver_for(k, msg, msi=MSI):
    src = k.hw.dma_source_id(DEVICE)

    async def driver(env):
        u = l4_utcb()
        ok(await l4_factory_create_irq(env.factory, IRQ))
        ok(await l4_rcv_ep_bind_thread(IRQ, env.thread, 0x70))
        ok(await l4_icu_bind(env.icu, msi | L4_ICU_FLAG_MSI, IRQ))
        tag, addr, data = await l4_icu_msi_info(env.icu, msi | L4_ICU_FLAG_MSI, src)
        ok(tag)
        msg.append((addr, data))
        got = []
        for _ in range(2):
            tag = await l4_irq_receive(IRQ, l4_timeout(0, l4_timeout_from_us(100)))
            got.append(l4_ipc_error(tag, u))
        return got
    return driver


def test_a_device_msi_reaches_the_bound_irq(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    faults, msg = [], []

    def device():
        addr, data = msg[0]
        k.hw.msi(DEVICE, addr, data)                      # the device's own MSI
        try:
            k.hw.msi(OTHER, addr, data)                   # another device, same message
        except IommuFault as e:
            faults.append(e.reason)

    k.hw.at(20_000, device)
    k.start_task(driver_for(k, msg), name="drv")
    assert k.run().exited["drv"] == [0, L4_IPC_RETIMEOUT]   # one MSI, the other refused
    assert faults == ["MSI refused"]
    addr, data = msg[0]
    if arch == "x86_64":                 # VT-d remappable format, IRTE index = MSI
        assert addr & 0xFFF00000 == 0xFEE00000 and addr & 0x18 == 0x18
        assert (addr >> 5) & 0x7FFF == MSI and data == 0
    else:                                # ITS event / the model's doorbell: data = MSI
        assert data == MSI


def test_msi_messages_the_remapper_refuses(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    seen, msg = [], []

    def device():
        addr, data = msg[0]
        for a, d in ((addr + 0x1000_0000, data), (addr, data + 1)):
            try:
                k.hw.msi(DEVICE, a, d)                    # not the doorbell / another MSI
                seen.append("raised")
            except IommuFault as e:
                seen.append(e.reason)

    k.hw.at(20_000, device)
    k.start_task(driver_for(k, msg), name="drv")
    assert k.run().exited["drv"] == [L4_IPC_RETIMEOUT, L4_IPC_RETIMEOUT]
    # x86: index + 1 in the data is MSI 6, which msi_info never armed.
    assert seen == ["MSI refused", "MSI refused"]
    assert k.hw.iommu_stats()[0] == 2


def test_msi_info_refusals(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    src = k.hw.dma_source_id(DEVICE)

    async def main(env):
        u = l4_utcb()
        tag, features, nirqs, nmsis = await l4_icu_info(env.icu)
        r = [features & L4_ICU_FLAG_MSI, nmsis]
        for msi, s in ((nmsis, src), (0, src | 1 << 32)):       # no such MSI, other IOMMU
            tag, addr, data = await l4_icu_msi_info(env.icu, msi | L4_ICU_FLAG_MSI, s)
            r.append(l4_error(tag, u))
        ok(await l4_factory_create_irq(env.factory, IRQ))
        r.append(l4_error(await l4_icu_bind(env.icu, nmsis | L4_ICU_FLAG_MSI, IRQ), u))
        r.append(l4_error(await l4_icu_unmask(env.icu, 3 | L4_ICU_FLAG_MSI), u))
        return r

    k.start_task(main, name="main")
    r = k.run().exited["main"]
    assert r == [L4_ICU_FLAG_MSI, k._lib.ICU_MSIS, -L4_EINVAL, -L4_EINVAL, -L4_EINVAL, 0]
    with pytest.raises(ValueError):
        k.hw.msi(DEVICE, 0, 1 << 32)
    with pytest.raises(ValueError):
        k.hw.msi(1 << 16, 0, 0)
