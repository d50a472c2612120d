"""One fuzz case: a system drawn from a seed, run once, and checked by the oracles.

A case is plain data (`draw()` makes one): the architecture, CPUs, one op list per fuzz
µApp, and harness events at virtual times (deleting a fuzz task or thread mid-IPC,
pulsing interrupt lines, harness API calls with wrong values). `run()` boots a Kernel,
starts the µApps beside a native echo server, runs it to the end and applies every
oracle; it returns the invocation counts or raises `Finding` with what went wrong.
"""
import gc
import io
import random

from pyl4re import Kernel, _core
from pyl4re.code import IllegalInstruction
from pyl4re.control import mem as mem_ctl
from pyl4re.errors import L4Error
from pyl4re.harness import ROOT_FIRST_FREE, Capability
from pyl4re.hw import IommuFault
from pyl4re.kernel import KernelInvariantError
from pyl4re.mem import PageFaultError
from pyl4re.objects import Task
from pyl4re.types import CapIndex

from . import program, words
from .watch import Watch

R, W, S = 4, 1, 2                    # L4_CAP_FPAGE_R / W / S
UNTIL_NS = 20_000_000                # virtual time a case may run
MAX_STEPS = 200_000                  # scheduling decisions a case may take
EVENTS = ("delete_thread", "delete_task", "irq", "harness", "dma", "dma", "msi")
# Devices the harness does DMA and MSIs with (the µApps bind them to DMA spaces); their
# source ids are what the µApps' IOMMU and MSI ops mostly pass.
DEVICES = (0, 1, 0x10, 0xFFFF)


class Finding(Exception):
    """An oracle failed: `kind` names which (crash, invariant, mapdb, rights, leak, ...)."""

    def __init__(self, kind, detail):
        self.kind, self.detail = kind, detail
        super().__init__(f"{kind}: {detail}")


def draw(arch, seed, ops=200):
    """The case of `seed`: 2-4 fuzz µApps of up to `ops` ops each, 0-4 harness events."""
    rnd = random.Random(f"{arch}:{seed}")
    n = rnd.randrange(2, 5)
    return {
        "arch": arch, "seed": seed, "cpus": rnd.choice((1, 2)),
        "programs": [program.draw(rnd, rnd.randrange(1, ops + 1)) for _ in range(n)],
        "prios": [rnd.randrange(1, 4) for _ in range(n)],
        "events": sorted([rnd.randrange(0, 2_000_000), rnd.choice(EVENTS), rnd.randrange(n),
                          rnd.getrandbits(16)] for _ in range(rnd.randrange(0, 5))),
    }


async def _idle(env):
    return 0


def _bad_harness_call(k, handles, n):
    """One harness API call with a wrong value; it must fail cleanly, if at all."""
    junk = (None, -1, 1 << 64, "x", b"x", 1.5, object(), [], 2)[n % 9]
    h = handles[n // 9 % len(handles)]
    calls = (lambda: k.hw.at(junk, lambda: None), lambda: k.cpu_clock(junk),
             lambda: k.object(junk), lambda: h.task.cap(junk),
             lambda: h.task.insert(CapIndex(0x3F0), junk),
             lambda: k.root_factory.create_thread(junk, CapIndex(0x3F1)),
             lambda: k.create_gate(junk), lambda: k.hw.irq_line(junk).pulse(),
             lambda: k.start_task(_idle, caps=junk), lambda: k.start_task(_idle, name=junk),
             lambda: k.frames.free(junk))
    try:
        calls[n // 81 % len(calls)]()
    except (TypeError, ValueError, L4Error):
        pass


def _dma(k, arg):
    """A device reads or writes at an I/O virtual address the µApps map memory to (or
    near one): the IOMMU translates it through the DMA space bound, or faults."""
    device = DEVICES[arg % len(DEVICES)]
    iova = words.DMA_IOVAS[(arg >> 2) % len(words.DMA_IOVAS)] + (arg >> 5 & 7) * 0x800
    n = (1, 8, 0x100, 0x1800)[arg >> 8 & 3]
    try:
        if arg & 0x800:
            k.hw.dma_write(device, iova, bytes(n))
        else:
            k.hw.dma_read(device, iova, n)
    except IommuFault:
        pass


def _msi(k, arg):
    """A device signals MSI n with the message msi_info gives for it, or a wrong one."""
    lib, ffi = k._lib, k._ffi
    device, msi = DEVICES[arg % len(DEVICES)], arg >> 2 & 0x3F
    addr, data = ffi.new("uint64_t *"), ffi.new("uint32_t *")
    if lib.icu_msi_info(k._k, msi % 40, k.hw.dma_source_id(device), addr, data) < 0:
        addr[0], data[0] = 0xFEE00000, msi
    try:
        k.hw.msi(device, addr[0] ^ (arg >> 8 & 1) << 12, data[0] ^ (arg >> 9 & 1))
    except IommuFault:
        pass


def _event(k, handles, action, index, arg):
    h = handles[index % len(handles)]
    if action in ("delete_thread", "delete_task"):
        slot = h.thread_slot if action == "delete_thread" else h.task_slot
        if k.root_task.cap(CapIndex(slot)) is not None:
            k.root_task.delete_obj(CapIndex(slot))
    elif action == "irq":
        k.hw.irq_line(arg % k._lib.ICU_LINES).pulse()
    elif action == "dma":
        _dma(k, arg)
    elif action == "msi":
        _msi(k, arg)
    else:
        _bad_harness_call(k, handles, arg)


def _check_rights(k, handles):
    """No page gains rights by map or grant: each mapping's rights are within its parent's."""
    by_task = {}
    for h in handles:
        if h.task.alive:
            by_task[h.task.id] = {m.va: m for m in h.task.mappings()}
    for task, maps in by_task.items():
        for m in maps.values():
            parent = by_task.get(m.parent_task_id, {}).get(m.parent_va)
            if parent is not None and m.rights & ~parent.rights:
                raise Finding("rights", f"task {task:#x} va {m.va!r}: rights {m.rights:#x} "
                                        f"beyond its parent's {parent.rights:#x}")


def run(case, stats=None):
    """Runs and checks one case; returns `stats` (invocations, refused) added to."""
    stats = stats if stats is not None else {"invocations": 0, "refused": 0}
    lib = _core.load(case["arch"])[1]
    blocks = lib.core_heap_blocks()
    if blocks:                       # a kernel of an earlier case still waits for the gc
        gc.collect()
        blocks = lib.core_heap_blocks()
    _run_kernel(case, stats)
    # The dropped Kernel is a young reference cycle: collect only as deep as it takes.
    for generation in (0, 1, 2):
        if lib.core_heap_blocks() == blocks:
            break
        gc.collect(generation)
    if lib.core_heap_blocks() != blocks:
        raise Finding("leak", f"{lib.core_heap_blocks() - blocks} C heap blocks not given "
                              "back after the kernel was dropped")
    return stats


def _run_kernel(case, stats):
    k = Kernel(arch=case["arch"], cpus=case["cpus"], memory=16 << 20,
               log_stream=io.StringIO(), trace_size=256)
    alive_at_boot = k.objects_alive
    echo = k.start_native("echo", "echo")
    gate = k.create_gate(label=0x40)
    gate.bind(echo, 0x40)
    handles = []
    src = [k.hw.dma_source_id(d) for d in DEVICES]
    watch = Watch(k, k.root_task.id)
    for i, ops in enumerate(case["programs"]):
        caps = {f"t{j}": Capability(k, handles[j].thread_slot, R | W | S) for j in range(i)}
        caps["echo"] = gate
        handles.append(k.start_task(program.program(ops, stats, src, watch.for_app(i)),
                                    name=f"fuzz{i}", caps=caps, prio=case["prios"][i],
                                    cpu=i % case["cpus"]))
    watch.tasks = [h.task.id for h in handles]
    for at, action, index, arg in case["events"]:
        k.hw.at(at, lambda a=action, i=index, x=arg: _event(k, handles, a, i, x))
    try:
        res = k.run(until_ns=UNTIL_NS, max_steps=MAX_STEPS, raise_errors=False)
        k.check_invariants()
    except KernelInvariantError as e:
        raise Finding(_invariant_kind(e), str(e)) from e
    except Exception as e:                                   # noqa: BLE001
        raise Finding("crash", f"k.run() raised {type(e).__name__}: {e}") from e
    for name, err in res.failed.items():
        # A thread sent to an address with no code faults there, as on a CPU: expected.
        if not isinstance(err, (PageFaultError, IllegalInstruction)):
            raise Finding("crash", f"µApp {name} raised {type(err).__name__}: {err}") from err
    problem = mem_ctl.check(k)
    if problem:
        raise Finding("mapdb", problem)
    if watch.problem:
        raise Finding(*watch.problem)
    _check_rights(k, handles)
    # Everything the harness made goes; what the µApps made goes with their tasks.
    for slot in range(ROOT_FIRST_FREE, k._harness.next_root):
        if k.root_task.cap(CapIndex(slot)) is not None:
            k.root_task.delete_obj(CapIndex(slot))
    k.run(max_steps=1000, raise_errors=False)
    try:
        k.check_invariants()
    except KernelInvariantError as e:
        raise Finding(_invariant_kind(e), f"after teardown: {e}") from e
    if k.objects_alive != alive_at_boot:
        # Two things keep objects alive here as on Fiasco: a count driven to 0 or below by
        # dec_refcnt, and reference cycles through a task's capability table (a task
        # holding a capability to itself). What such an object holds (a gate its bound
        # thread, a thread its task) stays too. Left-overs with neither root are
        # references the kernel lost.
        left = _objects_since(k, alive_at_boot)
        if not any(isinstance(o, Task) or o.info().counted_refs <= 0 for o in left):
            raise Finding("leak", f"{len(left)} kernel object(s) outlive every task and "
                                  f"capability that could reach them: {left}")


def _invariant_kind(err):
    """check_invariants' reference audit is its own kind of finding: "refcount"."""
    text = str(err)
    return "refcount" if "reference count" in text or "IOMMU" in text else "invariant"


def _objects_since(k, boot_objects, scan=1 << 17):
    """The live objects created after boot. Debugger ids count creations from 0 and are
    never reused, and no boot object dies, so those are the ids from `boot_objects` on."""
    out, found = k._ffi.new("kobj_id_t *"), []
    wanted = k.objects_alive - boot_objects
    for dbg in range(boot_objects, boot_objects + scan):
        if len(found) == wanted:
            break
        if k._lib.kobj_by_dbg_id(k._k, dbg, out) == 0:
            found.append(k.object(out.raw))
    return found
