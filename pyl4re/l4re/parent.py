"""`Parent`: the client of L4Re::Parent (0x4002) and program exit.

The only RPC is `signal(sig, val)`, opcode 0. `exit(code)` is what libc's `_exit` does:
signal(0, code) to the parent, then sleep for ever (the parent deletes the task).
"""
from ..l4sys import L4_IPC_NEVER, l4_ipc_sleep
from . import rpc
from .protocols import PARENT_SIGNAL, PROTO_PARENT


class Parent:
    __slots__ = ("cap",)

    def __init__(self, cap):
        self.cap = cap

    async def signal(self, sig, val):
        """The parent's answer (its label); moe does not answer an exit at all."""
        msg = rpc.Packer().u32(PARENT_SIGNAL).u64(sig).u64(val)
        return (await rpc.call(self.cap, PROTO_PARENT, msg.words())).label

    async def exit(self, code):
        """Tell the parent this program is done with `code`; never returns."""
        await self.signal(0, code & (1 << 64) - 1)
        while True:
            await l4_ipc_sleep(L4_IPC_NEVER)
