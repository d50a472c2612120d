"""moe's collection of objects nobody holds any more.

An object lives as long as some capability to its gate exists besides moe's own, or
moe itself refers to it (a name-space entry, a region of one of its region maps, its
boot-time objects, a program that has not exited). The kernel counts the capabilities
to each gate (l4_task_cap_valid with bit 0 of the selector set answers the count); an
object whose gate moe alone holds and that nothing of moe's refers to is released: its
pages go back to the allocator, its charge to its factory, its gate is deleted. L4Re's
moe learns of such objects from the kernel's gate-deletion IRQ; this one looks when a
program it started exits and before it answers "out of memory".
"""
from ...l4sys import L4_CAP_FPAGE_RWSD, L4_FP_ALL_SPACES, L4_PROTO_TASK, L4_TASK_CAP_INFO_OP
from ...l4sys import l4_msgtag, l4_obj_fpage, l4_task_unmap, l4_utcb
from ...l4sys._kobj import call
from .app_task import AppTask
from .dataspace import MoeDataspace
from .factory import MoeFactory
from .namespace import MoeNamespace


async def cap_refs(task, cap):
    """The counted references to the object behind `cap` in `task` (0: no object)."""
    u = l4_utcb()
    u.mr[0] = L4_TASK_CAP_INFO_OP
    u.mr[1] = cap | 1
    tag = await call(task, l4_msgtag(L4_PROTO_TASK, 2, 0, 0).raw)
    return max(tag.label, 0)


def _referenced(moe):
    """Labels of the objects moe itself refers to."""
    server = moe.server
    by_gate = {sel: label for label, sel in server.gates.items()}
    held = set(moe.permanent)
    for obj in list(server.objects.values()):
        if isinstance(obj, MoeNamespace):
            held.update(by_gate[e.cap] for e in obj.entries.values() if e.cap in by_gate)
        elif hasattr(obj, "rmap"):
            held.update(r.ds.label for r in obj.rmap.regions if isinstance(r.ds, MoeDataspace))
        elif isinstance(obj, AppTask) and obj.exit_code is None:
            held.add(obj.label)
    return held


async def _release(moe, obj):
    if isinstance(obj, MoeDataspace):
        obj.release()
        if getattr(obj, "factory", None) is not None:
            obj.factory.refund(obj.charged)
    elif isinstance(obj, MoeFactory) and obj.parent is not None:
        obj.parent.refund(obj.quota)
    elif isinstance(obj, MoeNamespace):
        for entry in obj.entries.values():
            await obj._drop(entry)
        obj.entries.clear()
    gate = moe.server.forget(obj)
    await l4_task_unmap(moe.env.task, l4_obj_fpage(gate, 0, L4_CAP_FPAGE_RWSD), L4_FP_ALL_SPACES)
    moe.server.cap_alloc.free(gate)


async def collect(moe):
    """Release every object nobody holds (see module doc); how many went."""
    gone = 0
    while True:
        held = _referenced(moe)
        dead = []
        for label, obj in list(moe.server.objects.items()):
            if label not in held and await cap_refs(moe.env.task, moe.server.gates[label]) <= 1:
                dead.append(obj)
        if not dead:
            return gone
        for obj in dead:
            await _release(moe, obj)
        gone += len(dead)
