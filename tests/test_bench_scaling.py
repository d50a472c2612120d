"""The scaling sweeps of `pyl4re bench --scaling` (pyl4re/bench/scaling.py): a tiny sweep
gives every figure, the tasks and capabilities it claims really exist, the memory figures
agree with docs/quotas.md, the plot is a PNG, and the target's verdict logic. No timing is
asserted: speed targets live in the report."""
import io
from itertools import count

import pytest

from pyl4re import Kernel
from pyl4re.bench import scaling
from pyl4re.types import CapIndex, VirtAddr

TINY = scaling.Sizes(tasks=(5, 20), caps=(10, 1_000), pages=(1, 16), objects=50,
                     rounds=500, map_pages=32, repeats=1)


@pytest.fixture(scope="module")
def tiny():
    """One tiny sweep per architecture, shared by the tests that only read figures."""
    from pyl4re import _core
    return {arch: scaling.sweep(arch, sizes=TINY) for arch in _core.available_arches()}


def _tasks_alive(k):
    """Every live task, found by walking the debugger's object ids."""
    out, info = k._ffi.new("kobj_id_t *"), k._ffi.new("struct kobj_info *")
    tasks, seen = [], 0
    for dbg_id in count():
        if seen == k.objects_alive:
            return tasks
        if k._lib.kobj_by_dbg_id(k._k, dbg_id, out) == 0:
            seen += 1
            k._lib.kobj_info(k._k, [out[0].raw], info)
            if info.type == k._lib.KOBJ_TASK:
                tasks.append(out[0].raw)


def _timed(f):
    assert 0 < f["min_ns"] <= f["median_ns"] <= f["max_ns"]
    assert f["virtual_ns"] > 0


def test_tiny_sweep_gives_every_figure(tiny, arch):
    r = tiny[arch]
    assert [f["tasks_alive"] for f in r["tasks"]] == [5, 20]
    assert [f["entries"] for f in r["caps"]] == [10, 1_000]
    assert [f["pages"] for f in r["map"]] == [1, 16]
    for f in r["tasks"] + r["caps"]:
        _timed(f)
    for f in r["caps"]:
        assert f["slots_used"] >= f["entries"]     # plus the client's own base caps
    for f in r["map"]:
        _timed(f["map"])
        _timed(f["unmap"])
        assert f["rounds"] >= 4
    assert set(r["memory"]["per_object"]) == {"task", "thread", "capability", "mapping",
                                              "loaded task"}
    assert r["seconds"] > 0


def test_memory_figures_agree_with_the_quota_table(tiny, arch):
    k = Kernel(arch=arch, memory=4 << 20, trace_size=0)
    lib, n = k._lib, TINY.objects
    per = tiny[arch]["memory"]["per_object"]
    assert per["task"]["quota_bytes"] == lib.KOBJ_SIZE_TASK
    assert per["thread"]["quota_bytes"] == lib.KOBJ_SIZE_THREAD
    for kind in ("task", "thread", "capability"):       # C heap only, no kernel frames
        assert per[kind]["kernel_pool_bytes"] == 0
    # n capabilities at the top of the table: the leaves (256 slots) and directories (64
    # leaves) they need.
    slots = range(lib.CSPACE_SLOTS - n, lib.CSPACE_SLOTS)
    tables = (len({s >> 8 for s in slots}) * lib.KOBJ_SIZE_CAP_TABLE
              + len({s >> 14 for s in slots}) * lib.KOBJ_SIZE_CAP_DIR)
    assert per["capability"]["quota_bytes"] == pytest.approx(tables / n)
    # A mapping: a node, plus whole page tables shared by the n pages.
    tables = per["mapping"]["quota_bytes"] * n - n * lib.MAPDB_NODE_BYTES
    assert tables > 0 and round(tables) % lib.VSPACE_TABLE_BYTES == 0
    assert per["mapping"]["kernel_pool_bytes"] > 0
    # A loaded task: the task, its capability table (one directory, one leaf), a page
    # table path down to its one page and that page's node, a one-page UTCB area, a thread.
    f = k._ffi.new("struct vspace_format *")
    lib.vspace_describe(lib.VSPACE_KIND_USER, f)
    utcb_area = 1 << k.arch_info["page_shift"]
    assert per["loaded task"]["quota_bytes"] == (
        lib.KOBJ_SIZE_TASK + lib.KOBJ_SIZE_CAP_DIR + lib.KOBJ_SIZE_CAP_TABLE
        + f.levels * lib.VSPACE_TABLE_BYTES + lib.MAPDB_NODE_BYTES + utcb_area
        + lib.KOBJ_SIZE_THREAD)
    assert per["loaded task"]["kernel_pool_bytes"] == f.levels * 4096 + utcb_area


def test_extra_tasks_are_real_tasks_with_waiting_threads(arch):
    k = Kernel(arch=arch, memory=16 << 20, trace_size=0)
    lib = k._lib
    boot = _tasks_alive(k)
    assert len(boot) == 2                            # sigma0 and the root task
    extra = scaling.Population(k)
    extra.add(6)
    tasks = [t for t in _tasks_alive(k) if t not in boot]
    assert len(tasks) == 6
    for i, tid in enumerate(tasks):
        task = k.object(tid)
        assert task.cap(CapIndex(lib.L4_BASE_TASK_CAP_INDEX)).object_id == tid
        assert task.pt_root is not None              # its own page table ...
        pa, size, _ = task.translate(VirtAddr(scaling.SHARED_VA))
        assert size == 1 << k.arch_info["page_shift"]     # ... holding its page
        thread = k.root_task.cap(CapIndex(scaling.EXTRA_SLOTS + 2 * i + 1)).object_id
        info = k._thread_info(thread)
        assert info.task.raw == tid and info.state & lib.THREAD_RECV   # an open wait
        assert not info.partner.raw


def test_the_tasks_sweep_counts_the_systems_own_tasks(arch):
    k = Kernel(arch=arch, memory=16 << 20, trace_size=0)
    scaling.EchoSystem(k, 10)
    assert len(_tasks_alive(k)) == scaling.SYSTEM_TASKS
    with pytest.raises(ValueError, match="at least"):
        scaling.tasks_sweep(arch, scaling.Sizes(tasks=(2, 20)))


def test_fill_caps_fills_the_range_with_the_capability(arch):
    k = Kernel(arch=arch, memory=16 << 20, trace_size=0)
    system = scaling.EchoSystem(k, 100, selector=scaling.LAST_SLOT << 12)
    client = system.client.task
    gate = client.cap(CapIndex(0x16)).object_id
    used = client.caps_used()
    first = k._lib.CSPACE_SLOTS - 1_000
    scaling.fill_caps(k, client.id, 0x16, first)
    assert client.caps_used() == used + 1_000
    for index in (first, first + 500, scaling.LAST_SLOT):
        assert client.cap(CapIndex(index)).object_id == gate
    assert client.cap(CapIndex(first - 1)) is None
    host, virtual = system.run()                     # the calls through the last slot work
    assert host > 0 and virtual > 0


def test_aligned_blocks_cover_the_range_exactly():
    for first, end in ((0, 1), (5, 1 << 20), ((1 << 20) - 10, 1 << 20), (48_576, 1 << 20)):
        blocks = scaling._aligned_blocks(first, end)
        assert blocks[0][0] == first
        assert sum(1 << o for _, o in blocks) == end - first
        assert all(b % (1 << o) == 0 for b, o in blocks)


def test_map_unmap_moves_every_page(arch):
    per_page = scaling.map_unmap(arch, 16, 3)        # raises if a map or unmap fell short
    assert set(per_page) == {"map", "unmap"}
    assert all(host > 0 and virtual > 0 for host, virtual in per_page.values())


def test_table_and_plot(tiny, tmp_path):
    out = io.StringIO()
    scaling.print_table(tiny, out)
    text = out.getvalue()
    for arch in tiny:
        assert f"{arch} scaling" in text
    assert "tasks alive" in text and "l4_task_map" in text and "loaded task" in text
    pytest.importorskip("matplotlib")
    path = tmp_path / "scaling.png"
    assert scaling.plot(tiny, str(path)) is True
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_draws_nothing(tiny, tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kw):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kw)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    path = tmp_path / "none.png"
    assert scaling.plot(tiny, str(path)) is False
    assert not path.exists()


def _figure(n, median):
    return {"tasks_alive": n, "min_ns": median / 2, "median_ns": median, "max_ns": median * 2,
            "virtual_ns": 1.0}


def test_target_verdicts():
    results = {
        "flat": {"tasks": [_figure(10, 80), _figure(1_000, 200), _figure(100_000, 90)]},
        "grows": {"tasks": [_figure(10, 80), _figure(100_000, 100)]},
        "quick": {"tasks": [_figure(10, 80), _figure(10_000, 80)]},
    }
    verdicts = {t["name"].split(":")[0]: t for t in scaling.targets(results)}
    assert verdicts["flat"]["holds"] is True         # 90 / 80 = 1.125x
    assert verdicts["flat"]["value"].startswith("1.12x")
    assert verdicts["grows"]["holds"] is False       # 1.25x
    assert verdicts["quick"]["holds"] is None
    assert "not measured" in verdicts["quick"]["value"]
    assert all(scaling.TARGET in t["name"] for t in verdicts.values())
