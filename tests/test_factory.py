"""Factories and kernel-memory quotas (§8.3, §13): sizes charged, limits, refunds."""
import pytest
from hypothesis import given, settings, strategies as st

from pyl4re import CapIndex, Kernel, L4Error, L4NoMemoryError
from pyl4re.control import factory as factory_ctl

# The documented size table (docs/quotas.md), read from C.
KINDS = {  # create method -> (kind name, size enum)
    "create_task": ("task", "KOBJ_SIZE_TASK"),
    "create_thread": ("thread", "KOBJ_SIZE_THREAD"),
    "create_gate": ("gate", "KOBJ_SIZE_GATE"),
    "create_irq": ("irq", "KOBJ_SIZE_IRQ"),
    "create_semaphore": ("semaphore", "KOBJ_SIZE_SEMAPHORE"),
}


def test_size_table_is_as_documented(kernel):
    lib = kernel._lib
    assert lib.KOBJ_SIZE_THREAD == 8192          # THREAD_BLOCK_SIZE on 64-bit (§13)
    assert (lib.KOBJ_SIZE_TASK, lib.KOBJ_SIZE_GATE, lib.KOBJ_SIZE_FACTORY, lib.KOBJ_SIZE_IRQ,
            lib.KOBJ_SIZE_SEMAPHORE) == (512, 64, 64, 128, 128)


@pytest.mark.parametrize("method", sorted(KINDS))
def test_each_kind_charges_its_size_and_refunds_it(kernel, method):
    kind, size_name = KINDS[method]
    size = getattr(kernel._lib, size_name)
    root = kernel.root_task
    child = kernel.root_factory.create_factory(root, CapIndex(30), limit=1 << 20)
    obj = getattr(child, method)(root, CapIndex(31))
    assert obj.type == kind
    info = obj.info()
    assert info.charged == size and info.factory_id == child.id
    assert child.quota.used == size
    cap = root.cap(CapIndex(31))
    assert cap.rights == 0xF and cap.counted and cap.attrs & 0xE0 == 0xE0   # full rights
    root.delete(CapIndex(31))
    assert not obj.alive
    assert child.quota.used == 0


def test_child_factory_charges_its_whole_limit_to_the_parent_at_once(kernel):
    root = kernel.root_task
    used = kernel.root_factory.quota.used
    child = kernel.root_factory.create_factory(root, CapIndex(30), limit=100_000)
    assert kernel.root_factory.quota.used == used + 64 + 100_000
    assert child.quota.limit == 100_000 and child.quota.used == 0 and child.quota.valid
    grandchild = child.create_factory(root, CapIndex(31), limit=50_000)
    assert child.quota.used == 64 + 50_000
    assert grandchild.info().charged == 64 + 50_000
    # The budget is the child's own: using it does not touch the parent.
    grandchild.create_thread(root, CapIndex(32))
    assert child.quota.used == 64 + 50_000
    assert grandchild.quota.used == 8192


def test_exceeding_the_quota_gives_enomem_with_nothing_allocated(kernel):
    root = kernel.root_task
    child = kernel.root_factory.create_factory(root, CapIndex(30), limit=10_000)
    child.create_thread(root, CapIndex(31))                     # 8192 of 10000
    alive, used = kernel.objects_alive, child.quota.used
    attempts = [lambda: child.create_thread(root, CapIndex(32)),
                lambda: child.create_factory(root, CapIndex(32), limit=5000)]
    for attempt in attempts:
        with pytest.raises(L4NoMemoryError):
            attempt()
        assert kernel.objects_alive == alive
        assert child.quota.used == used
        assert root.cap(CapIndex(32)) is None
    # What still fits is still allowed, up to exactly the limit.
    child.create_task(root, CapIndex(33))                       # 512 more: 8704
    child.create_factory(root, CapIndex(34), limit=10_000 - 8704 - 64)
    assert child.quota.used == 10_000
    with pytest.raises(L4NoMemoryError):
        child.create_gate(root, CapIndex(35))


def test_failed_create_leaves_the_target_slot_as_it_was(kernel):
    root = kernel.root_task
    child = kernel.root_factory.create_factory(root, CapIndex(30), limit=1000)
    gate = kernel.root_factory.create_gate(root, CapIndex(31))
    with pytest.raises(L4NoMemoryError):
        child.create_thread(root, CapIndex(31))
    assert gate.alive and root.cap(CapIndex(31)).object_id == gate.id


def test_create_replaces_what_the_target_slot_held(kernel):
    root = kernel.root_task
    gate = kernel.root_factory.create_gate(root, CapIndex(31))
    irq = kernel.root_factory.create_irq(root, CapIndex(31))
    assert not gate.alive and root.cap(CapIndex(31)).object_id == irq.id


def test_destroyed_factory_refunds_its_parent_when_drained(kernel):
    root = kernel.root_task
    parent = kernel.root_factory.create_factory(root, CapIndex(30), limit=1 << 20)
    child = parent.create_factory(root, CapIndex(31), limit=65536)
    thread = child.create_thread(root, CapIndex(32))
    assert parent.quota.used == 64 + 65536
    root.delete(CapIndex(31))                   # the factory dies ...
    assert not child.alive
    assert parent.quota.used == 64 + 65536      # ... but its thread still holds the budget
    root.delete(CapIndex(32))
    assert not thread.alive
    assert parent.quota.used == 0               # drained: everything came back


def test_a_dead_factory_creates_nothing(kernel):
    root = kernel.root_task
    child = kernel.root_factory.create_factory(root, CapIndex(30), limit=1 << 20)
    fid = child.id
    root.delete(CapIndex(30))
    assert factory_ctl.create(kernel, fid, -12, root.id, 40) == -kernel._lib.L4_EINVAL
    assert root.cap(CapIndex(40)) is None


@pytest.mark.parametrize("proto, kwargs, err", [
    (-16, {"limit": 5}, "L4_EINVAL"),  # a VM takes no arguments
    (-1, {}, "L4_ENODEV"),
    (7, {}, "L4_ENODEV"),
    (-15, {}, "L4_EMSGTOOSHORT"),    # factory without a limit
    (-15, {"limit": 0}, "L4_ENOMEM"),
    (-15, {"limit": (1 << 63) - 1}, "L4_ENOMEM"),
    (-15, {"limit": -5}, "L4_ENOMEM"),
    (-12, {"limit": 5}, "L4_EINVAL"),
])
def test_control_plane_refusals(kernel, proto, kwargs, err):
    root = kernel.root_task
    alive, used = kernel.objects_alive, kernel.root_factory.quota.used
    rc = factory_ctl.create(kernel, kernel.root_factory.id, proto, root.id, 40, **kwargs)
    assert rc == -getattr(kernel._lib, err)
    assert kernel.objects_alive == alive and kernel.root_factory.quota.used == used
    assert root.cap(CapIndex(40)) is None


def test_c_boundary_refuses_bad_arguments(kernel):
    ffi, lib, k = kernel._ffi, kernel._lib, kernel._k
    out = ffi.new("kobj_id_t *")
    f, root = kernel.root_factory.id, kernel.root_task.id
    assert lib.factory_create(k, [f], 99, 0, [root], [40], out) == -lib.L4_ENODEV
    assert lib.factory_create(k, [f], lib.KOBJ_ICU, 0, [root], [40], out) == -lib.L4_ENODEV
    assert lib.factory_create(k, [root], lib.KOBJ_GATE, 0, [root], [40], out) == -lib.L4_EINVAL
    assert lib.factory_create(k, [f], lib.KOBJ_GATE, 0, [f], [40], out) == -lib.L4_EINVAL
    assert lib.factory_create(k, [f], lib.KOBJ_GATE, 0, [root], [1 << 20], out) == -lib.L4_EINVAL
    assert lib.factory_create(k, [f], lib.KOBJ_FACTORY, 1 << 63, [root], [40], out) == -lib.L4_ENOMEM
    assert kernel.root_task.cap(CapIndex(40)) is None


def test_errors_carry_the_l4_code(kernel):
    child = kernel.root_factory.create_factory(kernel.root_task, CapIndex(30), limit=100)
    with pytest.raises(L4Error) as e:
        child.create_thread(kernel.root_task, CapIndex(31))
    assert e.value.code == kernel._lib.L4_ENOMEM and "L4_ENOMEM" in str(e.value)


# Quota conservation under random creation and deletion across a chain of factories.
ops = st.lists(st.tuples(st.sampled_from(["thread", "gate", "task", "factory", "delete"]),
                         st.integers(0, 2), st.integers(40, 60)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_quota_is_conserved(steps):
    k = Kernel(arch="x86_64", memory=4 << 20)
    root = k.root_task
    f0 = k.root_factory.create_factory(root, CapIndex(30), limit=200_000)
    f1 = f0.create_factory(root, CapIndex(31), limit=100_000)
    factories = [f0, f1, f1]
    start_alive = k.objects_alive
    for what, fi, slot in steps:
        f = factories[fi]
        if not f.alive:
            continue
        try:
            if what == "delete":
                root.delete(CapIndex(slot))
            elif what == "factory":
                f.create_factory(root, CapIndex(slot), limit=20_000)
            else:
                getattr(f, "create_" + what)(root, CapIndex(slot))
        except L4Error:
            pass
        for q in (f0, f1):
            if q.alive:
                info = q.quota
                assert 0 <= info.used <= info.limit
    for slot in range(40, 61):
        if root.cap(CapIndex(slot)) is not None:
            root.delete(CapIndex(slot))
    assert k.objects_alive == start_alive
    assert f1.quota.used == 0
    assert f0.quota.used == 64 + 100_000
    root.delete(CapIndex(31))
    assert f0.quota.used == 0
