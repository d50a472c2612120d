"""The rom: boot modules moe serves as read-only dataspaces under `rom/` (its name space
of boot modules), programs and data files alike.

A program is an `async def main(env)` registered under a name. Its module is a small
image standing in for an ELF file: a magic, the entry point (the code address of a start
routine that reads the program's Env from its initial stack, runs `main(env)` and exits
through the parent with what main returned) and the name. The in-task loader reads the
entry point from the image, as l4re_itas reads an ELF header. Data files are bytes.
`rom/hello` is built in: the classic L4Re hello, "Hello World!" once a second.
"""
import struct

from ..code import entry
from ..l4sys import l4_ipc_sleep, l4_timeout_from_us

MAGIC = b"PYL4RE\x00\x01"
HEADER = struct.Struct("<8sQ48s")              # magic, entry ip, name


def start_routine(main):
    """The code a program's thread starts at: crt0, main, exit."""
    async def _start():
        from .env import Env
        env = await Env.from_stack()
        code = await main(env)
        await env.parent.exit(code if isinstance(code, int) else 0)
    _start.__qualname__ = f"start:{getattr(main, '__name__', 'main')}"
    return _start


class Program:
    """A program in the rom: `main`, its start routine and its image."""

    def __init__(self, name, main):
        self.name = name
        self.main = main
        self.start = start_routine(main)        # held here: the code registry is weak
        self.ip = entry(self.start)

    def image(self):
        return HEADER.pack(MAGIC, self.ip, self.name.encode()[:48])


def entry_point(data):
    """The entry ip in a program image, or None if `data` is not one."""
    if len(data) < HEADER.size:
        return None
    magic, ip, _ = HEADER.unpack_from(data)
    return ip if magic == MAGIC else None


def modules(extra=None):
    """name -> bytes or Program: the built-in modules and `extra` (a dict of names to
    bytes, str, Program or async main functions)."""
    out = dict(BUILTIN)
    for name, value in (extra or {}).items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"a rom module's name is a non-empty str without '/', not {name!r}")
        if isinstance(value, str):
            value = value.encode()
        if callable(value) and not isinstance(value, Program):
            value = Program(name, value)
        if not isinstance(value, (bytes, bytearray, Program)):
            raise TypeError(f"rom[{name!r}] must be bytes, str, a Program or an async main")
        out[name] = value
    return out


async def hello(env):
    """rom/hello: print "Hello World!" every second, for ever (pkg/hello)."""
    while True:
        await env.log.print("Hello World!\n")
        await l4_ipc_sleep(l4_timeout_from_us(1_000_000))


BUILTIN = {"hello": Program("hello", hello)}
