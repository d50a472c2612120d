"""The values the fuzzer feeds the kernel: valid ones, boundaries, and garbage.

Most draws are values a real program would pass (selectors of capabilities it holds,
small word counts, page-aligned addresses), so that invocations get past the first check
and reach deep paths; the rest are the boundaries and garbage that find missing checks.
Everything is drawn from one `random.Random`, so a seed fixes the whole case.
"""
U64 = (1 << 64) - 1

BOUNDARY_WORDS = (0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0xFFF, 0x1000, 0xFFFF, 0x10000, 0x7FFFFFFF,
                  0x80000000, 0xFFFFFFFF, 1 << 32, 1 << 47, 1 << 48, (1 << 63) - 1, 1 << 63,
                  U64 - 0xFFF, U64)

# Protocol labels of §7 (and their neighbours): what the control plane dispatches on.
PROTOCOL_LABELS = (0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15,
                   -16, -17, -18, -19, -20, -21, -22, -23, -24, -25, -26, -100, 1, 2, 0x10,
                   0xFFFF)

# Opcodes (MR0) of §8: every object's are below 0x20 (the thread's arch ops 0x10..), the
# debugger's groups are 0x100 apart, some carry flags above bit 16.
OPCODES = tuple(range(0, 0x14)) + (0x100, 0x101, 0x105, 0x108, 0x110, 0x200, 0x400, 0x500)
OPCODE_FLAGS = (0, 0, 0, 0x10000, 0x20000, 0x30000, 1 << 31)

# Selector indices the fuzz µApps hold or create (the base caps, the named caps from
# 0x16 on, what they create from 0x40 on) and a few they never hold.
HELD_INDICES = tuple(range(1, 11)) + tuple(range(0x16, 0x20)) + tuple(range(0x40, 0x48))
FOREIGN_INDICES = (0, 11, 0x3F, 0x100, 0xFFFFF)

MEMORY_BASES = (0x1000000, 0x1200000, 0x1400000, 0x1600000)

# I/O virtual addresses memory is mapped to in DMA spaces, and the harness's devices use.
DMA_IOVAS = (0, 0x1000, 0x10000, 0x200000, 0x1000000, 0xFFFFF000)

# Ports: the PC's usual ones, the ends of the I/O space, anything.
PORTS = (0, 0x20, 0x60, 0x70, 0x80, 0xCF8, 0xCFC, 0x3F8, 0x3FD, 0x2F8, 0xFFFC, 0xFFFF)


def word(rnd):
    """A 64-bit word: half small or boundary values, half anything."""
    r = rnd.random()
    if r < 0.35:
        return rnd.choice(BOUNDARY_WORDS)
    if r < 0.6:
        return rnd.randrange(0, 64)
    if r < 0.8:
        return rnd.choice(HELD_INDICES) << 12 | rnd.choice((0, 0, 0, 1, 2, 3))
    return rnd.getrandbits(64)


def opcode(rnd):
    """MR0 of an invocation: an opcode of §8 with or without flags, or any word."""
    if rnd.random() < 0.85:
        return rnd.choice(OPCODES) | rnd.choice(OPCODE_FLAGS)
    return word(rnd)


def port(rnd):
    if rnd.random() < 0.7:
        return rnd.choice(PORTS) + rnd.randrange(0, 4) & 0xFFFF
    return rnd.randrange(0, 0x10000)


def selector(rnd):
    """A capability selector: mostly one the µApp holds, sometimes garbage."""
    r = rnd.random()
    if r < 0.85:
        return rnd.choice(HELD_INDICES) << 12
    if r < 0.95:
        return rnd.choice(FOREIGN_INDICES) << 12
    return word(rnd)


def label(rnd):
    r = rnd.random()
    if r < 0.7:
        return rnd.choice(PROTOCOL_LABELS) & 0xFFFF
    return rnd.getrandbits(16)


def timeout(rnd):
    """A raw timeout pair: never, zero, a few µs, or garbage."""
    r = rnd.random()
    if r < 0.3:
        return 0                                    # never/never
    if r < 0.5:
        return 0x04000400                           # zero/zero
    if r < 0.9:
        def rel(us):                                # mantissa 10 bits, exponent 5 bits
            e = 0
            while us > 0x3FF:
                us >>= 1
                e += 1
            return e << 10 | us
        return rel(rnd.randrange(1, 400)) << 16 | rel(rnd.randrange(1, 400))
    return rnd.getrandbits(32)


def fpage(rnd):
    """A flexpage word: memory in the fuzz areas, objects, I/O ports, the whole space,
    garbage (the type field: 1 memory, 2 I/O, 3 objects)."""
    r = rnd.random()
    rights = rnd.randrange(0, 16)
    if r < 0.5:
        order = rnd.choice((12, 12, 12, 13, 16, 21))
        base = rnd.choice(MEMORY_BASES) + rnd.randrange(0, 16) * 0x1000
        return (base & ~((1 << order) - 1)) | order << 6 | 1 << 4 | rights    # memory fpage
    if r < 0.75:                                                         # objects
        return rnd.choice(HELD_INDICES) << 12 | rnd.randrange(0, 4) << 6 | 3 << 4 | rights
    if r < 0.85:                                          # I/O ports, odd sizes and places
        return port(rnd) << 12 | rnd.randrange(0, 18) << 6 | 2 << 4 | rights
    if r < 0.9:
        return 63 << 6 | 1 << 4 | rights                                     # whole space
    return rnd.getrandbits(64)
