"""Property: random maps, grants, unmaps, revocations and task deaths across
sigma0 -> A -> B -> C keep the page tables and the mapping database in agreement. After
every step, every translation in every page table (vspace_translate) is backed by a
mapping-database node of that task at that page with at least those rights, and every node
of every frame's tree (mapdb_walk) is a translation with exactly its frames and rights;
mapdb_check finds nothing wrong; at the end, killing the tasks leaves sigma0's roots only
and gives back every byte they were charged."""
from hypothesis import HealthCheck, given, settings, strategies as st

from pyl4re import CapIndex, Kernel
from pyl4re.control import mem
from pyl4re.control import vspace as vspace_ctl
from pyl4re.l4sys import (
    L4_FP_ALL_SPACES, L4_FPAGE_CACHEABLE, L4_FPAGE_UNCACHEABLE, L4_MAP_ITEM_GRANT, l4_fpage,
    l4_map_control,
)
from pyl4re.objects import Task

SUPER = 1 << 21
VA_BASE = 0x400000                   # each task's window: two superpage slots from here
SPOTS = 32                           # 16 pages at the start of each of the two slots
RWX = 7
U = vspace_ctl.RIGHT_U

spot = st.integers(0, SPOTS - 1)
size = st.integers(0, 2)             # one page, two pages, a superpage
op = st.one_of(
    st.tuples(st.just("map"), st.integers(0, 3), st.integers(1, 3), spot, size,
              st.integers(0, 7), spot, st.booleans(),
              st.sampled_from([0, L4_FPAGE_CACHEABLE, L4_FPAGE_UNCACHEABLE])),
    st.tuples(st.just("unmap"), st.integers(0, 3), spot, size, st.integers(0, 7),
              st.booleans()),
    st.tuples(st.just("kill"), st.integers(1, 3)),
)


class Chain:
    def __init__(self, arch):
        self.k = k = Kernel(arch=arch, memory=16 << 20)
        self.ffi, self.lib = k._ffi, k._lib
        shifts = vspace_ctl.page_shifts(k)
        self.pshift, self.P = shifts[0], 1 << shifts[0]
        first = k.frames.stats()["sigma0_first_pfn"] << 12
        self.phys = (first + SUPER - 1) & ~(SUPER - 1)
        self.tasks = [Task(k, self.lib.kernel_sigma0(k._k).raw)]
        self.used_before = k.root_factory.quota.used
        self.slots = [None, 0x1001, 0x1002, 0x1003]
        for slot in self.slots[1:]:
            self.tasks.append(k.root_factory.create_task(k.root_task, CapIndex(slot)))
        self.out = self.ffi.new("struct vspace_page *")
        self.buf = self.ffi.new("struct mapdb_entry[]", 64)
        self.count = self.ffi.new("uint32_t *")

    def base(self, who):
        return self.phys if who == 0 else VA_BASE           # sigma0's window is 1:1

    def addr(self, who, spot_, order):
        a = self.base(who) + (spot_ // 16) * SUPER + (spot_ % 16) * self.P
        return a & ~((1 << order) - 1)

    def order(self, size_):
        return (self.pshift, self.pshift + 1, 21)[size_]

    def step(self, o):
        k = self.k
        if o[0] == "map":
            _, src, dst, s_spot, size_, rights, d_spot, grant, cache = o
            order = self.order(size_)
            fp = l4_fpage(self.addr(src, s_spot, order), order, rights)
            ctl = l4_map_control(self.addr(dst, d_spot, order), cache,
                                 L4_MAP_ITEM_GRANT if grant else 0)
            rc = mem.map_mem(k, self.tasks[dst].id, self.tasks[src].id, fp, ctl)
            assert rc >= 0                       # the root factory's quota has no limit
        elif o[0] == "unmap":
            _, who, spot_, size_, rights, all_spaces = o
            order = self.order(size_)
            fp = l4_fpage(self.addr(who, spot_, order), order, rights)
            assert mem.unmap_mem(k, self.tasks[who].id, fp,
                                 L4_FP_ALL_SPACES if all_spaces else 0) >= 0
        else:
            who = o[1]
            k.root_task.delete(CapIndex(self.slots[who]))
            self.tasks[who] = k.root_factory.create_task(k.root_task, CapIndex(self.slots[who]))

    def translate(self, task, va):
        if self.lib.vspace_translate(self.k._k, [task.id], [va], self.out) < 0:
            return None
        o = self.out
        return o.pa.raw, o.page_shift, o.rights

    def walk(self, pa):
        assert self.lib.mapdb_walk(self.k._k, [pa], self.buf, 64, self.count) == 0
        assert self.count[0] <= 64
        return [self.buf[i] for i in range(self.count[0])]

    def check(self):
        problem = mem.check(self.k)
        assert problem is None, problem
        # Page tables -> mapping database.
        for t in self.tasks:
            va, end = self.base(0 if t is self.tasks[0] else 1), None
            end = va + 2 * SUPER
            while va < end:
                tr = self.translate(t, va)
                if tr is None:
                    va += self.P
                    continue
                pa, shift, rights = tr
                page = va & ~((1 << shift) - 1)
                nodes = [e for e in self.walk(pa) if e.task.raw == t.id and e.va.raw == page]
                assert len(nodes) == 1, (t, hex(va))
                e = nodes[0]
                assert e.page_shift == shift and e.pa.raw == pa - (va - page)
                assert rights & ~e.rights == 0 and rights & U
                va = page + (1 << shift)
        # Mapping database -> page tables, frame by frame.
        for pa in range(self.phys, self.phys + 2 * SUPER, self.P):
            entries = self.walk(pa)
            for i, e in enumerate(entries):
                va = e.va.raw + (pa - e.pa.raw)
                tr = self.translate(Task(self.k, e.task.raw), va)
                assert tr is not None, (hex(pa), e.task.raw, hex(va))
                assert tr[0] == pa and tr[1] == e.page_shift and e.rights & ~tr[2] == 0
                if i == 0:
                    assert e.depth == 0 and e.va.raw == e.pa.raw and e.parent.raw == 0
                else:
                    assert e.depth >= 1 and e.parent.raw != 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                           HealthCheck.function_scoped_fixture])
# (`arch` is only the name of a build: nothing of it needs resetting between examples.)
@given(script=st.lists(op, min_size=1, max_size=15))
def test_page_tables_and_the_mapping_database_agree(arch, script):
    c = Chain(arch)
    for o in script:
        c.step(o)
        c.check()
    for who in (1, 2, 3):
        c.k.root_task.delete(CapIndex(c.slots[who]))
    assert all(e.depth == 0 for pa in range(c.phys, c.phys + 2 * SUPER, c.P)
               for e in c.walk(pa))
    assert mem.check(c.k) is None
    # Every node and table the tasks were charged came back (roots are sigma0's: free).
    assert c.k.root_factory.quota.used == c.used_before
