"""pyl4re.l4sys: the L4Re C system-call library's data types and helpers, in Python.

Constants (`L4_*`, spec §1–§7) are read from the C core's ABI header at import time;
the functions keep l4sys's names and meanings: message tags (msgtag), error results
(errors), timeouts (timeout), flexpages and map items (fpage), capability selectors (cap),
UTCB access (utcb). Everything here works on plain Python ints and small immutable
objects; nothing here enters the kernel (IPC and invocations are traps, elsewhere).
"""
from .consts import *  # noqa: F401,F403
from .msgtag import *  # noqa: F401,F403
from .utcb import *  # noqa: F401,F403
from .errors import *  # noqa: F401,F403
from .timeout import *  # noqa: F401,F403
from .fpage import *  # noqa: F401,F403
from .cap import *  # noqa: F401,F403
from . import cap, consts, errors, fpage, msgtag, timeout, utcb

__all__ = (consts.__all__ + msgtag.__all__ + utcb.__all__ + errors.__all__ + timeout.__all__
           + fpage.__all__ + cap.__all__)
