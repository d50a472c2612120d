"""Task control plane (§8.1, §5.2, §5.5): map, unmap, cap_info and add_ku_mem invoked on a
task capability (label L4_PROTO_TASK; the opcode is the whole MR0).

Each operation first decodes and checks the message (may fail, changes nothing), then
performs it through C. What it must not do: keep capability, mapping or ku-mem state of
its own (the C tables and the mapping database are the only truth). I/O flexpages (x86
ports) are not modelled and answer -L4_ENOSYS.
"""
from .. import _core
from .invocation import ipc_error, item_object, refuse, reply

_lib = _core.abi()

R, W, S, D = (_lib.L4_CAP_FPAGE_R, _lib.L4_CAP_FPAGE_W, _lib.L4_CAP_FPAGE_S,
              _lib.L4_CAP_FPAGE_D)
_SPECIAL_BITS = _lib.L4_INVALID_CAP_BIT | _lib.L4_REPLY_CAP_BIT   # §6.1 special()
_SPECIAL_MASK = _lib.L4_CAP_MASK            # what of a special selector is its value
_FPAGE_ALL_ORDER = _lib.L4_WHOLE_ADDRESS_SPACE
# Fiasco's ku-mem comes from its buddy allocator: at most 2^17 bytes in one piece
# (kernkonzept/fiasco src/kern/task.cpp alloc_ku_mem), below every superpage size.
KU_MEM_MAX_ORDER = 17


def _fpage_type(fp):
    return (fp >> 4) & 3


def _fpage_order(fp):
    return (fp >> 6) & 0x3F


def _is_all(fp):
    """l4_fpage_all(): the special flexpage naming every space at once."""
    return _fpage_type(fp) == _lib.L4_FPAGE_SPECIAL and _fpage_order(fp) == _FPAGE_ALL_ORDER


def _memory_fpage(fp):
    """A memory fpage as Fiasco takes it: the address aligned down to the order; None for
    an order below 4 KiB (ignored, §5.1)."""
    order = _fpage_order(fp)
    if order < 12:
        return None
    return fp & ~(((1 << order) - 1) & ~0xFFF) if order < 64 else fp


def _as_objects(fp):
    """The capability part of l4_fpage_all(): every slot."""
    return (20 << 6) | (_lib.L4_FPAGE_OBJ << 4) | (fp & 0xF)


def invoke(inv):
    if inv.label != _lib.L4_PROTO_TASK:
        return reply(-_lib.L4_EBADPROTO)
    op = inv.mr(0)
    if op == _lib.L4_TASK_MAP_OP:
        return _map(inv)
    if op == _lib.L4_TASK_UNMAP_OP:
        return _unmap(inv)
    if op == _lib.L4_TASK_CAP_INFO_OP:
        return _cap_info(inv)
    if op == _lib.L4_TASK_ADD_KU_MEM_OP:
        return _add_ku_mem(inv)
    return reply(-_lib.L4_ENOSYS)      # incl. the x86 LDT and Arm vGICC arch operations


def _map(inv):
    """l4_task_map: MR1 = send base (control word), MR2 = send fpage in the source task,
    item = source task. The receive window is the whole invoked (destination) task."""
    if not inv.rights & W:
        return refuse(inv, W)
    found, err = item_object(inv, 0, _lib.KOBJ_TASK)
    if err is not None:
        return err
    src_task, _, src_rights = found
    ctl, fp = inv.mr(1), inv.mr(2)
    kind = _fpage_type(fp)
    if kind == _lib.L4_FPAGE_IO:
        return reply(-_lib.L4_ENOSYS)  # I/O ports are not modelled
    if kind not in (_lib.L4_FPAGE_OBJ, _lib.L4_FPAGE_MEMORY):
        return reply(0)                # an invalid or other special fpage maps nothing
    k = inv.kernel
    mapped = k._ffi.new("uint32_t *")
    if kind == _lib.L4_FPAGE_MEMORY:
        fp = _memory_fpage(fp)
        if fp is None:
            return reply(0)            # below a page: Fiasco maps nothing, silently
        rc = k._lib.task_map_mem(k._k, [inv.obj], [src_task], fp, ctl, mapped)
    else:
        # S passes only if both task capabilities have it; R, W and D always may (§5.2).
        mask = (src_rights & inv.rights & S) | R | W | D
        rc = k._lib.task_map_obj(k._k, [inv.obj], [src_task], fp, ctl, mask, mapped)
    if rc == -_lib.L4_ENOMEM:
        return ipc_error(_lib.L4_IPC_SEMAPFAILED)    # quota: the map item failed
    if rc < 0:
        return reply(rc)
    return reply(0)


def _unmap(inv):
    """l4_task_unmap(_batch): MR1 = map mask, MR2.. = fpages. Each fpage comes back with
    its low 4 bits replaced by the access flags of what was flushed (none for objects)."""
    words = inv.words
    mask = inv.mr(1) if words > 1 else 0
    fpages = [inv.mr(i) for i in range(2, words)]
    if any(_fpage_type(fp) == _lib.L4_FPAGE_IO for fp in fpages):
        return reply(-_lib.L4_ENOSYS)  # I/O ports are not modelled
    k = inv.kernel
    flags = k._ffi.new("uint32_t *")
    # No unmap rights are checked: a task capability suffices (Fiasco sys_unmap).
    for i, fp in enumerate(fpages, start=2):
        access = 0
        mem_fp = fp if _is_all(fp) else _memory_fpage(fp)
        if (_fpage_type(fp) == _lib.L4_FPAGE_MEMORY or _is_all(fp)) and mem_fp is not None:
            if k._lib.task_unmap_mem(k._k, [inv.obj], mem_fp, mask, flags) == 0:
                access = flags[0]
        if _fpage_type(fp) == _lib.L4_FPAGE_OBJ or _is_all(fp):
            k._lib.task_unmap_obj(k._k, [inv.obj], _as_objects(fp) if _is_all(fp) else fp, mask)
        inv.utcb.mr[i] = (fp & ~0xF) | access
    return reply(0, words)


def _special(sel):
    return bool(sel & _SPECIAL_BITS)


def _lookup(k, task, sel):
    """(object id, rights) of the slot `sel` names in `task`, or None if it is empty."""
    index = sel >> _lib.L4_CAP_SHIFT
    if index >= _lib.CSPACE_SLOTS:
        return None
    info = k._ffi.new("struct cap_info *")
    if k._lib.cspace_lookup(k._k, [task], [index], info) < 0:
        return None
    return info.obj.raw, info.rights


def _cap_info(inv):
    """2 words: cap_valid(MR1); 3 words: cap_equal(MR1, MR2); both in the invoked task."""
    k = inv.kernel
    if inv.words == 2:
        sel = inv.mr(1)
        if _special(sel):
            return reply(0)
        found = _lookup(k, inv.obj, sel)
        if found is None:
            return reply(0)
        if sel & 1:
            # Bit 0 (l4sys clears it) asks for the object's counted references
            # (kernkonzept/fiasco src/kern/task.cpp sys_cap_valid, newer snapshot).
            out = k._ffi.new("struct kobj_info *")
            k._lib.kobj_info(k._k, [found[0]], out)
            return reply(out.counted_refs)
        return reply(1)
    if inv.words == 3:
        a, b = inv.mr(1), inv.mr(2)
        if a == b:
            return reply(1)
        if _special(a) or _special(b):
            return reply(int(a & _SPECIAL_MASK == b & _SPECIAL_MASK))
        # Fiasco compares the slot entries: the object and the W/S bits kept with it.
        ca, cb = _lookup(k, inv.obj, a), _lookup(k, inv.obj, b)
        key = (lambda c: None if c is None else (c[0], c[1] & (W | S)))
        return reply(int(key(ca) == key(cb)))
    return reply(-_lib.L4_EINVAL)


def _add_ku_mem(inv):
    """MR1..: memory fpages of kernel-user memory for the task (UTCBs, vCPU state)."""
    k = inv.kernel
    page_shift = k.arch_info["page_shift"]
    fpages = [inv.mr(i) for i in range(1, inv.words)]
    areas = []
    for fp in fpages:
        order = _fpage_order(fp)
        if fp == 0 or _fpage_type(fp) != _lib.L4_FPAGE_MEMORY:
            return reply(-_lib.L4_EINVAL)
        if not page_shift <= order <= KU_MEM_MAX_ORDER:
            return reply(-_lib.L4_EINVAL)
        base = fp & ~((1 << order) - 1)          # the kernel aligns down (§5.1)
        if base + (1 << order) - 1 > k.arch_info["user_max"]:
            return reply(-_lib.L4_EINVAL)
        areas.append((base, order))
    # As in Fiasco, fpages are added one after the other: a later one failing (overlap
    # -L4_EEXIST, quota -L4_ENOMEM) keeps the earlier ones.
    for base, order in areas:
        rc = k._lib.task_kumem(k._k, [inv.obj], [base], order)
        if rc < 0:
            return reply(rc)
    # Reply as §8.1 states it: the fpages echoed, one word each.
    for i, fp in enumerate(fpages):
        inv.utcb.mr[i] = fp
    return reply(0, len(fpages))
