"""`Kernel`: one booted pyl4re system, as a harness creates and inspects it.

Owns the machine's physical memory (one numpy uint8 array, shared with C without copies)
and the C kernel instance built for one architecture. Everything it offers goes through
`_core`'s extension; it checks every value before it crosses into C, so bad input gets a
clear Python exception and leaves the kernel untouched.
"""
import numpy as np

from . import _args, _core, platforms
from . import trace as _trace
from .console import Console
from .control.dispatch import ControlPlane
from .errors import L4InvalidArgumentError, check
from .harness import Harness
from .hw import Hardware
from .objects import HANDLE_BY_KIND, KernelObject, Task
from .runloop import RunLoop
from .types import CapIndex, PageNumber, PhysAddr, accept

_FRAME_OWNERS = ("reserved", "kernel-free", "kernel", "sigma0")
DEFAULT_QUANTUM_JITTER = 0.5     # a seeded refill gives 1/2 .. all of the quantum


def _int_arg(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def default_kernel_memory(memory):
    """The kernel pool reserved at boot when none is given: 1/8 of memory, at least 256 KiB."""
    return max(0x40000, (memory // 8) & ~0xFFF)


class KernelInvariantError(AssertionError):
    """The kernel's state broke one of its own invariants: a bug in pyl4re."""


class Kernel:
    """A booted kernel: `Kernel(arch="x86_64", cpus=1, memory=64 << 20, seed=None)`.

    `seed=None` runs the canonical schedule (ties between CPUs: the lowest first; equal
    timeouts: FIFO; full quanta). With a seed (an int below 2^64) the kernel draws where
    the real kernel's order depends on timing: which CPU of several at the same virtual
    time goes first, the order of wake-ups due at the same time, how much shorter than its
    quantum a refilled time slice is (at most `quantum_jitter` of it, default 1/2), and the
    jitter of device-model events that declare a bound (`hw.at(..., jitter_ns=)`). The
    same seed gives the same trace; different seeds, different legal schedules
    (docs/testing.md).

    `kernel_memory` (bytes, default 1/8 of `memory`) is the pool the kernel allocates its
    own frames from; every other frame belongs to sigma0 from boot on. `log_stream` is the
    text stream the kernel log prints to (default: sys.stdout); `trace_size` the number of
    entries of the trace ring (0: no tracing). `sched` picks the scheduler build:
    "fp" (fixed-priority round robin, the default) or "wfq" (weighted fair queueing; Fiasco,
    too, selects its scheduler at compile time: `docs/sched.md`).

    `platform` names the machine whose costs virtual time is charged with: "model" (the
    architecture's own table, docs/time.md) or a calibrated profile of that architecture
    (`pyl4re.platforms.names(arch)`, docs/benchmarks.md); `k.profile` is its Platform.
    """

    def __init__(self, arch="x86_64", cpus=1, memory=64 << 20, seed=None, *,
                 kernel_memory=None, log_schedule=False, log_stream=None, trace_size=None,
                 quantum_jitter=DEFAULT_QUANTUM_JITTER, sched="fp", platform=platforms.MODEL):
        ffi, lib = _core.load(arch, sched)
        profile = platforms.lookup(platform, arch)
        _int_arg(cpus, "cpus")
        _int_arg(memory, "memory")
        if seed is not None:
            _int_arg(seed, "seed")
        if isinstance(quantum_jitter, bool) or not isinstance(quantum_jitter, (int, float)) \
                or not 0 <= quantum_jitter <= 1:
            raise ValueError(f"quantum_jitter must be a fraction 0..1, not {quantum_jitter!r}")
        if not 1 <= cpus <= lib.KERNEL_MAX_CPUS:
            raise ValueError(f"cpus must be 1..{lib.KERNEL_MAX_CPUS}, not {cpus}")
        if not lib.KERNEL_MIN_MEMORY <= memory <= lib.KERNEL_MAX_MEMORY or memory % 4096:
            raise ValueError(f"memory must be a multiple of 4 KiB between "
                             f"{lib.KERNEL_MIN_MEMORY:#x} and {lib.KERNEL_MAX_MEMORY:#x} bytes, "
                             f"not {memory:#x}")
        if seed is not None and not 0 <= seed < 1 << 64:
            raise ValueError("seed must be None or fit 64 bits")
        if kernel_memory is None:
            kernel_memory = default_kernel_memory(memory)
        _int_arg(kernel_memory, "kernel_memory")
        if not lib.KERNEL_MIN_KMEM <= kernel_memory < memory or kernel_memory % 4096:
            raise ValueError(f"kernel_memory must be a multiple of 4 KiB, at least "
                             f"{lib.KERNEL_MIN_KMEM:#x} and below memory, not {kernel_memory:#x}")
        if trace_size is None:
            trace_size = lib.TRACE_DEFAULT_ENTRIES
        _int_arg(trace_size, "trace_size")
        if not 0 <= trace_size <= lib.TRACE_MAX_ENTRIES:
            raise ValueError(f"trace_size must be 0..{lib.TRACE_MAX_ENTRIES} entries, "
                             f"not {trace_size}")
        if log_stream is not None and not callable(getattr(log_stream, "write", None)):
            raise TypeError("log_stream must be a text stream (an object with .write)")
        self._ffi, self._lib = ffi, lib
        self.arch, self.cpus, self.memory, self.seed = arch, cpus, memory, seed
        self.sched = sched
        self.kernel_memory = kernel_memory
        self.quantum_jitter = quantum_jitter
        self.trace_size = trace_size
        self._recorder = None            # replay.Recorder or Replayer while one watches
        self._physmem = np.zeros(memory, dtype=np.uint8)
        self._membuf = ffi.from_buffer("uint8_t[]", self._physmem)
        self._physbytes = memoryview(self._physmem)     # slices cheaper than numpy's
        cfg = ffi.new("struct kernel_config *",
                      {"cpus": cpus, "seed": seed or 0, "seeded": seed is not None,
                       "quantum_jitter_permille": round(quantum_jitter * 1000),
                       "kmem_bytes": kernel_memory, "trace_size": trace_size})
        out = ffi.new("kernel_t **")
        check(lib.kernel_create(cfg, self._membuf, memory, out), "kernel_create")
        self._k = ffi.gc(out[0], lib.kernel_destroy)
        self.platform, self.profile = platform, profile
        if profile is not None:
            check(lib.kernel_set_costs(self._k, ffi.new("struct cost_table *", {
                f"{name}_ns": ns for name, ns in profile.cost_ns().items()})), "platform costs")
        self.frames = Frames(self)
        self.root_task = Task(self, lib.kernel_root_task(self._k).raw)
        self.root_factory = self.root_task.object_at(CapIndex(lib.L4_BASE_FACTORY_CAP_INDEX))
        self.sigma0_task = Task(self, lib.kernel_sigma0(self._k).raw)   # owns the memory
        # What runs µApps: the result structs of a kernel entry and of a scheduling
        # decision (one thread runs at a time), the control plane for slow-path objects,
        # the loop, and the harness set-up API.
        # Both are the kernel's own: sys_enter answers there, and the µApp fast entry
        # (pyl4re/_entry.c) reads them in place.
        self._result = lib.kernel_entry_result(self._k)
        self._next = lib.kernel_sched_out(self._k)
        self._mem_result = ffi.new("struct mem_result *")
        self._exc_result = ffi.new("struct exc_result *")
        self._cprograms = {}                    # load address -> C µApp copy (cprog.py)
        self.log_schedule = log_schedule
        self._code = {}                  # ip -> function: the code this kernel's threads run
        self._code_ips = {}              # function -> ip, for code the harness starts
        self._console = Console(log_stream)
        self._control = ControlPlane(self)
        self._loop = RunLoop(self)
        self.hw = Hardware(self)
        self._harness = Harness(self)

    # ---- running µApps (runloop.py, harness.py)

    def create_gate(self, label=0):
        """An unbound IPC gate owned by the root factory: a client capability to it
        (`gate.svr()` is the server side, which may bind it)."""
        if self._recorder is not None:
            self._recorder.input("create_gate", label=label)
        return self._harness.create_gate(label)

    def start_task(self, main, name=None, caps=None, prio=1, cpu=0, pager=None):
        """A new task whose first thread runs `await main(env)` (see harness.py). Its pager
        is sigma0 (through a gate of its own at L4_BASE_PAGER_CAP) unless `pager` names
        another gate."""
        if self._recorder is not None:
            self._recorder.input("start_task", main=main, name=name, caps=caps, prio=prio,
                                 cpu=cpu, pager=pager)
        return self._harness.start_task(main, name=name, caps=caps, prio=prio, cpu=cpu,
                                        pager=pager)

    def start_cprogram(self, program, name=None, caps=None, prio=1, cpu=0, pager=None):
        """A new task whose first thread runs a C µApp's main (a CProgram from
        pyl4re.cprog.build, or the path of one); otherwise as start_task. Its exit code
        is the thread's result (docs/c-uapps.md)."""
        from . import cprog                   # recorded as the start_task it makes
        return cprog.start(self, program, name=name, caps=caps, prio=prio, cpu=cpu,
                           pager=pager)

    def start_thread(self, task, fn, name, prio=1, cpu=0):
        """Another thread in `task` (a handle start_task returned), running `await fn()`.
        Returns the thread's id."""
        if self._recorder is not None:
            self._recorder.input("start_thread", task=task, fn=fn, name=name, prio=prio,
                                 cpu=cpu)
        return self._harness.start_thread(task, fn, name, prio=prio, cpu=cpu)

    def start_native(self, program, name, caps=None, prio=1, cpu=0, user=(0, 0, 0),
                     pager=None):
        """A task whose thread runs a built-in C program: "echo", "sink", "call_loop",
        "send_loop", "cap_call_loop" or "touch" (its TCR user words: harness.py). Its
        pager is sigma0 unless `pager` names another gate, as for start_task."""
        if self._recorder is not None:
            self._recorder.input("start_native", program=program, name=name, caps=caps,
                                 prio=prio, cpu=cpu, user=user, pager=pager)
        return self._harness.start_native(program, name, caps=caps, prio=prio, cpu=cpu,
                                          user=user, pager=pager)

    def run(self, until_ns=None, max_steps=None, raise_errors=True):
        """Run until nothing can progress (or virtual time passes `until_ns`, or after
        `max_steps` scheduling decisions). A µApp that raises makes this raise
        MicroAppError, unless `raise_errors=False` records it in the result instead."""
        if until_ns is not None:
            _args.word(until_ns, "run(until_ns=)", lo=1, hi=_args.U64_MAX - 1)
        if max_steps is not None:
            _args.word(max_steps, "run(max_steps=)", lo=1, hi=_args.U32_MAX)
        if self._recorder is not None:
            self._recorder.input("run", until_ns=until_ns, max_steps=max_steps,
                                 raise_errors=raise_errors)
        return self._loop.run(until_ns, max_steps, raise_errors)

    @property
    def now_ns(self):
        """Virtual time: the furthest any CPU's clock has got."""
        return self._lib.kernel_now_ns(self._k)

    @property
    def schedule_log(self):
        """(cpu, time, thread) of every µApp resume, if `log_schedule=True`."""
        return self._loop.schedule_log

    # ---- the kernel log and the trace ring (console.py, trace.py)

    @property
    def log_lines(self):
        """Every complete line the kernel log printed (Log writes, debugger output)."""
        return list(self._console.lines)

    @property
    def log_records(self):
        """(time_ns, task name, line) of every printed line."""
        return list(self._console.records)

    def log_input(self, data):
        """Input for the Log object's read (bytes or str), as if typed on the console."""
        if self._recorder is not None:          # a replay gives the recorded input
            data = self._recorder.input("log_input", data=data)["data"]
        self._console.feed(data)

    @property
    def trace(self):
        """The trace ring's records, oldest first (pyl4re.trace.TraceRecord)."""
        return _trace.records(self)

    def trace_json(self, path=None):
        """The trace as Chrome/Perfetto trace-event JSON (also written to `path`)."""
        return _trace.chrome_json(self, path)

    def costs(self):
        """The cost table virtual time is charged from: cost name -> ns."""
        out = self._ffi.new("struct cost_table *")
        self._lib.kernel_costs(self._k, out)
        return {name: getattr(out, f"{name}_ns") for name in platforms.COSTS}

    def cpu_clock(self, cpu):
        """(clock_ns, idle_ns) of one CPU."""
        _args.word(cpu, "cpu_clock(cpu)", hi=self.cpus - 1)
        out = self._ffi.new("struct cpu_info *")
        check(self._lib.cpu_info(self._k, [cpu], out), f"cpu {cpu}")
        return out.clock_ns, out.idle_ns

    def check_invariants(self):
        """Raise KernelInvariantError if any thread is in a state it must never be in
        (lost, in two queues, ready while waiting, ...), or an object's reference count
        differs from the counted references that exist (capability slots, bound threads,
        gates and IRQs; dec_refcnt's moves allowed for). For tests; costs a full walk."""
        out = self._ffi.new("struct check_out *")
        if self._lib.kernel_check(self._k, out) < 0:
            raise KernelInvariantError(f"thread or object {out.thread.raw:#x}: "
                                       f"{self._ffi.string(out.what).decode()}")

    def explain_last_error(self):
        """What the last failed kernel operation was: thread, selector, object, rights
        it had and needed, label and opcode, and the error."""
        return self._harness.explain_last_error()

    def _thread_info(self, tid):
        out = self._ffi.new("struct thread_info *")
        check(self._lib.thread_info(self._k, [tid], out), f"thread {tid:#x}")
        return out

    def _describe_wait(self, tid):
        return self._harness.describe_wait(tid)

    def _note_error(self, inv, ipc_error, result=None):
        code = ipc_error if ipc_error else result
        self._lib.kernel_note_error(self._k, [inv.thread], inv.dest & ~0xF, inv.type,
                                    inv.rights, inv.needed, inv.label, inv.mr(0), code)

    @property
    def physmem(self):
        """The machine's physical memory (numpy uint8, shared with the C core)."""
        return self._physmem

    def mapdb_tree(self, pa):
        """Who mapped the frame at physical address `pa` (an int or a PhysAddr) to whom:
        every mapping of it in tree order (sigma0's root first, each mapping before those
        derived from it), as control.mem.Mapping records (task id, va, page size, rights,
        depth, parent)."""
        from .control import mem
        pa = accept(pa, PhysAddr, "physical address")
        records = mem.tree(self, pa)
        if isinstance(records, int):
            check(records, f"mapping tree of {pa!r}")
        return records

    @property
    def kip(self):
        """The kernel info page as bytes in physical memory (a numpy view)."""
        pa = self._lib.kernel_kip(self._k).raw
        return self._physmem[pa:pa + (1 << self.arch_info["page_shift"])]

    @property
    def arch_info(self):
        """Facts of this build's architecture: word size, exception frame, UTCB, pages."""
        a = self._lib.arch_describe()
        return {"name": self._ffi.string(a.name).decode(), "mword_bits": a.mword_bits,
                "exc_regs_words": a.exc_regs_words, "utcb_size": a.utcb_size,
                "page_shift": a.page_shift, "user_max": a.user_max}

    # ---- who holds what (graph.py; docs/testing.md)

    def graph(self):
        """Every live object and mapped frame range as a networkx MultiDiGraph: edges for
        capabilities, mappings, gate/Irq bindings, threads' tasks, pagers and exception
        handlers. `pyl4re.graph.to_dot(g)` / `to_json(g)` export it."""
        from . import graph
        return graph.graph(self)

    def authority(self, task, trusted=None):
        """What `task` (a started task, a Task handle or its id) can invoke and access,
        directly or through what other tasks can pass it (graph.Authority). `trusted`:
        tasks assumed never to pass anything on (default: the root task and sigma0)."""
        from . import graph
        return graph.AuthorityModel(self, trusted).authority(task)

    def can_reach(self, task, target, trusted=None):
        """True if `task` can invoke `target` (an object handle or id) or access it (a
        PhysAddr), directly or through what it can be passed (see authority())."""
        from . import graph
        return graph.AuthorityModel(self, trusted).can_reach(task, target)

    def confinement_report(self, trusted=None):
        """Who can write which memory and who can send to whom (graph.ConfinementReport)."""
        from . import graph
        return graph.confinement_report(self, trusted)

    def kernel_objects_dump(self, tag=None, path=None, color=True):
        """The `@@ KernelObjects` block Fiasco's JDB prints for `dumpmapdbobjs [tag]`
        (format version 0): every object and every capability naming it, comparable with
        a real system's dump (introspect.py). Also written to `path` if given."""
        from . import introspect
        text = introspect.dump(self, tag, color)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    def object(self, object_id):
        """A handle on the live object with this id (the right subclass for its kind)."""
        probe = KernelObject(self, object_id)
        return HANDLE_BY_KIND.get(probe.type, KernelObject)(self, object_id)

    @property
    def objects_alive(self):
        return self._lib.kobj_live_count(self._k)

    def describe(self):
        """A few lines of configuration: what `pyl4re demo` prints per architecture."""
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
    """The kernel's physical frame allocator (4 KiB frames, naturally aligned blocks).

    free() takes back only what alloc() handed out: every other kernel frame belongs to a
    page table, a UTCB or another object the kernel still uses."""
    __slots__ = ("_kernel", "_handed_out")

    def __init__(self, kernel):
        self._kernel = kernel
        self._handed_out = {}          # block address -> order, for what alloc() returned

    def alloc(self, order=0):
        """A zeroed block of 2^order frames from the kernel pool, as its PhysAddr."""
        k = self._kernel
        _int_arg(order, "order")
        if not 0 <= order <= k._lib.FRAME_MAX_ORDER:
            raise ValueError(f"order must be 0..{k._lib.FRAME_MAX_ORDER}, not {order}")
        out = k._ffi.new("phys_addr_t *")
        check(k._lib.frames_alloc(k._k, order, out), f"frames.alloc(order={order})")
        self._handed_out[out.raw] = order
        return PhysAddr(out.raw)

    def free(self, block, order=0):
        """Give back a block alloc() returned (its PhysAddr, or the int), with the same order."""
        k = self._kernel
        block = accept(block, PhysAddr, "physical address")
        _int_arg(order, "order")
        if not 0 <= order <= k._lib.FRAME_MAX_ORDER:
            raise ValueError(f"order must be 0..{k._lib.FRAME_MAX_ORDER}, not {order}")
        given = self._handed_out.get(block.value)
        if given != order:
            why = ("not a block frames.alloc() returned (the kernel's own frames are not the "
                   "harness's to free)" if given is None else f"allocated with order {given}")
            raise L4InvalidArgumentError(k._lib.L4_EINVAL,
                                         f"frames.free({block!r}, order={order}): {why}")
        check(k._lib.frames_free(k._k, [block.value], order), f"frames.free({block!r})")
        del self._handed_out[block.value]

    def owner(self, pfn):
        """'reserved', 'kernel-free', 'kernel' or 'sigma0' for a page-frame number (a
        PageNumber, or an int)."""
        k = self._kernel
        pfn = accept(pfn, PageNumber, "page-frame number")
        return _FRAME_OWNERS[check(k._lib.frames_owner(k._k, [pfn.value]), f"owner of {pfn!r}")]

    def stats(self):
        k = self._kernel
        out = k._ffi.new("struct frames_stats *")
        k._lib.frames_stats(k._k, out)
        return {name: getattr(out, name) for name in
                ("total_frames", "kernel_frames", "kernel_free_frames", "sigma0_frames",
                 "sigma0_first_pfn")}
