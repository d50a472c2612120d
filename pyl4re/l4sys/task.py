"""Task calls for µApps, with l4sys names and argument order (§8.1, §5.5): map and unmap
capabilities, test capability slots, add kernel-user memory.

Each fills the running thread's UTCB as l4re-core's task.h does and calls the task
capability; each returns the reply's l4_msgtag_t. For l4_task_cap_valid and
l4_task_cap_equal the answer is the tag's label (1 yes, 0 no); l4_task_unmap(_batch)
leaves the fpages with their access flags in MR2.. of the UTCB.
"""
from . import _check, _kobj
from .consts import (
    L4_CAP_FPAGE_RWS, L4_CAP_FPAGE_RWSD, L4_FP_ALL_SPACES, L4_FP_DELETE_OBJ, L4_PROTO_TASK,
    L4_TASK_ADD_KU_MEM_OP, L4_TASK_CAP_INFO_OP, L4_TASK_MAP_OP, L4_TASK_UNMAP_OP,
    L4_UTCB_GENERIC_DATA_SIZE,
)
from .fpage import l4_map_obj_control, l4_obj_fpage
from .msgtag import l4_msgtag
from .utcb import l4_utcb

_UNMAP_BATCH_MAX = L4_UTCB_GENERIC_DATA_SIZE - 2      # l4sys' precondition


async def l4_task_map(dst_task, src_task, snd_fpage, snd_base):
    """Map what `snd_fpage` names in `src_task` into `dst_task` (needs W on dst_task).
    `snd_base` is the control word: destination (hot spot) | attributes | grant, as
    l4_map_obj_control() builds it. S survives only if both task capabilities have S."""
    fn = "l4_task_map"
    dst_task = _kobj.cap(dst_task, fn, "dst_task")
    src_item = l4_obj_fpage(_kobj.cap(src_task, fn, "src_task"), 0, L4_CAP_FPAGE_RWS).raw
    snd_fpage = _kobj.fpage(snd_fpage, fn, "snd_fpage")
    snd_base = _kobj.word(snd_base, fn, "snd_base")
    u = l4_utcb()
    u.mr[0] = L4_TASK_MAP_OP
    u.mr[1] = snd_base
    u.mr[2] = snd_fpage
    u.mr[3] = l4_map_obj_control(0, 0)
    u.mr[4] = src_item
    return await _kobj.call(dst_task, l4_msgtag(L4_PROTO_TASK, 3, 1, 0).raw)


async def l4_task_unmap(task, fpage, map_mask):
    """Revoke what `fpage` names from `task` (L4_FP_OTHER_SPACES, L4_FP_ALL_SPACES or
    L4_FP_DELETE_OBJ in `map_mask`). MR2 comes back with the access flags."""
    fn = "l4_task_unmap"
    return await _unmap(task, [_kobj.fpage(fpage, fn, "fpage")], map_mask, fn)


async def l4_task_unmap_batch(task, fpages, num_fpages, map_mask):
    """Revoke the first `num_fpages` of `fpages` at once (at most
    L4_UTCB_GENERIC_DATA_SIZE - 2); MR2.. come back with the access flags of each."""
    fn = "l4_task_unmap_batch"
    num_fpages = _check.in_range(num_fpages, 0, _UNMAP_BATCH_MAX, f"{fn}: num_fpages")
    fpages = list(fpages)
    if num_fpages > len(fpages):
        raise ValueError(f"{fn}: num_fpages {num_fpages} but only {len(fpages)} flexpages")
    raws = [_kobj.fpage(f, fn, "fpages[]") for f in fpages[:num_fpages]]
    return await _unmap(task, raws, map_mask, fn)


async def _unmap(task, raws, map_mask, fn):
    task = _kobj.cap(task, fn, "task")
    map_mask = _kobj.word(map_mask, fn, "map_mask")
    u = l4_utcb()
    u.mr[0] = L4_TASK_UNMAP_OP
    u.mr[1] = map_mask
    for i, raw in enumerate(raws, start=2):
        u.mr[i] = raw
    return await _kobj.call(task, l4_msgtag(L4_PROTO_TASK, 2 + len(raws), 0, 0).raw)


async def l4_task_delete_obj(task, obj):
    """Delete the object `obj` names in `task` if that capability has D (every capability
    to it dies); without D only the capability goes."""
    task = _kobj.cap(task, "l4_task_delete_obj", "task")
    obj = _kobj.cap(obj, "l4_task_delete_obj", "obj")
    return await l4_task_unmap(task, l4_obj_fpage(obj, 0, L4_CAP_FPAGE_RWSD),
                               L4_FP_DELETE_OBJ)


async def l4_task_release_cap(task, cap):
    """Remove the capability `cap` from `task` (the object dies with its last counted
    reference)."""
    task = _kobj.cap(task, "l4_task_release_cap", "task")
    cap = _kobj.cap(cap, "l4_task_release_cap", "cap")
    return await l4_task_unmap(task, l4_obj_fpage(cap, 0, L4_CAP_FPAGE_RWSD),
                               L4_FP_ALL_SPACES)


async def l4_task_cap_valid(task, cap):
    """Label 1 if slot `cap` of `task` holds a capability, 0 if not (or if `cap` is a
    special selector)."""
    fn = "l4_task_cap_valid"
    task = _kobj.cap(task, fn, "task")
    cap = _kobj.cap(cap, fn, "cap")
    u = l4_utcb()
    u.mr[0] = L4_TASK_CAP_INFO_OP
    u.mr[1] = cap & ~1               # bit 0 would ask for the reference count instead
    return await _kobj.call(task, l4_msgtag(L4_PROTO_TASK, 2, 0, 0).raw)


async def l4_task_cap_equal(task, cap_a, cap_b):
    """Label 1 if slots `cap_a` and `cap_b` of `task` name the same object with the same
    rights, 0 if not."""
    fn = "l4_task_cap_equal"
    task = _kobj.cap(task, fn, "task")
    cap_a = _kobj.cap(cap_a, fn, "cap_a")
    cap_b = _kobj.cap(cap_b, fn, "cap_b")
    u = l4_utcb()
    u.mr[0] = L4_TASK_CAP_INFO_OP
    u.mr[1] = cap_a
    u.mr[2] = cap_b
    return await _kobj.call(task, l4_msgtag(L4_PROTO_TASK, 3, 0, 0).raw)


async def l4_task_add_ku_mem(task, ku_mem):
    """Add kernel-user memory (UTCB areas) at the memory flexpage `ku_mem` to `task`."""
    fn = "l4_task_add_ku_mem"
    task = _kobj.cap(task, fn, "task")
    ku_mem = _kobj.fpage(ku_mem, fn, "ku_mem")
    u = l4_utcb()
    u.mr[0] = L4_TASK_ADD_KU_MEM_OP
    u.mr[1] = ku_mem
    return await _kobj.call(task, l4_msgtag(L4_PROTO_TASK, 2, 0, 0).raw)


__all__ = ["l4_task_map", "l4_task_unmap", "l4_task_unmap_batch", "l4_task_delete_obj",
           "l4_task_release_cap", "l4_task_cap_valid", "l4_task_cap_equal",
           "l4_task_add_ku_mem"]
