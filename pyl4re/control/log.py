"""Log / Vcon control plane (§8.9; kernkonzept/fiasco src/kern/vlog.cpp): the kernel's Log
object at L4_BASE_LOG_CAP, writing to and reading from the kernel console (console.py).

As Vlog: the opcode is the whole MR0 (write 0, set_attr 2, get_attr 3, anything else is a
read: l4sys sends read as 1 | size << 16); no rights are needed except W for read.
Write sends no reply in Fiasco (§8.0 "no reply"): the model's kernel entry always ends
with a reply tag, so the caller's send simply completes with label 0 and, if it had a
receive phase, that is its reply too (Fiasco would leave it waiting). Label -1 is the ICU
protocol of Vlog's one input line (pin 0). What it must not do: keep console state
itself (the Console does), or print anything but what a µApp wrote.
"""
import numpy as np

from .. import _core
from .invocation import refuse, reply

_lib = _core.abi()

W = _lib.L4_CAP_FPAGE_W
_WORD = 8
_MR_BYTES = _lib.L4_UTCB_GENERIC_DATA_SIZE * _WORD
_WRITE_MAX = _MR_BYTES - 2 * _WORD          # what Vlog::log_string accepts: 488 bytes
_READ_MAX = _MR_BYTES - _WORD               # what Vlog::get_input fills: 496 bytes
_PINS = 1                                   # Vlog is an Irq_chip_virt<1>


def invoke(inv):
    if inv.label == _lib.L4_PROTO_IRQ:
        return virtual_icu(inv, _PINS)
    if inv.label != _lib.L4_PROTO_LOG:
        return reply(-_lib.L4_EBADPROTO)
    if inv.words < 1:
        return reply(-_lib.L4_EMSGTOOSHORT)
    op = inv.mr(0)
    if op == _lib.L4_VCON_WRITE_OP:
        return _write(inv)
    if op == _lib.L4_VCON_SET_ATTR_OP:
        return _set_attr(inv)
    if op == _lib.L4_VCON_GET_ATTR_OP:
        return _get_attr(inv)
    return _read(inv)


def mr_bytes(inv):
    """The caller's message registers as bytes (a view of its UTCB, no copy)."""
    return inv.utcb.mr.view(np.uint8)


def writer(inv):
    """(task id, name, virtual time) of the invoking thread, for the console's records."""
    k = inv.kernel
    info = k._thread_info(inv.thread)
    return inv.task, k._harness.task_name(inv.task), k.cpu_clock(info.cpu)[0]


def _write(inv):
    """MR1 = length, bytes from MR2. Fiasco reads them whatever the tag's word count says
    and prints nothing at all when the length exceeds what the MRs hold."""
    length = inv.mr(1)
    if length <= _WRITE_MAX:
        k = inv.kernel
        data = mr_bytes(inv)[2 * _WORD:2 * _WORD + length].tobytes()
        task, name, now = writer(inv)
        k._console.write(task, name, k._console.output_filter(data), now)
    return reply(0)


def _read(inv):
    """MR0 = op | max bytes << 16. Fills MR1.. with input, MR0 = count, with
    L4_VCON_READ_STAT_DONE once no input is left; needs W; reply with 0 words, as Vlog."""
    if not inv.has_receive:
        return reply(0)                   # nothing to deliver the input to: nothing taken
    if not inv.rights & W:
        return refuse(inv, W)
    console = inv.kernel._console
    data, done = console.read(min(inv.mr(0) >> 16, _READ_MAX))
    mr_bytes(inv)[_WORD:_WORD + len(data)] = np.frombuffer(data, dtype=np.uint8)
    inv.utcb.mr[0] = len(data) | (_lib.L4_VCON_READ_STAT_DONE if done else 0)
    return reply(0)


def _set_attr(inv):
    """MR1..MR3 = i, o, l flags (read whatever the word count); ONLCR is always added."""
    console = inv.kernel._console
    console.i_flags = inv.mr(1)
    console.o_flags = inv.mr(2) | _lib.L4_VCON_ONLCR
    console.l_flags = inv.mr(3)
    return reply(0)


def _get_attr(inv):
    if not inv.has_receive:
        return reply(0)
    console = inv.kernel._console
    inv.utcb.mr[1] = console.i_flags
    inv.utcb.mr[2] = console.o_flags
    inv.utcb.mr[3] = console.l_flags
    return reply(0, 4)


def virtual_icu(inv, pins):
    """The ICU protocol of a kernel object with `pins` software IRQ pins and no MSIs
    (Fiasco's Icu_h over Irq_chip_virt, src/kern/icu_helper.cpp): info, msi_info,
    mask/unmask (no reply) and set_mode. Binding an Irq to the pin answers -L4_ENOSYS: the
    kernel does not raise Irqs for console input yet."""
    if inv.words < 1:
        return reply(-_lib.L4_EMSGTOOSHORT)
    op = inv.mr(0)
    if op == _lib.L4_ICU_OP_INFO:
        inv.utcb.mr[0] = 0                # features: no MSIs
        inv.utcb.mr[1] = pins
        inv.utcb.mr[2] = 0
        return reply(0, 3)
    if op == _lib.L4_ICU_OP_MSI_INFO:
        return reply(-_lib.L4_ENOSYS)
    if op in (_lib.L4_ICU_OP_MASK, _lib.L4_ICU_OP_UNMASK):
        return reply(0)                   # no reply in Fiasco; no Irq is bound to mask
    if op == _lib.L4_ICU_OP_SET_MODE:
        if inv.words < 3:
            return reply(-_lib.L4_EMSGTOOSHORT)
        return reply(0 if inv.mr(1) < pins else -_lib.L4_EINVAL)
    return reply(-_lib.L4_ENOSYS)         # bind, unbind, and what Fiasco does not know
