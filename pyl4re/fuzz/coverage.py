"""Coverage guidance for `pyl4re fuzz --coverage`: the coverage build of the C core, the
edges its runs reach, and the corpus of cases that reached new ones.

The coverage build is the core compiled once more with gcc's -fsanitize-coverage=trace-pc
(PYL4RE_COVERAGE=1, kernel_c/cov.c records the edges) into build/coverage/ of the source
checkout, one architecture at a time, rebuilt when a C source changed. `pyl4re fuzz
--coverage` builds what it needs on first use and runs itself again with
PYL4RE_CORE_DIR pointing there (pyl4re/_core.py loads those extensions; the Python code
stays the checkout's). The normal build is left alone and records nothing.

`Edges` reads one build's bitmap; `Guide` hands the campaign its next case: a fresh draw
(a share of the time, and while the corpus is empty) or a mutant of a corpus case
(pyl4re/fuzz/mutate.py), and keeps a case in the corpus only if its run reached an edge
no earlier case had. With "count" it only counts the edges of fresh draws: the random
fuzzer's baseline, in the same build.
"""
import hashlib
import os
import random
import subprocess
import sys

from .. import _core
from . import case as fuzz_case
from . import mutate


def _checkout():
    """The source checkout this package lies in (also from a build inside it, such as
    tools/sanitize's build/sanitize), or the package's parent folder if none."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    d = here
    while os.path.dirname(d) != d:
        d = os.path.dirname(d)
        if os.path.exists(os.path.join(d, "kernel_c", "cov.c")):
            return d
    return os.path.dirname(here)


ROOT = _checkout()
BUILD = os.path.join(ROOT, "build", "coverage")
CORE_DIR = os.path.join(BUILD, "pyl4re")
MODES = ("guided", "count")
# The share of guided cases drawn fresh rather than mutated follows which of the two
# found new edges lately: each source's new edges per case, as a moving average (weight
# YIELD_WEIGHT for the latest case), split the cases between them within SHARE_BOUNDS.
YIELD_WEIGHT = 0.02
SHARE_BOUNDS = (0.1, 0.9)


class Edges:
    """The edges of the C core of `arch` run so far (this process, since creation)."""

    def __init__(self, arch):
        self.ffi, self.lib = _core.load(arch)
        self.size = self.lib.cov_map_size()
        if not self.size:
            raise ValueError(f"the {arch} core loaded is not the coverage build "
                             "(`pyl4re fuzz --coverage` builds and uses it)")
        self.seen = self.ffi.new("uint8_t[]", self.size)
        self._hit = self.ffi.new("uint32_t *")
        self.count = 0
        self.lib.cov_collect(self.ffi.NULL, 0, self._hit)      # what ran before is not ours

    def collect(self):
        """(new, hit): edges run since the last call that none before had, and all run."""
        new = self.lib.cov_collect(self.seen, self.size, self._hit)
        self.count += new
        return new, self._hit[0]

    def bitmap(self):
        return bytes(self.ffi.buffer(self.seen))


def available(arch):
    """Whether `arch`'s core, as loaded, is the coverage build."""
    return _core.load(arch)[1].cov_map_size() > 0


def merged_edges(bitmaps):
    """Edges reached by any of several processes' bitmaps (Edges.bitmap())."""
    if not bitmaps:
        return 0
    merged = int.from_bytes(bitmaps[0], "little")
    for b in bitmaps[1:]:
        merged |= int.from_bytes(b, "little")
    return merged.bit_count()


class Guide:
    """Where a coverage campaign's cases come from, and its corpus."""

    def __init__(self, arch, seed, mode="guided"):
        if mode not in MODES:
            raise ValueError(f"coverage mode must be one of {MODES}, not {mode!r}")
        self.arch, self.mode = arch, mode
        self.edges = Edges(arch)
        self.rnd = random.Random(f"coverage:{arch}:{seed}")
        self.corpus = []
        self.mutants = 0
        self.yields = {True: 1.0, False: 1.0}      # new edges per case: fresh, mutants
        self._fresh = True

    def fresh_share(self):
        """The share of cases to draw fresh now: by the two sources' recent yields."""
        low, high = SHARE_BOUNDS
        fresh, mutants = self.yields[True], self.yields[False]
        return min(max(fresh / (fresh + mutants), low), high) if fresh + mutants else 0.5

    def next_case(self, seed):
        """(case, fresh): a mutant of a corpus case, or (fresh) the draw of `seed`."""
        self._fresh = (self.mode == "count" or not self.corpus
                       or self.rnd.random() < self.fresh_share())
        if self._fresh:
            return fuzz_case.draw(self.arch, seed), True
        parent = self.corpus[self.rnd.randrange(len(self.corpus))]
        self.mutants += 1
        child = mutate.mutate(parent, self.rnd, self.corpus)
        child["mutant"] = self.mutants
        return child, False

    def ran(self, c, failed):
        """After `c` ran: keep it if it reached new edges (and found nothing). Returns the
        number of new edges."""
        new, _ = self.edges.collect()
        if new and not failed and self.mode == "guided":
            self.corpus.append(c)
        self.yields[self._fresh] += YIELD_WEIGHT * (new - self.yields[self._fresh])
        return new

    def summary(self):
        return {"edges": self.edges.count, "corpus": len(self.corpus),
                "mutants": self.mutants, "bitmap": self.edges.bitmap()}


# ---- the build and the re-run

def _sources(arch):
    """The files the coverage build of `arch` is made from (and the build recipe)."""
    out = [os.path.join(ROOT, "setup.py")]
    for top in ("kernel_c", os.path.join("arch", arch), os.path.join("pyl4re", "include")):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            out += [os.path.join(d, f) for f in files if f.endswith((".c", ".h", ".py"))]
    return sorted(out)


def _digest(arch):
    h = hashlib.sha256()
    for path in _sources(arch):
        h.update(os.path.relpath(path, ROOT).encode())
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _stamp(arch):
    return os.path.join(BUILD, f"{arch}.sources")


def is_built(arch):
    try:
        with open(_stamp(arch)) as f:
            return f.read().strip() == _digest(arch)
    except OSError:
        return False


def build(arch, out=None):
    """Builds the coverage core of `arch` into build/coverage unless it is up to date."""
    if is_built(arch):
        return
    if not os.path.exists(os.path.join(ROOT, "kernel_c", "cov.c")):
        raise RuntimeError("--coverage needs a source checkout (it builds the C core)")
    print(f"pyl4re fuzz: building the coverage core of {arch} into {BUILD}",
          file=out or sys.stderr, flush=True)
    env = {**os.environ, "PYL4RE_COVERAGE": "1", "PYL4RE_ARCHES": arch, "PYL4RE_SCHED": "fp"}
    env.pop("PYL4RE_SANITIZE", None)
    run = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib", BUILD,
                          "--build-temp", os.path.join(ROOT, "build", "coverage-tmp")],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    if run.returncode:
        raise RuntimeError(f"the coverage build of {arch} failed:\n{run.stderr[-3000:]}")
    with open(_stamp(arch), "w") as f:
        f.write(_digest(arch))


def environment(arches):
    """Builds the coverage cores of `arches` (if needed); the environment a process
    needs to load them (PYL4RE_CORE_DIR, and this checkout first on the path)."""
    for arch in arches:
        build(arch)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYL4RE_CORE_DIR": CORE_DIR,
            "PYTHONPATH": ROOT + (os.pathsep + path if path else "")}


def rerun(argv, arches):
    """Runs `pyl4re fuzz ARGV` again in this process with the coverage cores loaded."""
    if os.environ.get("PYL4RE_CORE_DIR"):
        raise SystemExit("pyl4re fuzz: the coverage build did not load "
                         f"(PYL4RE_CORE_DIR={os.environ['PYL4RE_CORE_DIR']})")
    env = environment(arches)
    os.execve(sys.executable, [sys.executable, "-m", "pyl4re", "fuzz", *argv], env)
