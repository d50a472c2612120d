"""The vCPU state area with l4sys names (§11): `l4_vcpu_state_t` (pyl4re.vcpu.VcpuState),
`l4_vcpu_check_version`, and libvcpu's interrupt-flag helpers `l4vcpu_irq_disable`,
`l4vcpu_irq_enable` and `l4vcpu_wait_for_event`, the canonical event loop of a vCPU
kernel (kernkonzept/libvcpu include/vcpu.h, as its documentation describes them).

The version a kernel writes is the architecture's (`L4_VCPU_STATE_VERSION` of
l4sys/include/ARCH-*/__vcpu-arch.h), read from the C core's layout table like every other
constant; this module writes none down.
"""
from ..vcpu import VcpuState
from .consts import L4_IPC_BOTH_TIMEOUT_0, L4_IPC_NEVER, L4_VCPU_F_IRQ, L4_VCPU_SF_IRQ_PENDING
from .ipc import l4_ipc_wait

l4_vcpu_state_t = VcpuState


def l4_vcpu_check_version(vcpu):
    """Whether the state area carries the version this architecture's kernel writes."""
    return vcpu.version == vcpu.layout["version"]


def l4vcpu_irq_disable(vcpu):
    """Turn the virtual interrupt flag off: events queue (and set the sticky flag)."""
    vcpu.state = vcpu.state & ~L4_VCPU_F_IRQ


async def _drain(vcpu, utcb, do_event_work, timeout):
    """While an event waits (or, with a never timeout, until one came): receive it into i
    with the flag off, and let do_event_work(vcpu) handle it."""
    while True:
        l4vcpu_irq_disable(vcpu)
        if timeout != L4_IPC_NEVER and not vcpu.sticky_flags & L4_VCPU_SF_IRQ_PENDING:
            return
        tag, label = await l4_ipc_wait(utcb, timeout)
        vcpu.i.tag, vcpu.i.label = tag.raw, label
        if not tag.has_error():
            await do_event_work(vcpu)
        if timeout == L4_IPC_NEVER:
            return


async def l4vcpu_irq_enable(vcpu, utcb, do_event_work):
    """Turn the virtual interrupt flag on, first handling every event that queued while it
    was off (each received with a zero timeout into i, then `await do_event_work(vcpu)`)."""
    await _drain(vcpu, utcb, do_event_work, L4_IPC_BOTH_TIMEOUT_0)
    vcpu.state = vcpu.state | L4_VCPU_F_IRQ


async def l4vcpu_wait_for_event(vcpu, utcb, do_event_work):
    """Wait (flag off) for the next event, handle it, and turn the flag on again."""
    await _drain(vcpu, utcb, do_event_work, L4_IPC_NEVER)
    await l4vcpu_irq_enable(vcpu, utcb, do_event_work)


async def vcpu_resume_with_items(v, user_task, items=(), page_order=12, rights=None):
    """Resume the calling vCPU into `user_task` in user mode with interrupts on, sending
    `items`, (address in the user task, own address) pairs, along as map items of
    2^page_order bytes with `rights` (default L4_FPAGE_RW). A resume that goes through
    never returns; a refused one returns its error code. pyl4re's own shorthand for what a
    vCPU kernel or VMM writes by hand with l4_thread_vcpu_resume_start/commit (libvcpu has
    no such call): the state area's user_task and saved_state, then the items in MR1..."""
    from .consts import (L4_FPAGE_RW, L4_INVALID_CAP, L4_PROTO_THREAD, L4_VCPU_F_FPU_ENABLED,
                         L4_VCPU_F_USER_MODE)
    from .errors import l4_error
    from .fpage import l4_fpage, l4_map_control
    from .msgtag import l4_msgtag
    from .thread import l4_thread_vcpu_resume_commit, l4_thread_vcpu_resume_start
    from .utcb import l4_utcb
    v.user_task = user_task
    v.saved_state = L4_VCPU_F_USER_MODE | L4_VCPU_F_IRQ | L4_VCPU_F_FPU_ENABLED
    l4_thread_vcpu_resume_start()
    u = l4_utcb()
    for n, (dst, own) in enumerate(items):
        u.mr[1 + 2 * n] = l4_map_control(dst, 0, 0)
        u.mr[2 + 2 * n] = l4_fpage(own, page_order, L4_FPAGE_RW if rights is None
                                   else rights).raw
    tag = l4_msgtag(L4_PROTO_THREAD, 1, len(items), 0)
    return l4_error(await l4_thread_vcpu_resume_commit(L4_INVALID_CAP, tag))


__all__ = ["l4_vcpu_state_t", "l4_vcpu_check_version", "l4vcpu_irq_disable",
           "l4vcpu_irq_enable", "l4vcpu_wait_for_event"]
