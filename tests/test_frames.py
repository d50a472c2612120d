"""The physical frame allocator: buddy blocks, exhaustion, refusals of bad frees."""
import pytest

from pyl4re import Kernel, L4InvalidArgumentError, L4NoMemoryError, PageNumber, PhysAddr, VirtAddr


@pytest.fixture
def small(arch):
    # 256 KiB pool: frames 1..63 (frame 0 is reserved); sigma0's UTCB area takes the first
    # page at boot (4 KiB, or 16 KiB on MIPS64), leaving FREE frames.
    return Kernel(arch=arch, memory=2 << 20, kernel_memory=256 << 10)


def boot_used(k):
    return 1 << (k.arch_info["page_shift"] - 12)        # sigma0's UTCB page, in frames


def test_blocks_are_naturally_aligned_and_in_the_pool(small):
    for order in range(0, 5):
        pa = small.frames.alloc(order)
        assert pa.value % (4096 << order) == 0
        assert 4096 <= pa.value < 256 << 10
        assert small.frames.owner(pa.pfn()) == "kernel"


def test_owners_at_boot(small):
    assert small.frames.owner(PageNumber(0)) == "reserved"
    used = boot_used(small)
    assert small.frames.owner(PageNumber(used)) == "kernel"           # sigma0's UTCB
    assert small.frames.owner(PageNumber(2 * used)) == "kernel-free"
    assert small.frames.owner(PageNumber(63)) == "kernel-free"
    assert small.frames.owner(PageNumber(64)) == "sigma0"
    assert small.frames.owner(PageNumber(511)) == "sigma0"


def test_exhaustion_is_refused_cleanly_and_recovers(small):
    blocks = []
    with pytest.raises(L4NoMemoryError):
        while True:
            blocks.append(small.frames.alloc(0))
    assert len(blocks) == 63 - boot_used(small)
    assert len(set(blocks)) == len(blocks)
    assert small.frames.stats()["kernel_free_frames"] == 0
    for b in blocks:
        small.frames.free(b)
    # Everything merged back: the largest aligned block that fits the pool is there again.
    assert small.frames.stats()["kernel_free_frames"] == 63 - boot_used(small)
    assert small.frames.alloc(5).value == 32 * 4096


def test_too_large_a_block_is_refused(small):
    with pytest.raises(L4NoMemoryError):
        small.frames.alloc(6)          # 64 frames do not fit a 63-frame pool
    assert small.frames.stats()["kernel_free_frames"] == 63 - boot_used(small)


def test_split_and_merge_keep_the_count(small):
    free = small.frames.stats()["kernel_free_frames"]
    a = small.frames.alloc(3)
    b = small.frames.alloc(0)
    assert small.frames.stats()["kernel_free_frames"] == free - 9
    small.frames.free(a, 3)
    small.frames.free(b, 0)
    assert small.frames.stats()["kernel_free_frames"] == free


@pytest.mark.parametrize("bad", ["misaligned", "wrong_order", "double", "sigma0", "reserved",
                                 "beyond", "never_allocated"])
def test_bad_frees_are_refused_and_change_nothing(small, bad):
    block = small.frames.alloc(2)
    free_before = small.frames.stats()["kernel_free_frames"]
    target, order = {
        "misaligned": (PhysAddr(block.value + 4096), 2),
        "wrong_order": (block, 1),
        "double": (block, 2),
        "sigma0": (PhysAddr(64 * 4096), 0),
        "reserved": (PhysAddr(0), 0),
        "beyond": (PhysAddr(1 << 40), 0),
        "never_allocated": (PhysAddr(60 * 4096), 0),
    }[bad]
    if bad == "double":
        small.frames.free(block, 2)
        free_before += 4
    with pytest.raises(L4InvalidArgumentError):
        small.frames.free(target, order)
    assert small.frames.stats()["kernel_free_frames"] == free_before


def test_ints_or_the_right_kind(small):
    """The harness surface takes a plain int or the matching typed value, never another
    kind (README: typed values)."""
    block = small.frames.alloc(0)
    small.frames.free(block.value)                 # an int is that PhysAddr
    assert small.frames.alloc(0) == block
    small.frames.free(block)
    assert small.frames.owner(block.pfn().value) == small.frames.owner(block.pfn())
    with pytest.raises(TypeError):
        small.frames.free(VirtAddr(4096))
    with pytest.raises(TypeError):
        small.frames.owner(PhysAddr(4096))
    with pytest.raises(TypeError):
        small.frames.owner(1.0)
    with pytest.raises(TypeError):
        small.frames.free(True)
    with pytest.raises(ValueError):
        small.frames.alloc(99)
    with pytest.raises(ValueError):
        small.frames.alloc(-1)


def test_owner_out_of_range(small):
    from pyl4re import L4Error
    with pytest.raises(L4Error):
        small.frames.owner(PageNumber(1 << 30))
