"""`pyl4re` on the command line: `pyl4re bench` is the benchmark report (bench/, the
quickstart's main job); plain `pyl4re` boots a demo system per built architecture and
prints what it did (demo.py)."""
import argparse
import sys

from . import _core, demo


def selfcheck(out=None):
    out = out or sys.stdout
    arches = _core.available_arches()
    if not arches:
        print("no architecture is built; run `pip install -e .`", file=out)
        return 1
    all_ok = True
    for arch in arches:
        lines, ok = demo.run(arch)
        all_ok &= ok
        for line in lines:
            print(line, file=out)
    print(f"{'ok' if all_ok else 'FAILED'}: {len(arches)} architecture(s) booted", file=out)
    return 0 if all_ok else 1


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "bench":
        from . import bench
        return bench.main(argv[1:])
    if argv and argv[0] == "fuzz":
        from .fuzz import campaign
        return campaign.main(argv[1:])
    parser = argparse.ArgumentParser(prog="pyl4re", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="selfcheck", choices=["selfcheck"],
                        help="what to run (default: selfcheck; `pyl4re bench` measures)")
    parser.parse_args(argv)
    return selfcheck()


if __name__ == "__main__":
    sys.exit(main())
