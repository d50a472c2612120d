"""The oracles that look between a fuzz µApp's ops: no capability gains rights through
map or grant, and after an unmap nothing derived from what was unmapped remains.

Capabilities have no reverse map (docs/design-notes.md), so the bound a capability must
stay within is kept here, by the fuzz case, from the capability tables around each op
that can move or remove capabilities or pages:

- every capability a map, grant or IPC item made may carry a right only if some
  capability to the same object carried it before (outside the root task, which never
  maps to a fuzz µApp); a slot named by an explicit `l4_task_map` of an object flexpage
  gets at most what the source window's capability to that object had, masked by the
  flexpage's rights (or'ed with what the slot held: Fiasco adds rights on a remap);
- after `l4_task_unmap` of an object flexpage with R (and L4_FP_ALL_SPACES) the window's
  slots no longer name the objects they named, and with L4_FP_DELETE_OBJ every object
  whose capability had D is dead; after an unmap of memory, no page another task got from
  a page wholly inside the flexpage keeps a revoked right (with R revoked: exists).

A violation is recorded (the first one) and raised by the case as a `rights` or `unmap`
finding once the run is over. The µApp calls `watch(op, after, refused)` around every op; only
the ops above look at the kernel, so the rest cost nothing, and an op l4sys refused
before the kernel saw it is expected to change nothing.
"""
from pyl4re.control import mem as mem_ctl

OBJ, MEM = 3, 1                      # flexpage types
CAP_R, CAP_D = 4, 8
U64 = (1 << 64) - 1
WALK = 256                           # capability slots read per cspace_walk call
MAP_API = 29                         # program.API's l4_task_map of an object flexpage


def _fpage(word):
    """(type, base, order, rights) of a flexpage word, the base aligned down to its size
    as the kernel does. For objects the order is clamped to the capability space (20)
    first and base is the first slot."""
    kind, order = word >> 4 & 3, word >> 6 & 0x3F
    if kind == OBJ:
        order = min(order, 20)
        return kind, (word >> 12) & ~((1 << order) - 1), order, word & 0xF
    return kind, word & ~((1 << min(order, 64)) - 1) & ~0xFFF & U64, order, word & 0xF


class Watch:
    """The between-ops oracles of one case; `for_app(i, task_id)` gives µApp i's hook."""

    def __init__(self, k, root_id):
        self.k, self.root = k, root_id
        self.tasks = []                  # the fuzz µApps' task ids
        self.problem = None              # (kind, detail) of the first violation
        self._before = {}
        self._spaces_seen = set()        # object ids seen as tasks or DMA spaces
        ffi, lib = k._ffi, k._lib
        self._buf = ffi.new("struct cap_entry[]", WALK)
        self._written, self._next = ffi.new("uint32_t *"), ffi.new("uint32_t *")
        self._space_types = (lib.KOBJ_TASK, lib.KOBJ_DMA_SPACE)

    def for_app(self, i):
        return lambda op, after, refused=False: self.observe(i, op, after, refused)

    # ---- looking at the kernel
    def _caps(self, task_id):
        """{index: (object id, rights)} of a task ({} for a dead one or a DMA space); as
        graph.cap_slots, with one buffer for the whole case (this runs often)."""
        lib, buf, written, nxt = self.k._lib, self._buf, self._written, self._next
        out, start = {}, 0
        while start < lib.CSPACE_SLOTS:
            if lib.cspace_walk(self.k._k, [task_id], start, buf, WALK, written, nxt) < 0:
                return {}
            for e in buf[0:written[0]]:
                obj = e.cap.obj.raw
                out[e.index] = (obj, e.cap.rights)
                if e.cap.type in self._space_types:
                    self._spaces_seen.add(obj)
            start = nxt[0]
        return out

    def _spaces(self):
        """Every live task the fuzz µApps reach (their own, and what they hold)."""
        seen, todo, out = {self.root}, list(self.tasks), {}
        while todo:
            t = todo.pop()
            if t in seen:
                continue
            seen.add(t)
            caps = self._caps(t)                # empty for a DMA space: it holds none
            out[t] = caps
            todo += [obj for obj, _ in caps.values() if self._is_space(obj)]
        return out

    def _is_space(self, obj):
        return obj in self._spaces_seen

    def _task_of(self, me, sel):
        obj = self._caps(me).get(sel >> 12 & 0xFFFFF)
        return obj[0] if obj and self._is_space(obj[0]) else None

    @staticmethod
    def _held(spaces):
        """Per object, the rights some capability to it carries."""
        rights = {}
        for caps in spaces.values():
            for obj, r in caps.values():
                rights[obj] = rights.get(obj, 0) | r
        return rights

    def _fail(self, kind, detail):
        if self.problem is None:
            self.problem = (kind, detail)

    # ---- the hook
    def observe(self, i, op, after, refused=False):
        if self.problem is not None or i >= len(self.tasks):
            return
        name = op[0]
        moves = (name == "map" and _fpage(op[3])[0] == OBJ
                 or name in ("ipc", "invoke") and op[6]
                 or name == "api" and op[1] == MAP_API)
        removes = name == "unmap"
        if not (moves or removes):
            return
        me = self.tasks[i]
        if not after:
            spaces = self._spaces()
            extra = None
            if removes:
                task = self._task_of(me, op[1])
                extra = (task, mem_ctl.task_mappings(self.k, task) if task else [])
            elif name == "map":
                extra = (self._task_of(me, op[1]), self._task_of(me, op[2]))
            self._before[i] = (spaces, extra)
            return
        spaces, extra = self._before.pop(i, (None, None))
        if spaces is None or refused:
            return                      # refused before the kernel: nothing to expect
        if moves:
            self._check_moves(op, spaces, extra)
        else:
            self._check_unmap(op, spaces, extra)

    def _check_moves(self, op, before, extra):
        held = self._held(before)
        now = self._spaces()
        for task, caps in now.items():
            old = before.get(task, {})
            for idx, (obj, rights) in caps.items():
                prev = old.get(idx)
                gained = rights & ~(prev[1] if prev and prev[0] == obj else 0)
                if not gained or obj not in held:
                    continue            # unchanged, or an object made meanwhile
                if gained & ~held[obj]:
                    self._fail("rights", f"op {op!r}: task {task:#x} slot {idx:#x} got "
                               f"rights {rights:#x} to object {obj:#x}; no capability to it "
                               f"had more than {held[obj]:#x}")
                    return
        if op[0] != "map" or extra is None or None in extra:
            return
        dst, src = extra
        kind, first, order, frights = _fpage(op[3])
        window = {obj: 0 for obj, _ in before.get(src, {}).values()}
        for idx, (obj, r) in before.get(src, {}).items():
            if first <= idx < first + (1 << order):
                window[obj] |= r & frights
        old = before.get(dst, {})
        for idx, (obj, rights) in now.get(dst, {}).items():
            prev = old.get(idx)
            had = prev[1] if prev and prev[0] == obj else 0
            if rights == had or not window.get(obj):
                continue                # untouched, or not from this map's window
            if rights & ~(had | window[obj]):
                self._fail("rights", f"op {op!r}: slot {idx:#x} of task {dst:#x} has "
                           f"rights {rights:#x}, more than its source's {window[obj]:#x} "
                           f"(with the flexpage's rights) and the {had:#x} it had")
                return

    def _check_unmap(self, op, before, extra):
        task, own_maps = extra
        if task is None:
            return
        kind, base, order, frights = _fpage(op[2])
        mask = op[3]
        if kind == OBJ:
            first, n = base, 1 << order
            window = {idx: v for idx, v in before.get(task, {}).items()
                      if first <= idx < first + n}
            if (mask & 0xC0000000) == 0xC0000000:
                for idx, (obj, rights) in window.items():
                    if rights & CAP_D and self._alive(obj):
                        self._fail("unmap", f"op {op!r}: object {obj:#x} (slot {idx:#x}, "
                                   "with D) outlived its delete")
                        return
            elif mask & 0x80000000 and frights & CAP_R:
                now = self._caps(task)
                for idx, (obj, _) in window.items():
                    if now.get(idx, (None,))[0] == obj:
                        self._fail("unmap", f"op {op!r}: slot {idx:#x} of task {task:#x} "
                                   f"still names object {obj:#x} after its unmap")
                        return
        elif kind == MEM and frights & 7 and order >= 12:
            end = base + (1 << min(order, 64))
            wholly = {m.va.value: m for m in own_maps
                      if base <= m.va.value and m.va.value + m.page_size <= end}
            if not wholly:
                return
            for other in self._spaces():
                if other == task:
                    continue
                maps = mem_ctl.task_mappings(self.k, other)
                for m in maps if not isinstance(maps, int) else ():
                    if m.parent_task_id != task or m.parent_va.value not in wholly:
                        continue
                    if frights & 4 or m.rights & frights & 3:
                        self._fail("unmap", f"op {op!r}: task {other:#x} keeps {m!r}, "
                                   f"derived from task {task:#x}'s unmapped page")
                        return

    def _alive(self, obj):
        return self.k._lib.kobj_info(self.k._k, [obj], self.k._ffi.new("struct kobj_info *")) == 0
