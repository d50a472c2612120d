"""L4Re's ipcbench in the model: its ping-pong scenarios as µApps, with virtual counters.

ipcbench (github.com/l4re/ipcbench) measures, with the CPU's cycle counter, `Num_rounds`
calls from a caller to a responder that answers with reply-and-wait, and prints one line
per counter, e.g. `CPU  0 done 20000 IPCs in 4940000 cpu-cycles, 247 cpu-cycles/IPC`
(a call is two IPCs). Its scenarios, as here:

- one address space: caller and responder are two threads of one task;
- two address spaces: a client task calls a server task through an IPC gate;
- parallel: one such pair of threads per CPU, all at once;
- syscall: a thread invokes its own thread object with a control operation that changes
  nothing (the kernel bails out early), `Num_rounds` times.

The µApp functions below are the programs (`responder`, `caller`, `client`, `syscall`);
`run(arch, platform)` starts them on a kernel and returns their lines. The counter a µApp
reads is its CPU's virtual clock (the model's cycle counter register): in cycles under a
platform profile (clock ns x the profile's GHz), in ns under the `model` table, as
ipcbench's generic build reports ns.
"""
from dataclasses import dataclass

from .. import traps
from ..kernel import Kernel
from ..l4sys import (
    L4_IPC_NEVER, L4_PROTO_THREAD, L4_THREAD_CONTROL_OP, l4_ipc_call, l4_ipc_error,
    l4_ipc_reply_and_wait, l4_ipc_wait, l4_msgtag, l4_rcv_ep_bind_thread, l4_utcb,
)

NUM_ROUNDS = 10_000          # ipcbench's Num_rounds
COMM_LABEL = 0x10            # the gate's label (any: ipcbench's responder ignores it)


def read_counter():
    """The running thread's CPU clock (virtual ns): what a counter register would show."""
    rec = traps.running()
    k = rec.kernel
    return k.cpu_clock(k._thread_info(rec.id).cpu)[0]


@dataclass
class Line:
    """One ipcbench result line: `ops` operations of `opname` took `ns` of virtual time."""
    cpu: int
    ops: int
    opname: str
    ns: int

    def counted(self, profile):
        """(count, unit): cycles under a platform profile, else ns."""
        if profile is None:
            return self.ns, "ns"
        return round(profile.to_cycles(self.ns)), "cpu-cycles"

    def per_op(self, profile):
        count, _ = self.counted(profile)
        return count / self.ops

    def text(self, profile):
        count, unit = self.counted(profile)
        return (f"CPU {self.cpu:2d} done {self.ops} {self.opname}s in {count} {unit}, "
                f"{count // self.ops} {unit}/{self.opname}")


def lines_of(results):
    return [r for r in results if isinstance(r, Line)]


# ---- the programs (µApp functions: `env.caps["comm"]` is the gate they share)

async def responder(env):
    """Binds the gate to itself, then answers every call with an empty reply (forever)."""
    utcb = l4_utcb()
    await l4_rcv_ep_bind_thread(env.caps["comm"], env.thread, COMM_LABEL)
    tag, _ = await l4_ipc_wait(utcb, L4_IPC_NEVER)
    if l4_ipc_error(tag, utcb):
        raise RuntimeError("responder: ipc err (wait)")
    empty = l4_msgtag(0, 0, 0, 0)
    while True:
        tag, _ = await l4_ipc_reply_and_wait(utcb, empty, L4_IPC_NEVER)
        if l4_ipc_error(tag, utcb):
            raise RuntimeError("responder: ipc err (reply+wait)")


async def caller(comm, cpu=0, rounds=NUM_ROUNDS):
    """One synchronising call, then `rounds` timed calls to `comm`: a Line of 2 x rounds
    IPCs."""
    utcb, empty = l4_utcb(), l4_msgtag(0, 0, 0, 0)
    if l4_ipc_error(await l4_ipc_call(comm, utcb, empty, L4_IPC_NEVER), utcb):
        raise RuntimeError("Error syncing with responder thread!")
    start = read_counter()
    for _ in range(rounds):
        if l4_ipc_error(await l4_ipc_call(comm, utcb, empty, L4_IPC_NEVER), utcb):
            raise RuntimeError("caller: ipc err")
    return Line(cpu, 2 * rounds, "IPC", read_counter() - start)


async def client(env):
    """The two-address-space caller: a task whose `comm` is the server's gate."""
    return await caller(env.caps["comm"])


async def syscall(env, cpu=0, rounds=NUM_ROUNDS):
    """`rounds` thread-control invocations of its own thread that change nothing."""
    utcb = l4_utcb()
    tag = l4_msgtag(L4_PROTO_THREAD, 1, 0, 0)
    utcb.mr[0] = L4_THREAD_CONTROL_OP
    start = read_counter()
    for _ in range(rounds):
        if l4_ipc_error(await l4_ipc_call(env.thread, utcb, tag, L4_IPC_NEVER), utcb):
            raise RuntimeError("IPC error")
        utcb.mr[0] = L4_THREAD_CONTROL_OP
    return Line(cpu, rounds, "syscall", read_counter() - start)


# ---- the scenarios

SCENARIOS = ("1AS", "2AS", "parallel", "syscall")
TITLES = {"1AS": "IPC within one address space:",
          "2AS": "IPC between two address spaces:",
          "parallel": "IPC within one address space, on all cores in parallel:",
          "syscall": "Syscall benchmark:"}


def _same_task_pair(k, cpu, rounds):
    """A task whose main thread is the responder and whose second thread the caller."""
    gate = k.create_gate(COMM_LABEL)
    h = k.start_task(responder, name=f"ipcbench{cpu}", caps={"comm": gate.svr(),
                                                              "call": gate}, cpu=cpu)
    comm = h.env.caps["call"]

    async def caller_thread():
        return await caller(comm, cpu, rounds)
    k.start_thread(h, caller_thread, f"ipcbench{cpu}.caller", cpu=cpu)
    return f"ipcbench{cpu}.caller"


def run_scenario(scenario, arch="x86_64", platform="model", cpus=2, rounds=NUM_ROUNDS):
    """Runs one scenario on a fresh kernel; its Lines (one per CPU for `parallel`)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, not {scenario!r}")
    k = Kernel(arch=arch, cpus=cpus, memory=32 << 20, trace_size=0, platform=platform)
    if scenario == "1AS":
        names = [_same_task_pair(k, 0, rounds)]
    elif scenario == "parallel":
        names = [_same_task_pair(k, cpu, rounds) for cpu in range(cpus)]
    elif scenario == "2AS":
        gate = k.create_gate(COMM_LABEL)
        k.start_task(responder, name="ipcbench_server", caps={"comm": gate.svr()})

        async def ipcbench_client(env):
            return await caller(env.caps["comm"], 0, rounds)
        k.start_task(client if rounds == NUM_ROUNDS else ipcbench_client,
                     name="ipcbench_client", caps={"comm": gate})
        names = ["ipcbench_client"]
    else:
        async def syscallbench(env):
            return await syscall(env, 0, rounds)
        k.start_task(syscallbench, name="syscallbench")
        names = ["syscallbench"]
    result = k.run()
    if result.failed:
        raise RuntimeError(f"ipcbench {scenario}: {result.failed}")
    return [result.exited[n] for n in names]


def run(arch="x86_64", platform="model", cpus=2, rounds=NUM_ROUNDS):
    """Every scenario: {scenario: [Line, ...]}."""
    return {s: run_scenario(s, arch, platform, cpus, rounds) for s in SCENARIOS}


def print_lines(results, profile, out):
    for scenario in SCENARIOS:
        print(TITLES[scenario], file=out)
        for line in results[scenario]:
            print(line.text(profile), file=out)
