"""ned, L4Re's init process, as a µApp: it reads its Lua script from the rom, runs it in a
real Lua interpreter (script.py) and performs every L4 operation the script asks for as a
real invocation from its own thread; it is the parent of the programs it starts (through
the loader, `Launcher`) and serves their exits while the script waits or sleeps.

Its command line is ned's: `[--exit | --wait-and-exit] [-e STATEMENT]... SCRIPT [ARGS]`
(after the script: serve the started programs for ever (the default), exit at once, or
wait until every started program has exited, then exit). Like L4Re's ned it greets
("Ned says: Hi World!"), says which file it loads, and reports a script's failure as
"lua error: <message>." on its log; the programs started so far keep running.

The µApp's loop: run every runnable Lua coroutine until it asks for something; a request
is performed at once (ops.py), except sleeping and waiting for a program, which park the
coroutine; when none can run, serve parent requests until the next sleeper is due.
"""
from collections import deque

from ... import mem
from ...arch_consts import running_consts
from ...l4sys import (
    L4_IPC_TIMEOUT_0, L4_IPC_TIMEOUT_NEVER, l4_timeout_from_us,
)
from ...errors import L4Error
from ...l4sys import L4_EINVAL
from .. import rpc
from ..loader import Launcher
from .ops import OPS, BLOCKING, OpError
from .script import LuaState

KIP_CLOCK = 0x20                          # the KIP's clock word (µs)


class NedState:
    """What ned did, for a harness: the script's errors ("file:line: message"), whether
    the script finished, the started programs (name, exit code or None)."""

    def __init__(self):
        self.errors = []
        self.script_done = False
        self.programs = []
        self.lua_version = None


def parse_args(argv):
    """ned's command line -> (mode, statements, script, script args)."""
    mode, statements, rest = "serve", [], list(argv)
    while rest and rest[0].startswith("-"):
        opt = rest.pop(0)
        if opt == "--exit":
            mode = "exit"
        elif opt == "--wait-and-exit":
            mode = "wait"
        elif opt in ("-e", "--execute"):
            if not rest:
                raise ValueError(f"ned: {opt} needs a Lua statement")
            statements.append(rest.pop(0))
        elif opt.startswith("--execute="):
            statements.append(opt.split("=", 1)[1])
        else:
            raise ValueError(f"ned: unknown option {opt!r}")
    script = rest.pop(0) if rest else None
    return mode, statements, script, rest


class Ned:
    def __init__(self, env, state):
        self.env = env
        self.state = state
        self.lua = LuaState()
        state.lua_version = self.lua.version
        self.launcher = Launcher(env)
        self.tasks = []                   # ops.Task, by id
        self.runnable = deque()           # (coroutine, resume values)
        self.sleepers = []                # (deadline µs, coroutine)
        self.live = set()                 # coroutines not finished
        self.reply = None                 # the answer to the last parent request, unsent
        consts = running_consts()
        self.kip = consts.kip_va          # a machine constant, as in a C program
        self.arch = consts.arch           # the build architecture (L4.Info.arch)

    async def say(self, text):
        await self.env.log.print(text)

    async def now_us(self):
        return await mem.load(self.kip + KIP_CLOCK, 8)

    def spawn(self, fn, *args):
        co = self.lua.new_coroutine(fn, *args)
        self.live.add(co)
        self.runnable.append((co, ()))
        return co

    async def run(self, argv):
        await self.say("Ned says: Hi World!\n")
        try:
            mode, statements, script, args = parse_args(argv)
        except ValueError as e:
            await self.fail(str(e))
            return 1
        for name, sel in sorted(self.env.caps.items()):
            self.lua.set_env(name, sel, 7)
        # the rights the loader gave ned: RWSD for its region map and memory allocator
        for name in ("parent", "mem_alloc", "rm", "log", "factory", "scheduler"):
            sel = getattr(self.env, name)
            held = 0xF if name in ("rm", "mem_alloc") else 7
            self.lua.set_env(name, getattr(sel, "cap", sel), held)
        self.lua.L4["__make_default_loader"]()
        chunks = []
        for i, text in enumerate(statements):
            chunks.append((text, f"=(command line) -e {i + 1}"))
        if script is not None:
            self.lua.set_args([script, *args])
            await self.say(f"Ned: loading file: '{script}'\n")
            try:
                text = await OPS["read"](self, script)
            except OpError:
                text = None
            if text is None:
                await self.fail(f"cannot open {script}")
                return 1
            chunks.append((text, "@" + script))
        main, script_co = [], None
        for text, name in chunks:
            try:
                main.append(self.lua.load(text, name))
            except SyntaxError as e:
                await self.fail(str(e))
                break
        else:
            # the statements and the script run one after another in one coroutine
            script_co = self.spawn(self.lua.sequence(), *main)
        while True:
            await self.run_coroutines()
            if script_co is not None and script_co not in self.live:
                self.state.script_done = True
            if mode == "exit" and script_co not in self.live:
                return 0
            if mode == "wait" and not self.live and all(t.reaped or t.app.exit_code is not None
                                                        for t in self.tasks):
                return 0
            await self.serve()

    async def fail(self, message):
        self.state.errors.append(message)
        await self.say(f"lua error: {message}.\n")

    async def run_coroutines(self):
        while self.runnable:
            co, values = self.runnable.popleft()
            kind, a, b = self.lua.step(co, *values)
            while kind == "yield":
                name, args = a, b
                try:
                    if name in BLOCKING:
                        await BLOCKING[name](self, co, *args)
                        break
                    op = OPS.get(name)
                    if op is None:
                        raise OpError(f"ned has no operation {name!r}", -38)
                    out = await op(self, *args)
                    values = (True, *(out if isinstance(out, tuple) else (out,)))
                except OpError as e:
                    values = (False, str(e), e.code)
                except L4Error as e:                 # a refusal the op did not word itself
                    values = (False, f"{name}: {e}", -e.code)
                except (TypeError, ValueError) as e:  # a value l4sys refused
                    values = (False, f"{name}: {e}", -L4_EINVAL)
                kind, a, b = self.lua.step(co, *values)
            if kind == "error":
                self.live.discard(co)
                await self.fail(a)
            elif kind == "done":
                self.live.discard(co)

    def wake(self, co, *values):
        self.runnable.append((co, (True, *values)))

    def exited(self, task):
        """A started program has exited: wake who waits for it, run its exit handler."""
        for co in task.waiters:
            task.reaped = True
            self.wake(co, task.app.exit_code)
        task.waiters = []
        if task.handler:
            task.handler = False
            co = self.lua.exit_handler(task.id, task.app.exit_code)
            self.live.add(co)
            self.runnable.append((co, ()))

    async def serve(self):
        """Serve parent requests until a coroutine can run again, a sleeper is due or a
        program has exited (the main loop then looks again)."""
        while True:
            if self.runnable:
                timeout = L4_IPC_TIMEOUT_0
            elif self.sleepers:
                left = min(d for d, _ in self.sleepers) - await self.now_us()
                timeout = l4_timeout_from_us(max(left, 0))
            else:
                timeout = L4_IPC_TIMEOUT_NEVER
            if self.runnable and self.reply is None:
                return
            answer, self.reply = self.reply, None
            got = await self.launcher.server.next_request(answer, timeout)
            if got is None:                              # the wait timed out
                await self.due()
                if self.runnable:
                    return
                continue
            self.reply = None if got is rpc.NO_REPLY else got
            exited = [t for t in self.tasks if t.app.exit_code is not None and not t.noticed]
            for task in exited:
                task.noticed = True
                self.exited(task)
            await self.due()
            if exited:
                return

    async def due(self):
        if not self.sleepers:
            return
        now = await self.now_us()
        for item in [s for s in self.sleepers if s[0] <= now]:
            self.sleepers.remove(item)
            self.wake(item[1])


def ned_main(state=None):
    """ned's µApp body (`async def main(env)` for the rom); `state` (a NedState) receives
    what it did."""
    async def ned(env):
        n = Ned(env, state if state is not None else NedState())
        return await n.run(env.args[1:])
    return ned
