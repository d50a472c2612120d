"""examples/paravirt_os.py: the paravirtualized guest OS runs its two user processes to
completion on every architecture, preempted by the timer and paged by the guest kernel."""
import importlib.util
import pathlib

import pytest

_PATH = pathlib.Path(__file__).resolve().parent.parent / "examples" / "paravirt_os.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("paravirt_os", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def expected_lines(name, steps):
    lines = [f"{name}: total {s * (s + 1) // 2}" for s in range(49, steps, 50)]
    return lines + [f"{name}: exit {steps * (steps - 1) // 2}"]


def test_two_processes_run_to_completion(arch, example):
    out = example.run(arch, trace_size=1 << 16)
    res, k = out["result"], out["kernel"]
    assert res.exited == {"guestos": "all processes ended"}
    assert not res.failed and not res.blocked
    for name, _, steps in example.PROCESSES:
        mine = [line for line in out["output"] if line.startswith(name + ":")]
        assert mine == expected_lines(name, steps)
        assert out["exit_codes"][name] == steps * (steps - 1) // 2
    assert out["preemptions"] >= 100
    assert out["page_faults"] >= 50
    assert out["page_faults"] == sum(p for _, p, _ in example.PROCESSES) + 2  # + syscall pages
    assert out["syscalls"] == sum(len(expected_lines(n, s)) for n, _, s in example.PROCESSES)
    # every event was one upcall in the trace; the kernel resumed after each but the last,
    # and each resume went through unless it found a tick pending (an upcall instead)
    ups = [r for r in k.trace if r.kind == "vcpu_upcall"]
    resumes = [r for r in k.trace if r.kind == "vcpu_resume"]
    assert len(ups) == out["preemptions"] + out["page_faults"] + out["syscalls"]
    instead = sum(1 for r in ups if r.fields["event"] == "resume_irq")
    assert len(resumes) == 1 + (len(ups) - 1) - instead
    assert all(r.fields["state"] & 0x20 for r in resumes)           # into user mode
    k.check_invariants()


def test_the_run_is_deterministic(example):
    a, b = example.run("x86_64"), example.run("x86_64")
    assert a["output"] == b["output"]
    assert a["result"].now_ns == b["result"].now_ns
    assert (a["preemptions"], a["page_faults"]) == (b["preemptions"], b["page_faults"])
