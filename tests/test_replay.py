"""Record and replay (pyl4re.replay): a recording replays to the byte-identical trace; a
replay that goes another way names the first differing record; bad files say why."""
import io
import json

import pytest

import pyl4re
from pyl4re import replay as rp
from pyl4re.l4sys import (L4_IPC_NEVER, l4_ipc_call, l4_ipc_reply_and_wait, l4_ipc_wait,
                          l4_msgtag, l4_rcv_ep_bind_thread, l4_utcb, l4_vcon_read)
from pyl4re.replay import ReplayDivergence, ReplayFileError


def scenario(k, rounds=3, extra_input=False):
    """A server and two clients on two CPUs, log input, and a device event."""
    gate = k.create_gate(0x10)

    async def server(env):
        await l4_rcv_ep_bind_thread(env.caps["s"], env.thread, 0x40)
        u = l4_utcb()
        await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            await pyl4re.compute(500)
            await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)

    def client(n):
        async def main(env):
            for _ in range(rounds):
                await pyl4re.mem.write(0x900000 + n * 0x10000, b"x")
                await l4_ipc_call(env.caps["s"], l4_utcb(), l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)
                await pyl4re.compute(10_000)
        return main

    k.start_task(server, name="srv", caps={"s": gate.svr()})
    k.start_task(client(0), name="c0", caps={"s": gate})
    k.start_task(client(1), name="c1", caps={"s": gate}, cpu=1)
    k.log_input("hello\n")
    k.hw.at(20_000, lambda: k.hw.irq_line(3).pulse(), jitter_ns=1000)
    k.run(until_ns=15_000)
    if extra_input:
        k.log_input("more\n")
    k.run()


def test_a_replay_gives_the_byte_identical_trace(arch, tmp_path):
    path = tmp_path / "run.l4rec"
    first = rp.record(path, scenario, arch=arch, cpus=2, memory=16 << 20, seed=5)
    again = rp.replay(path, scenario)
    assert again.trace_json() == first.trace_json() and len(first.trace) > 20
    assert (again.arch, again.cpus, again.seed) == (arch, 2, 5)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["format"] == "pyl4re-replay" and lines[0]["kernel"]["seed"] == 5
    inputs = [r["input"] for r in lines[1:-1] if "input" in r]
    assert inputs == ["create_gate", "start_task", "start_task", "start_task", "log_input",
                      "hw_at", "run", "run", "hw_event", "irq_line"]
    assert sum("trace" in r for r in lines) == len(first.trace)
    assert lines[-1]["end"] == len(lines) - 2 and lines[-1]["error"] is None


def test_a_divergent_replay_names_the_first_differing_record(arch, tmp_path):
    path = tmp_path / "run.l4rec"
    rp.record(path, scenario, arch=arch, cpus=2, memory=16 << 20, seed=5)
    # More rounds: the same inputs, but the trace goes another way at some record.
    with pytest.raises(ReplayDivergence) as e:
        rp.replay(path, lambda k: scenario(k, rounds=4))
    assert "replay diverges at record" in str(e.value) and "recorded: " in str(e.value)
    lines = path.read_text().splitlines()
    records = [json.loads(line) for line in lines[1:-1]]
    assert e.value.recorded == (records[e.value.index] if e.value.index < len(records)
                                else None)
    # An input the recording does not have.
    with pytest.raises(ReplayDivergence, match=r"replayed: log_input\(data='more\\n'\)") as e:
        rp.replay(path, lambda k: scenario(k, extra_input=True))
    assert e.value.recorded["input"] == "run"
    # A run that stops early: the recording goes on.
    with pytest.raises(ReplayDivergence, match=r"replayed: \(nothing: the run ended\)"):
        rp.replay(path, lambda k: k.create_gate(0x10))


def test_a_failing_run_replays_its_failure(tmp_path):
    def failing(k):
        async def main(env):
            raise RuntimeError("boom")
        k.start_task(main, name="m")
        k.run()

    path = tmp_path / "fail.l4rec"
    with pytest.raises(pyl4re.runloop.MicroAppError, match="boom"):
        rp.record(path, failing, memory=16 << 20, seed=1)
    assert "boom" in json.loads(path.read_text().splitlines()[-1])["error"]
    with pytest.raises(pyl4re.runloop.MicroAppError, match="boom"):
        rp.replay(path, failing)
    with pytest.raises(ReplayDivergence, match=r"start_task\(.*'_quiet'"):
        rp.replay(path, lambda k: (k.start_task(_quiet, name="m"), k.run()))
    # The same run, but the harness's own check after it passes this time.
    with pytest.raises(RuntimeError):
        rp.record(path, lambda k: ends(k, fail=True), memory=16 << 20)
    with pytest.raises(ReplayDivergence, match="recorded: .*RuntimeError: the check failed"):
        rp.replay(path, lambda k: ends(k, fail=False))


async def _quiet(env):
    pass


def ends(k, fail):
    k.start_task(_quiet, name="m")
    k.run()
    if fail:
        raise RuntimeError("the check failed")


def test_the_explored_race_records_and_replays(tmp_path):
    """explore finds the seed; its recording replays the lost update, trace and all."""
    from pyl4re.testing import explore
    from test_testing_explore import racy_counter, racy_system as race

    found = explore(racy_counter, seeds=range(100))
    assert not found.ok
    path = tmp_path / "race.l4rec"
    with pytest.raises(AssertionError, match="lost updates") as recorded:
        rp.record(path, race, memory=16 << 20, seed=found.seed)
    with pytest.raises(AssertionError, match="lost updates") as replayed:
        rp.replay(path, race)
    assert str(recorded.value) == str(replayed.value)


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "run.l4rec"
    rp.record(path, scenario, memory=16 << 20, cpus=2, seed=5)
    return path


def test_a_truncated_file_is_refused(recording):
    text = recording.read_text()
    recording.write_text(text[:len(text) // 2])
    with pytest.raises(ReplayFileError, match="truncated: its last line .* is cut off"):
        rp.Recording(recording)
    lines = text.splitlines(keepends=True)
    recording.write_text("".join(lines[:-1]))
    with pytest.raises(ReplayFileError, match=r"truncated after record \d+ \(no end line\)"):
        rp.replay(recording, scenario)
    recording.write_text("".join(lines[:5] + lines[-1:]))
    with pytest.raises(ReplayFileError, match="says .* records but holds 4"):
        rp.replay(recording, scenario)


def test_files_of_another_kind_version_or_arch_are_refused(recording, monkeypatch):
    lines = recording.read_text().splitlines(keepends=True)

    def with_header(**changes):
        header = json.loads(lines[0])
        for key, value in changes.items():
            if key == "arch":
                header["kernel"]["arch"] = value
            else:
                header[key] = value
        recording.write_text(json.dumps(header) + "\n" + "".join(lines[1:]))

    with_header(version=2)
    with pytest.raises(ReplayFileError, match="format version 2; this pyl4re reads version 1"):
        rp.replay(recording, scenario)
    with_header(pyl4re="0.0.1")
    with pytest.raises(ReplayFileError, match="recorded with pyl4re 0.0.1, this is pyl4re"):
        rp.replay(recording, scenario)
    with_header(arch="sparc")
    with pytest.raises(ReplayFileError, match="unknown architecture 'sparc'"):
        rp.replay(recording, scenario)
    with_header(arch="arm64")
    monkeypatch.setattr(rp._core, "available_arches", lambda: ("x86_64",))
    with pytest.raises(ReplayFileError, match="recorded on arm64, which this pyl4re did not "
                                              r"build \(built: x86_64\)"):
        rp.replay(recording, scenario)
    recording.write_text("hello\n")
    with pytest.raises(ReplayFileError, match="line 1 is not JSON|cut off"):
        rp.replay(recording, scenario)
    recording.write_text('{"format": "other"}\n')
    with pytest.raises(ReplayFileError, match="not a pyl4re replay file"):
        rp.replay(recording, scenario)
    recording.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ReplayFileError, match="not a pyl4re replay file"):
        rp.replay(recording, scenario)


def typed(text):
    """A harness whose input comes from outside (here: the argument) and a device
    event whose time does too; the µApp echoes what it read."""
    def scenario(k):
        async def echo(env):
            got = await l4_vcon_read(env.log, 16)
            await pyl4re.log(b"got " + got[1].rstrip(b"\n") + b"\n")
        k.start_task(echo, name="echo")
        k.log_input(text)
        k.hw.at(1000 + len(text), lambda: None)
        k.run()
    return scenario


def test_a_replay_feeds_the_recorded_input(tmp_path):
    path = tmp_path / "typed.l4rec"
    first = rp.record(path, typed(b"abc\n"), memory=16 << 20, log_stream=io.StringIO())
    again = rp.replay(path, typed(b"something else\n"), log_stream=io.StringIO())
    assert again.log_lines == first.log_lines == ["got abc"]
    assert again.trace_json() == first.trace_json()
    with pytest.raises(ReplayDivergence, match=r"replayed: log_input\(data=b'something else"):
        rp.replay(path, typed(b"something else\n"), inputs="check")
    with pytest.raises(ValueError, match='inputs must be "recorded" or "check"'):
        rp.replay(path, typed(b"abc\n"), inputs="yes")
