"""Helpers for the kernel-object invocation tests (tests/test_invoke_*.py).

`run_main` boots a kernel, starts one µApp ("main"), runs it and returns (kernel, task
handle, run result); `value` returns only what main returned (a µApp that raises makes
the test fail with its exception). `invoke` sends a hand-made message, for
the malformed requests l4sys would never build. `new_thread` creates, binds, starts and
runs a second thread of the calling task with l4sys calls alone. Selectors for scratch
slots come from `sel()`.
"""
from pyl4re import Kernel, entry, traps
from pyl4re.l4sys import _kobj
from pyl4re.l4sys import (
    L4_IPC_NEVER, L4_SYSF_CALL, L4_SYSF_SEND, l4_error,
    l4_factory_create_thread, l4_msgtag, l4_sched_param,
    l4_scheduler_run_thread, l4_thread_control_bind,
    l4_thread_control_commit, l4_thread_control_start, l4_thread_ex_regs, l4_utcb,
)

U64 = (1 << 64) - 1
SCRATCH = 0x40                  # first scratch capability index (the harness uses < 0x20)


def sel(n):
    """The selector of scratch capability slot n."""
    return (SCRATCH + n) << 12


def run_main(arch, main, cpus=1, caps=None, prio=1, memory=16 << 20, raise_errors=True):
    """Boot, run `main` as the only µApp, and return (kernel, handle, result)."""
    k = Kernel(arch=arch, cpus=cpus, memory=memory)
    h = k.start_task(main, name="main", caps=caps or {}, prio=prio)
    res = k.run(raise_errors=raise_errors)
    return k, h, res


def value(arch, main, **kw):
    """What `main` returned (the run must end with main exited)."""
    k, h, res = run_main(arch, main, **kw)
    assert "main" in res.exited, res
    return res.exited["main"]


async def invoke(obj, label, mrs, items=0, words=None, send_only=False):
    """Send MR0.. = mrs with a tag of `label`, `words` (default: all mrs not part of the
    `items` trailing item pairs) and `items` to `obj`; returns l4_error of the reply."""
    u = l4_utcb()
    for i, v in enumerate(mrs):
        u.mr[i] = v & U64
    if words is None:
        words = len(mrs) - 2 * items
    flags = L4_SYSF_SEND if send_only else L4_SYSF_CALL
    raw, _ = await traps.enter(obj | flags, l4_msgtag(label, words, items, 0).raw, 0,
                               L4_IPC_NEVER)
    return l4_error(_kobj.tag(raw), u)


def ok(tag):
    """Assert the reply is a success; return its label."""
    err = l4_error(tag, l4_utcb())
    assert err >= 0, f"failed with {err}: {tag!r}"
    return err


def utcb_area_base(env, slot=1):
    """An address inside the caller's UTCB area for one more UTCB (slot 0 is in use)."""
    return (env.utcb_area.raw & ~0xFFF) + slot * 1024


async def new_thread(env, cap, fn, prio=1, cpu_set=None, utcb_slot=1):
    """A second thread of the caller's task at capability `cap`, running `await fn()`."""
    ok(await l4_factory_create_thread(env.factory, cap))
    l4_thread_control_start()
    l4_thread_control_bind(utcb_area_base(env, utcb_slot), env.task)
    ok(await l4_thread_control_commit(cap))
    ok(await l4_thread_ex_regs(cap, entry(fn), 0, 0))
    sp = l4_sched_param(prio)
    if cpu_set is not None:
        sp.affinity = cpu_set
    ok(await l4_scheduler_run_thread(env.scheduler, cap, sp))

