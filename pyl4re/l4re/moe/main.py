"""moe's boot and its root objects (l4re-core `moe/server/src/main.cc`, `loader.cc`).

At boot moe: takes the free RAM from sigma0 (memory.py) and the KIP; makes its root
memory allocator (the factory `mem`), the `rom` name space with a read-only dataspace per
boot module, the KIP dataspace and its root name space (icu, jdb, kip, log, mem, rom);
starts the init program (default "rom/hello" — moe's `--init=`) in its own task with
every root-name-space entry as a named capability (RWS, in byte-wise name order; `jdb`
in slot 10), the kernel log as its log and the kernel scheduler; and then serves every
object over IPC, for ever, at priority 255.
"""
from ...l4sys import (
    L4_CAP_FPAGE_RO, L4_CAP_FPAGE_RWS,
)
from ...arch_consts import running_consts
from ...l4sys.vcon import write_all
from .. import rpc
from ..cap_alloc import CapAlloc
from ..loader import AppModel, launch
from ..protocols import DS_RX
from ..rom import Program
from .app_task import AppTask
from .collect import collect
from .dataspace import MoeDataspace
from .factory import MoeFactory
from .log import LogOutput
from .memory import PageAlloc, map_kip, take_sigma0_memory
from .namespace import MoeNamespace
from .rm import new_region_map


class MoeAppModel(AppModel):
    """The starter's means when moe starts a program: its own objects, no IPC."""

    def __init__(self, moe):
        self.moe = moe

    async def alloc_stack(self, size):
        ds = MoeDataspace(self.moe, size)
        await self.moe.server.register(ds)
        return ds

    async def new_rm(self):
        rm = new_region_map(self.moe)
        return rm, await self.moe.server.register(rm)

    async def attach(self, rm, addr, size, flags, ds):
        return rm.rmap.attach(addr, size, flags, ds, 0, self.moe.shift, ds.gate >> 12).start

    async def write(self, ds, offset, data):
        await ds.write(offset, data)


class Moe:
    """moe's state; `run()` is its main (the µApp body)."""

    def __init__(self, env, rom, init="rom/hello", args=(), memory=None):
        self.env = env
        self.rom_modules = rom
        self.init = init
        self.init_args = list(args)
        self.memory_limit = memory
        self.exits = {}                 # program name -> exit code
        self.apps = {}
        self.warnings = []

    async def say(self, text):
        """moe's own messages, on the kernel log (after what its logs have buffered)."""
        await self.logs.flush()
        await write_all(self.env.log, text)

    async def warn(self, text):
        self.warnings.append(text)
        await self.say(text + "\n")

    def new_region_map(self):
        return new_region_map(self)

    async def _boot(self):
        consts = running_consts()
        self.shift, self.user_max = consts.page_shift, consts.user_max
        self.pages = PageAlloc(self.shift)
        await take_sigma0_memory(self.pages, self.memory_limit)
        self.kip = await map_kip()
        self.server = rpc.Server(self.env, CapAlloc(self.env.first_free_cap), self.env.thread)
        self.logs = LogOutput(self)
        self.root_factory = MoeFactory(self)
        mem = await self.server.register(self.root_factory)
        rom = MoeNamespace(self)
        for name, module in sorted(self.rom_modules.items()):
            data = module.image() if isinstance(module, Program) else bytes(module)
            ds = MoeDataspace(self, max(len(data), 1), DS_RX)
            await ds.write(0, data)
            rom.add_static(name, await self.server.register(ds), L4_CAP_FPAGE_RO)
        self.rom = rom
        rom_sel = await self.server.register(rom)
        self.root = MoeNamespace(self)
        root_sel = await self.server.register(self.root)
        entries = {"icu": self.env.icu, "jdb": self.env.debugger, "log": self.env.log,
                   "mem": mem, "rom": rom_sel}
        self.kip_ds = None
        if self.kip is not None:
            self.kip_ds = MoeDataspace(self, 1 << self.shift, DS_RX, pages={0: self.kip},
                                       owned=False)
            entries["kip"] = await self.server.register(self.kip_ds)
        for name, cap in entries.items():
            self.root.add_static(name, cap)
        self.mem_sel, self.root_sel = mem, root_sel
        self.permanent = set(self.server.objects)      # boot-time objects live for ever

    async def alloc_pages(self, size, align=None):
        """Memory from moe's allocator; when there is none, first collect the objects
        nobody holds (collect.py) and try again. None if there is still none."""
        pa = self.pages.alloc(size, align)
        if pa is None and await collect(self):
            pa = self.pages.alloc(size, align)
        return pa

    async def start(self, binary, name=None, args=()):
        """Start `binary` ("rom/<name>") as moe starts its init: every root entry as a
        named capability with RWS."""
        name = name or binary.rsplit("/", 1)[-1]
        app = AppTask(self, name)
        parent = await self.server.register(app)
        caps = {n.decode(): (e.cap, L4_CAP_FPAGE_RWS)
                for n, e in sorted(self.root.entries.items()) if e.cap is not None}
        started = await launch(self.env, self.server.cap_alloc, MoeAppModel(self), name, [binary, *args], caps,
                               self.env.log, parent, self.mem_sel, self.env.scheduler,
                               self.kip_ds.gate if self.kip_ds else None)
        app.task = started.task
        self.apps[name] = app
        return app

    async def run(self):
        await self._boot()
        if self.init:
            await self.start(self.init, args=self.init_args)
        await self.server.serve()


def moe_main(rom, init="rom/hello", args=(), memory=None, state=None):
    """moe's µApp body with its configuration (its command line and boot modules):
    `async def main(env)` for Kernel.start_task. `state` (a list) receives the Moe."""
    async def moe(env):
        m = Moe(env, rom, init, args, memory)
        if state is not None:
            state.append(m)
        await m.run()
    return moe
