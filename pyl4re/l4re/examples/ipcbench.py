"""ipcbench (L4Re/ipcbench): ping-pong IPC round trips with empty messages, a caller
against a responder doing reply-and-wait; each call counts as two IPCs. Figures are in
virtual cycles of a 1 GHz clock (the KIP clock, µs × 1000), the model's time.

`ipcbench -1` measures two threads of one address space; `ipcbench -p` a caller and a
responder pinned to each CPU of its scheduler, all at once (each caller sends its figure
to the main thread, which prints them in CPU order); the two-address-space case is
`ipcbench_server` (binds the gate `comm` with label 0x10 and answers) and
`ipcbench_client` (calls it). `-n ROUNDS` sets the round trips (L4Re: 300000; here 1000
by default, the model being slow in host time, not in virtual time)."""
from ... import mem
from ...arch_consts import running_consts
from ...l4sys import (
    L4_INVALID_CAP, L4_IPC_NEVER, l4_error, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_send,
    l4_ipc_wait, l4_msgtag, l4_msgtag_has_error, l4_rcv_ep_bind_thread, l4_scheduler_info,
    l4_utcb,
)
from ..thread import start_thread

KIP_CLOCK = 0x20
DEFAULT_ROUNDS = 1000
NO_FIGURE = (1 << 64) - 1                # a caller's word for "IPC error"


def _rounds(args):
    if "-n" in args:
        i = args.index("-n")
        if i + 1 < len(args) and args[i + 1].isdigit() and int(args[i + 1]) > 0:
            return int(args[i + 1])
    return DEFAULT_ROUNDS


async def _cycles():
    return await mem.load(running_consts().kip_va + KIP_CLOCK, 8) * 1000


async def responder():
    u = l4_utcb()
    await l4_ipc_wait(u, L4_IPC_NEVER)
    while True:
        await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)


async def _measure(dest, rounds):
    """Cycles for `rounds` calls to `dest`, or None after an IPC error."""
    u = l4_utcb()
    start = await _cycles()
    for _ in range(rounds):
        tag = await l4_ipc_call(dest, u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)
        if l4_msgtag_has_error(tag):
            return None
    return await _cycles() - start


async def _report(env, cpu, rounds, took):
    if took is None:
        await env.log.print("IPC error\n")
        return 1
    ipcs = 2 * rounds
    await env.log.printf("CPU %2u done %d IPCs in %d cycles, %d cycles/IPC\n",
                         cpu, ipcs, took, took // ipcs)
    return 0


async def _ping(env, dest, rounds, cpu=0):
    return await _report(env, cpu, rounds, await _measure(dest, rounds))


async def main(env):
    """One address space: a responder thread and the main thread calling it (-1), or
    a pair per CPU at once (-p)."""
    if "-p" in env.args:
        return await parallel(env, _rounds(env.args))
    other = await start_thread(env, responder)
    return await _ping(env, other, _rounds(env.args))


async def parallel(env, rounds):
    """A responder and a caller pinned to each CPU; each caller sends its figure to the
    main thread, which prints them in CPU order once all are in."""
    _, _, cpus = await l4_scheduler_info(env.scheduler)
    present = [c for c in range(64) if cpus.map >> c & 1]
    keep = []                              # the callers' code stays alive while they run
    for cpu in present:
        other = await start_thread(env, responder, cpu=cpu)

        async def caller(cpu=cpu, other=other):
            took = await _measure(other, rounds)
            u = l4_utcb()
            u.mr[0], u.mr[1] = cpu, NO_FIGURE if took is None else took
            await l4_ipc_send(env.main_thread, u, l4_msgtag(0, 2, 0, 0), L4_IPC_NEVER)
        keep.append(caller)
        await start_thread(env, caller, cpu=cpu)
    figures = {}
    for _ in present:
        u = l4_utcb()
        await l4_ipc_wait(u, L4_IPC_NEVER)
        took = int(u.mr[1])
        figures[int(u.mr[0])] = None if took == NO_FIGURE else took
    failed = 0
    for cpu in sorted(figures):
        failed |= await _report(env, cpu, rounds, figures[cpu])
    return failed


async def server(env):
    gate = env.get_cap("comm")
    if gate == L4_INVALID_CAP or l4_error(
            await l4_rcv_ep_bind_thread(gate, env.main_thread, 0x10)) < 0:
        await env.log.print("ipcbench_server: no gate 'comm' to bind\n")
        return 1
    await responder()


async def client(env):
    gate = env.get_cap("comm")
    if gate == L4_INVALID_CAP:
        await env.log.print("ipcbench_client: no gate 'comm'\n")
        return 1
    return await _ping(env, gate, _rounds(env.args))
