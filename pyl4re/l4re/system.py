"""`System` and `boot()`: a whole L4Re system booted the way a real one boots — the kernel
with sigma0 (its root pager, native), then moe as the root task (at priority 255, paged
by sigma0, taking the free memory from sigma0 by the sigma0 protocol), then the init
program moe starts ("rom/hello" unless told otherwise), which may start more.

It returns what the Kernel gives: log lines, the trace, run results; plus moe's record of
program exits. The existing `Kernel.start_task` stays the way to test kernel-level
things without a user level.
"""
from ..kernel import Kernel
from . import rom as _rom
from .moe import moe_main


class System:
    """`System(arch="x86_64", init="rom/hello", rom={...}, args=(), moe_memory=None,
    **kernel options)`: boots at once; `run()` runs it (Kernel.run's arguments)."""

    def __init__(self, arch="x86_64", init="rom/hello", rom=None, args=(), moe_memory=None,
                 **kernel_options):
        if not isinstance(init, str) or not init.startswith("rom/") or len(init) <= 4:
            raise ValueError(f"init must name a rom module as 'rom/<name>', not {init!r}")
        if moe_memory is not None and (isinstance(moe_memory, bool)
                                       or not isinstance(moe_memory, int) or moe_memory <= 0):
            raise ValueError(f"moe_memory must be a positive int of bytes or None, "
                             f"not {moe_memory!r}")
        if isinstance(args, str) or not all(isinstance(a, str) for a in args):
            raise TypeError("args must be a sequence of str (init's argv[1:])")
        self.modules = _rom.modules(rom)
        if init[4:] not in self.modules:
            raise ValueError(f"there is no rom module {init[4:]!r}; "
                             f"have {sorted(self.modules)}")
        self.kernel = Kernel(arch=arch, **kernel_options)
        self._moe = []
        self.moe = self.kernel.start_task(
            moe_main(self.modules, init, tuple(args), moe_memory, self._moe),
            name="moe", prio=255)

    def run(self, until_ns=None, max_steps=None, raise_errors=True):
        return self.kernel.run(until_ns=until_ns, max_steps=max_steps, raise_errors=raise_errors)

    @property
    def log_lines(self):
        return self.kernel.log_lines

    @property
    def trace(self):
        return self.kernel.trace

    @property
    def exits(self):
        """Program name -> exit code, as moe (the init's parent) recorded them."""
        return dict(self._moe[0].exits) if self._moe else {}

    @property
    def moe_state(self):
        """moe's bookkeeping (memory, objects), for inspection from a harness."""
        return self._moe[0] if self._moe else None


def boot(arch="x86_64", init="rom/hello", **options):
    """A booted System: sigma0 -> moe -> init (see System)."""
    return System(arch=arch, init=init, **options)
