"""moe's log objects (user-level §5.1): tags padded to 8, "| " and ": " continuations, colours,
the 1024-byte buffer, and malformed writes."""
import struct

from pyl4re.l4re import Log
from pyl4re.l4re.moe.log import color_escape, color_value
from pyl4re.l4re.rpc import call
from pyl4re.l4sys import L4_EINVAL, L4_ENOSYS, L4_PROTO_LOG, l4_vcon_send

from l4re_util import raw, run_init

E = "\x1b"


def test_colour_values():
    assert [color_value(c) for c in (b"red", b"Blue", b"", b"?", b"w", b"N")] == [1, 12, 0, 0, 7, 8]
    assert color_escape(1) == f"{E}[31m" and color_escape(12) == f"{E}[01;34m"
    assert color_escape(0) == f"{E}[0m"


def test_tagged_lines_byte_for_byte(arch):
    async def main(env):
        ma = env.mem_alloc
        hello = Log(await ma.create_log("hello"))
        a = Log(await ma.create_log("a", "red"))
        b = Log(await ma.create_log("b", "c"))
        long = Log(await ma.create_log("verylongtag", "Blue"))
        plain = Log(await ma.create_log("plain", "n"))
        await hello.print("Hello World!\n")
        await a.print("abc")                        # left unfinished ...
        await b.print("xyz\n")                      # ... another log comes between
        await a.print("def\n")                      # ... and it continues with ": "
        await long.print("l1\nl2\n")
        await plain.print("p\n")
        await a.print("ab\0cd\n")                   # stops at the NUL
        await a.print("!\n")
        return 0

    system, _ = run_init(arch, main)
    assert system.exits == {"t": 0}
    assert system.log_lines == [
        f"{E}[37mhello   | Hello World!{E}[0m",
        f"{E}[31ma       | abc{E}[0m{E}[36m",
        f"b       | xyz{E}[0m",
        f"{E}[31ma       : def{E}[0m",
        f"{E}[01;34mverylong| l1{E}[0m",
        f"{E}[01;34mverylong| l2{E}[0m",
        f"{E}[0mplain   | p",
        f"{E}[31ma       | ab{E}[0m{E}[31m!{E}[0m",
    ]


def test_the_buffer_holds_an_unfinished_line(arch):
    out = {}

    async def main(env):
        log = Log(await env.mem_alloc.create_log("buf", "n"))
        await log.print("no newline yet")
        k = __import__("pyl4re").traps.running().kernel
        out["before"] = list(k.log_lines), dict(k._console.pending())
        await log.print("x" * 1100)                  # overflows the 1024-byte buffer
        out["after"] = dict(k._console.pending())
        await log.print("\n")
        return 0

    system, _ = run_init(arch, main)
    lines, pending = out["before"]
    assert lines == [] and pending == {}             # nothing reached the kernel log yet
    assert any(b"no newline yet" in v for v in out["after"].values())
    # Each write (the client cuts 1100 bytes into 488-byte messages) is a segment with
    # its colour escape (colour 0: ESC[0m) and no new prefix: the line is this log's.
    pieces = [488, 488, 124, 0]
    assert system.log_lines == [f"{E}[0mbuf     | no newline yet"
                                + "".join(f"{E}[0m" + "x" * n for n in pieces)]


def test_malformed_writes(arch):
    out = {}

    async def main(env):
        log = await env.mem_alloc.create_log("m")
        out["read"] = await raw(log, L4_PROTO_LOG, [1])
        out["no_len"] = await raw(log, L4_PROTO_LOG, [0])
        out["nothing"] = await raw(log, L4_PROTO_LOG, [])
        out["proto"] = await raw(log, 0x4000, [0])
        # MR1 claims more than the message holds: only what is there is printed.
        data = struct.pack("<QQ", 0, 10_000) + b"cut\n\0\0\0\0"
        await l4_vcon_send(log, b"")                 # an empty write is fine
        r = await call(log, L4_PROTO_LOG, data, timeout=0x04000000 | 0x0400)
        out["claimed"] = r.label
        await Log(log).print("ok\n")
        return 0

    system, _ = run_init(arch, main)
    assert out["read"] == -L4_ENOSYS
    assert out["no_len"] == out["nothing"] == -L4_EINVAL
    assert out["proto"] == -39
    assert system.log_lines == [f"{E}[37mm       | cut{E}[0m", f"{E}[37mm       | ok{E}[0m"]
