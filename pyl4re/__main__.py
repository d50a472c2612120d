"""`pyl4re` on the command line: boots a kernel per built architecture and prints it.

This is the self-check of the quickstart until the benchmark report (`pyl4re bench`)
becomes the main job.
"""
import argparse
import sys

from . import _core
from .kernel import Kernel


def selfcheck(out=sys.stdout):
    arches = _core.available_arches()
    if not arches:
        print("no architecture is built; run `pip install -e .`", file=out)
        return 1
    for arch in arches:
        k = Kernel(arch=arch)
        print(k.describe(), file=out)
    print(f"ok: {len(arches)} architecture(s) booted", file=out)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="pyl4re", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="selfcheck", choices=["selfcheck"],
                        help="what to run (default: selfcheck)")
    parser.parse_args(argv)
    return selfcheck()


if __name__ == "__main__":
    sys.exit(main())
