"""`pyl4re bench` runs and reports every case with plausible numbers (no speed target is
checked here: targets live in the report, never in unit tests)."""
import io
import json

from pyl4re import _core
from pyl4re.__main__ import main


def test_bench_quick_writes_every_figure(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert set(data["arches"]) == set(_core.available_arches())
    for cases in data["arches"].values():
        assert set(cases) == {"c_floor", "native_round_trip", "uapp_round_trip",
                              "uapp_to_native_round_trip"}
        for c in cases.values():
            assert 0 < c["min_ns"] <= c["median_ns"] <= c["max_ns"]
        assert cases["native_round_trip"]["virtual_ns"] > 0
    out = capsys.readouterr().out
    assert "target C round trip <= 10x floor" in out and "asyncio.Queue" in out
