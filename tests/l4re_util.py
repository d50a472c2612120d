"""Helpers for the user-level tests: boot sigma0 -> moe -> a test program as init, and
raw RPCs for malformed messages."""
import struct

import pyl4re
from pyl4re.l4re import rpc


def run_init(arch, main, rom=None, until_ns=None, memory=16 << 20, **kw):
    """Boot with `main` as rom/t (moe's init) and run; (system, run result)."""
    modules = dict(rom or {})
    modules["t"] = main
    system = pyl4re.boot(arch=arch, init="rom/t", rom=modules, memory=memory, **kw)
    return system, system.run(until_ns=until_ns)


async def raw(cap, label, words=(), data=None, items=(), rcv_cap=None):
    """A hand-made message: `words` (ints) or `data` (bytes); the reply's label."""
    if data is None:
        data = struct.pack(f"<{len(words)}Q", *[w & (1 << 64) - 1 for w in words])
    return (await rpc.call(cap, label, data, items=items, rcv_cap=rcv_cap)).label
