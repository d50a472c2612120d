"""A program's start, as crt0 and libloader's `launch` see it: the initial stack pointer
points at argc, argv[], NULL, envp[], NULL and the aux vector; AT_L4_ENV gives the address
of the program's `l4re_env_t`, whose `caps` points at the named-capability array.

`read_startup()` reads all of that from the running thread's own memory (page faults go
to its pager like any other access). The initial sp is a register of the thread: a C
program has it in hand at its first instruction; a µApp asks for it here.
"""
import struct

from .. import mem, traps
from .env_layout import (
    AT_L4_ENV, CAP_ENTRY_END, CAP_ENTRY_SIZE, ENV_SIZE, EnvRecord, parse_stack_top,
    unpack_cap_entry,
)
from .rpc import running_page_shift

MAX_CAPS = 4096


def initial_sp():
    """The running thread's stack pointer as its starter set it (l4_thread_ex_regs)."""
    cur = traps.running()
    return cur.kernel._thread_info(cur.id).sp


async def read_string(addr, limit=4096):
    out = bytearray()
    while len(out) < limit:
        chunk = await mem.read(addr + len(out), 1)
        if chunk == b"\0":
            break
        out += chunk
    return out.decode(errors="replace")


async def read_env(addr):
    """The EnvRecord at `addr`, with its named caps."""
    rec = EnvRecord.unpack(await mem.read(addr, ENV_SIZE))
    caps, ptr = {}, rec.caps_ptr
    for _ in range(MAX_CAPS):
        sel, flags, name = unpack_cap_entry(await mem.read(ptr, CAP_ENTRY_SIZE))
        if flags == CAP_ENTRY_END:
            break
        caps[name] = sel
        ptr += CAP_ENTRY_SIZE
    rec.caps = caps
    return rec


async def read_startup():
    """(EnvRecord, argv strings, aux dict) of the running program."""
    sp = initial_sp()
    page = 1 << running_page_shift()
    n = min(512, page - sp % page)
    words = struct.unpack(f"<{n // 8}Q", await mem.read(sp, n // 8 * 8))
    _, argv, aux = parse_stack_top(words)
    env = await read_env(aux[AT_L4_ENV])
    return env, [await read_string(a) for a in argv], aux
