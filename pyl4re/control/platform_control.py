"""Platform control (§8.8; kernkonzept/fiasco src/kern/platform_control_object.cpp): label 0
on the ICU capability (control/icu.py routes it here).

The opcode is the whole MR0. Answers as a Fiasco without platform power management would,
except where the model gives the operation a meaning (docs/platform.md):
  suspend (0)             -L4_EBUSY: Fiasco's generic Platform_control::system_suspend
  shutdown (1)            exactly 2 words (else -L4_EINVAL); MR1 1 = reboot, 0 = power
                          off: the run ends (RunResult.reason "shutdown"); other values
                          -L4_ENOSYS, as Fiasco with no generic power-off
  cpu_allow_shutdown (2)  MR1 = CPU, MR2 = allow: recorded (the model has no idle power
                          states, so it changes nothing else); < 3 words or a bad CPU
                          -L4_EINVAL
  cpu_enable (3)          MR1 = CPU: online again; its threads run  } not in Fiasco's
  cpu_disable (4)         MR1 = CPU: offline; it runs nothing       } generic kernel
  set_task_asid (0x10)    Arm (arm64 build) only: 2 words + a task item with W; the ASID
                          is recorded, the model's TLBs do not use it; elsewhere -L4_ENOSYS
Each handler decodes and checks first (may fail, changes nothing), then acts through C.
What it must not do: keep scheduler state (CPU online state lives in C).
"""
from .. import _core
from .invocation import item_object, refuse, reply

_lib = _core.abi()

W = _lib.L4_CAP_FPAGE_W


def invoke(inv):
    if inv.label != _lib.L4_PROTO_PLATFORM_CTL:
        return reply(-_lib.L4_EBADPROTO)
    if inv.words < 1:
        return reply(-_lib.L4_EMSGTOOSHORT)
    op = inv.mr(0)
    handler = _OPS.get(op)
    if handler is None or (op == _lib.L4_PLATFORM_CTL_SET_TASK_ASID_OP
                           and inv.kernel.arch != "arm64"):
        return reply(-_lib.L4_ENOSYS)
    return handler(inv)


def state(k):
    """The platform's records that affect nothing else: allowed CPU shutdowns, ASIDs."""
    st = getattr(k._control, "platform", None)
    if st is None:
        st = k._control.platform = {"allow_shutdown": {}, "asid": {}}
    return st


def _suspend(inv):
    return reply(-_lib.L4_EBUSY)          # MR1 (extras) would go to the platform


def _shutdown(inv):
    if inv.words != 2:
        return reply(-_lib.L4_EINVAL)
    how = {1: _lib.SHUTDOWN_REBOOT, 0: _lib.SHUTDOWN_POWEROFF}.get(inv.mr(1))
    if how is None:
        return reply(-_lib.L4_ENOSYS)
    k = inv.kernel
    # The caller never sees the reply on real hardware; here its entry ends, it waits
    # for the loop, and the loop ends the run before anything runs again.
    return reply(k._lib.kernel_shutdown(k._k, how))


def _cpu(inv):
    cpu = inv.mr(1)
    return cpu if cpu < inv.kernel.cpus else None


def _allow_shutdown(inv):
    if inv.words < 3 or _cpu(inv) is None:
        return reply(-_lib.L4_EINVAL)
    state(inv.kernel)["allow_shutdown"][_cpu(inv)] = bool(inv.mr(2))
    return reply(0)


def _set_online(online):
    def handler(inv):
        if inv.words < 2 or _cpu(inv) is None:
            return reply(-_lib.L4_EINVAL)
        k = inv.kernel
        return reply(k._lib.cpu_set_online(k._k, [_cpu(inv)], online))
    return handler


def _set_task_asid(inv):
    """Fiasco's Platform_control_object::sys_set_asid (explicit_asid kernels)."""
    if inv.words != 2 or inv.items != 1:
        return reply(-_lib.L4_EINVAL)
    found, err = item_object(inv, 0, _lib.KOBJ_TASK)
    if err is not None:
        return err
    task, _, rights = found
    if not rights & W:
        return refuse(inv, W)
    state(inv.kernel)["asid"][task] = inv.mr(1)
    return reply(0)


_OPS = {
    _lib.L4_PLATFORM_CTL_SYS_SUSPEND_OP: _suspend,
    _lib.L4_PLATFORM_CTL_SYS_SHUTDOWN_OP: _shutdown,
    _lib.L4_PLATFORM_CTL_CPU_ALLOW_SHUTDOWN_OP: _allow_shutdown,
    _lib.L4_PLATFORM_CTL_CPU_ENABLE_OP: _set_online(1),
    _lib.L4_PLATFORM_CTL_CPU_DISABLE_OP: _set_online(0),
    _lib.L4_PLATFORM_CTL_SET_TASK_ASID_OP: _set_task_asid,
}
