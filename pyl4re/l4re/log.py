"""`Log`: the client of L4Re::Log (the Vcon write protocol, label -13) for µApps.

A write is a send-only IPC with L4_MSGTAG_SCHEDULE: MR0 = 0, MR1 = length, the bytes from
MR2, at most L4_VCON_WRITE_SIZE bytes per message; longer text goes as several messages,
as `L4Re::Log::printn` sends it. `printf` formats with Python's %-operator, the closest
thing to C's printf.
"""
from ..l4sys.vcon import write_all


class Log:
    """A capability to a log (moe's tagged log objects, or the kernel log)."""
    __slots__ = ("cap",)

    def __init__(self, cap):
        self.cap = cap

    async def print(self, text):
        """Write `text` (str or bytes); the bytes written, or an error (< 0)."""
        return await write_all(self.cap, text)

    async def printf(self, fmt, *args):
        return await self.print(fmt % args if args else fmt)
