"""ex_ipc1 (L4Re's `examples/sys/ipc`): two threads of one program. The main thread
sends N = 1, 2, 3 ... to the other thread's capability in one word and prints what
comes back, once a second; the other thread answers each number squared."""
from ...l4sys import (
    L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_sleep, l4_ipc_wait,
    l4_msgtag, l4_msgtag_has_error, l4_timeout_from_us, l4_utcb,
)
from ..thread import start_thread


async def squarer():
    u = l4_utcb()
    tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
    while True:
        u.mr[0] = int(u.mr[0]) ** 2 & (1 << 64) - 1
        tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)


async def main(env):
    server = await start_thread(env, squarer)
    n = 1
    while True:
        await env.log.printf("Sending:  %d\n", n)
        u = l4_utcb()
        u.mr[0] = n
        tag = await l4_ipc_call(server, u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
        if l4_msgtag_has_error(tag):
            await env.log.print("IPC error\n")
            return 1
        await env.log.printf("Received: %d\n", int(u.mr[0]))
        await l4_ipc_sleep(l4_timeout_from_us(1_000_000))
        n += 1
