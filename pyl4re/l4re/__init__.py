"""pyl4re.l4re: the L4Re user level — moe, the program loader, and the L4Re API µApps
program against, with L4Re's names.

For programs (`async def main(env)` in the rom): `Env` (env.get_cap, env.mem_alloc,
env.rm, env.log, env.parent, env.first_free_cap, env.cap_alloc), `Dataspace`, `Rm`,
`Namespace`, `Log`, `Mem_alloc`, `Parent`, `Heap`, `Launcher` (start programs and be
their parent), `start_thread` (a second thread in the program's task). For harnesses: `System` / `boot()` (sigma0 -> moe -> init). The flag and
protocol values are in `pyl4re.l4re.protocols`. Plain l4sys stays available underneath.
"""
from .cap_alloc import CapAlloc
from .dataspace import Dataspace
from .env import Env
from .heap import Heap
from .loader import Launcher
from .log import Log
from .mem_alloc import Mem_alloc
from .namespace import Namespace
from .parent import Parent
from .protocols import *  # noqa: F401,F403
from .rm import Rm
from .rom import Program
from .system import System, boot
from .thread import start_thread

__all__ = ["CapAlloc", "Dataspace", "Env", "Heap", "Launcher", "Log", "Mem_alloc",
           "Namespace", "Parent", "Program", "Rm", "System", "boot", "start_thread"]
