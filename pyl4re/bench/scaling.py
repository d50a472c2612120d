"""Scaling sweeps of `pyl4re bench --scaling`: how the costs grow with the size of the system.

Usage:
    pyl4re bench --scaling [--quick] [--plot scaling.png]
or from Python:
    from pyl4re.bench import scaling
    results = {arch: scaling.sweep(arch) for arch in ("x86_64",)}
    scaling.print_table(results, sys.stdout)
    scaling.plot(results, "scaling.png")      # False if matplotlib (the `bench` extra) is missing

Four sweeps per architecture, every timed figure the median [min..max] of measure(), the
runs of a curve's points taken in turns:
  tasks   the native <-> native 2-word IPC round trip with 10, 1 000 and 100 000 tasks alive
          (sigma0, the root task, server and client count). Each extra task is what a loader
          leaves behind, made through the kernel boundary as the harness does: created by the
          root factory with a one-page UTCB area, a capability to itself, its own page table
          (a shared page of sigma0's mapped read-only) and a thread blocked in an open wait.
  caps    the same round trip when the client's capability table holds 10 .. 1 000 000
          entries (copies of the gate, spread by l4_task_map of object fpages); the client
          calls the last slot of its table.
  map     l4_task_map and l4_task_unmap from a µApp, in ns per page, against the number of
          pages one fpage moves (pages the source holds as smallest pages).
  memory  bytes per task, thread, capability, mapping and loaded task: the growth of the
          kernel's own accounting (root-factory quota, kernel-pool frames) and of the host
          process's resident memory (approximate: whole pages, as the C allocator takes
          them) over N objects made, divided by N.

What it must not do: reach into kernel state other than through the boundary functions the
harness uses, or keep a figure it did not measure in this run.
"""
import ctypes
import gc
import os
import time
from dataclasses import asdict, dataclass

from .. import _core
from ..control import factory as factory_ctl
from ..errors import check
from ..harness import Capability
from ..kernel import Kernel
from ..l4sys import (
    L4_FP_ALL_SPACES, L4_FPAGE_RW, L4_FPAGE_RX, l4_error, l4_fpage, l4_map_control,
    l4_map_obj_control, l4_msgtag_has_error, l4_obj_fpage, l4_task_map, l4_task_unmap,
)
from ..types import CapIndex
from .system import System, native_count, timed_run
from .measure import measure
from .report import fmt_ns

_lib = _core.abi()

R, W, S, D = (_lib.L4_CAP_FPAGE_R, _lib.L4_CAP_FPAGE_W, _lib.L4_CAP_FPAGE_S,
              _lib.L4_CAP_FPAGE_D)
SYSTEM_TASKS = 4            # sigma0 and the root task (booted), the echo server, the client
EXTRA_SLOTS = 0x40000       # root-task slots for the objects made here, far above the harness's
SHARED_VA = 0x10000000      # where every extra task sees its page
SRC_VA, DST_VA = 0x40000000, 0x80000000     # the map sweep's two regions (below 4 GiB: MIPS)
FIRST_NAMED = 0x16 << _lib.L4_CAP_SHIFT     # the harness's first named capability
LAST_SLOT = _lib.CSPACE_SLOTS - 1
_CALL_LOOP_IP = _lib.NATIVE_TEXT_BASE + _lib.PROGRAM_CALL_LOOP * _lib.NATIVE_TEXT_STRIDE
_ECHO_IP = _lib.NATIVE_TEXT_BASE + _lib.PROGRAM_ECHO * _lib.NATIVE_TEXT_STRIDE
_KEEP = (1 << 64) - 1       # thread_ex_regs: leave this register as it is
MiB = 1 << 20

TARGET = "IPC round trip with 100 000 tasks alive within 1.2x of the one with 10 tasks"
TARGET_SOURCE = ("Fiasco's design, which pyl4re keeps: an IPC looks up one capability in "
                 "the caller's table and touches only the two threads, so its cost does "
                 "not depend on how many tasks exist (docs/benchmarks.md, 'Targets')")
TARGET_BOUND = ("the host, not the model (the IPC path does no per-task work): 100 000 "
                "tasks' kernel objects crowd the host's caches and memory; compare on a "
                "quiet machine, and see the --scaling table")

@dataclass(frozen=True)
class Sizes:
    """What one sweep measures: the points of each curve and how much work one run does."""
    tasks: tuple = (10, 1_000, 100_000)                      # tasks alive
    caps: tuple = (10, 1_000, 10_000, 100_000, 1_000_000)    # client capability entries
    pages: tuple = (1, 16, 256, 4096)                        # pages in one map/unmap fpage
    objects: int = 10_000        # objects made per kind for the memory figures
    rounds: int = 200_000        # IPC round trips per timed run
    map_pages: int = 8_192       # pages mapped (and unmapped) per timed map run
    repeats: int = 7


FULL = Sizes()
# Quick stops at 10 000 tasks: building 100 000 takes 6 to 12 s and 2 to 3 GiB per arch.
QUICK = Sizes(tasks=(10, 1_000, 10_000), caps=(10, 1_000, 100_000), pages=(1, 64, 4096),
              objects=1_000, rounds=20_000, map_pages=1_024, repeats=3)


def steps(quick=False, sizes=None):
    """How many times sweep() reports progress (one per figure)."""
    s = sizes or (QUICK if quick else FULL)
    return len(s.tasks) + len(s.caps) + len(s.pages) + 1


# ---- building blocks

def _arch_facts(arch):
    """(smallest page shift, page-table levels) of an architecture."""
    ffi, lib = _core.load(arch)
    f = ffi.new("struct vspace_format *")
    check(lib.vspace_describe(lib.VSPACE_KIND_USER, f), "page-table format")
    return lib.arch_describe().page_shift, f.levels


def _kernel(arch, pool_frames, sigma0_bytes=0):
    """A kernel whose pool has room for `pool_frames` more frames than a small system needs,
    and sigma0 `sigma0_bytes` more memory."""
    kmem = (pool_frames << 12) + 32 * MiB
    memory = kmem + sigma0_bytes + 32 * MiB
    if memory > _lib.KERNEL_MAX_MEMORY:
        raise ValueError(f"{arch}: the sweep needs {memory >> 20} MiB of memory, more than "
                         f"the model's {_lib.KERNEL_MAX_MEMORY >> 20} MiB")
    return Kernel(arch=arch, memory=memory, kernel_memory=kmem, trace_size=0)


def _sigma0_first(k):
    """The first address of sigma0's memory that starts a smallest page (16 KiB on MIPS)."""
    size = 1 << k.arch_info["page_shift"]
    return -(-(k.frames.stats()["sigma0_first_pfn"] << 12) // size) * size


def _lookup(k, task_id, index):
    info = k._ffi.new("struct cap_info *")
    check(k._lib.cspace_lookup(k._k, [task_id], [index], info), f"slot {index:#x}")
    return info.obj.raw


class Population:
    """The extra tasks of a kernel, as a loader leaves them (see the module doc). Made
    through the boundary functions the harness uses, but not through start_native(): that
    records each thread for the run loop, which walks all its records at the end of every
    run() (an O(threads) Python cost per run, not part of the IPC path measured here)."""

    def __init__(self, k, first_slot=EXTRA_SLOTS):
        self.k = k
        self.next_slot = first_slot
        self.count = 0
        page_shift = k.arch_info["page_shift"]
        self.utcb_va = k._lib.ARCH_UTCB_AREA_DEFAULT
        self.utcb_area = l4_fpage(self.utcb_va, page_shift, L4_FPAGE_RW).raw
        # One page of sigma0's, read-only, mapped into every task (as shared program text).
        self.page = l4_fpage(_sigma0_first(k), page_shift, L4_FPAGE_RX).raw
        self.sigma0 = k._lib.kernel_sigma0(k._k).raw

    @staticmethod
    def pool_frames(arch, n):
        """Kernel-pool frames n extra tasks take: page tables and UTCB area."""
        page_shift, levels = _arch_facts(arch)
        return n * (levels + (1 << (page_shift - 12)))

    def add(self, n):
        k, lib, kk, ffi = self.k, self.k._lib, self.k._k, self.k._ffi
        root, factory = k.root_task.id, k.root_factory.id
        mapped = ffi.new("uint32_t *")
        old = ffi.new("struct thread_regs *")
        out = ffi.new("kobj_id_t *")
        ctl = ffi.new("struct thread_ctl *", {"flags": lib.L4_THREAD_CONTROL_BIND_TASK,
                                             "utcb": [self.utcb_va]})
        # factory_create directly: control/factory.py's create() checks the arguments and
        # then makes this very call; ours are valid by construction, and 100 000 tasks
        # are built faster without the checks.
        for _ in range(n):
            slot = self.next_slot
            self.next_slot += 2
            check(lib.factory_create(kk, [factory], lib.KOBJ_TASK, self.utcb_area, [root],
                                     [slot], out), "an extra task")
            task = out[0].raw
            check(lib.cspace_copy(kk, [task], [lib.L4_BASE_TASK_CAP_INDEX], [root], [slot],
                                  R | W | S, lib.L4_FPAGE_C_REF_CNT), "its task capability")
            check(lib.task_map_mem(kk, [task], [self.sigma0], self.page, SHARED_VA, mapped),
                  "its page")
            if mapped[0] != 1:
                raise RuntimeError(f"an extra task got {mapped[0]} pages instead of one")
            check(lib.factory_create(kk, [factory], lib.KOBJ_THREAD, 0, [root], [slot + 1],
                                     out), "its thread")
            thread = out[0].raw
            ctl.task.raw = task
            check(lib.thread_control(kk, [thread], ctl), "binding its thread")
            check(lib.thread_ex_regs(kk, [thread], _ECHO_IP, 0, 0, old), "its thread's ip")
            check(lib.thread_run(kk, [thread], [0], 1, 0), "running its thread")
        self.count += n
        k.run()                     # the new threads run (in C) into their open wait


def _aligned_blocks(first, end):
    """[first, end) as (base, order) blocks, each aligned to its size (what fpages name)."""
    blocks = []
    while first < end:
        order = (first & -first).bit_length() - 1 if first else 63
        while first + (1 << order) > end:
            order -= 1
        blocks.append((first, order))
        first += 1 << order
    return blocks


def _map_caps(k, task, src, order, dst):
    """l4_task_map of the 2^order capabilities from slot src to slot dst in one task."""
    mapped = k._ffi.new("uint32_t *")
    check(k._lib.task_map_obj(k._k, [task], [task],
                              l4_obj_fpage(src << _lib.L4_CAP_SHIFT, order, R | W).raw,
                              l4_map_obj_control(dst << _lib.L4_CAP_SHIFT, 0), R | W | D,
                              mapped), "mapping capabilities")
    if mapped[0] != 1 << order:
        raise RuntimeError(f"{mapped[0]} of {1 << order} capabilities were mapped")


def fill_caps(k, task, src, first, end=LAST_SLOT + 1):
    """Copies of task's capability at slot src in every slot of [first, end): one copy,
    doubled within the largest aligned block, which then fills the others; so a million
    entries take a few dozen maps."""
    blocks = _aligned_blocks(first, end)
    base, order = max(blocks, key=lambda b: b[1])
    _map_caps(k, task, src, 0, base)
    for i in range(order):
        _map_caps(k, task, base, i, base + (1 << i))
    for b, o in blocks:
        if b != base:
            _map_caps(k, task, base, o, b)


class EchoSystem:
    """An echo server and one call-loop client, both native (the C path), that can be run
    again and again: each run restarts the client's loop with thread_ex_regs."""

    def __init__(self, k, rounds, selector=FIRST_NAMED):
        self.k, self.rounds = k, rounds
        gate = k.create_gate(0x10)
        srv = k.start_native("echo", "srv", caps={"svc": gate.svr()})
        gate.bind(srv, 0x10)
        self.client = k.start_native("call_loop", "client", caps={"svc": gate},
                                     user=(selector, rounds, 2))

    def run(self):
        """Host and virtual ns per round trip of one run."""
        k = self.k
        old = k._ffi.new("struct thread_regs *")
        before = k._thread_info(self.client.thread_id).native_count
        check(k._lib.thread_ex_regs(k._k, [self.client.thread_id], _CALL_LOOP_IP, _KEEP, 0,
                                    old), "restarting the client")
        host, virtual = timed_run(System(k, native_count(self.client)))
        done = k._thread_info(self.client.thread_id).native_count - before
        if done != self.rounds:
            raise RuntimeError(f"the client made {done} of {self.rounds} calls")
        return host, virtual


# ---- the sweeps

def _in_turns(fns, repeats):
    """measure()'s warm-up and `repeats` runs of each fn, taken in turns (a, b, c, a, b,
    c, ...) so that whatever else the host does meanwhile falls on every point of a curve
    alike; then each fn's runs summarised as measure() does."""
    runs = [[] for _ in fns]
    for _ in range(repeats + 1):
        for fn, out in zip(fns, runs):
            out.append(fn())
    return runs


def _summary(runs, repeats):
    """measure()'s figures for runs already taken (warm-up first)."""
    return measure(iter(runs).__next__, repeats)


def tasks_sweep(arch, sizes, progress=None):
    """The round trip with each number of tasks alive: one kernel per number, measured in
    turns."""
    counts = sorted(sizes.tasks)
    if counts[0] < SYSTEM_TASKS:
        raise ValueError(f"the system itself has {SYSTEM_TASKS} tasks; ask for at least that")
    systems = []
    for n in counts:
        k = _kernel(arch, Population.pool_frames(arch, n - SYSTEM_TASKS))
        systems.append(EchoSystem(k, sizes.rounds))
        Population(k).add(n - SYSTEM_TASKS)
        if progress:
            progress(f"{arch} {n:,} tasks")
    runs = _in_turns([system.run for system in systems], sizes.repeats)
    return [dict(_summary(r, sizes.repeats), tasks_alive=n) for r, n in zip(runs, counts)]


def caps_sweep(arch, sizes, progress=None):
    """The round trip with each number of entries in the client's capability table (one
    kernel per number, measured in turns); the entries fill the top of the table, the
    client calls the last one."""
    counts = sorted(sizes.caps)
    systems = []
    for n in counts:
        k = Kernel(arch=arch, memory=16 * MiB, trace_size=0)
        system = EchoSystem(k, sizes.rounds, selector=LAST_SLOT << _lib.L4_CAP_SHIFT)
        fill_caps(k, system.client.task.id, FIRST_NAMED >> _lib.L4_CAP_SHIFT,
                  LAST_SLOT + 1 - n)
        systems.append(system)
        if progress:
            progress(f"{arch} {n:,} capabilities")
    runs = _in_turns([system.run for system in systems], sizes.repeats)
    return [dict(_summary(r, sizes.repeats), entries=n,
                 slots_used=system.client.task.caps_used())
            for r, n, system in zip(runs, counts, systems)]


def map_unmap(arch, pages, rounds):
    """`rounds` times: a µApp maps `pages` of its pages to another task with one
    l4_task_map, then takes them back with one l4_task_unmap. Host and virtual ns per page
    of each, as {"map": (host, virtual), "unmap": (host, virtual)}."""
    page_shift, _ = _arch_facts(arch)
    size = pages << page_shift
    k = Kernel(arch=arch, memory=32 * MiB + 2 * size, trace_size=0)
    lib, kk = k._lib, k._k
    dst = k.root_factory.create_task(k.root_task, CapIndex(EXTRA_SLOTS))
    totals = {"map": [0, 0], "unmap": [0, 0]}
    stats = k._ffi.new("struct vspace_stats *")

    def leaves():
        check(lib.vspace_stats(kk, [dst.id], stats), "destination table")
        return stats.leaves

    def ok(tag, what):
        if l4_msgtag_has_error(tag) or l4_error(tag) < 0:
            raise RuntimeError(f"{what} failed: {k.explain_last_error()}")

    async def mapper(env):
        send = l4_fpage(SRC_VA, page_shift + pages.bit_length() - 1, L4_FPAGE_RW)
        back = l4_fpage(DST_VA, page_shift + pages.bit_length() - 1, L4_FPAGE_RW)
        where = l4_map_control(DST_VA, 0, 0)
        dst_sel = env.caps["dst"]
        for i in range(rounds):
            for op, call in (("map", lambda: l4_task_map(dst_sel, env.task, send, where)),
                             ("unmap", lambda: l4_task_unmap(dst_sel, back, L4_FP_ALL_SPACES))):
                v0 = k.now_ns
                t0 = time.perf_counter_ns()
                tag = await call()
                totals[op][0] += time.perf_counter_ns() - t0
                totals[op][1] += k.now_ns - v0
                ok(tag, op)
                if i == 0 and leaves() != (pages if op == "map" else 0):
                    raise RuntimeError(f"{op} of {pages} pages left {leaves()} in place")

    handle = k.start_task(mapper, name="mapper", caps={"dst": Capability(k, EXTRA_SLOTS)})
    # The source pages, one by one, so that the mapper holds smallest pages (sigma0 would
    # hand out superpages for a large fpage) and the map moves `pages` leaves.
    sigma0 = lib.kernel_sigma0(kk).raw
    first = _sigma0_first(k)
    mapped = k._ffi.new("uint32_t *")
    for i in range(pages):
        check(lib.task_map_mem(kk, [handle.task.id], [sigma0],
                               l4_fpage(first + (i << page_shift), page_shift, L4_FPAGE_RW).raw,
                               SRC_VA + (i << page_shift), mapped), "a source page")
    k.run()
    ops = rounds * pages
    return {op: (host / ops, virtual / ops) for op, (host, virtual) in totals.items()}


def map_sweep(arch, sizes, progress=None):
    """map_unmap() for each number of pages, in turns; about `map_pages` pages per run."""
    for pages in sizes.pages:
        if pages & (pages - 1):
            raise ValueError(f"one fpage moves a power of two of pages, not {pages}")
    rounds = [max(4, sizes.map_pages // pages) for pages in sizes.pages]
    runs = _in_turns([lambda p=p, r=r: map_unmap(arch, p, r)
                      for p, r in zip(sizes.pages, rounds)], sizes.repeats)
    if progress:
        for pages in sizes.pages:
            progress(f"{arch} map/unmap {pages} pages")
    return [{"pages": p, "rounds": r,
             "map": _summary([run["map"] for run in rs], sizes.repeats),
             "unmap": _summary([run["unmap"] for run in rs], sizes.repeats)}
            for p, r, rs in zip(sizes.pages, rounds, runs)]


def _rss():
    """Resident bytes of this process (Linux), or None. The C heap's free pages go back
    to the system first (glibc's malloc_trim), so that memory freed by an earlier kernel
    and now reused shows as growth again."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def memory_sweep(arch, sizes, progress=None):
    """Bytes per object: quota (what the root factory was charged), kernel pool (frames the
    kernel took from physical memory) and host (the process's resident memory)."""
    n = sizes.objects
    page_shift, levels = _arch_facts(arch)
    # Room for the loaded tasks, and for n pages with their tables (and sigma0's).
    k = _kernel(arch, Population.pool_frames(arch, n) + n // 64 + 4 * levels,
                sigma0_bytes=n << page_shift)
    lib, kk, root, factory = k._lib, k._k, k.root_task.id, k.root_factory.id
    slots = iter(range(EXTRA_SLOTS, LAST_SLOT))

    def usage():
        s = k.frames.stats()
        return (k.root_factory.quota.used, (s["kernel_frames"] - s["kernel_free_frames"]) << 12,
                _rss())

    def grown(make):
        before = usage()
        make()
        after = usage()
        return {key: None if b is None or a is None else (a - b) / n
                for key, a, b in zip(("quota_bytes", "kernel_pool_bytes", "host_bytes"),
                                     after, before)}

    def objects(proto):
        for _ in range(n):
            check(factory_ctl.create(k, factory, proto, root, next(slots)), "an object")

    def new_task():
        slot = next(slots)
        check(factory_ctl.create(k, factory, lib.L4_PROTO_TASK, root, slot), "a task")
        task = _lookup(k, root, slot)
        check(lib.cspace_copy(kk, [task], [lib.L4_BASE_TASK_CAP_INDEX], [root], [slot], R | W,
                              lib.L4_FPAGE_C_REF_CNT), "its task capability")
        return task

    def pages(task):
        sigma0 = lib.kernel_sigma0(kk).raw
        first = _sigma0_first(k)
        mapped = k._ffi.new("uint32_t *")
        for i in range(n):
            check(lib.task_map_mem(kk, [task], [sigma0],
                                   l4_fpage(first + (i << page_shift), page_shift,
                                            L4_FPAGE_RW).raw,
                                   SRC_VA + (i << page_shift), mapped), "a page")

    figures = {"task": grown(lambda: objects(lib.L4_PROTO_TASK)),
               "thread": grown(lambda: objects(lib.L4_PROTO_THREAD))}
    cap_task = new_task()
    figures["capability"] = grown(lambda: fill_caps(k, cap_task, lib.L4_BASE_TASK_CAP_INDEX,
                                                    LAST_SLOT + 1 - n))
    page_task = new_task()
    figures["mapping"] = grown(lambda: pages(page_task))
    extra = Population(k, first_slot=next(slots))      # past the slots used so far
    figures["loaded task"] = grown(lambda: extra.add(n))
    if progress:
        progress(f"{arch} memory")
    return {"objects": n, "per_object": figures}


def sweep(arch, quick=False, progress=None, sizes=None):
    """Every scaling figure of one architecture (see the module doc). `sizes` (a Sizes)
    overrides the full or quick set; `progress(what)` is called after each figure."""
    s = sizes or (QUICK if quick else FULL)
    t0 = time.perf_counter()
    result = {"quick": quick, "sizes": asdict(s)}
    for key, run in (("tasks", tasks_sweep), ("caps", caps_sweep), ("map", map_sweep),
                     ("memory", memory_sweep)):
        result[key] = run(arch, s, progress)
        # A Kernel is part of reference cycles (its harness, run loop and control plane
        # point back at it): collect now, or the 2 GiB of 100 000 tasks outlive their sweep.
        gc.collect()
    result["seconds"] = time.perf_counter() - t0
    return result


# ---- verdicts, table, plot

def targets(results_by_arch):
    """The scaling target per architecture, as {"name", "value", "holds"}: medians, whose
    runs were taken in turns (so the host's other load falls on both alike)."""
    out = []
    for arch, r in results_by_arch.items():
        by_n = {f["tasks_alive"]: f["median_ns"] for f in r.get("tasks", [])}
        name = f"{arch}: {TARGET}"
        if 10 in by_n and 100_000 in by_n:
            ratio = by_n[100_000] / by_n[10]
            out.append({"name": name, "holds": ratio <= 1.2,
                        "value": f"{ratio:.2f}x ({by_n[100_000]:.1f} vs {by_n[10]:.1f} ns)",
                        "source": TARGET_SOURCE, "bound": TARGET_BOUND})
        else:
            largest = max(by_n, default=0)
            out.append({"name": name, "holds": None, "source": TARGET_SOURCE,
                        "bound": TARGET_BOUND,
                        "value": f"not measured (largest: {largest:,} tasks; --quick "
                                 f"stops at 10 000)"})
    return out


def _spread(f):
    return f"[{fmt_ns(f['min_ns'])}..{fmt_ns(f['max_ns'])}]"


def _bytes(v):
    return "-" if v is None else f"{v:,.1f}"


def _short(v):
    return f"{v / 1000:.1f}k" if v >= 10_000 else f"{v:.0f}"


def _tasks_rows(tasks, out):
    print("  IPC round trip, native <-> native, 2 words, vs tasks alive", file=out)
    print(f"  {'tasks alive':>14s} {'median ns':>10s} {'[min..max]':>16s} "
          f"{'virtual ns':>10s} {'vs first':>9s}", file=out)
    first = tasks[0]["median_ns"]
    for f in tasks:
        print(f"  {f['tasks_alive']:>14,} {fmt_ns(f['median_ns']):>10s} {_spread(f):>16s} "
              f"{f['virtual_ns']:>10,.0f} {f['median_ns'] / first:>8.2f}x", file=out)


def print_tasks(results_by_arch, out):
    """Only the tasks-alive rows (what the plain report measures for its target)."""
    for arch, r in results_by_arch.items():
        print(f"\n{arch}", file=out)
        _tasks_rows(r["tasks"], out)


def print_table(results_by_arch, out):
    for arch, r in results_by_arch.items():
        print(f"\n{arch} scaling ({'quick, ' if r['quick'] else ''}{r['seconds']:.0f} s; "
              "host ns: median [min..max]; virtual ns the model charged)", file=out)
        _tasks_rows(r["tasks"], out)
        print("  the same, vs entries in the client's capability table", file=out)
        print(f"  {'entries':>14s} {'median ns':>10s} {'[min..max]':>16s} "
              f"{'virtual ns':>10s} {'vs first':>9s}", file=out)
        first = r["caps"][0]["median_ns"]
        for f in r["caps"]:
            print(f"  {f['entries']:>14,} {fmt_ns(f['median_ns']):>10s} {_spread(f):>16s} "
                  f"{f['virtual_ns']:>10,.0f} {f['median_ns'] / first:>8.2f}x", file=out)
        print("  l4_task_map / l4_task_unmap from a µApp, ns per page, vs pages in one fpage",
              file=out)
        print(f"  {'pages':>14s} {'map ns':>10s} {'[min..max]':>16s} {'virtual':>8s} "
              f"{'unmap ns':>10s} {'[min..max]':>16s} {'virtual':>8s}", file=out)
        for f in r["map"]:
            m, u = f["map"], f["unmap"]
            print(f"  {f['pages']:>14,} {fmt_ns(m['median_ns']):>10s} {_spread(m):>16s} "
                  f"{m['virtual_ns']:>8,.0f} {fmt_ns(u['median_ns']):>10s} {_spread(u):>16s} "
                  f"{u['virtual_ns']:>8,.0f}", file=out)
        mem = r["memory"]
        print(f"  memory per object (growth over {mem['objects']:,} of each, divided)",
              file=out)
        print(f"  {'object':>14s} {'quota bytes':>12s} {'kernel pool':>12s} {'host bytes':>12s}",
              file=out)
        for kind, f in mem["per_object"].items():
            print(f"  {kind:>14s} {_bytes(f['quota_bytes']):>12s} "
                  f"{_bytes(f['kernel_pool_bytes']):>12s} {_bytes(f['host_bytes']):>12s}",
                  file=out)


def plot(results_by_arch, path):
    """A PNG of the four sweeps (one line or bar group per architecture). False, and
    nothing drawn, without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    (tasks_ax, caps_ax), (map_ax, mem_ax) = axes

    def curve(ax, xs, figs, **kw):
        ys = [f["median_ns"] for f in figs]
        err = [[y - f["min_ns"] for y, f in zip(ys, figs)],
               [f["max_ns"] - y for y, f in zip(ys, figs)]]
        return ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, **kw)

    for arch, r in results_by_arch.items():
        curve(tasks_ax, [f["tasks_alive"] for f in r["tasks"]], r["tasks"], label=arch)
        curve(caps_ax, [f["entries"] for f in r["caps"]], r["caps"], label=arch)
        pages = [f["pages"] for f in r["map"]]
        line = curve(map_ax, pages, [f["map"] for f in r["map"]], label=f"{arch} map")
        curve(map_ax, pages, [f["unmap"] for f in r["map"]], label=f"{arch} unmap",
              linestyle="--", color=line[0].get_color())
    for ax, title, xlabel in ((tasks_ax, "IPC round trip vs tasks alive", "tasks alive"),
                              (caps_ax, "IPC round trip vs capability-table entries",
                               "entries in the client's capability table")):
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set(title=title, xlabel=xlabel, ylabel="host ns per round trip (native, 2 words)")
    map_ax.set_xscale("log", base=2)
    map_ax.set_yscale("log")
    all_pages = sorted({f["pages"] for r in results_by_arch.values() for f in r["map"]})
    map_ax.set_xticks(all_pages, [f"{p:,}" for p in all_pages])
    map_ax.set(title="l4_task_map / l4_task_unmap from a µApp",
               xlabel="pages in one fpage", ylabel="host ns per page")
    kinds = list(next(iter(results_by_arch.values()))["memory"]["per_object"])
    width = 0.8 / max(len(results_by_arch), 1)
    for i, (arch, r) in enumerate(results_by_arch.items()):
        per = r["memory"]["per_object"]
        xs = [j + i * width for j in range(len(kinds))]
        bars = mem_ax.bar(xs, [per[kind]["quota_bytes"] for kind in kinds], width, label=arch)
        mem_ax.bar_label(bars, labels=[_short(b.get_height()) for b in bars], fontsize=6)
    mem_ax.set_xticks([j + width * (len(results_by_arch) - 1) / 2 for j in range(len(kinds))],
                      kinds)
    mem_ax.set_yscale("log")
    mem_ax.set(title="kernel memory per object (quota charged)", ylabel="bytes")
    for ax in axes.flat:
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("pyl4re scaling: host time per operation (median, bars min..max)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


__all__ = ["Sizes", "FULL", "QUICK", "TARGET", "sweep", "steps", "targets", "print_table",
           "print_tasks", "plot", "fill_caps", "Population", "map_unmap", "tasks_sweep"]
