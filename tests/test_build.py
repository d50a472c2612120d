"""The build: warning-free C11 per architecture, one boundary header, arch restriction."""
import glob
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "kernel_c"))
import build_cffi  # noqa: E402

# Tools run from the tests must not inherit the sanitizer run's preloaded runtimes.
CLEAN_ENV = {k: v for k, v in os.environ.items()
             if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "LSAN_OPTIONS", "PYL4RE_SANITIZE")}

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


@needs_gcc
@pytest.mark.parametrize("arch", build_cffi.ARCHES)
def test_sources_are_warning_free(arch):
    for src in build_cffi.KERNEL_SOURCES + [f"arch/{arch}/{s}" for s in build_cffi.ARCH_SOURCES]:
        includes = [arg for d in build_cffi.include_dirs(arch) for arg in ("-I", d)]
        cmd = ["gcc", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only",
               *includes, os.path.join(ROOT, src)]
        r = subprocess.run(cmd, capture_output=True, text=True, env=CLEAN_ENV)
        assert r.returncode == 0, f"{src}:\n{r.stderr}"


@pytest.mark.parametrize("arch", build_cffi.ARCHES)
def test_cdef_is_the_boundary_header(arch):
    text = build_cffi.cdef_text(arch)
    assert "int kernel_create(" in text          # from pyl4re.h
    assert "L4_EINVAL = 22" in text               # from l4_abi.h, inlined
    assert "ARCH_EXC_REGS_WORDS" in text          # from arch/<arch>/arch_abi.h
    assert "#include" not in text and "#ifndef" not in text


def test_arch_names_are_checked(monkeypatch):
    monkeypatch.setenv("PYL4RE_ARCHES", "x86_64,vax")
    with pytest.raises(SystemExit, match="vax"):
        build_cffi.selected_arches()
    monkeypatch.setenv("PYL4RE_ARCHES", " mips64 , x86_64")
    assert build_cffi.selected_arches() == ["x86_64", "mips64"]
    monkeypatch.delenv("PYL4RE_ARCHES")
    assert build_cffi.selected_arches() == list(build_cffi.ARCHES)


@needs_gcc
def test_restricting_the_build_to_one_architecture(tmp_path):
    env = dict(CLEAN_ENV, PYL4RE_ARCHES="arm64")
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext",
                        "--build-lib", str(tmp_path / "lib"), "--build-temp", str(tmp_path / "tmp")],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    built = sorted(os.path.basename(p).split(".")[0]
                   for p in glob.glob(str(tmp_path / "lib" / "pyl4re" / "_core_*.so")))
    assert built == ["_core_arm64"]
