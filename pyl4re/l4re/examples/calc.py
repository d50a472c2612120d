"""The calculator of L4Re's client/server examples (`examples/clntsrv`, and
`libs/l4re/c++/clntsrv_ns`): interface Calc, protocol 0x44, `sub(a, b) -> a - b`
(opcode 0) and `neg(a) -> -a` (opcode 1) on 32-bit values, in L4Re's RPC encoding.

In clntsrv the server finds its gate as the named capability `calc_server` (ned gives
it with the server right) and binds its thread to it; in clntsrv_ns it makes a gate of
its own and registers it as "the_object" in a name space the client queries (waiting
while the name is only reserved)."""
import struct

from ...errors import L4Error
from ...l4sys import (
    L4_INVALID_CAP, l4_error, l4_factory_create_gate, l4_rcv_ep_bind_thread,
)
from .. import rpc

PROTO_CALC = 0x44
OP_SUB, OP_NEG = 0, 1
OBJECT_LABEL = 0x10


class Calculation:
    """The server object: Calc's two operations."""
    INTERFACES = [(PROTO_CALC, "Calc")]

    def protocols(self):
        return {PROTO_CALC: self.calc}

    async def calc(self, req):
        op = req.opcode()
        u = req.unpack()
        if op == OP_SUB:
            a, b = u.u32(), u.u32()
            res = (a - b) & 0xFFFFFFFF
        elif op == OP_NEG:
            res = -u.u32() & 0xFFFFFFFF
        else:
            raise rpc.RpcError(38, "unknown Calc opcode")
        return (0, rpc.Packer().u32(res).words(), ())


WELCOME = "Welcome to the calculation server!\nI can do substractions and negations.\n"


async def _serve(env, gate):
    server = rpc.Server(env, env.cap_alloc, env.main_thread)
    obj = Calculation()
    server.objects[OBJECT_LABEL] = obj
    server.gates[OBJECT_LABEL] = gate
    await env.log.print(WELCOME)
    await server.serve()


async def server(env):
    """ex_clntsrv-server: serve Calc on the gate `calc_server`."""
    gate = env.get_cap("calc_server")
    if gate == L4_INVALID_CAP:
        await env.log.print("Could not get server capability!\n")
        return 1
    if l4_error(await l4_rcv_ep_bind_thread(gate, env.main_thread, OBJECT_LABEL)) < 0:
        await env.log.print("Could not register server object\n")
        return 1
    await _serve(env, gate)


async def ns_server(env):
    """ex_ns-server: serve Calc on a new gate registered as "the_object"."""
    gate = env.cap_alloc.alloc()
    if l4_error(await l4_factory_create_gate(env.factory, gate, env.main_thread,
                                             OBJECT_LABEL)) < 0:
        await env.log.print("Could not register server object\n")
        return 1
    if env.get_cap("namespace") == L4_INVALID_CAP:
        await env.log.print("Could not find namespace\n")
        return 1
    try:
        await env.namespace("namespace").register_obj("the_object", gate)
    except L4Error as e:
        await env.log.printf("Error registering object in namespace: %d\n", -e.code)
        return 1
    await _serve(env, gate)


async def _call(cap, op, *values):
    msg = rpc.Packer().u32(op)
    for v in values:
        msg.u32(v & 0xFFFFFFFF)
    r = await rpc.call(cap, PROTO_CALC, msg.words())
    if r.label < 0:
        return None
    return struct.unpack("<i", struct.pack("<I", r.unpack().u32()))[0]


async def _ask(env, cap, subtract_word):
    a, b = 8, 5
    await env.log.printf("Asking for %d - %d\n", a, b)
    res = await _call(cap, OP_SUB, a, b)
    if res is None:
        await env.log.print("Error talking to server\n")
        return 1
    await env.log.printf("Result of %s call: %d\n", subtract_word, res)
    await env.log.printf("Asking for -%d\n", res)
    res = await _call(cap, OP_NEG, res)
    if res is None:
        await env.log.print("Error talking to server\n")
        return 1
    await env.log.printf("Result of negate call: %d\n", res)
    return 0


async def client(env):
    """ex_clntsrv-client: 8 - 5, then its negation, through `calc_server`."""
    cap = env.get_cap("calc_server")
    if cap == L4_INVALID_CAP:
        await env.log.print("Could not get server capability!\n")
        return 1
    return await _ask(env, cap, "subtract")


async def ns_client(env):
    """ex_ns-client: the same, the server found as "the_object" (waiting for it)."""
    if env.get_cap("namespace") == L4_INVALID_CAP:
        await env.log.print("Could not find namespace\n")
        return 1
    try:
        cap = await env.namespace("namespace").query("the_object")
    except L4Error as e:
        await env.log.printf("Error querying object: %d\n", -e.code)
        return 1
    return await _ask(env, cap, "substract")
