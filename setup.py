"""Builds one cffi extension per architecture (see kernel_c/build_cffi.py), and puts the
kernel's l4_abi.h beside the C µApp headers of a built package (pyl4re/include/abi), so
an installed pyl4re compiles C µApps with the very constants its kernel was built with
(a source tree, as with `pip install -e .`, reads kernel_c/l4_abi.h itself)."""
import os
import shutil
import sys

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "kernel_c"))
from build_cffi import entry_extension_flags, selected_arches, selected_scheds  # noqa: E402


class BuildPyWithAbi(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "pyl4re", "include", "abi")
        os.makedirs(target, exist_ok=True)
        shutil.copy(os.path.join(HERE, "kernel_c", "l4_abi.h"), target)


setup(cffi_modules=[f"kernel_c/build_cffi.py:ffi_{arch}" + ("" if sched == "fp" else f"_{sched}")
                    for sched in selected_scheds() for arch in selected_arches()],
      # The µApp fast kernel entry (pyl4re/_entry.c): a CPython extension, built for the
      # interpreter that builds it, beside the per-architecture cores.
      ext_modules=[Extension("pyl4re._entry", ["pyl4re/_entry.c"],
                             **entry_extension_flags())],
      cmdclass={"build_py": BuildPyWithAbi})
