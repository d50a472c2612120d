"""The demo system the `pyl4re` command boots on each architecture: a server and a client
talking over an IPC gate, and the client touching memory that sigma0 pages in. It prints
what happened, in the model's virtual time."""
import time

from . import mem
from .kernel import Kernel
from .l4sys import (
    L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_wait, l4_msgtag,
    l4_rcv_ep_bind_thread, l4_utcb,
)

CALLS = 1000
PAGES = 64


async def adder(env):
    u = l4_utcb()
    await l4_rcv_ep_bind_thread(env.caps["svc"], env.thread, 0x10)
    await l4_ipc_wait(u, L4_IPC_NEVER)
    while True:
        u.mr[0] = int(u.mr[0]) + int(u.mr[1])
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)


async def client(env):
    u = l4_utcb()
    total = 0
    for i in range(CALLS):
        u.mr[0], u.mr[1] = i, 2 * i
        await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 2, 0, 0), L4_IPC_NEVER)
        total += int(u.mr[0])
    page = 1 << 12
    for i in range(PAGES):                       # each first touch is a page fault
        await mem.store(0x1000000 + i * page, i)
    pages = sum([await mem.load(0x1000000 + i * page) for i in range(PAGES)])
    return total, pages


def run(arch, cpus=2):
    """Boot, run the demo, and return the lines it prints."""
    k = Kernel(arch=arch, cpus=cpus, memory=64 << 20)
    gate = k.create_gate(0x10)
    k.start_task(adder, name="srv", caps={"svc": gate.svr()})
    k.start_task(client, name="client", caps={"svc": gate}, cpu=cpus - 1)
    t0 = time.perf_counter()
    res = k.run()
    wall = time.perf_counter() - t0
    total, pages = res.exited["client"]
    ok = total == sum(3 * i for i in range(CALLS)) and pages == sum(range(PAGES))
    faults = k._thread_info(k._lib.kernel_sigma0_thread(k._k).raw).native_count
    return [
        k.describe(),
        f"  demo: {CALLS} IPC calls across {cpus} CPUs (sum {total}), {PAGES} × 4 KiB touched "
        f"({faults} page faults answered by sigma0); {res.now_ns / 1000:.1f} µs of virtual "
        f"time, {wall * 1000:.1f} ms of wall time: {'ok' if ok else 'WRONG'}",
    ], ok
