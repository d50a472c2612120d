"""Who holds what: the capability and mapping graph of a kernel, and authority queries on it.

`k.graph()` is a networkx MultiDiGraph of every live object (tasks, threads, gates, Irqs,
factories, the singletons) and every mapped frame range, with edges for capabilities
(rights), memory mappings (rights, virtual address), gate and Irq bindings, the task a
thread runs in, and each thread's pager and exception handler. `to_dot` and `to_json`
export it.

The authority queries follow capDL's way of reasoning (and take-grant's before it): a task
can use what it holds; and what another task holds can reach it along the channels that
carry capabilities and memory: an IPC message or its reply (both may carry map items),
and a task capability (l4_task_map works in both directions). Trusted tasks (sigma0 and
the root task, by default) are assumed never to pass on what they hold, as capDL assumes
of the components it trusts. What this module must not do: change anything in the kernel;
it reads a snapshot of the state at the time of the query.
"""
import json
from dataclasses import dataclass, field

import networkx as nx

from . import _core
from .control import mem as mem_ctl
from .errors import L4NotFoundError, check
from .objects import _KIND_NAMES
from .trace import name_of
from .types import CapIndex, PhysAddr

_lib = _core.abi()

KINDS = _KIND_NAMES                  # one table of kind names: objects.py
_WALK_BATCH = 256


def cap_rights(r):
    """"rwsd"-style text of capability rights (L4_CAP_FPAGE_{R,W,S,D})."""
    return "".join(c for c, b in zip("rwsd", (_lib.L4_CAP_FPAGE_R, _lib.L4_CAP_FPAGE_W,
                                              _lib.L4_CAP_FPAGE_S, _lib.L4_CAP_FPAGE_D))
                   if r & b) or "-"


def mem_rights(r):
    """"rwx"-style text of memory rights (L4_FPAGE_{RO,W,X})."""
    return "".join(c for c, b in zip("rwx", (_lib.L4_FPAGE_RO, _lib.L4_FPAGE_W, _lib.L4_FPAGE_X))
                   if r & b) or "-"


@dataclass(frozen=True)
class CapSlot:
    """One used capability slot: its index, the object (a handle), its kind, its rights
    (L4_CAP_FPAGE_{R,W,S,D}) and attribute bits (counted, server/object rights)."""
    index: CapIndex
    object: object
    kind: str
    rights: int
    attrs: int

    @property
    def rights_text(self):
        return cap_rights(self.rights)


def cap_slots(k, task_id):
    """(index, object id, kind, rights, attrs) of every used slot of a task, by index."""
    ffi, lib = k._ffi, k._lib
    buf = ffi.new("struct cap_entry[]", _WALK_BATCH)
    written, nxt = ffi.new("uint32_t *"), ffi.new("uint32_t *")
    out, start = [], 0
    while start < lib.CSPACE_SLOTS:
        check(lib.cspace_walk(k._k, [task_id], start, buf, _WALK_BATCH, written, nxt),
              f"capabilities of task {task_id:#x}")
        for e in buf[0:written[0]]:
            out.append((e.index, e.cap.obj.raw, KINDS[e.cap.type], e.cap.rights, e.cap.attrs))
        start = nxt[0]
    return out


def live_objects(k):
    """The ids of every live object, in table order."""
    n = k._lib.kobj_live_count(k._k)
    buf = k._ffi.new("kobj_id_t[]", max(n, 1))
    k._lib.kobj_list(k._k, buf, n)
    return [buf[i].raw for i in range(n)]


@dataclass
class Facts:
    """One snapshot of who holds what, read from the kernel at once."""
    kinds: dict = field(default_factory=dict)       # object id -> kind
    names: dict = field(default_factory=dict)       # object id -> name or None
    caps: dict = field(default_factory=dict)        # task id -> [(index, obj, kind, rights, attrs)]
    mappings: dict = field(default_factory=dict)    # task id -> [control.mem.Mapping]
    thread_task: dict = field(default_factory=dict)  # thread id -> task id (0: unbound)
    pagers: dict = field(default_factory=dict)      # thread id -> (pager obj, exc handler obj)
    bound: dict = field(default_factory=dict)       # gate/irq id -> (thread id, label)
    created_by: dict = field(default_factory=dict)  # object id -> factory id


def facts(k):
    f = Facts()
    ffi, lib = k._ffi, k._lib
    info = ffi.new("struct kobj_info *")
    tinfo = ffi.new("struct thread_info *")
    ginfo, iinfo = ffi.new("struct gate_info *"), ffi.new("struct irq_info *")
    sigma0 = lib.kernel_sigma0(k._k).raw
    for oid in live_objects(k):
        lib.kobj_info(k._k, [oid], info)
        kind = f.kinds[oid] = KINDS[info.type]
        f.names[oid] = ("sigma0" if oid == sigma0 else k._harness.task_name(oid)
                        if kind == "task" else name_of(k, oid))
        if info.factory.raw:
            f.created_by[oid] = info.factory.raw
        if kind == "task":
            f.caps[oid] = cap_slots(k, oid)
            f.mappings[oid] = mem_ctl.task_mappings(k, oid)
        elif kind == "thread":
            lib.thread_info(k._k, [oid], tinfo)
            f.thread_task[oid] = tinfo.task.raw
            f.pagers[oid] = (tinfo.pager, tinfo.exc_handler)
        elif kind == "gate" and lib.gate_info(k._k, [oid], ginfo) == 0 and ginfo.thread.raw:
            f.bound[oid] = (ginfo.thread.raw, ginfo.label)
        elif kind == "irq" and lib.irq_info(k._k, [oid], iinfo) == 0 and iinfo.thread.raw:
            f.bound[oid] = (iinfo.thread.raw, iinfo.label)
    # Pager and exception handler are selectors the thread's task resolves at use.
    for tid, (pager, exc) in f.pagers.items():
        slots = {index: obj for index, obj, *_ in f.caps.get(f.thread_task[tid], ())}
        f.pagers[tid] = tuple(slots.get(sel >> _lib.L4_CAP_SHIFT) for sel in (pager, exc))
    return f


def frame_node(m):
    return ("frame", m.pa.value, m.page_size)


def graph(k):
    """The kernel's objects and frames as a networkx MultiDiGraph (see the module doc)."""
    f = facts(k)
    g = nx.MultiDiGraph(arch=k.arch)
    for oid, kind in f.kinds.items():
        g.add_node(oid, kind=kind, name=f.names[oid] or f"{kind}#{oid:x}")
    for task, slots in f.caps.items():
        for index, obj, kind, rights, attrs in slots:
            g.add_edge(task, obj, key=f"cap:{index:#x}", kind="cap", index=index,
                       rights=rights, rights_text=cap_rights(rights), attrs=attrs)
    for task, maps in f.mappings.items():
        for m in maps:
            node = frame_node(m)
            if node not in g:
                g.add_node(node, kind="frame", name=f"frame {m.pa.value:#x}+{m.page_size:#x}",
                           pa=m.pa.value, size=m.page_size)
            g.add_edge(task, node, key=f"map:{m.va.value:#x}", kind="map", va=m.va.value,
                       rights=m.rights & _lib.L4_FPAGE_RWX,
                       rights_text=mem_rights(m.rights), depth=m.depth)
    for tid, task in f.thread_task.items():
        if task:
            g.add_edge(tid, task, key="task", kind="task")
        for role, obj in zip(("pager", "exc_handler"), f.pagers[tid]):
            if obj is not None:
                g.add_edge(tid, obj, key=role, kind=role)
    for obj, (tid, label) in f.bound.items():
        g.add_edge(obj, tid, key="bound", kind="bound", label=label)
    for obj, factory in f.created_by.items():
        if factory in g:
            g.add_edge(factory, obj, key="created", kind="created")
    return g


def _node_id(node):
    return (f"frame_{node[1]:x}_{node[2]:x}" if isinstance(node, tuple) else f"obj_{node:x}")


def to_dot(g):
    """Graphviz DOT text of a graph from `graph()` (frames as boxes, edges labelled)."""
    shapes = {"task": "folder", "thread": "ellipse", "gate": "diamond", "irq": "octagon",
              "factory": "house", "frame": "box"}
    lines = [f'digraph "pyl4re {g.graph.get("arch", "")}" {{', "  rankdir=LR;"]
    for node, data in g.nodes(data=True):
        label = f"{data['kind']}: {data['name']}".replace('"', r'\"')
        lines.append(f'  {_node_id(node)} [label="{label}", '
                     f'shape={shapes.get(data["kind"], "plaintext")}];')
    for a, b, data in g.edges(data=True):
        kind = data["kind"]
        text = kind
        if kind == "cap":
            text = f"cap {data['index']:#x} {data['rights_text']}"
        elif kind == "map":
            text = f"map {data['va']:#x} {data['rights_text']}"
        style = ", style=dashed" if kind in ("created", "task") else ""
        lines.append(f'  {_node_id(a)} -> {_node_id(b)} [label="{text}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_json(g):
    """JSON text of a graph from `graph()`: {"arch", "nodes": [...], "edges": [...]}, node
    ids as strings ("obj_<id hex>", "frame_<pa hex>_<size hex>")."""
    nodes = [{"id": _node_id(n), **d} for n, d in g.nodes(data=True)]
    edges = [{"source": _node_id(a), "target": _node_id(b), "key": key, **d}
             for a, b, key, d in g.edges(keys=True, data=True)]
    return json.dumps({"arch": g.graph.get("arch"), "nodes": nodes, "edges": edges},
                      sort_keys=True, indent=1)


# ---- authority


@dataclass(frozen=True)
class Grant:
    """An object a task can invoke: the rights it can get, and `via`: the tasks the
    capability travels through to reach it (empty: it holds it now)."""
    object_id: int
    kind: str
    rights: int
    via: tuple

    @property
    def rights_text(self):
        return cap_rights(self.rights)


@dataclass(frozen=True)
class MemoryGrant:
    """Physical memory a task can access: [pa, pa + size) with rights (L4_FPAGE_{RO,W,X}),
    where the holder maps it (`va` in the task named first in `via`, else its own)."""
    pa: PhysAddr
    size: int
    rights: int
    va: int
    via: tuple

    @property
    def end(self):
        return self.pa.value + self.size

    @property
    def rights_text(self):
        return mem_rights(self.rights)


@dataclass(frozen=True)
class SharedMemory:
    """Physical memory two tasks can both reach, with the rights of each."""
    pa: PhysAddr
    size: int
    rights_a: int
    rights_b: int

    def __str__(self):
        return (f"{self.pa!r}+{self.size:#x} ({mem_rights(self.rights_a)} / "
                f"{mem_rights(self.rights_b)})")


@dataclass
class Authority:
    """What one task can use: `objects` (object id -> Grant) and `memory` (MemoryGrants)."""
    task_id: int
    name: str
    objects: dict
    memory: list

    def can_reach(self, target):
        """True if the task can invoke the object (a handle or an id) or access the
        PhysAddr."""
        if isinstance(target, PhysAddr):
            return any(m.pa.value <= target.value < m.end for m in self.memory)
        return _object_id(target) in self.objects

    def can_write(self, pa):
        return any(m.pa.value <= pa.value < m.end and m.rights & _lib.L4_FPAGE_W
                   for m in self.memory)

    def shared_memory(self, other):
        """The physical ranges this task and `other` (an Authority) can both access."""
        out = []
        for a in self.memory:
            for b in other.memory:
                lo, hi = max(a.pa.value, b.pa.value), min(a.end, b.end)
                if lo < hi:
                    out.append(SharedMemory(PhysAddr(lo), hi - lo, a.rights, b.rights))
        return _merge_shared(out)

    def __str__(self):
        lines = [f"authority of {self.name}:"]
        for g in sorted(self.objects.values(), key=lambda g: g.object_id):
            via = f" via {' -> '.join(g.via)}" if g.via else ""
            lines.append(f"  {g.kind} {g.object_id:#x} {g.rights_text}{via}")
        for m in sorted(self.memory, key=lambda m: m.pa.value):
            via = f" via {' -> '.join(m.via)}" if m.via else ""
            lines.append(f"  memory {m.pa!r}+{m.size:#x} {m.rights_text} at {m.va:#x}{via}")
        return "\n".join(lines)


def _merge_shared(items):
    seen, out = set(), []
    for s in sorted(items, key=lambda s: (s.pa.value, s.size)):
        key = (s.pa.value, s.size)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _object_id(target):
    for attr in ("task", "object"):            # a harness TaskHandle, a Capability
        inner = getattr(target, attr, None)
        if inner is not None and hasattr(inner, "id"):
            return inner.id
    if hasattr(target, "id"):
        return target.id
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    raise TypeError(f"expected a kernel object handle, a started task or an object id, "
                    f"not {type(target).__name__}")


class AuthorityModel:
    """The flows of authority between tasks in one snapshot (see the module doc)."""

    def __init__(self, k, trusted=None):
        self.k = k
        self.f = facts(k)
        self.trusted = ({k.root_task.id, k._lib.kernel_sigma0(k._k).raw} if trusted is None
                        else {_object_id(t) for t in trusted})
        self._inflow = self._flows()

    def task_of(self, target, what="task"):
        oid = _object_id(target)
        kind = self.f.kinds.get(oid)
        if kind is None:
            raise L4NotFoundError(self.k._lib.L4_ENOENT,
                                  f"{what} {oid:#x} is not a live object (deleted?)")
        if kind != "task":
            raise TypeError(f"{what} {oid:#x} is a {kind}, not a task")
        return oid

    def name(self, task):
        return self.f.names.get(task) or f"task#{task:x}"

    def _receivers(self, obj):
        """The task that gets what is sent to obj: a gate's bound thread's, a thread's."""
        f = self.f
        kind = f.kinds.get(obj)
        if kind == "gate" and obj in f.bound:
            return f.thread_task.get(f.bound[obj][0]) or None
        if kind == "thread":
            return f.thread_task.get(obj) or None
        return None

    def sends_to(self, task):
        """The tasks `task` can send an IPC message to (through gates or thread caps)."""
        out = set()
        for _, obj, kind, _, _ in self.f.caps.get(task, ()):
            dest = self._receivers(obj)
            if dest and dest != task:
                out.add(dest)
        return out

    def _flows(self):
        """task -> the tasks whose holdings can pass to it in one step."""
        inflow = {t: set() for t in self.f.caps}
        for a in self.f.caps:
            for b in self.sends_to(a):
                inflow[b].add(a)             # a's message carries a's items to b
                inflow[a].add(b)             # b's reply carries b's items to a
            for _, obj, kind, _, _ in self.f.caps[a]:
                if kind == "task" and obj != a and obj in inflow:
                    inflow[a].add(obj)       # l4_task_map from obj into a
                    inflow[obj].add(a)       # and from a into obj
                elif kind == "thread":
                    owner = self.f.thread_task.get(obj)
                    if owner and owner != a and owner in inflow:
                        inflow[a].add(owner)  # controlling its thread is acting as it
        return inflow

    def can_reach(self, task, target):
        """Authority.can_reach, after checking that an object target is alive."""
        if not isinstance(target, PhysAddr):
            oid = _object_id(target)
            if oid not in self.f.kinds:
                raise L4NotFoundError(self.k._lib.L4_ENOENT,
                                      f"object {oid:#x} is not a live object (deleted?)")
        return self.authority(task).can_reach(target)

    def authority(self, task):
        task = self.task_of(task)
        # Breadth first over the inflows: the shortest way each source's holdings come.
        via = {task: ()}
        queue = [task]
        while queue:
            t = queue.pop(0)
            if t != task and t in self.trusted:
                continue                      # trusted tasks pass nothing on
            for src in sorted(self._inflow.get(t, ())):
                if src not in via and src not in self.trusted:
                    via[src] = (self.name(src),) + via[t]
                    queue.append(src)
        objects, memory = {}, []
        for src, path in via.items():
            for _, obj, kind, rights, _ in self.f.caps.get(src, ()):
                g = objects.get(obj)          # sources come nearest first: keep that way
                objects[obj] = (Grant(obj, kind, rights, path) if g is None
                                else Grant(obj, kind, g.rights | rights, g.via))
            for m in self.f.mappings.get(src, ()):
                memory.append(MemoryGrant(m.pa, m.page_size, m.rights & _lib.L4_FPAGE_RWX,
                                          m.va.value, path))
        return Authority(task, self.name(task), objects, memory)


@dataclass
class ConfinementReport:
    """Who can write which memory and who can send to whom, over every untrusted task."""
    names: dict                 # task id -> name
    authorities: dict           # task id -> Authority
    sends: dict                 # task id -> set of task ids it can send to
    trusted: set

    def writers(self, pa):
        """The tasks that can write the byte at PhysAddr pa."""
        return {t for t, a in self.authorities.items() if a.can_write(pa)}

    def shared_memory(self, a, b):
        return self.authorities[_object_id(a)].shared_memory(self.authorities[_object_id(b)])

    def can_send(self, a, b):
        return _object_id(b) in self.sends.get(_object_id(a), ())

    def writable_memory(self):
        """[(pa, size, {task ids that can write it})] over disjoint pieces of memory."""
        edges = sorted({x for a in self.authorities.values() for m in a.memory
                        if m.rights & _lib.L4_FPAGE_W for x in (m.pa.value, m.end)})
        out = []
        for lo, hi in zip(edges, edges[1:]):
            who = self.writers(PhysAddr(lo))
            if who:
                if out and out[-1][0].value + out[-1][1] == lo and out[-1][2] == who:
                    out[-1] = (out[-1][0], out[-1][1] + hi - lo, who)
                else:
                    out.append((PhysAddr(lo), hi - lo, who))
        return out

    def __str__(self):
        name = self.names.get
        lines = ["who can send to whom:"]
        for t in sorted(self.sends):
            to = ", ".join(sorted(name(d, f"{d:#x}") for d in self.sends[t])) or "-"
            lines.append(f"  {name(t)} -> {to}")
        lines.append("who can write which memory:")
        for pa, size, who in self.writable_memory():
            flag = "  SHARED" if len(who) > 1 else ""
            lines.append(f"  {pa!r}+{size:#x}: {', '.join(sorted(name(t) for t in who))}{flag}")
        return "\n".join(lines)


def confinement_report(k, trusted=None):
    model = AuthorityModel(k, trusted)
    tasks = [t for t in model.f.caps if t not in model.trusted]
    return ConfinementReport(
        names={t: model.name(t) for t in model.f.caps},
        authorities={t: model.authority(t) for t in tasks},
        sends={t: model.sends_to(t) for t in tasks}, trusted=set(model.trusted))
