"""`pyl4re` on the command line: one subcommand per job, standard argparse.

  pyl4re [demo]   boot the demo system on each built architecture and say what it did
  pyl4re bench    the IPC benchmark report (bench/)
  pyl4re fuzz     the syscall fuzzer (fuzz/)
  pyl4re cc       compile a C µApp against pyl4re's l4sys headers (cprog.py)
  pyl4re run      boot sigma0 -> moe -> ned with a Lua configuration (run.py)

Each command is one entry of COMMANDS: its one-line help, a function that adds its
options to its subparser, and the function that runs it with the parsed arguments. A new
command (run, fuzz, ...) adds its entry here; `pyl4re --help` then lists it.
"""
import argparse
import os
import sys

from . import _core


def demo(args, out=None):
    """Boot the demo on each built architecture; 0 if every one did what it should."""
    from . import demo as demo_mod
    out = out or sys.stdout
    arches = _core.available_arches()
    if not arches:
        print("no architecture is built; run `pip install -e .`", file=out)
        return 1
    all_ok = True
    for arch in arches:
        lines, ok = demo_mod.run(arch)
        all_ok &= ok
        for line in lines:
            print(line, file=out)
    print(f"{'ok' if all_ok else 'FAILED'}: {len(arches)} architecture(s) booted", file=out)
    return 0 if all_ok else 1


def _no_options(parser):
    pass


def _bench_options(parser):
    from . import bench
    bench.add_arguments(parser)


def _bench(args):
    from . import bench
    return bench.run_args(args)


def _fuzz_options(parser):
    from .fuzz import campaign
    campaign.add_arguments(parser)


def _fuzz(args):
    from .fuzz import campaign
    return campaign.run_args(args)


def _cc_options(parser):
    parser.add_argument("sources", nargs="+", metavar="FILE.c", help="the C sources")
    parser.add_argument("-o", dest="output", required=True, metavar="NAME",
                        help="where the shared object goes (start it with "
                        "Kernel.start_cprogram(NAME))")
    parser.add_argument("-D", dest="defines", action="append", default=[], metavar="MACRO",
                        help="a preprocessor definition, as for the C compiler")


def _cc(args, out=None):
    """Build the C µApp and copy it to args.output; 1 with the compiler's message."""
    import shutil
    from . import cprog
    out = out or sys.stdout
    name = os.path.splitext(os.path.basename(args.output))[0] or "cprog"
    try:
        prog = cprog.build(args.sources, name=name, cflags=[f"-D{d}" for d in args.defines])
    except (cprog.CompileError, OSError, ValueError) as exc:
        print(f"pyl4re cc: {exc}", file=sys.stderr)
        return 1
    shutil.copyfile(prog.path, args.output)
    print(f"{args.output}: C µApp {prog.name} (start it with k.start_cprogram({args.output!r}))",
          file=out)
    return 0


def _run_options(parser):
    from . import run
    run.add_arguments(parser)


def _run(args):
    from . import run
    return run.run_args(args)


# name -> (one line of help, adds the options, runs it)
COMMANDS = {
    "demo": ("boot a demo system on each architecture (the default)", _no_options, demo),
    "bench": ("the IPC and memory benchmark report per architecture", _bench_options,
              _bench),
    "fuzz": ("random kernel invocations checked by oracles; shrunk reproducers",
             _fuzz_options, _fuzz),
    "cc": ("compile a C µApp against pyl4re's l4sys headers", _cc_options, _cc),
    "run": ("boot sigma0 -> moe -> ned with a Lua configuration",
            _run_options, _run),
}
DEFAULT = "demo"


def parser():
    p = argparse.ArgumentParser(
        prog="pyl4re", description="pyl4re: the L4Re microkernel system as an in-process "
        "model for Python.", epilog="`pyl4re COMMAND --help` shows a command's options.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND",
                           title="commands (default: demo)")
    for name, (line, add_options, _) in COMMANDS.items():
        add_options(sub.add_parser(name, help=line, description=f"pyl4re {name}: {line}."))
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    name = args.command or DEFAULT
    return COMMANDS[name][2](args)


if __name__ == "__main__":
    sys.exit(main())
