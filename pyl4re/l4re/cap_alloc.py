"""Capability slot allocation (L4Re's `L4Re::Util::cap_alloc`): hands out free selectors
of the running task from `first_free_cap` on, and takes them back.

Slots are handed out lowest first, so the same program uses the same slots on every run.
It only does bookkeeping: releasing the capability in a slot (l4_task_release_cap) is the
caller's business, as in L4Re.
"""
import heapq

from ..l4sys import L4_CAP_SHIFT, L4_INVALID_CAP

_CAP_SLOTS = 0x100000                 # the kernel's capability table size (indices)


class CapAlloc:
    """Free slots [first, end) of one task, as selectors (index << L4_CAP_SHIFT)."""

    def __init__(self, first, end=_CAP_SLOTS):
        if not 0 < first <= end <= _CAP_SLOTS:
            raise ValueError(f"slot range {first:#x}..{end:#x} is not inside the table")
        self.next = first
        self.end = end
        self._free = []

    def alloc(self):
        """A free selector, or L4_INVALID_CAP when every slot is taken."""
        if self._free:
            return heapq.heappop(self._free) << L4_CAP_SHIFT
        if self.next >= self.end:
            return L4_INVALID_CAP
        index = self.next
        self.next += 1
        return index << L4_CAP_SHIFT

    __call__ = alloc                  # env.cap_alloc(), as the harness's Env spells it

    def reserve(self, count):
        """Take `count` consecutive slots; their first index (as l4re_itas does for its
        own 1024 slots)."""
        if self.next + count > self.end:
            raise ValueError(f"no {count} free slots left")
        first = self.next
        self.next += count
        return first

    def free(self, selector):
        index = selector >> L4_CAP_SHIFT
        if not 0 < index < self.next or index in self._free:
            raise ValueError(f"selector {selector:#x} was not handed out")
        heapq.heappush(self._free, index)
