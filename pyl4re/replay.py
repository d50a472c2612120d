"""Record and replay: a run's external inputs and its trace in a file, and a replay that
checks a rerun against it record by record.

What comes into a kernel from outside is what a harness does to it: the calls that build
the system (create_gate, start_task, start_thread, start_native), each run() with its
bounds, the log input it types, the interrupt lines it drives and the device-model events
it schedules and that fire. `record(path, scenario, **kernel_args)` boots a Kernel, runs
`scenario(k)` and writes each of those inputs, with the virtual time it came at, and every
trace record in between, in the order they happened. `replay(path, scenario)` boots the
same kernel (architecture, CPUs, memory, seed from the file), runs the scenario again,
feeds it the recorded data of what came from outside (log input, device event times) and
compares as it goes: the first input or trace record that differs raises ReplayDivergence
naming it; at the end the whole trace must be byte for byte the recorded one. A file that
is not a recording, was cut short, or comes from another format or pyl4re version or from
an architecture this build lacks raises ReplayFileError, never a wrong verdict.

The file is JSON lines: a header, one line per record, an end line with the record count,
the virtual time and the SHA-256 of the final trace JSON, and how the scenario ended.
What this module must not do: change what the kernel does; it only watches the
harness's calls (kernel._recorder).
"""
import hashlib
import json
from importlib import metadata

from . import _core
from .runloop import MicroAppError

FORMAT = "pyl4re-replay"
VERSION = 1


class ReplayFileError(ValueError):
    """The file cannot be replayed: not a recording, cut short, another version or arch."""


class ReplayDivergence(AssertionError):
    """The replay differs from the recording; `index` is the first differing record."""

    def __init__(self, index, recorded, replayed):
        self.index, self.recorded, self.replayed = index, recorded, replayed
        super().__init__(f"replay diverges at record {index}:\n  recorded: "
                         f"{describe(recorded)}\n  replayed: {describe(replayed)}")


def pyl4re_version():
    try:
        return metadata.version("pyl4re")
    except metadata.PackageNotFoundError:
        return "unknown"


def describe(record):
    """One record as a person reads it."""
    if record is None:
        return "(nothing: the run ended)"
    if "input" in record:
        args = ", ".join(f"{k}={unplain(v)!r}" for k, v in sorted(record["args"].items()))
        return f"{record['input']}({args}) at {record['at_ns']} ns"
    if "trace" in record:
        t = record["trace"]
        cpu = "-" if t["cpu"] is None else t["cpu"]
        return (f"trace #{t['seq']} {t['kind']} at {t['time_ns']} ns on cpu {cpu}, thread "
                f"{t['thread']:#x}, fields {t['a']:#x} {t['b']:#x} {t['c']:#x}")
    if "trace_gap" in record:
        return f"trace records {record['trace_gap']} lost (the ring wrapped)"
    return json.dumps(record, sort_keys=True)


def plain(value):
    """An input argument as JSON data: functions by name, capabilities by slot and rights,
    handles by name, bytes as hex."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"hex": bytes(value).hex()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if callable(value) and hasattr(value, "__qualname__"):
        return {"code": value.__qualname__}
    if hasattr(value, "index") and hasattr(value, "rights") and hasattr(value, "attrs"):
        return {"cap": [value.index, value.rights, value.attrs]}
    if hasattr(value, "task") and hasattr(value, "name"):
        return {"task": value.name}
    return {"value": repr(value)}


# The inputs whose data comes from outside the program (what a person typed, when a device
# answered): a replay feeds the recorded values unless asked to check them.
DATA_ARGS = {"log_input": ("data",), "hw_at": ("ns",)}


def unplain(value):
    """Data from plain(): bytes back from hex; str and int as they are."""
    if isinstance(value, dict) and set(value) == {"hex"}:
        return bytes.fromhex(value["hex"])
    return value


def _kernel_args(k):
    return {"arch": k.arch, "cpus": k.cpus, "memory": k.memory, "seed": k.seed,
            "kernel_memory": k.kernel_memory, "trace_size": k.trace_size,
            "quantum_jitter": k.quantum_jitter, "log_schedule": k.log_schedule}


class _Watcher:
    """What both modes do: turn the harness's calls and the trace into records."""

    def __init__(self, k):
        self.k = k
        self.next_seq = 1                 # the first trace record not yet seen

    def _new_trace(self):
        out = []
        records = [r for r in self.k.trace if r.seq >= self.next_seq]
        if records and records[0].seq > self.next_seq:
            out.append({"trace_gap": [self.next_seq, records[0].seq - 1]})
        for r in records:
            a, b, c = r.raw
            out.append({"trace": {"seq": r.seq, "time_ns": r.time_ns, "cpu": r.cpu,
                                  "kind": r.kind, "thread": r.thread, "a": a, "b": b, "c": c}})
        if records:
            self.next_seq = records[-1].seq + 1
        return out

    def input(self, kind, **args):
        """A harness call (kernel.py, hw.py): the trace so far, then the input itself.
        Returns the arguments the call goes on with (a replay's recorded data)."""
        for rec in self._new_trace():
            self.take(rec)
        return self.take({"input": kind, "at_ns": self.k.now_ns, "args": plain(args)}) or args

    def flush(self):
        for rec in self._new_trace():
            self.take(rec)


class Recorder(_Watcher):
    def __init__(self, k, path):
        super().__init__(k)
        self.path = path
        self.records = []

    def take(self, record):
        self.records.append(record)
        return None

    def finish(self, error):
        self.flush()
        header = {"format": FORMAT, "version": VERSION, "pyl4re": pyl4re_version(),
                  "kernel": _kernel_args(self.k)}
        end = {"end": len(self.records), "error": error, "now_ns": self.k.now_ns,
               "trace_sha256": hashlib.sha256(self.k.trace_json().encode()).hexdigest()}
        with open(self.path, "w") as f:
            for line in (header, *self.records, end):
                f.write(json.dumps(line, sort_keys=True) + "\n")


class Replayer(_Watcher):
    def __init__(self, k, recording, use_recorded=True):
        super().__init__(k)
        self.use_recorded = use_recorded
        self.expected = recording.records
        self.end = recording.end
        self.index = 0
        self.divergence = None

    def take(self, record):
        if self.divergence is not None:
            return None
        want = self.expected[self.index] if self.index < len(self.expected) else None
        got = json.loads(json.dumps(record, sort_keys=True))
        data = DATA_ARGS.get(got.get("input")) if self.use_recorded else None
        if data and want and want.get("input") == got["input"]:
            # Data from outside comes from the recording; the rest must still agree.
            got["args"].update({key: want["args"][key] for key in data
                                if key in want["args"]})
        if got != want:
            self.divergence = ReplayDivergence(self.index, want, record)
            raise self.divergence
        self.index += 1
        if data:
            return {key: unplain(want["args"][key]) for key in data}
        return None

    def finish(self, error):
        if self.divergence is None:
            self.flush()
        if self.divergence is None and self.index < len(self.expected):
            self.divergence = ReplayDivergence(self.index, self.expected[self.index], None)
        if self.divergence is None and error != self.end["error"]:
            self.divergence = ReplayDivergence(
                self.index, {"ended": self.end["error"]}, {"ended": error})
        if self.divergence is None and self.k.now_ns != self.end["now_ns"]:
            self.divergence = ReplayDivergence(
                self.index, {"now_ns": self.end["now_ns"]}, {"now_ns": self.k.now_ns})
        digest = hashlib.sha256(self.k.trace_json().encode()).hexdigest()
        if self.divergence is None and digest != self.end["trace_sha256"]:
            self.divergence = ReplayDivergence(
                self.index, {"trace_sha256": self.end["trace_sha256"]}, {"trace_sha256": digest})
        if self.divergence is not None:
            raise self.divergence


class Recording:
    """A replay file, read and checked: `kernel` (the Kernel's arguments), `records`, `end`."""

    def __init__(self, path):
        try:
            with open(path) as f:
                lines = f.read().split("\n")
        except UnicodeDecodeError:
            raise ReplayFileError(f"{path}: not a pyl4re replay file (not text)") from None
        if lines and lines[-1] == "":
            lines.pop()
        parsed = []
        for n, line in enumerate(lines):
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                if n == len(lines) - 1:
                    raise ReplayFileError(f"{path} is truncated: its last line (line {n + 1}) "
                                          f"is cut off") from None
                raise ReplayFileError(f"{path}: line {n + 1} is not JSON") from None
        header = parsed[0] if parsed else None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ReplayFileError(f"{path}: not a pyl4re replay file (no {FORMAT} header)")
        if header.get("version") != VERSION:
            raise ReplayFileError(f"{path} is replay format version {header.get('version')!r}; "
                                  f"this pyl4re reads version {VERSION}")
        if header.get("pyl4re") != pyl4re_version():
            raise ReplayFileError(f"{path} was recorded with pyl4re {header.get('pyl4re')}, "
                                  f"this is pyl4re {pyl4re_version()}: its schedule may differ")
        kernel = header.get("kernel")
        arch = kernel.get("arch") if isinstance(kernel, dict) else None
        if arch not in _core.ARCHES:
            raise ReplayFileError(f"{path}: unknown architecture {arch!r}")
        if arch not in _core.available_arches():
            raise ReplayFileError(f"{path} was recorded on {arch}, which this pyl4re did not "
                                  f"build (built: {', '.join(_core.available_arches())})")
        end = parsed[-1] if len(parsed) > 1 else None
        if not isinstance(end, dict) or "end" not in end:
            raise ReplayFileError(f"{path} is truncated after record {len(parsed) - 2} "
                                  f"(no end line)")
        self.records = parsed[1:-1]
        if end["end"] != len(self.records):
            raise ReplayFileError(f"{path} is truncated or damaged: it says {end['end']} "
                                  f"records but holds {len(self.records)}")
        if not all(isinstance(r, dict) for r in self.records):
            raise ReplayFileError(f"{path}: a record is not a JSON object")
        self.kernel, self.end = kernel, end


def _error_text(exc):
    if exc is None:
        return None
    return f"{type(exc).__name__}: {exc}"


def _run(k, watcher, scenario):
    k._recorder = watcher
    error = None
    try:
        scenario(k)
    except ReplayDivergence:
        raise
    except MicroAppError as exc:
        if isinstance(exc.__cause__, ReplayDivergence):
            raise exc.__cause__ from None
        error = exc
    except Exception as exc:
        error = exc
    finally:
        k._recorder = None
    watcher.finish(_error_text(error))
    if error is not None:
        raise error
    return k


def record(path, scenario, **kernel_args):
    """Boot `Kernel(**kernel_args)`, run `scenario(k)` and write its recording to `path`.
    Returns the kernel; an error of the scenario is recorded, then raised."""
    from .kernel import Kernel
    k = Kernel(**kernel_args)
    return _run(k, Recorder(k, path), scenario)


def replay(path, scenario, log_stream=None, inputs="recorded"):
    """Boot the recorded kernel, run `scenario(k)` and check it against the recording:
    ReplayDivergence at the first difference; the scenario's error if the recorded run
    ended with the same one. `inputs="recorded"` feeds the recorded log input and device
    event times whatever the scenario passes (they came from outside); "check" makes
    them inputs to compare like the rest. `log_stream` is where the log prints (it
    changes nothing else). Returns the kernel."""
    from .kernel import Kernel
    if inputs not in ("recorded", "check"):
        raise ValueError(f'inputs must be "recorded" or "check", not {inputs!r}')
    recording = Recording(path)
    k = Kernel(**recording.kernel, log_stream=log_stream)
    return _run(k, Replayer(k, recording, inputs == "recorded"), scenario)
