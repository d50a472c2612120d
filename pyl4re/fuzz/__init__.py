"""The syscall fuzzer (`pyl4re fuzz`): random invocation sequences from several µApps at
once, checked by oracles after every case, with shrunk reproducers for what it finds.

`case.draw(arch, seed)` makes a case (plain data), `case.run(case)` runs and checks it
(raising `case.Finding`), `shrink.shrink` minimises a failing one, `campaign.main` is
the command line; `coverage` and `mutate` make it coverage-guided (`--coverage`).
docs/fuzzing.md describes the ops, the oracles, the guidance and how to replay.
"""
from .case import Finding, draw, run

__all__ = ["Finding", "draw", "run"]
