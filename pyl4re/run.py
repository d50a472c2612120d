"""`pyl4re run CONFIG`: boot sigma0 -> moe -> ned with a Lua configuration and print the
console as L4Re would (colours on a terminal, none when piped or with --no-color).

CONFIG is a file (it goes into the rom under its base name) or `rom/NAME.cfg`, one of
the built-in configurations (pyl4re.l4re.examples). `--rom DIR` adds the user's own
modules: `*.py` files with an `async def main(env)` become programs named by their
stem, other files data. The run ends when everything has stopped (the system is idle),
when it shuts down, or at `--until` virtual seconds. A mistake in the configuration
(ned's "lua error"), a program that crashed or output that does not match `--expect`
makes the exit status 1, with a one-line reason on stderr; never a Python traceback.
"""
import importlib.util
import os
import sys

from .testing.golden import match_output, strip_colours


class ConsoleOut:
    """The kernel console's stream: lines as they come, colours kept or stripped."""

    def __init__(self, stream, colour):
        self.stream, self.colour = stream, colour

    def write(self, text):
        self.stream.write(text if self.colour else strip_colours(text))
        self.stream.flush()


def add_arguments(p):
    p.add_argument("config", metavar="CONFIG", help="a ned Lua file, or rom/NAME.cfg "
                   "(built in: " + ", ".join(_builtin_configs()) + ")")
    p.add_argument("--arch", default="x86_64", choices=("x86_64", "arm64", "mips64"))
    p.add_argument("--cpus", type=int, default=1, help="CPUs (default 1)")
    p.add_argument("--until", type=float, default=None, metavar="SECONDS",
                   help="stop at this virtual time")
    p.add_argument("--trace", metavar="FILE", help="write the kernel trace (Chrome JSON)")
    p.add_argument("--no-color", action="store_true", help="strip colour escapes")
    p.add_argument("--expect", metavar="FILE",
                   help="match the output against FILE (L4Re's golden-file rules)")
    p.add_argument("--rom", metavar="DIR", action="append", default=[],
                   help="add DIR's files to the rom (*.py: programs with async main(env))")
    p.add_argument("--ned-args", default="", metavar="ARGS",
                   help="options for ned before the script (e.g. '--wait-and-exit')")


def _builtin_configs():
    from .l4re.examples import configs
    return configs()


class RunError(Exception):
    """A user's mistake: one line for stderr."""


def _user_rom(dirs):
    out = {}
    for d in dirs:
        if not os.path.isdir(d):
            raise RunError(f"--rom {d}: not a directory")
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if not os.path.isfile(path):
                continue
            if name.endswith(".py"):
                spec = importlib.util.spec_from_file_location(f"pyl4re_rom_{name[:-3]}", path)
                mod = importlib.util.module_from_spec(spec)
                try:
                    spec.loader.exec_module(mod)
                except Exception as e:      # the user's module: report, do not crash
                    raise RunError(f"{path}: {type(e).__name__}: {e}")
                main = getattr(mod, "main", None)
                if main is None or not callable(main):
                    raise RunError(f"{path}: has no async def main(env)")
                out[name[:-3]] = main
            else:
                with open(path, "rb") as f:
                    out[name] = f.read()
    return out


def run(config, arch="x86_64", cpus=1, until=None, trace=None, colour=None, expect=None,
        rom_dirs=(), ned_args=(), out=None):
    """Run CONFIG (see module doc): (exit status, the console lines, one-line reason)."""
    from .l4re import System
    from .l4re.examples import rom as builtin_rom
    from .l4re.ned import NedState
    out = out or sys.stdout
    colour = out.isatty() if colour is None else colour
    state = NedState()
    modules = builtin_rom(state)
    if config.startswith("rom/") and not os.path.exists(config):
        if config[4:] not in modules:
            raise RunError(f"{config}: no such built-in configuration "
                           f"(have {', '.join(_builtin_configs())})")
        script = config
    else:
        if not os.path.isfile(config):
            raise RunError(f"{config}: no such file")
        with open(config, "rb") as f:
            name = os.path.basename(config)
            modules[name] = f.read()
        script = "rom/" + name
    modules.update(_user_rom(rom_dirs))
    if expect is not None and not os.path.isfile(expect):
        raise RunError(f"--expect {expect}: no such file")
    if cpus < 1:
        raise RunError("--cpus must be at least 1")
    if until is not None and until <= 0:
        raise RunError("--until must be a positive number of seconds")
    system = System(arch=arch, init="rom/ned", args=[*ned_args, script], rom=modules,
                    cpus=cpus, log_stream=ConsoleOut(out, colour))
    result = system.run(until_ns=None if until is None else int(until * 1e9),
                        raise_errors=False)
    if trace:
        system.kernel.trace_json(trace)
    lines = system.log_lines
    reason = None
    if state.errors:
        reason = f"ned: {state.errors[0]}"
    elif result.failed:
        name, exc = next(iter(result.failed.items()))
        reason = f"{name} crashed: {type(exc).__name__}: {exc}"
    if expect is not None and reason is None:
        with open(expect) as f:
            m = match_output(lines, f.read())
        if not m:
            reason = f"output does not match {expect}"
            print(m.diff, file=sys.stderr)
    return (1 if reason else 0), lines, reason


def run_args(args):
    try:
        status, _, reason = run(args.config, arch=args.arch, cpus=args.cpus, until=args.until,
                                trace=args.trace, colour=False if args.no_color else None,
                                expect=args.expect, rom_dirs=args.rom,
                                ned_args=args.ned_args.split())
    except RunError as e:
        print(f"pyl4re run: {e}", file=sys.stderr)
        return 2
    if reason:
        print(f"pyl4re run: {reason}", file=sys.stderr)
    return status
