"""ned, L4Re's init process: Lua configurations run by a real Lua interpreter, every L4
operation a real invocation from the ned µApp (docs/ned.md). `ned_main(state)` is its
µApp body for the rom ("rom/ned"); `NedState` is what it did, for a harness."""
from .main import NedState, ned_main, parse_args

__all__ = ["NedState", "ned_main", "parse_args"]
