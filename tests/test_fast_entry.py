"""The µApp fast kernel entry in C (pyl4re/_entry.c): the awaitable l4sys's IPC calls
return behaves as a generator-based coroutine would, under every way Python drives it
(await, yield from, send by hand, a tracer), and its hand-over to the general path and
the run loop's µApp <-> µApp switch lose nothing."""
import asyncio
import collections.abc
import gc
import inspect
import sys
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyl4re import CapIndex, Kernel, _entry, traps
from pyl4re.l4sys import (
    L4_CAP_SHIFT, L4_IPC_NEVER, l4_ipc_call, l4_ipc_error, l4_ipc_receive,
    l4_ipc_reply_and_wait, l4_ipc_send, l4_ipc_send_and_wait, l4_ipc_wait, l4_msgtag,
    l4_msgtag_t, l4_utcb,
)


def small(arch):
    return Kernel(arch=arch, memory=8 << 20)


async def doubler(env):
    """Answers every call with its first word doubled, forever."""
    u = l4_utcb()
    tag, _ = await l4_ipc_wait(u, L4_IPC_NEVER)
    while True:
        u.mr[0] = int(u.mr[0]) * 2
        tag, _ = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)


def ping_pong(arch, client):
    k = small(arch)
    gate = k.create_gate(0x10)
    gate.bind(k.start_task(doubler, name="srv", caps={"svc": gate.svr()}), 0x10)
    k.start_task(client, name="cl", caps={"svc": gate})
    return k, k.run()


def test_an_ipc_call_is_a_fast_entry():
    """What asyncio and inspect see is what they saw of the generator entry: an
    awaitable, and a coroutine by the ABC's test."""
    entry = l4_ipc_call(0x1000, None, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)
    assert type(entry) is _entry.Trap
    assert "dest=0x1003" in repr(entry)       # the selector with L4_SYSF_CALL
    assert inspect.isawaitable(entry) and isinstance(entry, collections.abc.Coroutine)
    assert asyncio.iscoroutine(entry)
    entry.close()


def test_the_answers_come_back_from_the_partner(arch):
    async def client(env):
        u, got = l4_utcb(), []
        for i in range(5):
            u.mr[0] = i
            tag = await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
            got.append((type(tag), tag.words, int(u.mr[0])))
        return got

    _, r = ping_pong(arch, client)
    assert r.exited["cl"] == [(l4_msgtag_t, 1, 2 * i) for i in range(5)]


def test_a_traced_run_gives_the_same_results(arch):
    """Under a tracer (coverage, debuggers) CPython drives an awaitable through its send
    method and StopIteration instead of am_send: the same answers come back."""
    async def client(env):
        u, got = l4_utcb(), []
        for i in range(3):
            u.mr[0] = i + 1
            await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
            got.append(int(u.mr[0]))
        return got

    seen = []

    def tracer(frame, event, arg):
        seen.append(event)
        return tracer

    sys.settrace(tracer)
    try:
        _, r = ping_pong(arch, client)
    finally:
        sys.settrace(None)
    assert r.exited["cl"] == [2, 4, 6]
    assert "call" in seen


def test_yield_from_a_generator_based_coroutine(arch):
    @types.coroutine
    def call_twice(cap, u):
        u.mr[0] = 3
        yield from l4_ipc_call(cap, u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
        tag = yield from l4_ipc_call(cap, u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
        return tag.words, int(u.mr[0])

    async def client(env):
        return await call_twice(env.caps["svc"], l4_utcb())

    _, r = ping_pong(arch, client)
    assert r.exited["cl"] == (1, 12)


def test_an_entry_is_awaited_once(arch):
    async def client(env):
        entry = l4_ipc_call(env.caps["svc"], None, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)
        await entry
        try:
            await entry
        except RuntimeError as exc:
            return str(exc)

    _, r = ping_pong(arch, client)
    assert r.exited["cl"] == "cannot reuse an already awaited kernel entry"


def test_entries_made_ahead_are_independent(arch):
    """Two entries made before either is awaited keep their own arguments."""
    async def client(env):
        u = l4_utcb()
        one = l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
        none = l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)
        u.mr[0] = 5
        words = [(await none).words]
        u.mr[0] = 7
        words.append((await one).words)
        return words, int(u.mr[0])

    _, r = ping_pong(arch, client)
    assert r.exited["cl"] == ([1, 1], 14)


def test_throw_raises_at_the_entry_and_ends_it():
    entry = traps.enter_tag(0x1002, 0, 0)
    with pytest.raises(KeyError, match="x"):
        entry.throw(KeyError("x"))
    with pytest.raises(ValueError):
        traps.enter_tag(0x1002, 0, 0).throw(ValueError)
    with pytest.raises(TypeError):
        traps.enter_tag(0x1002, 0, 0).throw(42)
    with pytest.raises(RuntimeError, match="cannot reuse"):
        entry.send(None)


def test_close_abandons_a_waiting_entry(arch):
    """A µApp closed while it waits in an entry handed to the general path (a plain
    receive) ends cleanly, and nothing of it stays alive."""
    k = small(arch)
    gate = k.create_gate(0x10)

    async def waits(env):
        await l4_ipc_wait(l4_utcb(), L4_IPC_NEVER)

    k.start_task(waits, name="w", caps={"svc": gate.svr()})
    r = k.run()
    assert r.blocked and "w" in r.blocked
    rec = next(rec for rec in k._loop.threads.values() if rec.name == "w")
    assert type(rec.coro.cr_await) is _entry.Trap
    rec.coro.close()
    assert rec.coro.cr_frame is None
    del rec
    gc.collect()


@pytest.mark.parametrize("args, exc", [
    (("x", 0, 0), TypeError), ((0, 1.5, 0), TypeError), ((-1, 0, 0), OverflowError),
    ((0, 0, 1 << 64), OverflowError), ((0, 0), TypeError), ((0, 0, 0, 0), TypeError),
])
def test_bad_entry_words_are_refused(args, exc):
    with pytest.raises(exc):
        traps.enter_tag(*args)
    with pytest.raises(exc):
        traps.enter_tag_label(*args)


def test_an_entry_awaited_outside_a_uapp_says_so():
    for entry in (traps.enter_tag(0x1002, 0, 0), traps.enter_tag_label(0x1002, 0, 0)):
        with pytest.raises(RuntimeError, match="no current thread"):
            entry.send(None)


@pytest.mark.parametrize("bad", [0, 4, -1, "x"])
def test_entry_refuses_bad_addresses(bad):
    with pytest.raises((ValueError, TypeError, OverflowError)):
        _entry.Entry(bad, 8, 8, 8, [], None)
    with pytest.raises(TypeError):
        _entry.Entry(8, 8, 8, 8, (), None)          # the records by index: a list


def test_the_switch_hands_back_what_else_a_uapp_yields(arch):
    """chain() resumes records only: anything else comes back as it is."""
    marker = object()
    assert _entry.chain(marker) is marker
    assert _entry.chain(traps.SUSPEND) is traps.SUSPEND


def test_a_partner_that_ends_or_raises_after_a_switch(arch):
    """The µApp C switched to may return or raise in the switch: the run loop ends or
    fails that µApp, not the one that switched to it."""
    async def server(env):
        u = l4_utcb()
        tag, _ = await l4_ipc_wait(u, L4_IPC_NEVER)
        tag, _ = await l4_ipc_reply_and_wait(u, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER)
        if int(u.mr[0]) == 1:
            return ("served", 1)            # a tuple stays the value
        raise ValueError("second caller")

    def client(word):
        async def main(env):
            u = l4_utcb()
            u.mr[0] = 0
            await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
            u.mr[0] = word
            await l4_ipc_call(env.caps["svc"], u, l4_msgtag(0, 1, 0, 0), L4_IPC_NEVER)
            return "called"
        return main

    for word, ends in ((1, ("served", 1)), (2, None)):
        k = small(arch)
        gate = k.create_gate(0x10)
        gate.bind(k.start_task(server, name="srv", caps={"svc": gate.svr()}), 0x10)
        k.start_task(client(word), name="cl", caps={"svc": gate})
        r = k.run(raise_errors=False)
        if ends:
            assert r.exited["srv"] == ends
        else:
            assert "srv" not in r.exited
            assert isinstance(r.failed["srv"], ValueError)
        assert "cl" not in r.exited and "cl" not in r.failed     # waits for its reply


FAST_CALLS = (l4_ipc_call, l4_ipc_send, l4_ipc_receive, l4_ipc_wait, l4_ipc_reply_and_wait,
              l4_ipc_send_and_wait)


@pytest.mark.parametrize("call", FAST_CALLS, ids=lambda c: c.__name__)
def test_a_fast_call_introspects_as_its_function(call):
    fn = call.__wrapped__
    assert inspect.isfunction(fn) and type(call) is _entry.FastCall
    assert call.__name__ == fn.__name__ and call.__doc__ == fn.__doc__
    assert call.__module__ == "pyl4re.l4sys.ipc" and call.__qualname__ == fn.__qualname__
    assert inspect.signature(call) == inspect.signature(fn)
    assert repr(call) == repr(fn)


def test_arguments_off_the_common_case_take_the_python_checks(arch):
    """A CapIndex, keywords: the Python function's conversions; a foreign UTCB, a bool, a
    wrong type, stray bits or a value out of range: its errors, naming the call."""
    async def client(env):
        u, cap = l4_utcb(), env.caps["svc"]
        tag1 = l4_msgtag(0, 1, 0, 0)
        u.mr[0] = 1
        got = [(await l4_ipc_call(CapIndex(cap >> L4_CAP_SHIFT), u, tag1, L4_IPC_NEVER)).words]
        got.append((await l4_ipc_call(dest=cap, utcb=None, tag=tag1, timeout=0)).words)
        got.append(int(u.mr[0]))
        errors = []
        for args in ((cap, object(), tag1, 0), (True, u, tag1, 0), (cap, u, 1, 0),
                     (cap, u, tag1, -1), (cap | 1, u, tag1, 0), (1 << 64, u, tag1, 0)):
            try:
                l4_ipc_call(*args)
            except (TypeError, ValueError) as exc:
                errors.append((type(exc).__name__, "l4_ipc_call" in str(exc)))
        return got, errors

    _, r = ping_pong(arch, client)
    got, errors = r.exited["cl"]
    assert got == [1, 1, 4]
    assert errors == [("ValueError", True), ("TypeError", True), ("TypeError", True),
                      ("ValueError", True), ("ValueError", True), ("ValueError", True)]


def test_a_large_selector_enters_as_a_small_one_does(arch):
    """A selector above 2^30 (a capability index past 2^18) is entered as a small one is:
    both name empty capability slots, and the kernel says so alike."""
    async def client(env):
        errors = []
        for index in (0x300, 1 << 24):
            tag = await l4_ipc_call(index << L4_CAP_SHIFT, None, l4_msgtag(0, 0, 0, 0), 0)
            errors.append(l4_ipc_error(tag, l4_utcb()))
        return errors

    _, r = ping_pong(arch, client)
    small, large = r.exited["cl"]
    assert small == large != 0


@pytest.mark.parametrize("bad", [dict(fn=None), dict(word=-1), dict(stray=1 << 64),
                                 dict(word="1")])
def test_fast_call_refuses_bad_construction(bad):
    args = dict(fn=len, word=0, stray=0, has_dest=True, has_tag=True, with_label=False)
    args.update(bad)
    with pytest.raises((TypeError, OverflowError)):
        _entry.FastCall(**args)


_VALUES = st.one_of(
    st.integers(min_value=-(1 << 70), max_value=1 << 70), st.booleans(), st.none(),
    st.floats(allow_nan=True), st.text(max_size=3), st.just(object()),
    st.builds(l4_msgtag_t, st.integers(min_value=0, max_value=(1 << 64) - 1)),
    st.integers(min_value=0, max_value=(1 << 20) - 1).map(CapIndex))


@settings(max_examples=300, deadline=None)
@given(st.lists(_VALUES, min_size=0, max_size=5), st.sampled_from(FAST_CALLS))
def test_any_arguments_give_an_entry_or_a_clear_error(args, call):
    """Whatever a fast call is given, outside a µApp: a Trap (whose await then says no
    µApp runs) or the Python function's TypeError / ValueError; never a crash."""
    try:
        entry = call(*args)
    except (TypeError, ValueError):
        return
    except RuntimeError as exc:                # a utcb given, and no µApp to compare it
        assert "no current thread" in str(exc)
        return
    assert type(entry) is _entry.Trap
    with pytest.raises(RuntimeError, match="no current thread"):
        entry.send(None)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FAST_CALLS), st.lists(_VALUES, max_size=5)),
                min_size=1, max_size=8))
def test_any_arguments_inside_a_uapp_leave_the_kernel_intact(calls):
    """Inside a µApp, with its own UTCB among the candidates: every call gives an entry
    whose await answers or waits, or a clear error; the kernel's invariants hold after."""
    k = small("x86_64")
    outcome = []

    async def main(env):
        u = l4_utcb()
        for call, args in calls:
            args = [u if a is None and i == 1 else a for i, a in enumerate(args)]
            try:
                got = await call(*args)
            except (TypeError, ValueError) as exc:
                outcome.append(type(exc).__name__)
            else:
                outcome.append(type(got[0] if isinstance(got, tuple) else got).__name__)

    k.start_task(main, name="m")
    r = k.run(until_ns=10_000_000, raise_errors=False)
    assert not r.failed, r.failed
    assert set(outcome) <= {"TypeError", "ValueError", "l4_msgtag_t"}
    k.check_invariants()


def test_an_entry_the_kernel_refuses_raises_its_error(arch):
    """sys_enter refuses an entry for a thread the scheduler did not hand to Python (here:
    a record made current by hand, outside any run): the L4 error, and the kernel
    unchanged."""
    from pyl4re.errors import L4Error
    k = small(arch)
    h = k.start_task(doubler, name="srv")
    rec = k._loop.record(h.thread_id)
    entry = traps.enter_tag(0x1003, 0, 0)
    traps._current[0] = rec
    try:
        with pytest.raises(L4Error, match="refused") as info:
            entry.send(None)
    finally:
        traps._current[0] = None
    assert info.value.code == k._lib.L4_EINVAL
    k.check_invariants()
    assert k.run().blocked == {"srv": "receive (open wait)"}
