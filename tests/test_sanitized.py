"""Under CI (the CI environment variable set, as CI runs sets it; or PYL4RE_SANITIZED_SUBSET=1),
the suite also builds the C core with ASan + UBSan (tools/sanitize) and runs a fast subset
of the tests against it: the memory-safety regressions, IPC, capabilities, mappings,
scheduling, vCPUs and the fuzzer's cases. Any sanitizer report fails this test. A plain
`pytest` skips it: the build takes a minute or two; `tools/sanitize` runs everything."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBSET = ["tests/test_robustness.py", "tests/test_ipc.py", "tests/test_ipc_items.py",
          "tests/test_cspace.py", "tests/test_mapdb.py", "tests/test_sched.py",
          "tests/test_exceptions.py", "tests/test_vcpu.py", "tests/test_fuzz.py"]
WANTED = bool(os.environ.get("CI") or os.environ.get("PYL4RE_SANITIZED_SUBSET"))


@pytest.mark.skipif(not WANTED, reason="only under CI (or PYL4RE_SANITIZED_SUBSET=1)")
@pytest.mark.skipif(bool(os.environ.get("PYL4RE_EXPECT_BUILD")),
                    reason="already running inside the sanitized build")
def test_the_fast_subset_passes_under_asan_and_ubsan():
    subset = [t for t in SUBSET if os.path.exists(os.path.join(ROOT, t))]
    run = subprocess.run(["bash", os.path.join(ROOT, "tools", "sanitize"), "-x", *subset],
                         cwd=ROOT, capture_output=True, text=True, timeout=1800)
    tail = (run.stdout + run.stderr)[-4000:]
    assert run.returncode == 0, tail
    assert "passed" in run.stdout and "AddressSanitizer" not in tail, tail
