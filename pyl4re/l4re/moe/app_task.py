"""moe as the parent of the programs it starts (l4re-core `moe/server/src/app_task.cc`):
an exit (signal 0) prints "MOE: task <name> exited with <code>" when the code is not 0,
deletes the program's task (its threads die with it) and is not answered; a second exit
of the same program is refused with -ENOENT; other signals are answered 0.
"""
from ...l4sys import L4_ENOENT, L4_ENOSYS, l4_task_delete_obj
from ..protocols import PARENT_SIGNAL, PROTO_PARENT
from ..rpc import NO_REPLY, RpcError


class AppTask:
    INTERFACES = [(PROTO_PARENT, "L4Re::Parent")]

    def __init__(self, moe, name):
        self.moe = moe
        self.name = name
        self.task = None                  # moe's selector of the program's task
        self.exit_code = None

    def protocols(self):
        return {PROTO_PARENT: self.signal}

    async def signal(self, req):
        if req.opcode() != PARENT_SIGNAL:
            raise RpcError(L4_ENOSYS, "unknown Parent opcode")
        u = req.unpack()
        sig, val = u.u64(), u.u64()
        if sig != 0:
            return 0
        if self.exit_code is not None:
            raise RpcError(L4_ENOENT, f"{self.name} has exited already")
        code = val - (1 << 64) if val >= 1 << 63 else val
        self.exit_code = code
        self.moe.exits[self.name] = code
        if code:
            await self.moe.say(f"MOE: task {self.name} exited with {code}\n")
        await l4_task_delete_obj(self.moe.env.task, self.task)
        from .collect import collect
        await collect(self.moe)                   # what only the program held goes
        return NO_REPLY
