"""moe, the L4Re root task, as a µApp: it takes the free memory from sigma0 at boot and
serves memory allocation (dataspaces), name spaces, tagged logs, region maps, scheduler
proxies and sub-factories over IPC, and starts the init program (`main.py`).
"""
from .main import Moe, moe_main  # noqa: F401
