"""examples/vm_multi.py on every architecture: three VMMs, one VM each, on two CPUs; each
VM's console lines arrive in order under its own tag and each disk holds exactly what its
own guest wrote."""
import importlib.util
import pathlib

import pytest

_PATH = pathlib.Path(__file__).resolve().parent.parent / "examples" / "vm_multi.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("vm_multi", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_three_vms_on_two_cpus(arch, example):
    out = example.run(arch, log_schedule=True)
    res, k = out["result"], out["kernel"]
    assert res.exited == {tag: ("shutdown", 0) for tag in example.TAGS}
    assert not res.failed and not res.blocked
    for n, tag in enumerate(example.TAGS):
        mine = [line for line in k.log_lines if line.startswith(f"{tag}: ")]
        assert mine == example.basic.expected_console(tag, example.lines_of(tag),
                                                      example.writes_of(n))
        vmm, disk = out["vms"][tag]
        assert disk == example.basic.expected_disk(example.writes_of(n))
    assert len(k.log_lines) == sum(len(example.lines_of(t)) + 4 for t in example.TAGS)
    ran_on = {}
    for cpu, _, thread in k.schedule_log:
        ran_on.setdefault(str(thread), set()).add(int(cpu))
    assert {c for cs in ran_on.values() for c in cs} == {0, 1}
    assert all(len(cs) == 1 for cs in ran_on.values())       # no VMM migrates


def test_the_same_run_twice_is_the_same_run(arch, example):
    a, b = example.run(arch), example.run(arch)
    assert a["kernel"].log_records == b["kernel"].log_records
    assert a["result"].now_ns == b["result"].now_ns
