"""Harness-side handles on kernel objects: what a test holds to inspect and set up a system.

A handle names an object by its kernel id and asks the C core each time; it never keeps
a copy of kernel state, and it does not keep the object alive (a handle to a dead object
reports `alive == False`; `info()` raises `L4NotFoundError`, operations `L4Error`). µApps never get
these: they hold capability selectors and their UTCB only.
"""
from dataclasses import dataclass

from . import _args, _core
from .control import factory as factory_ctl
from .control import mem as mem_ctl
from .control import vspace as vspace_ctl
from .errors import L4NotFoundError, check
from .types import CapIndex, VirtAddr, accept, expect

_lib = _core.abi()

_KIND_NAMES = ("none", "task", "thread", "gate", "factory", "irq", "semaphore",
               "icu", "log", "scheduler", "debugger", "dma_space", "iommu")


@dataclass(frozen=True)
class ObjectInfo:
    """What the kernel knows of an object: its kind, counted references, quota charge."""
    type: str
    counted_refs: int
    charged: int
    factory_id: int


@dataclass(frozen=True)
class CapInfo:
    """One capability slot: the object it names and the rights it carries."""
    object_id: int
    type: str
    rights: int     # L4_CAP_FPAGE_{R,W,S,D}
    attrs: int      # CAP_COUNTED | L4_FPAGE_C_OBJ_RIGHT*

    @property
    def counted(self):
        return bool(self.attrs & _lib.CAP_COUNTED)


@dataclass(frozen=True)
class QuotaInfo:
    """A factory's budget in bytes; limit 0 means unlimited (the root factory)."""
    limit: int
    used: int
    valid: bool


class KernelObject:
    """A handle on one kernel object."""
    __slots__ = ("kernel", "id")

    def __init__(self, kernel, object_id):
        self.kernel = kernel
        self.id = _args.word(object_id, "object id")

    def info(self):
        k = self.kernel
        out = k._ffi.new("struct kobj_info *")
        check(k._lib.kobj_info(k._k, [self.id], out), f"{self!r}")
        return ObjectInfo(_KIND_NAMES[out.type], out.counted_refs, out.charged, out.factory.raw)

    @property
    def alive(self):
        return self.kernel._lib.kobj_info(self.kernel._k, [self.id],
                                          self.kernel._ffi.new("struct kobj_info *")) == 0

    @property
    def type(self):
        return self.info().type

    def __eq__(self, other):
        return (isinstance(other, KernelObject) and other.kernel is self.kernel
                and other.id == self.id)

    def __hash__(self):
        return hash((id(self.kernel), self.id))

    def __repr__(self):
        return f"<{type(self).__name__} id={self.id:#x}>"


class Task(KernelObject):
    """A task: its capability table can be inspected and, by the harness, populated."""
    __slots__ = ()

    def cap(self, index):
        """The capability at `index` (a CapIndex), or None if the slot is empty."""
        expect(index, CapIndex, "capability index")
        k = self.kernel
        out = k._ffi.new("struct cap_info *")
        rc = k._lib.cspace_lookup(k._k, [self.id], [index.value], out)
        if rc == -k._lib.L4_ENOENT:
            return None
        check(rc, f"lookup of {index!r} in {self!r}")
        return CapInfo(out.obj.raw, _KIND_NAMES[out.type], out.rights, out.attrs)

    def object_at(self, index):
        """A handle on the object the capability at `index` names."""
        info = self.cap(index)
        if info is None:
            raise L4NotFoundError(self.kernel._lib.L4_ENOENT, f"{self!r} slot {index!r} is empty")
        return self.kernel.object(info.object_id)

    def capabilities(self):
        """Every used slot of the capability table in index order, as graph.CapSlot
        records (index, object handle, kind, rights, attrs)."""
        from .graph import CapSlot, cap_slots
        k = self.kernel
        if not self.alive:
            raise L4NotFoundError(k._lib.L4_ENOENT, f"{self!r} is not a live task")
        return [CapSlot(CapIndex(index), k.object(obj), kind, rights, attrs)
                for index, obj, kind, rights, attrs in cap_slots(k, self.id)]

    def caps_used(self):
        return self.kernel._lib.cspace_slots_used(self.kernel._k, [self.id])

    def insert(self, index, obj, rights=_lib.L4_CAP_FPAGE_RWS, *, counted=True, obj_rights=0):
        """Give this task a new capability to `obj` (harness set-up; µApps map instead)."""
        expect(index, CapIndex, "capability index")
        k = self.kernel
        _args.instance(obj, KernelObject, "insert(obj)", k)
        _args.word(rights, "insert(rights)", hi=_lib.L4_CAP_FPAGE_RWSD)
        if _args.word(obj_rights, "insert(obj_rights)") & ~_lib.L4_FPAGE_C_OBJ_RIGHTS:
            raise ValueError(f"insert(obj_rights): {obj_rights:#x} has bits beside "
                             f"L4_FPAGE_C_OBJ_RIGHTS ({_lib.L4_FPAGE_C_OBJ_RIGHTS:#x})")
        attrs = (k._lib.CAP_COUNTED if counted else 0) | obj_rights
        check(k._lib.cspace_insert(k._k, [self.id], [index.value], [obj.id], rights, attrs),
              f"insert into {self!r} slot {index!r}")

    def copy(self, index, src_task, src_index, rights=_lib.L4_CAP_FPAGE_RWSD, ctl=0):
        """Copy src_task[src_index] here with rights reduced to `rights` and the control
        word attributes `ctl` (§5.2). Returns False if the result lacked R (nothing mapped)."""
        expect(index, CapIndex, "capability index")
        expect(src_index, CapIndex, "source capability index")
        k = self.kernel
        _args.instance(src_task, Task, "copy(src_task)", k)
        _args.word(rights, "copy(rights)", hi=_lib.L4_CAP_FPAGE_RWSD)
        _args.word(ctl, "copy(ctl)")
        rc = check(k._lib.cspace_copy(k._k, [self.id], [index.value], [src_task.id],
                                      [src_index.value], rights, ctl),
                   f"copy into {self!r} slot {index!r}")
        return rc == 0

    def delete(self, index):
        """Remove the capability; the object dies with its last counted reference."""
        expect(index, CapIndex, "capability index")
        k = self.kernel
        k._loop.settle_last_result()           # a held RunResult describes the state before
        check(k._lib.cspace_delete(k._k, [self.id], [index.value]),
              f"delete {self!r} slot {index!r}")

    def delete_obj(self, index):
        """Delete the object itself (needs the D right); every capability to it dies."""
        expect(index, CapIndex, "capability index")
        k = self.kernel
        k._loop.settle_last_result()           # a held RunResult describes the state before
        check(k._lib.cspace_delete_obj(k._k, [self.id], [index.value]),
              f"delete object at {self!r} slot {index!r}")

    @property
    def pt_root(self):
        """Physical address of the page table's root (PhysAddr), or None before the first
        mapping. With kernel.physmem it is all a walker of the architecture's format needs."""
        r = vspace_ctl.root(self.kernel, self)
        if isinstance(r, int):
            check(r, f"page table of {self!r}")
        return None if r is None else r[0]

    def translate(self, va):
        """(PhysAddr, page_size, rights) for the virtual address va (an int or a VirtAddr)
        as the page table holds them (rights: L4_FPAGE_{RO,W,X} bits), or None if nothing
        is mapped there."""
        va = accept(va, VirtAddr, "virtual address")
        page = vspace_ctl.lookup(self.kernel, self, va)
        if page == -_lib.L4_ENOENT:
            return None
        if isinstance(page, int):
            check(page, f"translate {va!r} in {self!r}")
        return page.pa, page.page_size, page.rights & _lib.VSPACE_RIGHTS_RWX

    def mappings(self):
        """This task's memory mappings in address order, as mapping-database records
        (control.mem.Mapping: va, pa, page_size, rights, depth, and the task and page it
        was mapped from). `control.mem.tree(kernel, pa)` gives a frame's whole tree."""
        records = mem_ctl.task_mappings(self.kernel, self.id)
        if isinstance(records, int):
            check(records, f"mappings of {self!r}")
        return records


class Factory(KernelObject):
    """A factory: creates objects charged to its kernel-memory quota."""
    __slots__ = ()

    @property
    def quota(self):
        k = self.kernel
        out = k._ffi.new("struct quota_info *")
        check(k._lib.factory_quota(k._k, [self.id], out), f"{self!r}")
        return QuotaInfo(out.limit, out.used, bool(out.valid))

    def create(self, proto, task, index, *, limit=None):
        """Create an object of protocol `proto` (L4_PROTO_TASK, ...) into task[index];
        returns its handle, or raises the L4Error the kernel would reply with."""
        expect(index, CapIndex, "capability index")
        _args.instance(task, Task, "the task to create into", self.kernel)
        _args.word(proto, "protocol", lo=-(1 << 63), hi=(1 << 63) - 1)
        if limit is not None:
            _args.word(limit, "factory limit")
        check(factory_ctl.create(self.kernel, self.id, proto, task.id, index.value,
                                 limit=limit), f"{self!r} create {proto}")
        return task.object_at(index)

    def create_task(self, task, index):
        return self.create(_lib.L4_PROTO_TASK, task, index)

    def create_thread(self, task, index):
        return self.create(_lib.L4_PROTO_THREAD, task, index)

    def create_vm(self, task, index):
        """A VM: a task whose address space is guest-physical (docs/vm.md)."""
        return self.create(_lib.L4_PROTO_VM, task, index)

    def create_gate(self, task, index):
        return self.create(_lib.L4_PROTO_KOBJECT, task, index)

    def create_factory(self, task, index, limit):
        return self.create(_lib.L4_PROTO_FACTORY, task, index, limit=limit)

    def create_irq(self, task, index):
        return self.create(_lib.L4_PROTO_IRQ_SENDER, task, index)

    def create_semaphore(self, task, index):
        return self.create(_lib.L4_PROTO_SEMAPHORE, task, index)


HANDLE_BY_KIND = {"task": Task, "factory": Factory}
