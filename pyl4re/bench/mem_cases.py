"""The memory systems of `pyl4re bench` (its cases are listed in ipc_cases.py): page-fault
resolution (fault, page-fault IPC to the pager, map item, retry) with sigma0 or a pager
µApp, and map plus unmap of a page or a 2 MiB superpage by a µApp (l4_task_map,
l4_task_unmap). Each builder returns a `System` (system.py) whose op is one fault, or one
map with its unmap."""
from .. import _core, mem
from ..kernel import Kernel
from ..l4sys import (
    L4_BASE_PAGER_CAP, L4_FP_ALL_SPACES, L4_FPAGE_RW, L4_FPAGE_RWX, L4_IPC_NEVER,
    L4_IPC_SEND_TIMEOUT_0, L4_ITEM_MAP, L4_PROTO_SIGMA0, l4_error, l4_factory_create_task,
    l4_fpage, l4_fpage_invalid, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_wait,
    l4_map_control, l4_msgtag, l4_msgtag_items, l4_msgtag_label, l4_task_map, l4_task_unmap,
    l4_utcb,
)
from .system import System, counter, native_count

SIGMA0_REQ_ANY = 0xFFFFFFFFFFFFFF90   # sigma0 protocol: any free RAM of a size (user-level §1)
KERNEL_MEMORY = 4 << 20
SUPERPAGE = 21                         # 2 MiB
POOL = 0x20000000                      # where a pager or mapper keeps its 2 MiB from sigma0
FAULT_BASE = 0x10000000                # where the faulter served by a pager µApp touches
MAP_DST = 0x40000000                   # where the mapper maps into its other task
PAGER_LABEL = 0x40


async def ram_from_sigma0(va, order):
    """2^order bytes of any free RAM from sigma0 (the task's pager), at va in our space."""
    u = l4_utcb()
    u.mr[0], u.mr[1] = SIGMA0_REQ_ANY, l4_fpage(0, order, 0).raw
    u.bdr, u.br[0], u.br[1] = 0, L4_ITEM_MAP, l4_fpage(va, order, L4_FPAGE_RWX).raw
    tag = await l4_ipc_call(L4_BASE_PAGER_CAP, u, l4_msgtag(L4_PROTO_SIGMA0, 2, 0, 0),
                            L4_IPC_NEVER)
    if l4_msgtag_label(tag) or l4_msgtag_items(tag) != 1:
        raise MemoryError(f"sigma0 gave no {1 << order:#x} bytes of RAM (tag {tag.raw:#x})")


def start_pager(k, gate):
    """A pager µApp serving `gate`, as an L4Re region mapper: it answers each page fault
    with a map item of one page of its 2 MiB pool (the faulting page's number modulo the
    pool's pages), so any number of fresh pages can fault. Returns its handle."""
    shift = k.arch_info["page_shift"]
    pool_pages = 1 << (SUPERPAGE - shift)

    async def pager(env):
        await ram_from_sigma0(POOL, SUPERPAGE)
        u = l4_utcb()
        await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            page = int(u.mr[0]) >> shift
            u.mr[0] = l4_map_control(page << shift, 0, 0)
            u.mr[1] = l4_fpage(POOL + (page % pool_pages << shift), shift, L4_FPAGE_RW).raw
            await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 1, 0), L4_IPC_SEND_TIMEOUT_0)

    handle = k.start_task(pager, name="pager", caps={"svc": gate.svr()})
    gate.bind(handle, PAGER_LABEL)
    return handle


def sigma0_ram(k):
    """Where the RAM sigma0 hands out 1:1 starts: the first 2 MiB boundary above the KIP
    (which sigma0 keeps for the kernel)."""
    return (k._lib.kernel_kip(k._k).raw + (2 << 20)) & ~((2 << 20) - 1)


def page_fault_system(arch, pages, faulter_native, pager_native):
    """A faulter reading `pages` fresh pages one after another (the native toucher, or a
    µApp through pyl4re.mem), each fault resolved by sigma0 (pager_native), which maps
    the page 1:1 so the faulter reads RAM sigma0 owns, or by the pager µApp."""
    shift = _core.load(arch)[1].arch_describe().page_shift
    span = pages << shift
    memory = KERNEL_MEMORY + (2 << 20) + span if pager_native else 16 << 20
    k = Kernel(arch=arch, memory=memory, kernel_memory=KERNEL_MEMORY, trace_size=0)
    tasks, pager = {}, None
    if pager_native:
        base = sigma0_ram(k)
        if base + span > memory:
            raise ValueError(f"{pages} pages do not fit {memory:#x} bytes of memory")
    else:
        base, pager = FAULT_BASE, k.create_gate(PAGER_LABEL)
        tasks["pager"] = start_pager(k, pager)
    if faulter_native:
        tasks["faulter"] = k.start_native("touch", "faulter", user=(base, pages, 0),
                                          pager=pager)
        return System(k, native_count(tasks["faulter"]), tasks)
    n, done = counter()

    async def faulter(env):
        for i in range(pages):
            await mem.load(base + (i << shift))
            n[0] += 1
    tasks["faulter"] = k.start_task(faulter, name="faulter", pager=pager)
    return System(k, done, tasks)


def map_unmap_system(arch, ops, superpage, trace_size=0):
    """A mapper µApp with 2 MiB of RAM from sigma0 and a task it created: `ops` times it
    maps one page of that RAM (in turn) or all 2 MiB into the task at MAP_DST with
    l4_task_map, then unmaps it there with l4_task_unmap. An op is one map and its unmap.
    The 2 MiB arrive as one superpage on x86-64 and arm64; MIPS64 has 128 16 KiB pages."""
    k = Kernel(arch=arch, memory=16 << 20, kernel_memory=KERNEL_MEMORY, trace_size=trace_size)
    order = SUPERPAGE if superpage else k.arch_info["page_shift"]
    pieces = 1 << (SUPERPAGE - order)
    n, done = counter()

    async def mapper(env):
        await ram_from_sigma0(POOL, SUPERPAGE)
        u, dst = l4_utcb(), env.first_free_cap << 12
        tag = await l4_factory_create_task(env.factory, dst, l4_fpage_invalid())
        if l4_error(tag, u):
            raise RuntimeError(f"creating the task to map into failed: {l4_error(tag, u)}")
        for i in range(ops):
            if i == 1:
                system.mark()                    # the first op warms up; time the rest
            offset = (i % pieces) << order
            tag = await l4_task_map(dst, env.task, l4_fpage(POOL + offset, order, L4_FPAGE_RW),
                                    l4_map_control(MAP_DST + offset, 0, 0))
            if l4_error(tag, u):
                raise RuntimeError(f"l4_task_map failed: {l4_error(tag, u)}")
            tag = await l4_task_unmap(dst, l4_fpage(MAP_DST + offset, order, L4_FPAGE_RWX),
                                      L4_FP_ALL_SPACES)
            if l4_error(tag, u):
                raise RuntimeError(f"l4_task_unmap failed: {l4_error(tag, u)}")
            n[0] += 1

    system = System(k, done)
    system.tasks["mapper"] = k.start_task(mapper, name="mapper")
    return system
