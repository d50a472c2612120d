"""The reference boot: sigma0 -> moe -> rom/hello as moe's init. hello prints
"Hello World!" once a second on the kernel log (untagged: moe gives its init the kernel
log itself), exactly L4Re's golden output for `--init=rom/hello`.

Run: python examples/hello.py [arch]
"""
import sys

import pyl4re


def main(arch="x86_64"):
    system = pyl4re.boot(arch=arch, init="rom/hello")
    system.run(until_ns=3_000_000_000)          # three virtual seconds
    return system


if __name__ == "__main__":
    main(*sys.argv[1:])
