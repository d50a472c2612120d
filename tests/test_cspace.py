"""Capability tables: lookup, insert, copy with rights reduction, delete, object lifetime."""
import pytest

from pyl4re import CapIndex, L4InvalidArgumentError, L4NotFoundError, L4PermissionError

R, W, S, D = 0x4, 0x1, 0x2, 0x8
COUNTED = 0x10
SVR = 0x20            # L4_FPAGE_C_IPCGATE_SVR / OBJ_RIGHT1


def new_task(kernel, index):
    return kernel.root_factory.create_task(kernel.root_task, CapIndex(index))


def test_lookup_of_empty_slots(kernel):
    t = new_task(kernel, 20)
    assert t.cap(CapIndex(0)) is None
    assert t.cap(CapIndex((1 << 20) - 1)) is None
    assert t.caps_used() == 0


def test_index_range_is_twenty_bits(kernel):
    t = new_task(kernel, 20)
    t.insert(CapIndex((1 << 20) - 1), kernel.root_factory, R | W)
    assert t.cap(CapIndex((1 << 20) - 1)).type == "factory"
    with pytest.raises(ValueError):
        CapIndex(1 << 20)


def test_c_boundary_refuses_bad_indices_and_ids(kernel):
    ffi, lib, k = kernel._ffi, kernel._lib, kernel._k
    root = kernel.root_task.id
    out = ffi.new("struct cap_info *")
    assert lib.cspace_lookup(k, [root], [1 << 20], out) == -lib.L4_EINVAL
    assert lib.cspace_lookup(k, [root], [0xFFFFFFFF], out) == -lib.L4_EINVAL
    assert lib.cspace_lookup(k, [0], [1], out) == -lib.L4_EINVAL          # no object 0
    assert lib.cspace_lookup(k, [root + 12345], [1], out) == -lib.L4_EINVAL
    factory = kernel.root_factory.id
    assert lib.cspace_lookup(k, [factory], [1], out) == -lib.L4_EINVAL    # not a task
    assert lib.cspace_insert(k, [root], [30], [factory], 0x10, 0) == -lib.L4_EINVAL  # bad rights
    assert lib.cspace_insert(k, [root], [30], [factory], W, 0) == -lib.L4_EINVAL     # no R
    assert lib.cspace_insert(k, [root], [30], [factory], R, 0x1) == -lib.L4_EINVAL   # bad attrs
    assert lib.cspace_copy(k, [root], [30], [root], [2], 0x1F, 0) == -lib.L4_EINVAL
    assert lib.cspace_copy(k, [root], [30], [root], [2], R, 0x100) == -lib.L4_EINVAL
    assert lib.cspace_delete(k, [root], [1 << 20]) == -lib.L4_EINVAL
    assert kernel.root_task.cap(CapIndex(30)) is None


def test_indices_must_be_typed(kernel):
    with pytest.raises(TypeError):
        kernel.root_task.cap(2)
    from pyl4re import VirtAddr
    with pytest.raises(TypeError):
        kernel.root_task.cap(VirtAddr(2))


def test_copy_reduces_rights(kernel):
    root = kernel.root_task
    a = new_task(kernel, 20)
    assert a.copy(CapIndex(5), root, CapIndex(2), rights=R | W)
    cap = a.cap(CapIndex(5))
    assert cap.type == "factory" and cap.rights == R | W and cap.counted
    # Rights never grow beyond the source's.
    b = new_task(kernel, 21)
    assert b.copy(CapIndex(5), a, CapIndex(5), rights=R | W | S | D)
    assert b.cap(CapIndex(5)).rights == R | W


def test_copy_without_r_maps_nothing(kernel):
    a = new_task(kernel, 20)
    assert a.copy(CapIndex(5), kernel.root_task, CapIndex(2), rights=W | S) is False
    assert a.cap(CapIndex(5)) is None


def test_copy_of_an_empty_slot_is_refused(kernel):
    a = new_task(kernel, 20)
    with pytest.raises(L4NotFoundError):
        a.copy(CapIndex(5), kernel.root_task, CapIndex(300))


def test_object_rights_survive_only_if_the_item_carries_them(kernel):
    root = kernel.root_task
    gate = kernel.root_factory.create_gate(root, CapIndex(40))
    assert root.cap(CapIndex(40)).attrs & SVR       # the creator gets every attribute
    a = new_task(kernel, 20)
    a.copy(CapIndex(1), root, CapIndex(40), rights=R | W | S, ctl=0)
    assert not a.cap(CapIndex(1)).attrs & SVR        # downgraded: a client only
    a.copy(CapIndex(2), root, CapIndex(40), rights=R | W | S, ctl=SVR)
    assert a.cap(CapIndex(2)).attrs & SVR
    # A copy of the downgraded cap cannot regain the bit.
    a.copy(CapIndex(3), a, CapIndex(1), rights=R | W | S, ctl=SVR)
    assert not a.cap(CapIndex(3)).attrs & SVR
    assert gate.alive


def test_no_ref_cnt_makes_a_weak_capability(kernel):
    root = kernel.root_task
    gate = kernel.root_factory.create_gate(root, CapIndex(40))
    a = new_task(kernel, 20)
    a.copy(CapIndex(1), root, CapIndex(40), ctl=0x10)   # L4_FPAGE_C_NO_REF_CNT
    assert not a.cap(CapIndex(1)).counted
    assert gate.info().counted_refs == 1
    root.delete(CapIndex(40))                            # the last counted reference
    assert not gate.alive
    assert a.cap(CapIndex(1)) is None                    # the weak one died with it


def test_same_object_copy_only_adds_rights(kernel):
    root = kernel.root_task
    a = new_task(kernel, 20)
    a.copy(CapIndex(1), root, CapIndex(2), rights=R)
    a.copy(CapIndex(1), root, CapIndex(2), rights=R | W)
    assert a.cap(CapIndex(1)).rights == R | W
    assert kernel.root_factory.info().counted_refs == 2  # root's and a's, not three
    a.copy(CapIndex(1), root, CapIndex(2), rights=R)
    assert a.cap(CapIndex(1)).rights == R | W            # a re-map never removes rights


def test_copy_over_another_object_releases_it(kernel):
    root = kernel.root_task
    gate = kernel.root_factory.create_gate(root, CapIndex(40))
    a = new_task(kernel, 20)
    a.copy(CapIndex(1), root, CapIndex(40))
    root.delete(CapIndex(40))
    assert gate.alive                                    # a still holds it
    a.copy(CapIndex(1), root, CapIndex(2))               # overwrite with the factory
    assert not gate.alive
    assert a.cap(CapIndex(1)).type == "factory"


def test_object_dies_with_its_last_counted_reference(kernel):
    root = kernel.root_task
    alive = kernel.objects_alive
    gate = kernel.root_factory.create_gate(root, CapIndex(40))
    a = new_task(kernel, 20)
    a.copy(CapIndex(1), root, CapIndex(40))
    assert gate.info().counted_refs == 2
    root.delete(CapIndex(40))
    assert gate.alive and gate.info().counted_refs == 1
    a.delete(CapIndex(1))
    assert not gate.alive
    root.delete(CapIndex(20))
    assert kernel.objects_alive == alive


def test_delete_obj_needs_d_and_kills_every_capability(kernel):
    root = kernel.root_task
    gate = kernel.root_factory.create_gate(root, CapIndex(40))
    a, b = new_task(kernel, 20), new_task(kernel, 21)
    a.copy(CapIndex(1), root, CapIndex(40), rights=R | W | S)   # without D
    b.copy(CapIndex(1), root, CapIndex(40))
    with pytest.raises(L4PermissionError):
        a.delete_obj(CapIndex(1))
    assert gate.alive and a.cap(CapIndex(1)) is not None
    root.delete_obj(CapIndex(40))
    assert not gate.alive
    assert a.cap(CapIndex(1)) is None and b.cap(CapIndex(1)) is None


def test_delete_of_an_empty_slot(kernel):
    with pytest.raises(L4NotFoundError):
        kernel.root_task.delete(CapIndex(999))
    with pytest.raises(L4NotFoundError):
        kernel.root_task.delete_obj(CapIndex(999))


def test_a_dying_task_releases_its_capabilities(kernel):
    root = kernel.root_task
    alive = kernel.objects_alive
    a = new_task(kernel, 20)
    gate = kernel.root_factory.create_gate(a, CapIndex(7))    # only a holds the gate
    assert gate.alive
    root.delete(CapIndex(20))
    assert not a.alive and not gate.alive
    assert kernel.objects_alive == alive


def test_a_long_chain_of_last_references_unwinds_without_recursion(kernel):
    root = kernel.root_task
    alive = kernel.objects_alive
    first = new_task(kernel, 20)
    t = first
    for _ in range(5000):   # each task holds the only capability to the next
        t = kernel.root_factory.create_task(t, CapIndex(1))
    assert kernel.objects_alive == alive + 5001
    root.delete(CapIndex(20))
    assert kernel.objects_alive == alive


def test_handles_to_dead_objects_refuse(kernel):
    a = new_task(kernel, 20)
    kernel.root_task.delete(CapIndex(20))
    assert not a.alive
    with pytest.raises(L4InvalidArgumentError):
        a.cap(CapIndex(1))
    with pytest.raises(L4NotFoundError):
        a.info()


def test_memory_grows_with_the_slots_used(kernel):
    f = kernel.root_factory
    child = f.create_factory(kernel.root_task, CapIndex(30), limit=1 << 20)
    t = child.create_task(kernel.root_task, CapIndex(31))
    used = child.quota.used
    t.insert(CapIndex(0), kernel.root_factory, R)
    assert child.quota.used == used + 4096 + 512          # one leaf, one directory
    t.insert(CapIndex(255), kernel.root_factory, R)
    assert child.quota.used == used + 4096 + 512          # same leaf
    t.insert(CapIndex(256), kernel.root_factory, R)
    assert child.quota.used == used + 2 * 4096 + 512      # next leaf, same directory
    t.insert(CapIndex((1 << 20) - 1), kernel.root_factory, R)
    assert child.quota.used == used + 3 * 4096 + 2 * 512
    assert t.caps_used() == 4
    kernel.root_task.delete(CapIndex(31))
    assert child.quota.used == 0                          # every table refunded


def test_full_quota_refuses_a_new_table_and_changes_nothing(kernel):
    child = kernel.root_factory.create_factory(kernel.root_task, CapIndex(30), limit=512 + 100)
    t = child.create_task(kernel.root_task, CapIndex(31))
    used = child.quota.used
    from pyl4re import L4NoMemoryError
    with pytest.raises(L4NoMemoryError):
        t.insert(CapIndex(0), kernel.root_factory, R)
    assert child.quota.used == used and t.caps_used() == 0
    assert kernel.root_factory.info().counted_refs == 1
