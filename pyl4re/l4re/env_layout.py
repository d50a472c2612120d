"""`l4re_env_t` and its named-capability array as bytes, at L4Re's offsets (64-bit;
l4re-core `l4re/include/env.h`), and the initial stack a program starts with (argc, argv,
envp, the aux vector with AT_L4_ENV; `libloader/include/loader`).

The loader packs these into the new program's memory; the program (and the in-task
loader) unpacks them from there. Pure data: no IPC, no memory access.
"""
import struct
from dataclasses import dataclass, field

from .protocols import CAP_NAME_MAX

ENV_SIZE = 0x70
CAP_ENTRY_SIZE = 32
CAP_ENTRY_END = (1 << 64) - 1              # flags of the terminating entry
# The capability fields of l4re_env_t, in order (each a selector, 8 bytes).
CAP_FIELDS = ("parent", "rm", "mem_alloc", "log", "main_thread", "factory", "scheduler",
              "itas", "dbg_events")
AT_NULL, AT_PAGESZ, AT_L4_AUX, AT_L4_ENV, AT_L4_KIP = 0, 6, 0xF0, 0xF1, 0xF2


@dataclass
class EnvRecord:
    """The fields of one l4re_env_t (selectors, first_free_cap an index, the UTCB area
    fpage's raw word, first_free_utcb and the caps pointer addresses) and its named caps."""
    parent: int = 0
    rm: int = 0
    mem_alloc: int = 0
    log: int = 0
    main_thread: int = 0
    factory: int = 0
    scheduler: int = 0
    itas: int = 0
    dbg_events: int = 0
    first_free_cap: int = 0
    first_free_reply_cap: int = 0
    utcb_area: int = 0
    first_free_utcb: int = 0
    caps_ptr: int = 0
    caps: dict = field(default_factory=dict)      # name -> selector, in array order

    def pack(self):
        """The 0x70 bytes of l4re_env_t."""
        words = [getattr(self, f) for f in CAP_FIELDS] + [
            self.first_free_cap, self.first_free_reply_cap, self.utcb_area,
            self.first_free_utcb, self.caps_ptr]
        return struct.pack("<14Q", *words)

    @classmethod
    def unpack(cls, data):
        words = struct.unpack("<14Q", bytes(data[:ENV_SIZE]))
        rec = cls(**dict(zip(CAP_FIELDS, words[:9])))
        (rec.first_free_cap, rec.first_free_reply_cap, rec.utcb_area, rec.first_free_utcb,
         rec.caps_ptr) = words[9:]
        return rec


def valid_cap_name(name):
    """A named cap's name: 1..16 bytes, stored in 16 (the loader refuses longer ones)."""
    return isinstance(name, str) and 0 < len(name.encode()) <= CAP_NAME_MAX


def pack_caps(caps):
    """The named-capability array: 32-byte entries (cap, flags, name[16]) and the
    terminator whose flags are ~0."""
    out = bytearray()
    for name, sel in caps.items():
        raw = name.encode()
        if not valid_cap_name(name):
            raise ValueError(f"capability name {name!r} must be 1..{CAP_NAME_MAX} bytes")
        out += struct.pack("<QQ", sel, 0) + raw.ljust(CAP_NAME_MAX, b"\0")
    out += struct.pack("<QQ", 0, CAP_ENTRY_END) + b"\0" * CAP_NAME_MAX
    return bytes(out)


def unpack_cap_entry(data):
    """(selector, flags, name) of one 32-byte entry."""
    sel, flags = struct.unpack_from("<QQ", data)
    return sel, flags, bytes(data[16:32]).split(b"\0", 1)[0].decode(errors="replace")


def pack_stack(base, size, env, args, page_size, kip):
    """A stack page image for a program: the env and cap array at its bottom, strings
    after them, argc/argv/envp/auxv at its top. `base` is where the page is attached.
    Returns (bytes, initial sp)."""
    caps_off = ENV_SIZE
    caps_blob = pack_caps(env.caps)
    strings_off = caps_off + len(caps_blob)
    strings, ptrs = bytearray(), []
    for arg in args:
        ptrs.append(base + strings_off + len(strings))
        strings += arg.encode() + b"\0"
    env.caps_ptr = base + caps_off
    vec = [len(args)] + ptrs + [0, 0]                       # argc, argv[], NULL, envp NULL
    vec += [AT_PAGESZ, page_size, AT_L4_ENV, base, AT_L4_KIP, kip, AT_NULL, 0]
    top = struct.pack(f"<{len(vec)}Q", *vec)
    sp = (base + size - len(top)) & ~0xF
    if strings_off + len(strings) > sp - base:
        raise ValueError("the environment does not fit the stack page")
    image = bytearray(size)
    image[0:ENV_SIZE] = env.pack()
    image[caps_off:caps_off + len(caps_blob)] = caps_blob
    image[strings_off:strings_off + len(strings)] = strings
    image[sp - base:sp - base + len(top)] = top
    return bytes(image), sp


def parse_stack_top(words):
    """(argc, argv pointers, aux dict) from the words at the initial sp."""
    argc = words[0]
    argv = list(words[1:1 + argc])
    i = 1 + argc + 1
    while words[i]:                                        # envp until NULL
        i += 1
    i += 1
    aux = {}
    while i + 1 < len(words) and words[i] != AT_NULL:
        aux[words[i]] = words[i + 1]
        i += 2
    return argc, argv, aux
