"""Two programs that talk through a gate found in a name space, booted as a real L4Re
system boots: sigma0 -> moe -> init. init makes a name space and starts a server and a
client in tasks of their own (it is their parent, as ned would be); the server creates an
IPC gate, registers it as "calc" in the name space; the client queries "calc" (waiting
while the name is only a placeholder) and calls it. The client also keeps its operands in
a heap on a dataspace, so its page faults go to its region map, which maps the pages
from moe by Dataspace::map.

Run: python examples/two_programs.py [arch]
"""
import sys

import pyl4re.l4re as l4re
from pyl4re.l4sys import (
    L4_IPC_NEVER, l4_error, l4_factory_create_gate, l4_ipc_call,
    l4_ipc_reply_and_wait, l4_ipc_wait, l4_msgtag, l4_utcb,
)
from pyl4re import mem

CALC = 0x44                                   # the classic example's protocol, Calc::sub


async def server(env):
    names = env.namespace("names")
    gate = env.cap_alloc.alloc()
    assert l4_error(await l4_factory_create_gate(env.factory, gate, env.main_thread, 0x10)) == 0
    await names.register_obj("calc", gate)
    await env.log.print("calc server ready\n")
    u = l4_utcb()
    tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
    while True:
        a, b = int(u.mr[0]) >> 32, int(u.mr[1])
        u.mr[0] = (a - b) & 0xFFFFFFFF
        tag, label = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)


async def client(env):
    calc = await env.namespace("names").query("calc")
    heap = await l4re.Heap.create(env, 1 << 20)
    operands = heap.malloc(16)
    await mem.store(operands, 8, 4)
    await mem.store(operands + 4, 3, 4)
    a, b = await mem.load(operands, 4), await mem.load(operands + 4, 4)
    u = l4_utcb()
    u.mr[0], u.mr[1] = a << 32, b
    tag = await l4_ipc_call(calc, u, l4_msgtag(CALC, 2, 0, 0), L4_IPC_NEVER)
    result = int(u.mr[0])
    await env.log.printf("%d - %d = %d\n", a, b, result)
    return 0 if result == a - b else 1


async def init(env):
    launcher = l4re.Launcher(env)
    names = await env.mem_alloc.create_namespace()
    await l4re.Namespace(names, env.cap_alloc).register_obj("calc", None)   # placeholder
    await launcher.start("rom/server", caps={"names": names},
                         log=await env.mem_alloc.create_log("server", "g"))
    client = await launcher.start("rom/client", caps={"names": names},
                                  log=await env.mem_alloc.create_log("client", "c"))
    codes = await launcher.wait(client)
    return codes["client"]


ROM = {"init": init, "server": server, "client": client}


def main(arch="x86_64"):
    system = l4re.boot(arch=arch, init="rom/init", rom=ROM)
    system.run(until_ns=1_000_000_000)
    for line in system.log_lines:
        print(line)
    return system


if __name__ == "__main__":
    main(*sys.argv[1:])
