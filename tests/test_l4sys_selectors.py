"""Capability arguments of every l4sys function (spec §6.1): a selector or a CapIndex is
taken, a plain index (bits below L4_CAP_SHIFT set) is refused with a ValueError naming the
argument and showing `index << L4_CAP_SHIFT`; and env.cap_alloc() hands out selectors."""
import inspect

import pytest

import pyl4re.l4sys as l4
from pyl4re import CapIndex, Kernel
from pyl4re.l4sys import (
    L4_BASE_FACTORY_CAP, L4_BASE_TASK_CAP, L4_CAP_SHIFT, L4_INVALID_CAP, L4_IPC_NEVER,
    L4_PROTO_IRQ_SENDER, l4_error, l4_factory_create_irq, l4_fpage_invalid, l4_irq_trigger,
    l4_msgtag, l4_obj_fpage, l4_rcv_ep_bind_thread, l4_sched_cpu_set, l4_sched_param,
    l4_task_cap_valid, l4_vcon_attr_t,
)

# Every parameter that names a capability; the exceptions are not selectors.
CAP_PARAMS = {"dest", "obj", "factory", "target_cap", "thread_cap", "dst_task", "src_task",
              "task", "cap", "cap_a", "cap_b", "pager", "exc_handler", "thread", "to_thread",
              "ep", "gate", "scheduler", "irq", "icu", "sem", "vcon", "pfc", "iommu",
              "dma_space"}
NOT_CAPS = {("l4_factory_create", "obj"),          # the protocol of the new object
            ("outchar", "c")}                      # a character
# Bit helpers whose argument is a selector with any low bits (they test or ignore them):
# they take a CapIndex too, and refuse nothing.
ANY_BITS = {("l4_is_invalid_cap", "c"), ("l4_is_valid_cap", "c"), ("l4_capability_equal", "c1"),
            ("l4_capability_equal", "c2")}
CAP_PARAMS_ALL = CAP_PARAMS | {"c"}

# A valid value for every other parameter (a new parameter name must be added here).
VALID = {
    "utcb": None, "tag": l4_msgtag(0, 0, 0, 0), "timeout": L4_IPC_NEVER, "to": L4_IPC_NEVER,
    "flags": 0, "slabel": 0, "label": 0, "limit": 0, "utcb_area": l4_fpage_invalid(),
    "snd_fpage": l4_fpage_invalid(), "snd_base": 0, "fpage": l4_fpage_invalid(),
    "map_mask": 0, "fpages": [], "num_fpages": 0, "ku_mem": l4_fpage_invalid(),
    "thread_utcb": 0, "ip": 0, "sp": 0, "irqnum": 0, "source": 0, "mode": 0, "diff": 0,
    "cpus": l4_sched_cpu_set(0, 0), "cpu": 0, "buf": b"x", "size": 1, "attr": l4_vcon_attr_t(),
    "extras": 0, "is_reboot": 0, "phys_id": 0, "enable": 0, "name": b"n", "id": 0,
    "kobjp": 0, "on": 0, "order": 0, "rights": 4, "vcpu_state": 0, "ext_vcpu_state": 0,
    "ku_mem_addr": 0, "ku_mem_size": 4096, "skip": 0,
    "src_id": 1 << 18, "tpidruro": 0, "segr": 0, "base": 0, "match_mask": 0, "match": 0,
    "del_bits": 0, "add_bits": 0, "idx": 0, "on_off": 0, "namelen": 32, "shortnamelen": 32,
}
SPECIAL_VALID = {("l4_factory_create", "obj"): L4_PROTO_IRQ_SENDER,
                 ("l4_scheduler_run_thread", "sp"): l4_sched_param(1)}


def is_call(obj):
    """An l4sys call: a function, or one the C fast entry wraps (l4sys/ipc.py, _fast)."""
    return inspect.isfunction(obj) or inspect.isfunction(getattr(obj, "__wrapped__", None))


def selector_arguments():
    """(function name, parameter) for every capability parameter of every l4sys call."""
    found = []
    for name in l4.__all__:
        fn = getattr(l4, name)
        if not is_call(fn):
            continue
        for p in inspect.signature(fn).parameters:
            if p in CAP_PARAMS_ALL and (name, p) not in NOT_CAPS | ANY_BITS:
                found.append((name, p))
    return found


def arguments(name, bad_param, bad_value):
    fn = getattr(l4, name)
    kw = {}
    for p, spec in inspect.signature(fn).parameters.items():
        if p == bad_param:
            kw[p] = bad_value
        elif (name, p) in SPECIAL_VALID:
            kw[p] = SPECIAL_VALID[(name, p)]
        elif p in CAP_PARAMS and (name, p) not in NOT_CAPS:
            kw[p] = L4_BASE_TASK_CAP
        elif p in VALID:
            kw[p] = VALID[p]
        elif spec.default is inspect.Parameter.empty:
            raise AssertionError(f"{name}: no valid value for parameter {p!r} in VALID")
    return fn, kw


def test_the_table_covers_the_api():
    names = {n for n, _ in selector_arguments()}
    # A sample of what must be there, so an empty table cannot pass.
    assert {"l4_ipc_call", "l4_factory_create_irq", "l4_rcv_ep_bind_thread", "l4_icu_bind",
            "l4_task_map", "l4_thread_control_pager", "l4_scheduler_run_thread",
            "l4_vcon_write", "l4_debugger_set_object_name",
            "l4_platform_ctl_system_shutdown"} <= names
    assert len(selector_arguments()) > 50


def test_every_capability_argument_refuses_an_index(arch):
    """Each capability parameter of each l4sys function, given the index 22: a ValueError
    naming the function and parameter and showing the selector it should have been."""
    cases = selector_arguments()

    async def main(env):
        outcome = {}
        for name, param in cases:
            fn, kw = arguments(name, param, 22)
            try:
                result = fn(**kw)
                if inspect.isawaitable(result):
                    await result
                outcome[(name, param)] = "accepted"
            except ValueError as exc:
                outcome[(name, param)] = str(exc)
        return outcome

    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="m")
    outcome = k.run().exited["m"]
    wrong = {case: text for case, text in outcome.items()
             if not text.startswith(f"{case[0]}: {case[1]}: 0x16 is not a capability selector")
             or "22 << L4_CAP_SHIFT = 0x16000 or CapIndex(22)" not in text}
    assert not wrong


def test_index_and_selector_spellings(arch):
    """The issue's user: the index 22 is refused before anything happens; CapIndex(22) and
    22 << L4_CAP_SHIFT name slot 22; the Irq made there works; slot 0 stays empty."""
    async def main(env):
        seen = []
        try:
            await l4_factory_create_irq(env.factory, 22)
        except ValueError as exc:
            seen.append("refused" if "target_cap" in str(exc) else str(exc))
        seen.append(l4_error(await l4_factory_create_irq(env.factory, CapIndex(22))))
        seen.append(l4.l4_ipc_error(await l4_irq_trigger(22 << L4_CAP_SHIFT), l4.l4_utcb()))
        seen.append(await l4_task_cap_valid(env.task, CapIndex(22)))
        seen.append(await l4_task_cap_valid(env.task, 0))
        try:
            await l4_rcv_ep_bind_thread(22, env.thread, 0)
        except ValueError as exc:
            seen.append("refused" if ": ep: " in str(exc) else str(exc))
        return [s if isinstance(s, (int, str)) else l4.l4_msgtag_label(s) for s in seen]

    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="m")
    assert k.run().exited["m"] == ["refused", 0, 0, 1, 0, "refused"]


def test_the_bit_helpers_take_either_spelling():
    assert l4.l4_capability_next(CapIndex(5)) == l4.l4_capability_next(5 << L4_CAP_SHIFT) \
        == 6 << L4_CAP_SHIFT
    with pytest.raises(ValueError, match=r"l4_capability_next: c: .*5 << L4_CAP_SHIFT"):
        l4.l4_capability_next(5)
    assert l4.l4_capability_equal(CapIndex(5), (5 << L4_CAP_SHIFT) | 3)
    assert l4.l4_is_valid_cap(CapIndex(5)) and l4.l4_is_invalid_cap(L4_INVALID_CAP)
    assert {(n, p) for n, p in ANY_BITS} <= {(n, p) for n in l4.__all__
                                            if is_call(getattr(l4, n))
                                            for p in inspect.signature(getattr(l4, n)).parameters}


def test_special_selectors_pass_and_obj_fpage_takes_capindex():
    assert l4_obj_fpage(CapIndex(5), 0, 4) == l4_obj_fpage(5 << L4_CAP_SHIFT, 0, 4)
    with pytest.raises(ValueError, match=r"l4_obj_fpage: obj: .*5 << L4_CAP_SHIFT"):
        l4_obj_fpage(5, 0, 4)
    with pytest.raises(TypeError, match="expected an integer"):
        l4_obj_fpage("5", 0, 4)


def test_invalid_cap_is_a_selector(arch):
    """L4_INVALID_CAP has bit 11 set: a selector, not an index (gate created unbound)."""
    async def main(env):
        t = await l4.l4_factory_create_gate(L4_BASE_FACTORY_CAP, env.cap_alloc(),
                                            L4_INVALID_CAP, 0x10)
        return l4_error(t)

    k = Kernel(arch=arch, memory=16 << 20)
    k.start_task(main, name="m")
    assert k.run().exited["m"] == 0


def test_cap_alloc(arch):
    """Selectors from first_free_cap on, lowest free first; freed ones come back; a
    selector it did not hand out cannot be freed; threads of a task share it."""
    k = Kernel(arch=arch, memory=16 << 20)
    gate = k.create_gate()

    async def main(env):
        first = env.first_free_cap
        a, b = env.cap_alloc(), env.cap_alloc()
        created = l4_error(await l4_factory_create_irq(env.factory, a))
        env.cap_free(a)
        again = env.cap_alloc()
        errors = []
        for bad in (b + 1, 0x1000, 22):
            try:
                env.cap_free(bad)
            except ValueError:
                errors.append(bad)
        return first, a >> L4_CAP_SHIFT, b >> L4_CAP_SHIFT, created, again == a, errors

    h = k.start_task(main, name="m", caps={"one": gate, "two": gate})
    first, a, b, created, again, errors = k.run().exited["m"]
    assert first == 0x18 and (a, b) == (0x18, 0x19) and created == 0 and again
    assert errors == [(0x19 << L4_CAP_SHIFT) + 1, 0x1000, 22]
    assert h.env.cap_alloc() == 0x1A << L4_CAP_SHIFT      # the task's one allocator
