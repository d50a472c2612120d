"""Platform-control calls for µApps, with l4sys names and argument order (§8.8): the
kernel's platform-control object is the ICU capability (env.icu), protocol
L4_PROTO_PLATFORM_CTL (0). Each call returns the reply's l4_msgtag_t.

A successful shutdown does not come back to the caller: the run ends
(`RunResult.reason == "shutdown"`). CPU numbers are the model's CPU indices (l4sys calls
them physical ids).
"""
from . import _kobj
from .consts import (
    L4_PLATFORM_CTL_CPU_ALLOW_SHUTDOWN_OP, L4_PLATFORM_CTL_CPU_DISABLE_OP,
    L4_PLATFORM_CTL_CPU_ENABLE_OP, L4_PLATFORM_CTL_SYS_SHUTDOWN_OP,
    L4_PLATFORM_CTL_SYS_SUSPEND_OP, L4_PROTO_PLATFORM_CTL,
)
from .msgtag import l4_msgtag
from .utcb import l4_utcb


async def _call(pfc, fn, *words):
    pfc = _kobj.cap(pfc, fn, "pfc")
    u = l4_utcb()
    for i, w in enumerate(words):
        u.mr[i] = w
    return await _kobj.call(pfc, l4_msgtag(L4_PROTO_PLATFORM_CTL, len(words), 0, 0).raw)


async def l4_platform_ctl_system_suspend(pfc, extras):
    """Suspend to RAM (the model has no platform suspend: -L4_EBUSY, as Fiasco's default)."""
    fn = "l4_platform_ctl_system_suspend"
    return await _call(pfc, fn, L4_PLATFORM_CTL_SYS_SUSPEND_OP, _kobj.word(extras, fn, "extras"))


async def l4_platform_ctl_system_shutdown(pfc, is_reboot):
    """Power off (is_reboot 0) or reboot (1) the system."""
    fn = "l4_platform_ctl_system_shutdown"
    return await _call(pfc, fn, L4_PLATFORM_CTL_SYS_SHUTDOWN_OP,
                       _kobj.word(is_reboot, fn, "is_reboot"))


async def l4_platform_ctl_cpu_allow_shutdown(pfc, phys_id, enable):
    """Allow (enable 1) or forbid (0) a CPU to be shut down."""
    fn = "l4_platform_ctl_cpu_allow_shutdown"
    return await _call(pfc, fn, L4_PLATFORM_CTL_CPU_ALLOW_SHUTDOWN_OP,
                       _kobj.word(phys_id, fn, "phys_id"), _kobj.word(enable, fn, "enable"))


async def l4_platform_ctl_cpu_enable(pfc, phys_id):
    """Bring an offline CPU online again: its threads run again."""
    fn = "l4_platform_ctl_cpu_enable"
    return await _call(pfc, fn, L4_PLATFORM_CTL_CPU_ENABLE_OP, _kobj.word(phys_id, fn, "phys_id"))


async def l4_platform_ctl_cpu_disable(pfc, phys_id):
    """Take a CPU offline: it runs nothing (its threads wait) until enabled again."""
    fn = "l4_platform_ctl_cpu_disable"
    return await _call(pfc, fn, L4_PLATFORM_CTL_CPU_DISABLE_OP, _kobj.word(phys_id, fn, "phys_id"))


__all__ = ["l4_platform_ctl_system_suspend", "l4_platform_ctl_system_shutdown",
           "l4_platform_ctl_cpu_allow_shutdown", "l4_platform_ctl_cpu_enable",
           "l4_platform_ctl_cpu_disable"]
