"""The kernel's objects as Fiasco's JDB reports them, so the checks L4Re's introspection
tests make on a real system run on pyl4re unchanged.

Two views of the same list, every object in creation order (the debugger's global ids),
each followed by the capabilities that name it (Fiasco's object mappings):

  * `dump(k, tag)`: the `@@ KernelObjects` block JDB's `dumpmapdbobjs [tag]` prints
    (format version 0; kernkonzept/fiasco src/jdb/jdb_mapdb.cpp), one line per object
    `<global id> <object> [<type>] {<name>} <attr=value ...> ref_cnt=<n>` and one indented
    line per capability `<mapping>[C:<index>]: space=D:<task id>(<task name>) rights=<r>
    flags=<f> obj=0x<object>`, all numbers in hex but ref_cnt;
  * `records(k)`: the 64-byte `struct L4_kobj_info` records the debugger's object-info
    operation (op 16, l4_debugger_query_obj_infos) writes into a task's ku_mem
    (kernkonzept/l4re-core l4sys/include/obj_info.h).

Where Fiasco prints kernel pointers the model prints object ids (as the debugger's
kobj-to-id op takes them); a capability's "mapping" is (task global id << 20 | index),
unique as a pointer would be. Type names are JDB's, with its colour escapes unless asked
not to. What this module must not do: change anything; it reads the kernel.
"""
import re
import struct
from dataclasses import dataclass

from . import _core
from .graph import facts

_lib = _core.abi()

# JDB's type names (JDB_DEFINE_TYPENAME in Fiasco's sources) and L4_kobj_info types.
_TYPES = {
    "task": ("\033[31mTask\033[m", 2), "thread": ("\033[32mThread\033[m", 1),
    "gate": ("\033[35mGate\033[m", 4), "factory": ("\033[33;1mFactory\033[m", 7),
    "irq": ("\033[37mIRQ ipc\033[m", 5), "semaphore": ("\033[37mIRQ sem\033[m", 6),
    "icu": ("Icu/Pfc", 11), "log": ("Vlog", 10), "scheduler": ("\033[34mSched\033[m", 9),
    "debugger": ("Jdb", 8),
    # Fiasco names a Dmar_space "DMA"; its IOMMU object is Iommu (13) on x86 and Smmu (14)
    # on ARM: the model has one IOMMU kind and reports it as Iommu.
    "dma_space": ("DMA", 12), "iommu": ("Iommu", 13),
}
TYPE_MAPPING = 0
RECORD_SIZE = 64
FLAG_DELETE, FLAG_WEAKREF, FLAG_SERVER = 0x08, 0x10, 0x20
_TAG = re.compile(r"[!-~]{0,20}")          # printable, no blanks: what JDB's %20s reads
_ANSI = re.compile(r"\033\[[0-9;]*m")


@dataclass(frozen=True)
class Capability:
    """One capability to an object: the task holding it (id, global id, name), index,
    rights (R 4, W 1, S 2, D 8) and flags (delete 0x08, weakref 0x10, server 0x20)."""
    task: int
    task_gid: int
    task_name: object
    index: int
    rights: int
    flags: int

    @property
    def mapping(self):
        return (self.task_gid << 20) | self.index


@dataclass(frozen=True)
class ObjectEntry:
    """One object: id, global id, kind, debugger name, ref_cnt, attributes, its caps."""
    id: int
    gid: int
    kind: str
    name: object
    ref_cnt: int
    attrs: dict
    caps: tuple


def _dbg_name(k, oid):
    out = k._ffi.new("char[]", _lib.KOBJ_NAME_MAX + 1)
    if k._lib.kobj_get_name(k._k, [oid], out) == 0:
        return k._ffi.string(out).decode("utf-8", errors="replace")
    return None


def entries(k):
    """Every live object in creation order with its capabilities (ObjectEntry)."""
    f = facts(k)
    lib, ffi = k._lib, k._ffi
    info = ffi.new("struct kobj_info *")
    gid, refs = {}, {}
    for oid in f.kinds:
        lib.kobj_info(k._k, [oid], info)
        gid[oid], refs[oid] = info.dbg_id, info.counted_refs
    names = {oid: _dbg_name(k, oid) or (f.names[oid] if oid in f.caps or f.kinds[oid] ==
                                        "thread" else None) for oid in f.kinds}
    caps = {oid: [] for oid in f.kinds}
    for task in sorted(f.caps, key=gid.get):
        for index, obj, kind, rights, attrs in f.caps[task]:
            server = kind == "gate" and attrs & lib.L4_FPAGE_C_IPCGATE_SVR
            flags = ((FLAG_DELETE if rights & lib.L4_CAP_FPAGE_D else 0)
                     | (0 if attrs & lib.CAP_COUNTED else FLAG_WEAKREF)
                     | (FLAG_SERVER if server else 0))
            caps[obj].append(Capability(task, gid[task], names[task], index, rights, flags))
    out = []
    for oid in sorted(f.kinds, key=gid.get):
        out.append(ObjectEntry(oid, gid[oid], f.kinds[oid], names[oid], refs[oid],
                               _attrs(k, f, oid, gid), tuple(caps[oid])))
    return out


def _attrs(k, f, oid, gid):
    """What JDB's short form shows of an object besides its name (the model's subset)."""
    kind, lib, ffi = f.kinds[oid], k._lib, k._ffi
    if kind == "thread":
        info = k._thread_info(oid)
        cpu = None if info.cpu == 0xFFFFFFFF else info.cpu
        current = False
        if cpu is not None:
            out = ffi.new("struct cpu_info *")
            lib.cpu_info(k._k, [cpu], out)
            current = out.current.raw == oid
        task = f.thread_task.get(oid)
        return {"cpu": cpu, "space": gid.get(task) if task else None, "current": current,
                "ready": bool(info.state & lib.THREAD_READY) and not current}
    if kind == "gate":
        out = ffi.new("struct gate_info *")
        lib.gate_info(k._k, [oid], out)
        return {"label": out.label, "thread": gid.get(out.thread.raw)}
    if kind == "irq":
        out = ffi.new("struct irq_info *")
        lib.irq_info(k._k, [oid], out)
        return {"label": out.label, "thread": gid.get(out.thread.raw),
                "line": None if out.line == lib.ICU_NO_LINE else out.line}
    if kind == "factory":
        out = ffi.new("struct quota_info *")
        lib.factory_quota(k._k, [oid], out)
        return {"limit": out.limit, "used": out.used}
    return {}


def _show(value):
    return "-" if value is None else f"D:{value:x}" if isinstance(value, int) else str(value)


def dump(k, tag=None, color=True):
    """The `@@ KernelObjects` block of JDB's dumpmapdbobjs (see the module doc)."""
    if tag is not None and (not isinstance(tag, str) or not _TAG.fullmatch(tag)):
        raise ValueError("tag must be at most 20 printable characters without blanks "
                         f"(what JDB's dumpmapdbobjs reads), not {tag!r}")
    lines = ["@@ KernelObjects @< BLOCK", "dump format version number: 0",
             "user space tag:" + (f" {tag}" if tag else "")]
    for e in entries(k):
        kind = _TYPES[e.kind][0] if color else _ANSI.sub("", _TYPES[e.kind][0])
        name = f" {{{e.name}}}" if e.name is not None else ""
        attrs = "".join(f" {key}={_fmt(key, value)}" for key, value in e.attrs.items())
        lines.append(f"{e.gid:x} {e.id:x} [{kind}]{name}{attrs} ref_cnt={e.ref_cnt}")
        for c in e.caps:
            space = f"({c.task_name})" if c.task_name else ""
            lines.append(f"\t{c.mapping:x}[C:{c.index:x}]: space=D:{c.task_gid:x}{space} "
                         f"rights={c.rights:x} flags={c.flags:x} obj=0x{e.id:x}")
    lines.append("@@ KernelObjects BLOCK >@")
    return "\n".join(lines) + "\n"


def _fmt(key, value):
    if key in ("space", "thread"):
        return _show(value)
    if isinstance(value, bool):
        return int(value)
    return "-" if value is None else f"{value:x}" if key in ("label", "limit", "used") \
        else str(value)


# ---- op 16: struct L4_kobj_info records

def _header(type_, id_, mapping_ptr, ref_cnt):
    return struct.pack("<QQQ", (type_ & 0x1F) | (id_ << 5) & ((1 << 64) - 1), mapping_ptr,
                       ref_cnt)


def _object_record(e):
    type_ = _TYPES[e.kind][1]
    a = e.attrs
    if e.kind == "thread":
        cpu = 0xFFFFFFFF if a["cpu"] is None else a["cpu"]
        body = struct.pack("<????IIqQ", False, a["current"], a["ready"], False, cpu, cpu,
                           e.ref_cnt, a["space"] or 0)
    elif e.kind == "task":
        body = struct.pack("<?7xq", False, e.ref_cnt)
    elif e.kind == "gate":
        body = struct.pack("<QQ", a["label"], a["thread"] or 0)
    elif e.kind == "irq":
        pin = 0xFFFFFFFF if a["line"] is None else a["line"]
        body = struct.pack("<10sHIQQq", b"icu" if a["line"] is not None else b"", 0, pin,
                           a["label"], a["thread"] or 0, 0)
    elif e.kind == "factory":
        body = struct.pack("<QQ", a["used"], a["limit"])
    else:
        body = b""
    return _header(type_, e.gid, e.id, e.ref_cnt) + body.ljust(40, b"\0")


def _cap_record(e, c):
    name = (c.task_name or "").encode()[:16]
    body = struct.pack("<Q16sIHHQ", c.mapping, name, c.index, c.rights, c.flags, e.id)
    return _header(TYPE_MAPPING, c.task_gid, 0, 0) + body


def records(k):
    """Every L4_kobj_info record in Fiasco's order: each object, then its capabilities."""
    out = []
    for e in entries(k):
        out.append(_object_record(e))
        out.extend(_cap_record(e, c) for c in e.caps)
    return out


def decode(data):
    """L4_kobj_info records (bytes, a multiple of 64) as dicts: type, id, mapping_ptr,
    ref_cnt and the type's fields (for tests and for harnesses reading ku_mem)."""
    out = []
    for off in range(0, len(data) - len(data) % RECORD_SIZE, RECORD_SIZE):
        word, mapping_ptr, ref_cnt = struct.unpack_from("<QQQ", data, off)
        rec = {"type": word & 0x1F, "id": word >> 5, "mapping_ptr": mapping_ptr,
               "ref_cnt": ref_cnt}
        body = off + 24
        if rec["type"] == TYPE_MAPPING:
            m, name, idx, rights, flags, entry = struct.unpack_from("<Q16sIHHQ", data, body)
            rec.update(mapping=m, space_name=name.rstrip(b"\0").decode(errors="replace"),
                       cap_idx=idx, entry_rights=rights, entry_flags=flags, entry_ptr=entry)
        elif rec["type"] == 1:
            (kern, cur, ready, ktask, home, cpu, refs,
             space) = struct.unpack_from("<????IIqQ", data, body)
            rec.update(is_current=cur, in_ready_list=ready, home_cpu=home, current_cpu=cpu,
                       space_id=space)
        elif rec["type"] == 4:
            rec.update(zip(("label", "thread_id"), struct.unpack_from("<QQ", data, body)))
        elif rec["type"] == 7:
            rec.update(zip(("current", "limit"), struct.unpack_from("<QQ", data, body)))
        out.append(rec)
    return out


def query(k, task, va, size, skip):
    """Op 16 for a thread of `task`: write the records from `skip` on into its ku_mem at
    [va, va + size) as far as whole records fit. (written, all after skip), or -L4_EINVAL
    if that range is not ku_mem of the task."""
    pa = k._ffi.new("phys_addr_t *")
    if k._lib.task_kumem_find(k._k, [task], [va], size, pa) < 0:
        return -_lib.L4_EINVAL
    recs = records(k)[skip:]
    room = size // RECORD_SIZE
    data = b"".join(recs[:room])
    k.physmem[pa.raw:pa.raw + len(data)] = memoryview(data)
    return min(room, len(recs)), len(recs)
