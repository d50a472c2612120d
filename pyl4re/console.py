"""The kernel console: where Fiasco's Vlog (the Log object, §8.9) and the debugger's output
operations print, and where the harness's input for Vlog reads waits.

Output goes to the harness's stream (a text stream, `sys.stdout` by default) line by line:
a task's line is printed when its newline arrives, so partial lines of different tasks
never interleave (a serial console would mix them). The text is the kernel log's, raw: no
tag, no task name (moe's log objects add those, the kernel does not). For tests the
console keeps every printed line (`k.log_lines`) and, beside it, who wrote it and when
(`k.log_records`). Bytes are decoded as UTF-8; invalid bytes become U+FFFD.

Input (`k.log_input(b"...")`) waits in a queue until a µApp reads it through the Log
capability. The Vcon attributes (input, output and local flags) live here too.
What it must not do: block, or reach into the kernel: callers pass what they know.
"""
import sys
from collections import namedtuple

from . import _core

_lib = _core.abi()

LogRecord = namedtuple("LogRecord", "time_ns task line")


class Console:
    """One kernel's console (see module doc)."""

    def __init__(self, stream=None):
        self.stream = stream              # None: sys.stdout as it is when a line is printed
        self.lines = []
        self.records = []
        self._partial = {}                # task id -> bytearray: its unfinished line
        self.input = bytearray()          # what the harness typed, not yet read
        # Fiasco's Vlog defaults (kernkonzept/fiasco src/kern/vlog.cpp)
        self.i_flags = _lib.L4_VCON_ICRNL
        self.o_flags = _lib.L4_VCON_ONLCR
        self.l_flags = _lib.L4_VCON_ECHO

    def write(self, task, name, data, time_ns):
        """`data` (bytes) printed by `task` (an object id; `name` names it in the records)
        at virtual time `time_ns`."""
        buf = self._partial.setdefault(task, bytearray())
        buf += data
        while True:
            end = buf.find(b"\n")
            if end < 0:
                break
            line = buf[:end].decode("utf-8", errors="replace")
            del buf[:end + 1]
            self.lines.append(line)
            self.records.append(LogRecord(time_ns, name, line))
            out = self.stream if self.stream is not None else sys.stdout
            out.write(line + "\n")
        if not buf:
            del self._partial[task]

    def pending(self):
        """The unfinished lines, by task id (printed once their newline arrives)."""
        return {task: bytes(buf) for task, buf in self._partial.items()}

    def feed(self, data):
        """Input for Vlog reads, as if typed on the kernel console."""
        if isinstance(data, str):
            data = data.encode()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"log input is bytes (or str), not {type(data).__name__}")
        self.input += data

    def read(self, max_bytes):
        """Takes up to max_bytes of input through the input flags (Vlog::get_input):
        returns (bytes, done); done says the input queue is empty now."""
        out = bytearray()
        i_flags = self.i_flags
        while self.input and len(out) < max_bytes:
            ch = self.input[0]
            del self.input[0]
            if i_flags & _lib.L4_VCON_INLCR and ch == 0x0A:
                ch = 0x0D
            if i_flags & _lib.L4_VCON_IGNCR and ch == 0x0D:
                continue
            if i_flags & _lib.L4_VCON_ICRNL and ch == 0x0D:
                ch = 0x0A
            out.append(ch)
        return bytes(out), not self.input

    def output_filter(self, data):
        """The output flags applied to written bytes (Vlog::log_string). ONLCR needs
        nothing: a text stream's newline is the console's CR-NL."""
        o_flags = self.o_flags
        if not o_flags & (_lib.L4_VCON_OCRNL | _lib.L4_VCON_ONLRET):
            return bytes(data)
        out = bytearray()
        for ch in data:
            if o_flags & _lib.L4_VCON_OCRNL and ch == 0x0D:
                ch = 0x0A
            if o_flags & _lib.L4_VCON_ONLRET and ch == 0x0D:
                continue
            out.append(ch)
        return bytes(out)
