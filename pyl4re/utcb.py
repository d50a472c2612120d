"""A thread's UTCB as numpy views of the real UTCB memory in `kernel.physmem` (§2).

`mr` (63 message registers), `br` (58 buffer registers) and `tcr` (5 thread control
registers) are uint64 views, not copies: what a µApp writes is what the kernel reads.
`bdr` is the buffer descriptor register as an int. This class never owns memory.
"""
import numpy as np

_MRS, _BDR, _BR0, _BRS, _TCR0 = 63, 64, 65, 58, 123
_U64 = (1 << 64) - 1


class Utcb:
    """The UTCB of one thread: `.mr`, `.br`, `.tcr` views and the `.bdr` register."""
    __slots__ = ("words", "mr", "br", "tcr", "va")

    def __init__(self, physmem, pa, va):
        self.words = physmem[pa:pa + 1024].view(np.uint64)
        self.mr = self.words[:_MRS]
        self.br = self.words[_BR0:_BR0 + _BRS]
        self.tcr = self.words[_TCR0:]
        self.va = va

    @property
    def bdr(self):
        return int(self.words[_BDR])

    @bdr.setter
    def bdr(self, value):
        self.words[_BDR] = value & _U64

    def __repr__(self):
        return f"<Utcb at {self.va:#x}>"
