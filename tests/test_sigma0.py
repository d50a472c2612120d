"""sigma0, the root pager the kernel boots (user-level §1): page faults 1:1, the sigma0
protocol (label -6), first come first served, refusals."""
import pytest

import pyl4re
from pyl4re import Kernel, VirtAddr
from pyl4re.l4sys import (
    L4_BASE_PAGER_CAP, L4_EBADPROTO, L4_EINVAL, L4_ENOMEM, L4_ENOSYS, L4_FPAGE_RWX,
    L4_IPC_NEVER, L4_ITEM_MAP, l4_error, l4_fpage, l4_ipc_call, l4_msgtag, l4_utcb,
)

MAGIC = 0xFFFFFFFFFFFFFF00
RAM, IOMEM, ANY, KIP = 0x60, 0x70, 0x90, 0xA0
MB = 1 << 20


async def request(kind, fpage=0, window=None, label=-6, mr0=None):
    """One sigma0 request through the task's pager gate; (l4_error, MR0, MR1)."""
    u = l4_utcb()
    u.mr[0] = MAGIC + kind if mr0 is None else mr0
    u.mr[1] = fpage
    u.bdr, u.br[0], u.br[1] = 0, L4_ITEM_MAP, window if window is not None else 0xFC0
    tag = await l4_ipc_call(L4_BASE_PAGER_CAP, u, l4_msgtag(label, 2, 0, 0), L4_IPC_NEVER)
    return l4_error(tag, u), int(u.mr[0]), int(u.mr[1])


def run(k, main, name="m", **kw):
    h = k.start_task(main, name=name, **kw)
    return k.run().exited[name], h


def test_map_ram_at_a_physical_address(arch):
    k = Kernel(arch=arch, memory=16 * MB)
    shift = k.arch_info["page_shift"]

    async def main(env):
        err, w0, w1 = await request(RAM, l4_fpage(0x400000, 21, 0).raw)   # 2 MiB at 4 MiB
        return err, w0 & 0x3E

    (err, kind), h = run(k, main)
    assert err == 0 and kind == 0x18                            # a memory item arrived
    pa, size, rights = h.translate(VirtAddr(0x400000 + 0x1234))
    assert pa.value == 0x401234 and rights == L4_FPAGE_RWX
    assert size in (1 << 21, 1 << shift)                        # a superpage where offered


def test_any_free_ram_is_first_fit_and_naturally_aligned(arch):
    k = Kernel(arch=arch, memory=16 * MB)
    order = k.arch_info["page_shift"] + 2

    async def main(env):
        results = []
        for _ in range(3):
            err, w0, _ = await request(ANY, l4_fpage(0, order, 0).raw,
                                       window=l4_fpage(0x20000000, order, L4_FPAGE_RWX).raw)
            results.append((err, w0 & ~0xFFF))
        return results

    results, h = run(k, main)
    bases = [base for err, base in results]
    assert all(err == 0 for err, _ in results)
    assert bases == sorted(bases) and len(set(bases)) == 3
    assert all(b % (1 << order) == 0 for b in bases)
    # The memory landed in the receive window (the window is reused: the last one stays).
    assert h.translate(VirtAddr(0x20000000))[0].value == bases[-1]


def test_first_come_first_served_and_idempotent(arch):
    k = Kernel(arch=arch, memory=16 * MB)
    fp = l4_fpage(0x600000, k.arch_info["page_shift"], 0).raw

    async def first(env):
        a = (await request(RAM, fp))[0]
        b = (await request(RAM, fp))[0]                          # same owner: again fine
        return a, b

    async def second(env):
        return (await request(RAM, fp))[0]

    k.start_task(first, name="a", prio=10)
    k.start_task(second, name="b", prio=5)
    assert k.run().exited == {"a": (0, 0), "b": -L4_ENOMEM}


@pytest.mark.parametrize("case, expected", [
    ("misaligned", -L4_EINVAL), ("too_small", -L4_EINVAL), ("kernel_frame", -L4_ENOMEM),
    ("beyond_memory", -L4_ENOMEM), ("iomem", -L4_ENOMEM), ("kip", -L4_ENOSYS),
    ("unknown_id", -L4_ENOSYS), ("not_magic", -L4_ENOSYS), ("bad_label", -L4_EBADPROTO),
])
def test_refusals(arch, case, expected):
    k = Kernel(arch=arch, memory=16 * MB)
    shift = k.arch_info["page_shift"]

    async def main(env):
        mem_fpage = lambda addr, order: addr | (order << 6) | (1 << 4)     # raw: unchecked
        if case == "misaligned":                        # not aligned to its own size
            return (await request(RAM, mem_fpage(0x800000 + (1 << shift), 21)))[0]
        if case == "too_small":                         # below the page size
            return (await request(RAM, mem_fpage(0x800000, shift - 1)))[0]
        if case == "kernel_frame":
            return (await request(RAM, l4_fpage(0x4000, shift, 0).raw))[0]
        if case == "beyond_memory":
            return (await request(RAM, l4_fpage(64 * MB, shift, 0).raw))[0]
        if case == "iomem":
            return (await request(IOMEM, l4_fpage(0x800000, shift, 0).raw))[0]
        if case == "kip":
            return (await request(KIP))[0]
        if case == "unknown_id":
            return (await request(0xB0))[0]
        if case == "not_magic":
            return (await request(0, mr0=0x60))[0]
        return (await request(RAM, 0, label=5))[0]

    assert run(k, main)[0] == expected


def test_page_faults_are_answered_one_page_at_a_time(arch):
    k = Kernel(arch=arch, memory=16 * MB)
    ps = 1 << k.arch_info["page_shift"]

    async def main(env):
        await pyl4re.mem.write(0xA00000, b"x" * (2 * ps))
        return "ok"

    _, h = run(k, main)
    for off in (0, ps):
        pa, size, rights = h.translate(VirtAddr(0xA00000 + off))
        assert pa.value == 0xA00000 + off and size == ps and rights == L4_FPAGE_RWX
    assert h.translate(VirtAddr(0xA00000 + 2 * ps)) is None
