"""`pyl4re bench` runs and reports every case with plausible numbers (no speed target is
checked here: targets live in the report, never in unit tests)."""
import io
import json

from pyl4re import _core
from pyl4re.__main__ import main
from pyl4re.bench.measure import Progress, measure
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
        assert set(figures) == {"c_floor"} | {c.key for c in CASES}
        for c in figures.values():
            assert 0 < c["min_ns"] <= c["median_ns"] <= c["max_ns"]
        assert figures["native_round_trip"]["virtual_ns"] > 0
    assert data["machine"]["description"]
    out = capsys.readouterr().out
    assert "C IPC round trip <= 10x the C floor" in out and "asyncio.Queue" in out
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
