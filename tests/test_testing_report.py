"""The kernel-state report (pyl4re.testing.report) a failing test shows."""
import pyl4re
from pyl4re.l4sys import L4_IPC_NEVER, l4_ipc_call, l4_msgtag, l4_utcb
from pyl4re.testing import kernel_report


def test_the_report_names_every_thread_and_what_it_waits_for(kernel):
    gate, unbound = kernel.create_gate(0x10), kernel.create_gate(0x20)
    echo = kernel.start_native("echo", "echo", caps={"svc": gate.svr()})
    gate.bind(echo, 0x10)

    async def stuck(env):
        await pyl4re.log("stuck next\n")
        await l4_ipc_call(env.caps["svc"], l4_utcb(), l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)

    async def broken(env):
        raise KeyError("x")

    kernel.start_task(stuck, name="stuck", caps={"svc": unbound})
    kernel.start_task(broken, name="broken")
    kernel.run(raise_errors=False)
    text = kernel_report(kernel, trace_records=2, log_lines=1)
    lines = text.splitlines()
    assert lines[0].startswith(f"<Kernel {kernel.arch} cpus=1 memory=16 MiB> at ")
    assert "  echo: receive (open wait)" in lines
    assert "  stuck: send through an unbound gate" in lines
    assert "  broken: failed: KeyError: 'x'" in lines
    at = lines.index("last 2 trace records:")
    assert len([line for line in lines[at + 1:] if line.startswith("  #")]) == 2
    assert lines[lines.index("last 1 log lines:") + 1] == "  stuck next"
    explained = lines[lines.index("last failed kernel operation:") + 1:]
    assert explained == [f"  {line}" for line in kernel.explain_last_error().splitlines()]


def test_an_empty_kernel_reports_so(kernel):
    text = kernel_report(kernel, trace_records=0, log_lines=0)
    assert "  (no threads started)" in text and "  (no trace records)" in text
    assert "  (empty)" in text and "  no kernel operation has failed" in text
