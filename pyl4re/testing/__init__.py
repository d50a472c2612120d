"""pyl4re for test harnesses: the pytest plugin (`plugin`), the kernel-state report a
failing test shows (`report`), and seeded schedule exploration (`explore`).

The plugin is registered through the `pytest11` entry point, so installing pyl4re gives
every pytest run its fixtures (`l4_kernel`, `l4_arch`, `l4_system`) and options; see
docs/testing.md.
"""
from .explore import Exploration, SeedFailure, explore, seed_strategy
from .golden import MatchResult, match_output, strip_colours
from .report import kernel_report

__all__ = ["explore", "seed_strategy", "Exploration", "SeedFailure", "kernel_report",
           "match_output", "MatchResult", "strip_colours"]
