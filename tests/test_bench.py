"""`pyl4re bench` runs and reports every case with plausible numbers (no speed target is
checked here: targets live in the report, never in unit tests)."""
import io
import json

from pyl4re import _core
from pyl4re.__main__ import main
from pyl4re.bench.measure import WARM_CALLS, Progress, measure
from pyl4re.bench.ipc_cases import CASES


def test_bench_quick_writes_every_figure(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--no-count", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["instructions"] is None                 # --no-count
    for arch, sweep in data["scaling"].items():        # target 3's sweep, small in --quick
        assert [f["tasks_alive"] for f in sweep["tasks"]] == [10, 10_000]
    assert set(data["arches"]) == set(_core.available_arches())
    for figures in data["arches"].values():
        assert set(figures) == {"c_floor", "python_floor"} | {c.key for c in CASES}
        for c in figures.values():
            assert 0 < c["min_ns"] <= c["median_ns"] <= c["max_ns"]
        assert figures["native_round_trip"]["virtual_ns"] > 0
    assert data["machine"]["description"]
    awaits = data["references"]["awaits_floor_round_trip"]
    assert 0 < awaits["min_ns"] <= awaits["median_ns"] <= awaits["max_ns"]
    out = capsys.readouterr().out
    assert "C IPC round trip <= 10x the C floor" in out and "asyncio.Queue" in out
    assert "two coroutines' awaits alone" in out
    from pyl4re.bench.guest_cases import GUEST_CASES
    assert set(data["guest"]) == set(_core.available_arches())
    for arch, figures in data["guest"].items():      # guest machine code, or why not
        if "skipped" in figures:
            assert f"  {arch}: not measured: {figures['skipped']}" in out
            continue
        for case in GUEST_CASES:
            c = figures[case.key]
            assert 0 < c["min_ns"] <= c["median_ns"] <= c["max_ns"] and c["virtual_ns"] > 0
            assert case.label in out
        assert figures["guest_instructions"]["virtual_ns"] >= figures["insn_ns"]
    for arch in ("arm64", "x86_64"):                 # both have guest CPUs and guests
        if arch in data["guest"]:
            assert "skipped" not in data["guest"][arch]
    for t in data["targets"]:
        assert t["holds"] in (True, False, None) and t["name"] in out


def test_bench_one_arch_only(tmp_path, capsys):
    arch = _core.available_arches()[0]
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--no-count", "--arch", arch, "--json", str(path)]) == 0
    assert list(json.loads(path.read_text())["arches"]) == [arch]


def test_progress_bar_draws_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress(2, stream=stream, width=4)
        bar.step("one")
        bar.step("two")
        bar.close()
    assert "[##..] 1/2 one" in tty.getvalue() and "[####] 2/2 two" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_measure_takes_a_warm_up_and_summarises():
    calls = []

    def fn():
        calls.append(1)
        return (len(calls) * 10.0, 5.0)
    m = measure(fn, 3)
    assert len(calls) == 4                       # the warm-up is not counted
    assert (m["min_ns"], m["median_ns"], m["max_ns"], m["virtual_ns"]) == (20, 30, 40, 5)


def test_measure_warms_the_bytecode_before_anything_is_timed():
    order = []
    m = measure(lambda: order.append("run") or (1.0, 0.0), 2, warm=lambda: order.append("warm"))
    assert order == ["warm"] * WARM_CALLS + ["run"] * 3      # warm, warm-up run, 2 timed
    assert m["repeats"] == 2


def test_bench_scaling_prints_the_sweeps_and_draws_them(tmp_path, capsys):
    arch = _core.available_arches()[0]
    png = tmp_path / "scaling.png"
    assert main(["bench", "--quick", "--no-count", "--arch", arch, "--scaling",
                 "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert f"{arch} scaling" in out and "memory per object" in out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no plot: matplotlib is not installed" in out and not png.exists()
    else:
        assert f"plot: {png}" in out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def fake_results(native_ns, uapp_ns, simpy_ns, instructions, alive, to_native_ns=700.0):
    """A results document as run() makes one, with chosen figures (nothing measured)."""
    from pyl4re.bench import instructions as instr, report, scaling
    fig = lambda ns: {"min_ns": ns, "median_ns": ns, "max_ns": ns, "virtual_ns": 700}
    cases = {c.key: dict(fig(1000.0), path=c.path, ops=1) for c in CASES}
    cases.update(c_floor=fig(10.0), python_floor=fig(400.0), native_round_trip=fig(native_ns),
                 uapp_round_trip=fig(uapp_ns), uapp_to_native_round_trip=fig(to_native_ns))
    results = {"machine": {"description": "a test"}, "quick": False,
               "references": {"asyncio_queue_round_trip": fig(7000.0),
                              "simpy_store_round_trip": fig(simpy_ns)},
               "arches": {"x86_64": cases},
               "instructions": {"x86_64": {"instructions_per_round_trip": instructions,
                                           "valgrind": "valgrind-3"}}}
    sweep = {"x86_64": {"tasks": [dict(fig(40.0), tasks_alive=10),
                                  dict(fig(40.0 * alive), tasks_alive=100_000)]}}
    results["targets"] = (report.targets(results) + instr.targets(results["instructions"])
                          + scaling.targets(sweep))
    return results


def test_every_target_says_where_it_comes_from_and_what_bounds_it():
    from pyl4re.bench.report import print_report
    for holds, figures in ((False, (200.0, 3000.0, 7000.0, 748, 1.5)),
                           (True, (38.0, 700.0, 7000.0, 400, 1.0, 500.0))):
        results = fake_results(*figures)
        out = io.StringIO()
        print_report(results, CASES, out)
        text = out.getvalue()
        assert len(results["targets"]) == 6
        for t in results["targets"]:
            assert t["holds"] is holds
            assert t["source"] and "issue" not in t["source"] and "issue" not in t["bound"]
            line = f"  {t['name']}: {t['value']} -> {'holds' if holds else 'does not hold'}"
            after = text.split(line + "\n")[1].splitlines()
            assert after[0] == f"      from: {t['source']}"
            assert (after[1:2] == [f"      bounded by: {t['bound']}"]) is not holds
        assert "issue" not in text
    simpy = fake_results(200.0, 3000.0, 7000.0, 748, 1.5)["targets"][2]
    assert "calls to a native server (no switch) reach 10.0x" in simpy["bound"]


def test_benchmarks_doc_names_sources_a_reader_can_check():
    import pathlib
    doc = (pathlib.Path(__file__).parent.parent / "docs" / "benchmarks.md").read_text()
    assert "benchmark issue" not in doc and "the issue" not in doc.lower()
    targets = doc.split("### Targets")[1].split("\n## ")[0]
    for n in ("1.", "2.", "3.", "4."):
        item = targets.split(f"\n{n} ")[1].split("\n\n")[0]
        assert "Where it comes from" in item and "When it does not hold" in item, item
