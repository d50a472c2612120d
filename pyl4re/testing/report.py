"""The kernel-state report a failing test shows: what every thread the harness knows
waits for, the last trace records, the kernel log, and the last failed kernel operation.

It only reads the kernel (thread states, the trace ring, the console); it never changes
anything, so it is safe to call on a kernel in any state, also after a failed run.
"""

def _blocked(k):
    """Every thread the harness started (µApps, then native ones) and what it does."""
    lines = []
    for rec in k._loop.threads.values():
        if rec.ended:
            what = f"failed: {type(rec.error).__name__}: {rec.error}" if rec.error else "exited"
        else:
            what = k._describe_wait(rec.id) or "ready"
        lines.append(f"  {rec.name}: {what}")
    for tid, name in k._harness.names.items():
        if tid not in k._loop.threads:
            lines.append(f"  {name} (native): {k._describe_wait(tid) or 'ready'}")
    return lines or ["  (no threads started)"]


def _trace(k, last):
    records = k.trace[-last:] if last else []
    out = []
    for r in records:
        cpu = "-" if r.cpu is None else r.cpu
        fields = " ".join(f"{key}={value:#x}" if isinstance(value, int) else f"{key}={value}"
                          for key, value in r.fields.items() if value is not None)
        out.append(f"  #{r.seq} {r.time_ns} ns cpu {cpu} {r.kind} "
                   f"{r.name or (f'#{r.thread:x}' if r.thread else 'idle')} {fields}".rstrip())
    return out or ["  (no trace records)"]


def kernel_report(k, trace_records=20, log_lines=20):
    """A few lines on the state of Kernel `k`, for a human reading a failure: the threads
    and on what each waits, the last `trace_records` trace records, the last `log_lines`
    lines of the kernel log, and `k.explain_last_error()`."""
    log = k.log_lines[-log_lines:] if log_lines else []
    parts = [f"{k!r} at {k.now_ns} ns, {k.objects_alive} kernel objects alive",
             "threads:", *_blocked(k),
             f"last {trace_records} trace records:", *_trace(k, trace_records),
             f"last {log_lines} log lines:", *(f"  {line}" for line in log or ["(empty)"]),
             "last failed kernel operation:",
             *(f"  {line}" for line in k.explain_last_error().splitlines())]
    return "\n".join(parts)
