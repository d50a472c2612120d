"""Instruction counts of the C IPC round trip under callgrind (pyl4re/bench/instructions.py):
a plausible count, the same on every run; nothing runs without valgrind."""
import shutil

import pytest

from pyl4re import _core
from pyl4re.bench import instructions


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
@pytest.mark.skipif(instructions.sanitized(), reason="ASan cannot run under valgrind")
def test_count_is_plausible_and_repeatable():
    arch = _core.available_arches()[0]
    first, second = instructions.per_round_trip([arch, arch])   # one child: ~9 s of startup
    assert 50 < first < 20_000
    assert second == first


def test_counts_per_arch(monkeypatch):
    monkeypatch.setattr(instructions, "valgrind_version", lambda: "valgrind-3.19.0")
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    monkeypatch.setattr(instructions, "per_round_trip",
                        lambda arches, rounds: [100.0 * (i + 1) for i in range(len(arches))])
    got = instructions.instruction_counts(["x86_64", "arm64"])
    assert got == {"x86_64": {"instructions_per_round_trip": 100.0, "rounds": (1000, 2000),
                              "valgrind": "valgrind-3.19.0"},
                   "arm64": {"instructions_per_round_trip": 200.0, "rounds": (1000, 2000),
                             "valgrind": "valgrind-3.19.0"}}


def test_without_valgrind_nothing_runs(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **kw: None)
    assert instructions.instruction_counts(_core.available_arches()) is None
    assert instructions.targets(None) == []


def test_nothing_runs_in_the_sanitizer_run(monkeypatch):
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/gcc/x86_64-linux-gnu/12/libasan.so")
    monkeypatch.setattr(instructions, "per_round_trip", None)     # would fail if called
    assert instructions.instruction_counts(_core.available_arches()) is None


def test_target_is_the_fiasco_one_way_ipc():
    counts = {"x86_64": {"instructions_per_round_trip": 539.0},
              "arm64": {"instructions_per_round_trip": 540.0}}
    got = instructions.targets(counts)
    assert [t["holds"] for t in got] == [True, False]
    assert all("540 instructions" in t["name"] for t in got)
    assert got[0]["value"] == "539 instructions"
