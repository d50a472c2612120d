"""The syscall fuzzer (pyl4re.fuzz): a fixed set of its cases as a regression run on every
architecture, the shrinker, the reproducer scripts and the command line."""
import io
import os
import subprocess
import sys

import pytest

from pyl4re import Kernel, _core
from pyl4re.fuzz import campaign, case, coverage, mutate, program, shrink
from pyl4re.fuzz.watch import Watch
from pyl4re.l4sys import L4_FP_ALL_SPACES, L4_FP_DELETE_OBJ
from pyl4re.types import CapIndex

R, W, S, D = 4, 1, 2, 8                       # L4_CAP_FPAGE_R / W / S / D

# Per architecture: ~10 000 invocations, about a second; under CI (CI set) 2 000 cases,
# ~120 000 invocations, in the normal and (tests/test_sanitized.py) the sanitized build.
CASES = 2000 if os.environ.get("CI") else 150


def test_fuzz_cases_find_nothing(arch):
    """The same seeds every run: what the fuzzer once found stays fixed."""
    result = campaign.campaign(arch, seconds=600, max_cases=CASES)
    assert result["cases"] == CASES
    assert result["invocations"] > 20 * CASES
    assert result["findings"] == []


def test_cases_are_plain_data_drawn_from_the_seed(arch):
    a, b = case.draw(arch, 7), case.draw(arch, 7)
    assert a == b and a != case.draw(arch, 8)
    assert eval(repr(a)) == a                       # what a reproducer script holds


def test_a_case_runs_the_same_way_twice(arch):
    c = case.draw(arch, 3)
    assert case.run(c) == case.run(c)


def test_shrink_keeps_only_what_the_finding_needs(arch, monkeypatch):
    """With an oracle that fails whenever one marked op is run, the shrunk case holds
    that op and nothing else."""
    c = case.draw(arch, 11)
    c["programs"][1].insert(len(c["programs"][1]) // 2, MARKED)
    small = _shrunk_with_marked_op_failing(c, monkeypatch)
    assert [op for p in small["programs"] for op in p] == [MARKED]
    assert small["events"] == []


MARKED = ("sleep", 299)


def _shrunk_with_marked_op_failing(c, monkeypatch):
    """The shrinker's result for `c` with an oracle that fails whenever MARKED runs."""
    def run(cand, stats=None):
        if any(MARKED in p for p in cand["programs"]):
            raise case.Finding("crash", "marked op ran")
        return stats
    monkeypatch.setattr(case, "run", run)
    return shrink.shrink(c, "crash")


def test_a_reproducer_is_a_script_that_replays_the_case(arch, tmp_path):
    c = case.draw(arch, 5)
    path = tmp_path / "repro.py"
    path.write_text(shrink.reproducer(c, case.Finding("crash", "example")))
    root = os.path.dirname(os.path.dirname(os.path.abspath(case.__file__)))
    env = {**os.environ, "PYTHONPATH": os.path.dirname(root)}     # this checkout's pyl4re
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "no finding" in out.stdout


def test_findings_are_reported_with_a_reproducer(arch, tmp_path, monkeypatch, capsys):
    real_run = case.run

    def run(c, stats=None):
        if c["seed"] == 2:
            raise case.Finding("invariant", "made up for the test")
        return real_run(c, stats)
    monkeypatch.setattr(case, "run", run)
    assert campaign.main(["--arch", arch, "--seconds", "0.3", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "invariant: made up for the test" in out
    assert list(tmp_path.glob(f"fuzz_{arch}_2_invariant.py"))


def test_the_command_line(arch, tmp_path, capsys):
    assert campaign.main(["--arch", arch, "--seconds", "0.3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{arch}:" in out and "invocations" in out and "0 finding(s)" in out
    with pytest.raises(SystemExit):
        campaign.main(["--arch", "vax"])


# ---- the ops reach every object kind the spec lists (docs/fuzzing.md, "What is reached")

def test_every_op_and_api_call_is_drawn_and_runs(arch):
    """Over the fixed seeds every op kind, every API adapter and every flexpage type
    (memory, I/O, objects) is drawn, and a program of each API call in turn, with valid
    and garbage arguments, finds nothing."""
    ops = [op for seed in range(40) for p in case.draw(arch, seed)["programs"] for op in p]
    assert {op[0] for op in ops} >= set(program.OPS)
    assert {op[1] % len(program.API) for op in ops if op[0] == "api"} == \
        set(range(len(program.API)))
    assert {op[3] >> 4 & 3 for op in ops if op[0] == "map"} >= {1, 2, 3}
    held = (0x40 << 12, 0x41 << 12, 0x42 << 12, 0x3000)
    calls = [("api", i, held[i % 4], held[(i + 1) % 4], w, t)
             for w, t in ((0x10, 0x30000), (7, 5), ((1 << 64) - 1, 0))
             for i in range(len(program.API))]
    c = {"arch": arch, "seed": 0, "cpus": 1, "prios": [1, 1],
         "programs": [calls, [("io", 1, 1, 0x3F8, 0x41), ("vcpu", 0x5A, 0x16000, 3, 0, 1, 1)]],
         "events": [[10_000, "dma", 0, 0x800], [20_000, "msi", 1, 7], [30_000, "dma", 0, 5]]}
    case.run(c)


# ---- the oracles: the reference audit (check_invariants) and the between-ops watch

def _kernel_with_app(arch):
    k = Kernel(arch=arch, memory=16 << 20, log_stream=io.StringIO())

    async def idle(env):
        return 0
    h = k.start_task(idle, name="app")
    gate = k.root_task.object_at(CapIndex(k.create_gate().index))
    w = Watch(k, k.root_task.id)
    w.tasks = [h.task.id]
    return k, h.task, gate, w


def test_the_reference_audit_follows_every_holder_of_a_count(arch):
    """Counted and uncounted slots, a thread bound to its task, a gate bound to a thread,
    and dec_refcnt (which moves the count without a reference) all keep the audit
    quiet, before and after the references go."""
    k, task, gate, _ = _kernel_with_app(arch)
    thread = k.root_task.object_at(CapIndex(k._harness.next_root - 1))
    task.insert(CapIndex(0x40), gate, counted=True)
    task.insert(CapIndex(0x41), gate, counted=False)
    task.insert(CapIndex(0x42), gate, counted=True)
    gate_id = gate.id
    refs = gate.info().counted_refs
    k.check_invariants()
    res = k._ffi.new("int64_t *")
    assert k._lib.kobj_dec_refcnt(k._k, [gate_id], refs + 5, res) == 0 and res[0] == -5
    k.check_invariants()                      # the count is below 0, the references are not
    task.delete(CapIndex(0x40))
    task.delete(CapIndex(0x42))               # the count goes on down (as in Fiasco)
    k.check_invariants()
    assert gate.alive and gate.info().counted_refs == -7
    assert k._lib.kobj_dec_refcnt(k._k, [gate_id], -10, res) == 0 and res[0] == 3
    k.check_invariants()
    assert thread.info().counted_refs >= 1
    k.run(max_steps=100)
    k.check_invariants()


def test_the_reference_audit_finds_a_count_no_reference_explains(arch):
    """A count moved with no reference and no dec_refcnt behind it (check_skew_refs, the
    audit's test hook), one too many or one too few, is reported by check_invariants,
    and the fuzzer files it as a "refcount" finding; put right, the audit is quiet."""
    from pyl4re.kernel import KernelInvariantError
    k, task, gate, _ = _kernel_with_app(arch)
    task.insert(CapIndex(0x40), gate, counted=True)
    k.check_invariants()
    for delta in (1, -1):
        assert k._lib.check_skew_refs(k._k, [gate.id], delta) == 0
        with pytest.raises(KernelInvariantError) as err:
            k.check_invariants()
        assert f"{gate.id:#x}" in str(err.value) and "reference count" in str(err.value)
        assert case._invariant_kind(err.value) == "refcount"
        assert k._lib.check_skew_refs(k._k, [gate.id], -delta) == 0
        k.check_invariants()
    # An object whose count drops below 0 this way is not killed: the slots still name
    # it, and the audit sees the counted references the count lacks.
    refs = gate.info().counted_refs
    assert k._lib.check_skew_refs(k._k, [gate.id], -refs - 5) == 0
    assert gate.info().counted_refs == -5 and task.cap(CapIndex(0x40)) is not None
    with pytest.raises(KernelInvariantError, match="reference count -5 "):
        k.check_invariants()
    assert k._lib.check_skew_refs(k._k, [gate.id], refs + 5) == 0
    k.check_invariants()
    assert k._lib.check_skew_refs(k._k, [0xDEAD << 32 | 7], 1) < 0      # no such object


def test_the_watch_finds_a_right_no_capability_had(arch):
    k, task, gate, w = _kernel_with_app(arch)
    task.insert(CapIndex(0x40), gate, rights=R)
    op = ("ipc", 0x40 << 12, 3, 0, 0, 0, 1, 0, 0)            # an IPC with a map item
    w.observe(0, op, False)
    task.insert(CapIndex(0x41), gate, rights=R | W | S)      # as if the item amplified
    w.observe(0, op, True)
    assert w.problem and w.problem[0] == "rights" and "no capability" in w.problem[1]


def test_the_watch_bounds_a_map_by_its_source_and_flexpage(arch):
    k, task, gate, w = _kernel_with_app(arch)
    task.insert(CapIndex(0x40), gate, rights=R | W | S)
    fpage = 0x40 << 12 | 3 << 4 | R                          # the source slot, R only
    op = ("map", 0x1000, 0x1000, fpage, 0x50 << 12)
    w.observe(0, op, False)
    task.insert(CapIndex(0x50), gate, rights=R)              # what the map may give
    w.observe(0, op, True)
    assert w.problem is None
    w.observe(0, op, False)
    task.insert(CapIndex(0x51), gate, rights=R | S)          # S the flexpage did not have
    w.observe(0, op, True)
    assert w.problem and w.problem[0] == "rights" and "0x51" in w.problem[1]


def test_the_watch_finds_what_an_unmap_left(arch):
    k, task, gate, w = _kernel_with_app(arch)
    task.insert(CapIndex(0x40), gate, rights=R | W | S | D)
    flush = ("unmap", 0x1000, 0x40 << 12 | 3 << 4 | R, L4_FP_ALL_SPACES)
    w.observe(0, flush, False)
    task.delete(CapIndex(0x40))                              # the unmap did its work
    w.observe(0, flush, True)
    assert w.problem is None
    task.insert(CapIndex(0x40), gate, rights=R | W | S | D)
    w.observe(0, flush, False)
    w.observe(0, flush, True)                                # the slot still names it
    assert w.problem and w.problem[0] == "unmap" and "still names" in w.problem[1]
    w.problem = None
    delete = ("unmap", 0x1000, 0x40 << 12 | 3 << 4 | 0xF, L4_FP_DELETE_OBJ)
    w.observe(0, delete, False)
    w.observe(0, delete, True)                               # the gate lives on
    assert w.problem and "outlived its delete" in w.problem[1]


# ---- what the fuzzer found (shrunk reproducers), on every architecture

FOUND = {
    # The watch took an object flexpage's window from its unaligned base (slots 2..9)
    # where the kernel unmaps the aligned one (0..7): slot 8 "survived".
    "unmap_window": {"cpus": 2, "events": [], "prios": [1, 3],
                     "programs": [[("unmap", 4096, 8445, 2147483648)], []]},
    # A garbage object flexpage of order 61: the kernel clamps the order to the 2^20 slots
    # first (so its aligned base lies beyond them: nothing is unmapped); the watch aligned
    # with order 61 and took every slot for unmapped.
    "unmap_order_clamp": {"cpus": 1, "events": [], "prios": [1, 3],
                          "programs": [[("unmap", 4096, 10373232546567507830, 2147483648)],
                                       []]},
    # An unmap whose task selector has a flag bit below L4_CAP_SHIFT (0x1002): l4sys
    # refuses it before the kernel, and the watch expected slot 1 gone all the same.
    "unmap_refused": {"cpus": 1, "events": [], "prios": [1, 3, 3, 1],
                      "programs": [[], [], [], [("unmap", 4098, 8373, 2147483648)]]},
    # A vCPU resume whose entry ip (0x80000000 >> 1) is the fuzz µApp's own code: the
    # upcall re-entered the program with the state area in place of its environment.
    "vcpu_reentry": {"cpus": 2, "events": [], "prios": [1, 1, 2],
                     "programs": [[], [], [("vcpu", 20438, 122880, 2147483648, 2, 98307, 0),
                                           ("mem", "read", 140737488483531, 4)]]},
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_what_the_fuzzer_found_stays_fixed(arch, name):
    case.run({"arch": arch, "seed": 0, **FOUND[name]})


# ---- coverage guidance (pyl4re/fuzz/coverage.py, mutate.py; docs/fuzzing.md)

def test_mutants_are_cases_that_run_and_shrink(arch, monkeypatch):
    """Mutants of a case are plain data fixed by the mutator's seed, each runs without a
    finding, and a mutant shrinks like a drawn case."""
    import random
    parent, donor = case.draw(arch, 4), case.draw(arch, 9)
    mutants = [mutate.mutate(parent, random.Random(i), [donor]) for i in range(12)]
    assert mutants == [mutate.mutate(parent, random.Random(i), [donor]) for i in range(12)]
    assert parent == case.draw(arch, 4)                 # the parent is left alone
    assert sum(m != parent for m in mutants) >= 10
    for m in mutants:
        assert eval(repr(m)) == m
        assert len(m["prios"]) == len(m["programs"]) in (2, 3, 4) and m["cpus"] in (1, 2)
        assert all(len(p) <= mutate.MAX_OPS for p in m["programs"])
        assert m["events"] == sorted(m["events"])
        case.run(m)
    m = mutants[0]
    m["programs"][0].append(MARKED)
    small = _shrunk_with_marked_op_failing(m, monkeypatch)
    assert [op for p in small["programs"] for op in p] == [MARKED]


def test_the_normal_build_records_no_coverage(arch):
    assert not coverage.available(arch)
    with pytest.raises(ValueError, match="coverage build"):
        coverage.Edges(arch)


COVERAGE_ARCH = _core.available_arches()[0]


@pytest.fixture(scope="module")
def coverage_env():
    """The environment of a process that loads the coverage build of COVERAGE_ARCH (built
    into build/coverage first if its sources changed: ~25 s)."""
    return coverage.environment([COVERAGE_ARCH])


def _in_coverage_build(env, script):
    """Runs `script` (which prints one JSON value) with the coverage build loaded."""
    import json
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1])


EDGES_OF_CASES = """
import json, sys
from pyl4re.fuzz import case, coverage
arch = sys.argv[1] if len(sys.argv) > 1 else %r
edges = coverage.Edges(arch)
def sys_of(ops):
    return {"arch": arch, "seed": 0, "cpus": 1, "prios": [1, 1], "events": [],
            "programs": [ops, [("sleep", 3)]]}
quiet = sys_of([("sleep", 5), ("compute", 2)])
irq = sys_of([("api", 3, 0x40 << 12, 0, 0, 0), ("api", 12, 0x40 << 12, 0, 0, 0),
              ("api", 15, 0x40 << 12, 0, 0, 0), ("sleep", 5), ("compute", 2)])
out = []
for c in (quiet, quiet, quiet, irq, irq):
    case.run(c)
    out.append(edges.collect())
print(json.dumps({"runs": out, "count": edges.count, "set": sum(edges.bitmap())}))
"""


def test_the_bitmap_sees_the_edges_a_new_kind_of_object_takes(coverage_env):
    """A case that creates, triggers and detaches an IRQ reaches edges of the core that
    the same case without it does not; a case run again reaches nothing new."""
    got = _in_coverage_build(coverage_env, EDGES_OF_CASES % COVERAGE_ARCH)
    first, (q_new, q_hit), (q2_new, q2_hit), (i_new, i_hit), (i2_new, i2_hit) = got["runs"]
    assert first[0] == first[1] > 500           # the first run: everything it ran is new
    # (the process's first kernel takes a few paths no later one does, so the quiet case's
    # own edges are those of its second run)
    assert q_new < 50
    assert q2_new == 0 and q2_hit == q_hit       # the same case: the same edges, none new
    assert i_new > 20 and i_hit > q_hit          # the IRQ's: create, trigger, detach
    assert i2_new == 0 and i2_hit == i_hit
    assert got["count"] == got["set"] == first[0] + q_new + i_new


GUIDED = """
import hashlib, json
from pyl4re.fuzz import campaign, case, coverage
arch = %r
grew = []
real_ran = coverage.Guide.ran
def ran(self, c, failed):
    before = len(self.corpus)
    new = real_ran(self, c, failed)
    grew.append((new, len(self.corpus) - before, failed))
    return new
coverage.Guide.ran = ran
guides = []
real_init = coverage.Guide.__init__
def init(self, *a, **kw):
    real_init(self, *a, **kw)
    guides.append(self)
coverage.Guide.__init__ = init
r = campaign.campaign(arch, 600, first_seed=5, max_cases=%d, coverage="guided")
corpus = guides[0].corpus
again = []
for c in corpus:                     # the corpus's cases reach nothing new a second time
    case.run(c)
    again.append(guides[0].edges.collect()[0])
print(json.dumps({"edges": r["edges"], "corpus": r["corpus"], "mutants": r["mutants"],
                  "findings": len(r["findings"]), "grew": grew, "again": again,
                  "invocations": r["invocations"],
                  "mutants_kept": sum("mutant" in c for c in corpus),
                  "digest": hashlib.sha256(repr(corpus).encode()).hexdigest()}))
"""


def test_the_corpus_grows_only_by_cases_that_reach_new_edges(coverage_env):
    got = _in_coverage_build(coverage_env, GUIDED % (COVERAGE_ARCH, 100))
    assert got["findings"] == 0 and got["mutants"] >= 5
    assert len(got["grew"]) == 100
    assert all((grew == 1) == (new > 0 and not failed) for new, grew, failed in got["grew"])
    assert got["corpus"] == sum(grew for _, grew, _ in got["grew"]) >= 5
    assert got["edges"] == sum(new for new, _, _ in got["grew"])
    assert got["again"] == [0] * got["corpus"]
    assert got["mutants_kept"] > 0           # not only fresh draws reach new edges


def test_a_coverage_guided_campaign_is_the_same_for_a_seed(coverage_env):
    """Two processes, the same seed and number of cases: the same corpus, edges, mutants."""
    one = _in_coverage_build(coverage_env, GUIDED % (COVERAGE_ARCH, 30))
    two = _in_coverage_build(coverage_env, GUIDED % (COVERAGE_ARCH, 30))
    assert one == two
    assert one["mutants"] > 0


def test_the_command_line_builds_and_reports_coverage(coverage_env, tmp_path):
    env = {k: v for k, v in coverage_env.items() if k != "PYL4RE_CORE_DIR"}
    out = subprocess.run([sys.executable, "-m", "pyl4re", "fuzz", "--coverage", "--arch",
                          COVERAGE_ARCH, "--seconds", "2", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "0 finding(s)" in out.stdout
    assert "coverage (guided):" in out.stdout and "edges of the C core reached" in out.stdout
    edges = int(out.stdout.split("coverage (guided): ")[1].split()[0])
    assert edges > 1000
