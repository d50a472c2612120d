"""The kernel's trace ring (kernel_c/trace.c) as a harness reads it: `k.trace` gives Python
records, `k.trace_json()` Chrome/Perfetto trace-event JSON (docs/trace.md).

C records every IPC, IPC error, page fault, map, unmap, IRQ and context switch in a ring of
fixed-size entries with virtual timestamps; here they are copied out and decoded: kinds get
names, object ids get the names the harness gave them (or the debugger names µApps set).
Same program, same seed: the same records, so reruns can be compared. What it must not do:
change the ring, or anything else in the kernel.
"""
import json
from dataclasses import dataclass

import numpy as np

from . import _core

_lib = _core.abi()

KINDS = {
    _lib.TRACE_IPC: "ipc", _lib.TRACE_IPC_ERROR: "ipc_error",
    _lib.TRACE_PAGE_FAULT: "page_fault", _lib.TRACE_MAP: "map", _lib.TRACE_UNMAP: "unmap",
    _lib.TRACE_IRQ: "irq", _lib.TRACE_SWITCH: "switch", _lib.TRACE_KE: "ke",
    _lib.TRACE_KE_REG: "ke_reg", _lib.TRACE_KE_BIN: "ke_bin",
    _lib.TRACE_VCPU_UPCALL: "vcpu_upcall", _lib.TRACE_VCPU_RESUME: "vcpu_resume",
    _lib.TRACE_VM_ENTRY: "vm_entry", _lib.TRACE_VM_EXIT: "vm_exit",
}
_VM_EXITS = {_lib.VM_EXIT_STAGE2: "stage2", _lib.VM_EXIT_HYPERCALL: "hypercall",
             _lib.VM_EXIT_HALT: "halt", _lib.VM_EXIT_IRQ: "irq",
         _lib.VM_EXIT_FAULT: "fault"}
_VCPU_EVENTS = {_lib.VCPU_EVENT_IPC: "ipc", _lib.VCPU_EVENT_PAGE_FAULT: "page_fault",
                _lib.VCPU_EVENT_EXCEPTION: "exception", _lib.VCPU_EVENT_SYSCALL: "syscall",
                _lib.VCPU_EVENT_RESUME_IRQ: "resume_irq", _lib.VCPU_EVENT_VM_EXIT: "vm_exit"}
# Which of (a, b, c) hold object ids, per kind (the debugger hands µApps global ids).
ID_FIELDS = {_lib.TRACE_IPC: (0,), _lib.TRACE_IPC_ERROR: (1,), _lib.TRACE_MAP: (0,),
             _lib.TRACE_UNMAP: (0,), _lib.TRACE_SWITCH: (0,), _lib.TRACE_IRQ: (1,),
             _lib.TRACE_VCPU_RESUME: (2,), _lib.TRACE_VM_ENTRY: (0,)}
_NO_CPU = 0xFFFFFFFF


@dataclass(frozen=True)
class TraceRecord:
    """One trace entry: sequence number, virtual time, CPU (None: none), kind name, the
    thread concerned (object id, 0: none/idle, and its name), decoded fields, raw a/b/c."""
    seq: int
    time_ns: int
    cpu: object
    kind: str
    thread: int
    name: object
    fields: dict
    raw: tuple


def name_of(k, oid):
    """What the harness called an object (a thread or task), else its debugger name."""
    if not oid:
        return None
    rec = k._loop.threads.get(oid)
    if rec is not None:
        return rec.name
    known = k._harness.names.get(oid) or k._harness.task_names.get(oid)
    if known:
        return known
    if oid == k._lib.kernel_sigma0_thread(k._k).raw:
        return "sigma0"
    out = k._ffi.new("char[]", _lib.KOBJ_NAME_MAX + 1)
    if k._lib.kobj_get_name(k._k, [oid], out) == 0:
        return k._ffi.string(out).decode("utf-8", errors="replace")
    return None


def _text(words):
    data = np.array(words, dtype=np.uint64).tobytes()
    return data.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def _fields(k, kind, a, b, c):
    if kind == _lib.TRACE_IPC:
        return {"to": a, "to_name": name_of(k, a), "tag": b, "label": c}
    if kind == _lib.TRACE_IPC_ERROR:
        return {"error": a, "partner": b, "partner_name": name_of(k, b)}
    if kind == _lib.TRACE_PAGE_FAULT:
        return {"address": a, "access": b, "ip": c}
    if kind in (_lib.TRACE_MAP, _lib.TRACE_UNMAP):
        return {"task": a, "task_name": name_of(k, a), "va": b, "page_shift": c}
    if kind == _lib.TRACE_IRQ:
        return {"label": a, "irq": b}
    if kind == _lib.TRACE_SWITCH:
        return {"from": a, "from_name": name_of(k, a)}
    if kind == _lib.TRACE_KE:
        return {"text": _text([a, b, c])}
    if kind == _lib.TRACE_KE_REG:
        return {"values": (a, b, c)}
    if kind == _lib.TRACE_KE_BIN:
        return {"data": np.array([a, b, c], dtype=np.uint64).tobytes()}
    if kind == _lib.TRACE_VCPU_UPCALL:
        return {"event": _VCPU_EVENTS.get(a, a), "saved_state": b, "ip": c}
    if kind == _lib.TRACE_VCPU_RESUME:
        return {"state": a, "ip": b, "task": c, "task_name": name_of(k, c)}
    if kind == _lib.TRACE_VM_ENTRY:
        return {"vm": a, "vm_name": name_of(k, a), "ip": b,
                "injected": None if c == (1 << 64) - 1 else c}
    if kind == _lib.TRACE_VM_EXIT:
        return {"reason": _VM_EXITS.get(a, a), "code": b, "gpa": c}
    return {}


def records(k):
    """Every record the ring still holds, oldest first."""
    st = k._ffi.new("struct trace_stats *")
    k._lib.trace_stats(k._k, st)
    if st.first > st.recorded:
        return []
    n = st.recorded - st.first + 1
    buf = k._ffi.new("struct trace_record[]", n)
    count = k._ffi.new("uint32_t *")
    k._lib.trace_read(k._k, st.first, buf, n, count)
    out = []
    for i in range(count[0]):
        r = buf[i]
        tid = r.thread.raw
        out.append(TraceRecord(
            seq=r.seq, time_ns=r.time_ns, cpu=None if r.cpu == _NO_CPU else r.cpu,
            kind=KINDS.get(r.kind, str(r.kind)), thread=tid, name=name_of(k, tid),
            fields=_fields(k, r.kind, r.a, r.b, r.c), raw=(r.a, r.b, r.c)))
    return out


def _label(name, oid):
    return name or (f"#{oid:x}" if oid else "idle")


def chrome_events(k, recs=None):
    """Chrome trace events: one track per CPU; a slice for each stretch a thread ran
    (from the switch records), instant events for everything else. ts in µs."""
    recs = records(k) if recs is None else recs
    pid = 1
    events = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
               "args": {"name": f"pyl4re {k.arch}"}}]
    for cpu in range(k.cpus):
        events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": cpu,
                       "args": {"name": f"CPU {cpu}"}})
    running = {}                          # cpu -> (start ns, thread id, name)

    def close(cpu, end):
        start, tid, name = running.pop(cpu)
        if tid:
            events.append({"ph": "X", "name": _label(name, tid), "cat": "run", "pid": pid,
                           "tid": cpu, "ts": start / 1000, "dur": (end - start) / 1000,
                           "args": {"thread": tid}})

    for r in recs:
        cpu = r.cpu if r.cpu is not None else 0
        if r.kind == "switch":
            if cpu in running:
                close(cpu, r.time_ns)
            running[cpu] = (r.time_ns, r.thread, r.name)
            continue
        args = {key: (value.hex() if isinstance(value, bytes) else value)
                for key, value in r.fields.items()}
        args["seq"] = r.seq
        events.append({"ph": "i", "s": "t", "name": f"{r.kind} {_label(r.name, r.thread)}",
                       "cat": r.kind, "pid": pid, "tid": cpu, "ts": r.time_ns / 1000,
                       "args": args})
    for cpu in sorted(running):
        close(cpu, max(k.cpu_clock(cpu)[0], running[cpu][0]))
    return events


def _json_value(value):
    """Whatever a record carries serialises: bytes as text, anything else as its str."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def chrome_json(k, path=None):
    """The trace as Chrome/Perfetto JSON text (and written to `path` if given)."""
    text = json.dumps({"traceEvents": chrome_events(k), "displayTimeUnit": "ns"},
                      sort_keys=True, default=_json_value)
    if path is not None:
        with open(path, "w") as f:
            f.write(text)
    return text
