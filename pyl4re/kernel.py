"""`Kernel`: one booted pyl4re system, as a harness creates and inspects it.

Owns the machine's physical memory (one numpy uint8 array, shared with C without copies)
and the C kernel instance built for one architecture. Everything it offers goes through
`_core`'s extension; it checks every value before it crosses into C, so bad input gets a
clear Python exception and leaves the kernel untouched.
"""
import numpy as np

from . import _core
from .errors import check
from .objects import HANDLE_BY_KIND, KernelObject, Task
from .types import CapIndex, PageNumber, PhysAddr, expect

_FRAME_OWNERS = ("reserved", "kernel-free", "kernel", "sigma0")


def _int_arg(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def default_kernel_memory(memory):
    """The kernel pool reserved at boot when none is given: 1/8 of memory, at least 256 KiB."""
    return max(0x40000, (memory // 8) & ~0xFFF)


class Kernel:
    """A booted kernel: `Kernel(arch="x86_64", cpus=1, memory=64 << 20, seed=0)`.

    `kernel_memory` (bytes, default 1/8 of `memory`) is the pool the kernel allocates its
    own frames from; every other frame belongs to sigma0 from boot on.
    """

    def __init__(self, arch="x86_64", cpus=1, memory=64 << 20, seed=0, *, kernel_memory=None):
        ffi, lib = _core.load(arch)
        _int_arg(cpus, "cpus")
        _int_arg(memory, "memory")
        _int_arg(seed, "seed")
        if not 1 <= cpus <= lib.KERNEL_MAX_CPUS:
            raise ValueError(f"cpus must be 1..{lib.KERNEL_MAX_CPUS}, not {cpus}")
        if not lib.KERNEL_MIN_MEMORY <= memory <= lib.KERNEL_MAX_MEMORY or memory % 4096:
            raise ValueError(f"memory must be a multiple of 4 KiB between "
                             f"{lib.KERNEL_MIN_MEMORY:#x} and {lib.KERNEL_MAX_MEMORY:#x} bytes, "
                             f"not {memory:#x}")
        if not 0 <= seed < 1 << 64:
            raise ValueError("seed must fit 64 bits")
        if kernel_memory is None:
            kernel_memory = default_kernel_memory(memory)
        _int_arg(kernel_memory, "kernel_memory")
        if not lib.KERNEL_MIN_KMEM <= kernel_memory < memory or kernel_memory % 4096:
            raise ValueError(f"kernel_memory must be a multiple of 4 KiB, at least "
                             f"{lib.KERNEL_MIN_KMEM:#x} and below memory, not {kernel_memory:#x}")
        self._ffi, self._lib = ffi, lib
        self.arch, self.cpus, self.memory, self.seed = arch, cpus, memory, seed
        self.kernel_memory = kernel_memory
        self._physmem = np.zeros(memory, dtype=np.uint8)
        self._membuf = ffi.from_buffer("uint8_t[]", self._physmem)
        cfg = ffi.new("struct kernel_config *",
                      {"cpus": cpus, "seed": seed, "kmem_bytes": kernel_memory})
        out = ffi.new("kernel_t **")
        check(lib.kernel_create(cfg, self._membuf, memory, out), "kernel_create")
        self._k = ffi.gc(out[0], lib.kernel_destroy)
        self.frames = Frames(self)
        self.root_task = Task(self, lib.kernel_root_task(self._k).raw)
        self.root_factory = self.root_task.object_at(CapIndex(lib.L4_BASE_FACTORY_CAP_INDEX))

    @property
    def physmem(self):
        """The machine's physical memory (numpy uint8, shared with the C core)."""
        return self._physmem

    @property
    def arch_info(self):
        """Facts of this build's architecture: word size, exception frame, UTCB, pages."""
        a = self._lib.arch_describe()
        return {"name": self._ffi.string(a.name).decode(), "mword_bits": a.mword_bits,
                "exc_regs_words": a.exc_regs_words, "utcb_size": a.utcb_size,
                "page_shift": a.page_shift, "user_max": a.user_max}

    def object(self, object_id):
        """A handle on the live object with this id (the right subclass for its kind)."""
        probe = KernelObject(self, object_id)
        return HANDLE_BY_KIND.get(probe.type, KernelObject)(self, object_id)

    @property
    def objects_alive(self):
        return self._lib.kobj_live_count(self._k)

    def describe(self):
        """A few lines of configuration: what the self-check prints per architecture."""
        a, s = self.arch_info, self.frames.stats()
        return "\n".join([
            f"arch {a['name']}: {a['mword_bits']}-bit, {self.cpus} CPU(s), "
            f"{self.memory >> 20} MiB physical memory",
            f"  kernel pool {s['kernel_frames'] * 4} KiB ({s['kernel_free_frames']} frames free), "
            f"sigma0 owns {s['sigma0_frames']} frames from {PhysAddr(s['sigma0_first_pfn'] << 12)!r}",
            f"  UTCB {a['utcb_size']} bytes, exception frame {a['exc_regs_words']} words, "
            f"smallest page {1 << a['page_shift'] >> 10} KiB, user space up to {a['user_max']:#x}",
            f"  root task {self.root_task!r} holds {self.root_task.caps_used()} capabilities; "
            f"{self.objects_alive} kernel objects alive",
        ])

    def __repr__(self):
        return f"<Kernel {self.arch} cpus={self.cpus} memory={self.memory >> 20} MiB>"


class Frames:
    """The kernel's physical frame allocator (4 KiB frames, naturally aligned blocks)."""
    __slots__ = ("_kernel",)

    def __init__(self, kernel):
        self._kernel = kernel

    def alloc(self, order=0):
        """A zeroed block of 2^order frames from the kernel pool, as its PhysAddr."""
        k = self._kernel
        _int_arg(order, "order")
        if not 0 <= order <= k._lib.FRAME_MAX_ORDER:
            raise ValueError(f"order must be 0..{k._lib.FRAME_MAX_ORDER}, not {order}")
        out = k._ffi.new("phys_addr_t *")
        check(k._lib.frames_alloc(k._k, order, out), f"frames.alloc(order={order})")
        return PhysAddr(out.raw)

    def free(self, block, order=0):
        """Give back a block alloc() returned, with the same order."""
        k = self._kernel
        expect(block, PhysAddr, "physical address")
        _int_arg(order, "order")
        if not 0 <= order <= k._lib.FRAME_MAX_ORDER:
            raise ValueError(f"order must be 0..{k._lib.FRAME_MAX_ORDER}, not {order}")
        check(k._lib.frames_free(k._k, [block.value], order), f"frames.free({block!r})")

    def owner(self, pfn):
        """'reserved', 'kernel-free', 'kernel' or 'sigma0' for a page-frame number."""
        k = self._kernel
        expect(pfn, PageNumber, "page-frame number")
        return _FRAME_OWNERS[check(k._lib.frames_owner(k._k, [pfn.value]), f"owner of {pfn!r}")]

    def stats(self):
        k = self._kernel
        out = k._ffi.new("struct frames_stats *")
        k._lib.frames_stats(k._k, out)
        return {name: getattr(out, name) for name in
                ("total_frames", "kernel_frames", "kernel_free_frames", "sigma0_frames",
                 "sigma0_first_pfn")}
