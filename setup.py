"""Builds one cffi extension per architecture (see kernel_c/build_cffi.py)."""
import os
import sys

from setuptools import setup

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel_c"))
from build_cffi import selected_arches, selected_scheds  # noqa: E402

setup(cffi_modules=[f"kernel_c/build_cffi.py:ffi_{arch}" + ("" if sched == "fp" else f"_{sched}")
                    for sched in selected_scheds() for arch in selected_arches()])
