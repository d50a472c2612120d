"""The syscall fuzzer (pyl4re.fuzz): a fixed set of its cases as a regression run on every
architecture, the shrinker, the reproducer scripts and the command line."""
import os
import subprocess
import sys

import pytest

from pyl4re.fuzz import campaign, case, shrink

# Per architecture: ~10 000 invocations, about a second; under CI (CI set) 2 000 cases,
# ~120 000 invocations, in the normal and (tests/test_sanitized.py) the sanitized build.
CASES = 2000 if os.environ.get("CI") else 150


def test_fuzz_cases_find_nothing(arch):
    """The same seeds every run: what the fuzzer once found stays fixed."""
    result = campaign.campaign(arch, seconds=600, max_cases=CASES)
    assert result["cases"] == CASES
    assert result["invocations"] > 20 * CASES
    assert result["findings"] == []


def test_cases_are_plain_data_drawn_from_the_seed(arch):
    a, b = case.draw(arch, 7), case.draw(arch, 7)
    assert a == b and a != case.draw(arch, 8)
    assert eval(repr(a)) == a                       # what a reproducer script holds


def test_a_case_runs_the_same_way_twice(arch):
    c = case.draw(arch, 3)
    assert case.run(c) == case.run(c)


def test_shrink_keeps_only_what_the_finding_needs(arch, monkeypatch):
    """With an oracle that fails whenever one marked op is run, the shrunk case holds
    that op and nothing else."""
    c = case.draw(arch, 11)
    marked = ("sleep", 299)
    c["programs"][1].insert(len(c["programs"][1]) // 2, marked)

    def run(cand, stats=None):
        if any(marked in p for p in cand["programs"]):
            raise case.Finding("crash", "marked op ran")
        return stats
    monkeypatch.setattr(case, "run", run)
    small = shrink.shrink(c, "crash")
    assert [op for p in small["programs"] for op in p] == [marked]
    assert small["events"] == []


def test_a_reproducer_is_a_script_that_replays_the_case(arch, tmp_path):
    c = case.draw(arch, 5)
    path = tmp_path / "repro.py"
    path.write_text(shrink.reproducer(c, case.Finding("crash", "example")))
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "no finding" in out.stdout


def test_findings_are_reported_with_a_reproducer(arch, tmp_path, monkeypatch, capsys):
    real_run = case.run

    def run(c, stats=None):
        if c["seed"] == 2:
            raise case.Finding("invariant", "made up for the test")
        return real_run(c, stats)
    monkeypatch.setattr(case, "run", run)
    assert campaign.main(["--arch", arch, "--seconds", "0.3", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "invariant: made up for the test" in out
    assert list(tmp_path.glob(f"fuzz_{arch}_2_invariant.py"))


def test_the_command_line(arch, tmp_path, capsys):
    assert campaign.main(["--arch", arch, "--seconds", "0.3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{arch}:" in out and "invocations" in out and "0 finding(s)" in out
    with pytest.raises(SystemExit):
        campaign.main(["--arch", "vax"])
