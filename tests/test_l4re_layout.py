"""The pure parts of the user level: l4re_env_t and the named-cap array at L4Re's
offsets, the initial stack, the RPC packing, factory vargs, the region map's rules, the
slot allocator, the heap and the rom images."""
import struct

import pytest

from pyl4re.l4re.cap_alloc import CapAlloc
from pyl4re.l4re.env_layout import (
    AT_L4_ENV, ENV_SIZE, EnvRecord, pack_caps, pack_stack, parse_stack_top, valid_cap_name,
)
from pyl4re.l4re.heap import Heap
from pyl4re.l4re.mem_alloc import vargs
from pyl4re.l4re.region_map import RegionMap
from pyl4re.l4re.rom import Program, entry_point, modules
from pyl4re.l4re.rpc import Packer, RpcError, Unpacker
from pyl4re.l4sys import L4_EADDRNOTAVAIL, L4_EMSGTOOSHORT, L4_INVALID_CAP


def test_env_record_offsets():
    rec = EnvRecord(parent=0x13000, rm=0x10000, mem_alloc=0x11000, log=0x5000,
                    main_thread=0x3000, factory=0x2000, scheduler=0x7000, first_free_cap=0x1A,
                    utcb_area=0xB300004C, first_free_utcb=0xB3000200, caps_ptr=0x1234)
    raw = rec.pack()
    assert len(raw) == ENV_SIZE == 0x70
    words = struct.unpack("<14Q", raw)
    assert words[0] == 0x13000 and words[1] == 0x10000 and words[2] == 0x11000
    assert words[3] == 0x5000 and words[9] == 0x1A and words[11] == 0xB300004C
    assert words[13] == 0x1234
    assert EnvRecord.unpack(raw).first_free_utcb == 0xB3000200


def test_named_cap_array_and_names():
    blob = pack_caps({"rom": 0x16000, "a" * 16: 0x17000})
    assert len(blob) == 3 * 32
    assert blob[16:19] == b"rom" and blob[48:64] == b"a" * 16        # no NUL at 16 chars
    assert struct.unpack_from("<QQ", blob, 64) == (0, (1 << 64) - 1)
    assert not valid_cap_name("a" * 17) and not valid_cap_name("")
    with pytest.raises(ValueError):
        pack_caps({"a" * 17: 1})


def test_initial_stack_round_trip():
    rec = EnvRecord(caps={"x": 0x16000})
    image, sp = pack_stack(0x80000000, 4096, rec, ["rom/x", "-v"], 4096, 0xBFF00000)
    assert sp % 16 == 0 and 0x80000000 < sp < 0x80001000
    words = struct.unpack(f"<{(0x80001000 - sp) // 8}Q", image[sp - 0x80000000:])
    argc, argv, aux = parse_stack_top(words)
    assert argc == 2 and aux[AT_L4_ENV] == 0x80000000
    at = argv[0] - 0x80000000
    assert image[at:at + 6] == b"rom/x\0"


def test_packing_follows_natural_alignment():
    p = Packer().u32(7).u64(1).u8(2).u64(3).array(b"abc")
    raw = p.words()
    assert raw[:4] == b"\x07\0\0\0" and raw[8:16] == (1).to_bytes(8, "little")
    assert raw[16] == 2 and raw[24:32] == (3).to_bytes(8, "little")
    assert raw[32:40] == (3).to_bytes(8, "little") and raw[40:43] == b"abc"
    u = Unpacker(raw)
    assert (u.u32(), u.u64(), u.u8(), u.u64(), u.array()) == (7, 1, 2, 3, b"abc")
    with pytest.raises(RpcError) as e:
        Unpacker((99).to_bytes(8, "little")).array()          # 99 bytes promised, none there
    assert e.value.code == L4_EMSGTOOSHORT
    with pytest.raises(RpcError):
        Unpacker(raw[:4]).u64()


def test_vargs_encoding():
    # create(L4.Proto.Log, "hello", "red"): the spec's example words
    data = vargs("hello", "red")
    words = struct.unpack("<4Q", data)
    assert words[0] == 0x00060002 and data[8:14] == b"hello\0"
    assert words[2] == 0x00040002 and data[24:28] == b"red\0"
    assert struct.unpack("<2Q", vargs(-1)) == (0x00080081, (1 << 64) - 1)
    assert struct.unpack("<2Q", vargs(("u", 5))) == (0x00080001, 5)
    with pytest.raises(TypeError):
        vargs(1.5)


def test_region_map_rules():
    rm = RegionMap(0x1000, 1 << 47, 12)
    r = rm.attach(0x10000, 0x1800, 6, "ds", 0, 12, 1)
    assert (r.start, r.end) == (0x10000, 0x12000)             # size rounded up to pages
    with pytest.raises(RpcError) as e:
        rm.attach(0x11000, 0x1000, 4, "ds", 0, 12, 1)
    assert e.value.code == L4_EADDRNOTAVAIL
    s = rm.attach(0x10000, 0x1000, 4 | 0x20000, "ds", 0, 16, 1)
    assert s.start == 0x20000                                  # first fit, 64 KiB aligned
    assert rm.fault(0x10008, True, False)[1:] == (0x10000, 0)
    with pytest.raises(RpcError):
        rm.fault(0x20000, True, False)                          # read-only region


def test_cap_alloc():
    a = CapAlloc(0x20, 0x23)
    got = [a.alloc() for _ in range(3)]
    assert got == [0x20000, 0x21000, 0x22000] and a.alloc() == L4_INVALID_CAP
    a.free(0x21000)
    assert a.alloc() == 0x21000
    with pytest.raises(ValueError):
        a.free(0x50000)


def test_heap():
    h = Heap(0x1000, 256, None)
    a, b = h.malloc(10), h.malloc(100)
    assert (a, b) == (0x1000, 0x1010)
    assert h.malloc(1000) is None
    h.free(a)
    h.free(b)
    assert h.free_list == [(0x1000, 256)]
    with pytest.raises(ValueError):
        h.free(0x1000)


def test_rom_images():
    async def main(env):
        return 0
    prog = Program("p", main)
    assert entry_point(prog.image()) == prog.ip
    assert entry_point(b"not a program") is None
    mods = modules({"data": "text", "p": main})
    assert mods["data"] == b"text" and isinstance(mods["p"], Program) and "hello" in mods


def test_env_utcb_alloc_stays_inside_the_utcb_area(arch):
    """L4Re's Env hands out the UTCB slots after first_free_utcb up to the end of the
    task's UTCB area (an 8 KiB fpage here), then refuses with a clear error."""
    from pyl4re import Kernel
    from pyl4re.arch_consts import running_consts
    from pyl4re.l4re.env import Env
    from pyl4re.l4sys import l4_fpage

    base = 0xB300_0000
    k = Kernel(arch=arch, memory=8 << 20)

    async def main(env):
        size = running_consts().utcb_size
        l4re_env = Env(EnvRecord(first_free_cap=0x100, utcb_area=l4_fpage(base, 13, 0).raw,
                                 first_free_utcb=base + size))
        slots = []
        for _ in range(0x2000 // size + 1):           # bounded: an unchecked end runs on
            try:
                slots.append(l4re_env.utcb_alloc())
            except ValueError as exc:
                return size, slots, str(exc)
        return size, slots, None

    k.start_task(main, name="m")
    size, slots, error = k.run().exited["m"]
    assert slots == list(range(base + size, base + 0x2000, size))
    assert error == "the task has no free UTCB left"
