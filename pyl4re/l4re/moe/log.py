"""moe's log objects: tagged, coloured lines on the kernel log (l4re-core
`moe/server/src/log.cc`), byte for byte as user-level §5.1 describes.

Each line a log writes gets its colour escape and its tag, cut to 8 characters and padded
to 8, then "| " — or ": " when the line continues one this log had left unfinished
before another log's output came between (that other unfinished line is ended with a
newline first). A finished line ends with ESC[0m; a message that stops mid-line with a
colour reset. Output collects in a 1024-byte buffer that goes to moe's own stdout (the
kernel log) when it holds a newline or would overflow. A write is a send-only message
(MR0 = 0, MR1 = length, bytes from MR2); valid writes get no reply.
"""

from ...l4sys import L4_EINVAL, L4_ENOSYS
from ...l4sys.vcon import write_all
from ..protocols import LOG_WRITE, PROTO_LOG
from ..rpc import NO_REPLY, RpcError

BUFFER = 1024
TAG_WIDTH = 8
ESC = "\x1b"
_COLORS = "nrgybmcw"


def color_value(name):
    """A colour name's value: first letter n r g y b m c w = 0..7, upper case + 8;
    empty or unknown -> 0."""
    if not name:
        return 0
    ch = chr(name[0]) if isinstance(name, (bytes, bytearray)) else name[0]
    idx = _COLORS.find(ch.lower())
    if idx < 0:
        return 0
    return idx + (8 if ch.isupper() else 0)


def color_escape(c):
    if c == 0:
        return f"{ESC}[0m"
    return f"{ESC}[01;3{c & 7}m" if c & 8 else f"{ESC}[3{c & 7}m"


class LogOutput:
    """What all of moe's logs share: who owns the console's unfinished line, and the
    output buffer in front of the kernel log."""

    def __init__(self, moe):
        self.moe = moe
        self.owner = None           # the log whose line is unfinished on the console
        self.buf = bytearray()

    async def emit(self, text):
        data = text.encode("utf-8", errors="replace")
        if len(self.buf) + len(data) > BUFFER:
            await self.flush()
        self.buf += data
        if b"\n" in self.buf or len(self.buf) >= BUFFER:
            await self.flush()

    async def flush(self):
        if self.buf:
            data, self.buf = bytes(self.buf), bytearray()
            await write_all(self.moe.env.log, data)

    async def write(self, log, text):
        pos = 0
        while pos < len(text):
            end = text.find("\n", pos)
            seg = text[pos:] if end < 0 else text[pos:end]
            out = color_escape(log.color)
            if self.owner is not log:
                if self.owner is not None:
                    out += "\n"
                out += log.tag[:TAG_WIDTH].ljust(TAG_WIDTH) + (": " if log.unfinished else "| ")
            out += seg
            if end < 0:
                self.owner, log.unfinished = log, True
                if log.color:
                    out += f"{ESC}[0m"
                pos = len(text)
            else:
                out += f"{ESC}[0m\n" if log.color else "\n"
                self.owner, log.unfinished = None, False
                pos = end + 1
            await self.emit(out)


class MoeLog:
    INTERFACES = [(PROTO_LOG, "L4::Vcon")]

    def __init__(self, output, tag, color=7):
        self.output = output
        self.tag = tag
        self.color = color
        self.unfinished = False

    def protocols(self):
        return {PROTO_LOG: self.dispatch}

    async def dispatch(self, req):
        if req.words < 1:
            raise RpcError(L4_EINVAL, "no opcode")
        if req.word(0) & 0xFFFF != LOG_WRITE:
            raise RpcError(L4_ENOSYS, "moe's logs only write")
        if req.words < 2:
            raise RpcError(L4_EINVAL, "a write has a length word")
        n = min(req.word(1), BUFFER, (req.words - 2) * 8)
        data = req.data[16:16 + n].split(b"\0", 1)[0]
        await self.output.write(self, data.decode("utf-8", errors="replace"))
        return NO_REPLY
