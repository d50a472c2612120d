"""The kernel info page (user-level §2): its fields, and that every task sees it
read-only at KIP_VA."""
import struct

import pyl4re
from pyl4re import Kernel, VirtAddr
from pyl4re.mem import PageFaultError

MB = 1 << 20


def test_fields(arch):
    k = Kernel(arch=arch, cpus=2, memory=16 * MB)
    kip = bytes(k.kip)
    magic, version = struct.unpack_from("<II", kip, 0)
    assert magic == 0x4BE6344C and version & 0xFF00FFFF == 0x87004444
    strings = kip[kip[8] << 4:].split(b"\0")
    assert strings[0].startswith(b"pyl4re") and b"mapdb" in strings[1:strings.index(b"", 1)]
    granularity, descs, num = struct.unpack_from("<III", kip, 0x50)
    assert granularity == 1000 and num == 3
    entries = [struct.unpack_from("<QQ", kip, descs + 16 * i) for i in range(num)]
    kinds = [(l & 0xF, bool(l & 0x200), l & ~0x3FF, h | 0x3FF) for l, h in entries]
    sigma0_first = k.frames.stats()["sigma0_first_pfn"] << 12
    assert (1, False, sigma0_first, 16 * MB - 1) in kinds            # conventional RAM
    assert (2, False, 0, sigma0_first - 1) in kinds                  # the kernel's
    assert (1, True, 0, k.arch_info["user_max"]) in kinds            # user virtual space
    assert kip[0x70:0x76] == b"pyl4re" and struct.unpack_from("<I", kip, 0x80)[0] == 1


def test_every_task_reads_it_and_cannot_write_it(arch):
    k = Kernel(arch=arch, memory=16 * MB)

    async def reader(env):
        magic = await pyl4re.mem.load(env.kip, 4)
        await pyl4re.compute(3_000_000)
        clock = await pyl4re.mem.load(env.kip + 0x20, 8)
        try:
            await pyl4re.mem.store(env.kip, 0, 4)
            wrote = True
        except PageFaultError:
            wrote = False
        return magic, clock, wrote

    a = k.start_task(reader, name="a")
    b = k.start_task(reader, name="b")
    res = k.run()
    for name in ("a", "b"):
        magic, clock, wrote = res.exited[name]
        assert magic == 0x4BE6344C and not wrote
        assert 3000 <= clock < 7000                      # µs of virtual time
    pa_a, size, rights = a.translate(VirtAddr(a.env.kip))
    assert pa_a == b.translate(VirtAddr(b.env.kip))[0] and rights == 5      # R and X
    assert struct.unpack_from("<I", bytes(k.kip), 0)[0] == 0x4BE6344C       # unchanged
