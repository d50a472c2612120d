"""pyl4re.l4sys against the spec (docs/abi.md §1–§7): every constant on every
built architecture, the known answers of §1 and §4, round trips, and refusals."""
import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyl4re.l4sys as l4
from pyl4re import _core
from pyl4re.l4sys import utcb as utcb_mod

U64 = (1 << 64) - 1

# Written from the spec's tables, not from the header, so a wrong header value fails here.
SPEC = {
    # §1 message tag
    "L4_MSGTAG_ERROR": 0x8000, "L4_MSGTAG_TRANSFER_FPU": 0x1000, "L4_MSGTAG_SCHEDULE": 0x2000,
    "L4_MSGTAG_PROPAGATE": 0x4000, "L4_MSGTAG_FLAGS": 0xF000,
    "L4_MSGTAG_WORDS_MASK": 0x3F, "L4_MSGTAG_ITEMS_SHIFT": 6, "L4_MSGTAG_ITEMS_MASK": 0x3F,
    "L4_MSGTAG_LABEL_SHIFT": 16,
    # §2 UTCB
    "L4_UTCB_GENERIC_DATA_SIZE": 63, "L4_UTCB_GENERIC_BUFFERS_SIZE": 58,
    "L4_UTCB_MSG_REGS_OFFSET": 0, "L4_UTCB_BUF_REGS_OFFSET": 64 * 8,
    "L4_UTCB_THREAD_REGS_OFFSET": 123 * 8, "L4_UTCB_INHERIT_FPU": 1 << 24,
    "L4_UTCB_TCR_ERROR": 0, "L4_UTCB_TCR_FREE_MARKER": 1, "L4_UTCB_TCR_USER0": 2,
    "L4_BDR_MEM_SHIFT": 0, "L4_BDR_IO_SHIFT": 5, "L4_BDR_OBJ_SHIFT": 10,
    "L4_BDR_OFFSET_MASK": (1 << 20) - 1,
    # §3.1 IPC errors
    "L4_IPC_ERROR_MASK": 0x1F, "L4_IPC_SND_ERR_MASK": 0x01,
    "L4_IPC_SETIMEOUT": 0x02, "L4_IPC_RETIMEOUT": 0x03, "L4_IPC_ENOT_EXISTENT": 0x04,
    "L4_IPC_SECANCELED": 0x06, "L4_IPC_RECANCELED": 0x07, "L4_IPC_SEMSGCUT": 0x08,
    "L4_IPC_REMSGCUT": 0x09, "L4_IPC_SESNDPFTO": 0x0A, "L4_IPC_RESNDPFTO": 0x0B,
    "L4_IPC_SERCVPFTO": 0x0C, "L4_IPC_RERCVPFTO": 0x0D, "L4_IPC_SEABORTED": 0x0E,
    "L4_IPC_REABORTED": 0x0F, "L4_IPC_SEMAPFAILED": 0x10, "L4_IPC_REMAPFAILED": 0x11,
    "L4_IPC_NO_REPLY_CAP": 0x13,
    # §3.2 generic errors
    "L4_EOK": 0, "L4_EPERM": 1, "L4_ENOENT": 2, "L4_EIO": 5, "L4_ENXIO": 6, "L4_E2BIG": 7,
    "L4_EAGAIN": 11, "L4_ENOMEM": 12, "L4_EACCESS": 13, "L4_EFAULT": 14, "L4_EBUSY": 16,
    "L4_EEXIST": 17, "L4_ENODEV": 19, "L4_ENOTDIR": 20, "L4_EINVAL": 22, "L4_ENOSPC": 28,
    "L4_ERANGE": 34, "L4_ENAMETOOLONG": 36, "L4_ENOSYS": 38, "L4_EBADPROTO": 39,
    "L4_EADDRNOTAVAIL": 99, "L4_ERRNOMAX": 100, "L4_ENOREPLY": 1000,
    "L4_EMSGTOOSHORT": 1001, "L4_EMSGTOOLONG": 1002, "L4_EMSGMISSARG": 1003,
    "L4_EMSGERRRANGE": 1004, "L4_EDROPREPLY": 1005, "L4_EIPC_LO": 2000, "L4_EIPC_HI": 2031,
    # §4 timeouts
    "L4_IPC_TIMEOUT_NEVER": 0, "L4_IPC_TIMEOUT_0": 0x0400, "L4_IPC_NEVER": 0,
    "L4_IPC_RECV_TIMEOUT_0": 0x00000400, "L4_IPC_SEND_TIMEOUT_0": 0x04000000,
    "L4_IPC_BOTH_TIMEOUT_0": 0x04000400,
    "L4_TIMEOUT_MAN_MASK": 0x3FF, "L4_TIMEOUT_EXP_SHIFT": 10, "L4_TIMEOUT_EXP_MASK": 0x1F,
    "L4_TIMEOUT_ABS_MASK": 0x8000, "L4_TIMEOUT_ABS_BR_MASK": 0x3F, "L4_TIMEOUT_SND_SHIFT": 16,
    "L4_TIMEOUT_US_MAX": (1 << 41) - 1, "L4_TIMEOUT_US_NEVER": U64,
    # §5.1 flexpages
    "L4_FPAGE_RIGHTS_SHIFT": 0, "L4_FPAGE_TYPE_SHIFT": 4, "L4_FPAGE_SIZE_SHIFT": 6,
    "L4_FPAGE_ADDR_SHIFT": 12, "L4_FPAGE_RIGHTS_BITS": 4, "L4_FPAGE_TYPE_BITS": 2,
    "L4_FPAGE_SIZE_BITS": 6, "L4_FPAGE_ADDR_BITS": 52, "L4_FPAGE_RIGHTS_MASK": 0xF,
    "L4_FPAGE_TYPE_MASK": 0x30, "L4_FPAGE_SIZE_MASK": 0xFC0, "L4_FPAGE_RIGHTS_ALL": 0xF,
    "L4_FPAGE_ADDR_MASK": U64 & ~0xFFF,
    "L4_FPAGE_SPECIAL": 0, "L4_FPAGE_MEMORY": 1, "L4_FPAGE_IO": 2, "L4_FPAGE_OBJ": 3,
    "L4_FPAGE_X": 1, "L4_FPAGE_W": 2, "L4_FPAGE_RO": 4, "L4_FPAGE_RW": 6, "L4_FPAGE_RX": 5,
    "L4_FPAGE_RWX": 7, "L4_WHOLE_ADDRESS_SPACE": 63, "L4_WHOLE_IOADDRESS_SPACE": 16,
    "L4_IOPORT_MAX": 65536,
    "L4_CAP_FPAGE_W": 0x1, "L4_CAP_FPAGE_S": 0x2, "L4_CAP_FPAGE_R": 0x4,
    "L4_CAP_FPAGE_RO": 0x4, "L4_CAP_FPAGE_D": 0x8, "L4_CAP_FPAGE_RW": 0x5,
    "L4_CAP_FPAGE_RS": 0x6, "L4_CAP_FPAGE_RWS": 0x7, "L4_CAP_FPAGE_RWSD": 0xF,
    "L4_CAP_FPAGE_RWD": 0xD, "L4_CAP_FPAGE_RSD": 0xE,
    # §5.2 send items
    "L4_ITEM_MAP": 8, "L4_ITEM_CONT": 1, "L4_MAP_ITEM_GRANT": 2, "L4_MAP_ITEM_MAP": 0,
    "L4_FPAGE_CONTROL_OFFSET_SHIFT": 12, "L4_FPAGE_CONTROL_MASK": U64 & ~0xFFF,
    "L4_FPAGE_CACHE_OPT": 0x1, "L4_FPAGE_CACHEABLE": 0x3, "L4_FPAGE_BUFFERABLE": 0x5,
    "L4_FPAGE_UNCACHEABLE": 0x1,
    "L4_FPAGE_C_REF_CNT": 0x00, "L4_FPAGE_C_NO_REF_CNT": 0x10, "L4_FPAGE_C_OBJ_RIGHT1": 0x20,
    "L4_FPAGE_C_OBJ_RIGHT2": 0x40, "L4_FPAGE_C_OBJ_RIGHT3": 0x80,
    "L4_FPAGE_C_OBJ_RIGHTS": 0xE0, "L4_FPAGE_C_IPCGATE_SVR": 0x20,
    # §5.3 receive items
    "L4_RCV_ITEM_FORWARD_MAPPINGS": 1, "L4_RCV_ITEM_SINGLE_CAP": 0xA,
    "L4_RCV_ITEM_LOCAL_ID": 4,
    # §5.4 returned items (bits 1..2 of word 0)
    "L4_RET_ITEM_MAP_SOMETHING": 0, "L4_RET_ITEM_MAP_NOTHING": 2, "L4_RET_ITEM_ID": 4,
    "L4_RET_ITEM_FLEXPAGE": 6, "L4_RET_ITEM_TYPE_MASK": 6,
    # §5.5 unmap
    "L4_FP_OTHER_SPACES": 0, "L4_FP_ALL_SPACES": 0x80000000, "L4_FP_DELETE_OBJ": 0xC0000000,
    "L4_FP_REFERENCED": 1, "L4_FP_DIRTY": 2,
    # §6.1 selectors
    "L4_CAP_SHIFT": 12, "L4_CAP_SIZE": 0x1000, "L4_CAP_OFFSET": 0x1000,
    "L4_REPLY_CAP_BIT": 0x400, "L4_INVALID_CAP_BIT": 0x800,
    "L4_CAP_MASK": U64 & ~0x3FF, "L4_INVALID_CAP": U64 & ~0x7FF,
    "L4_INVALID_REPLY_CAP": U64 & ~0x3FF,
    # §6.2 initial slots
    "L4_BASE_TASK_CAP_INDEX": 1, "L4_BASE_FACTORY_CAP_INDEX": 2, "L4_BASE_THREAD_CAP_INDEX": 3,
    "L4_BASE_PAGER_CAP_INDEX": 4, "L4_BASE_LOG_CAP_INDEX": 5, "L4_BASE_ICU_CAP_INDEX": 6,
    "L4_BASE_SCHEDULER_CAP_INDEX": 7, "L4_BASE_IOMMU_CAP_INDEX": 8,
    "L4_BASE_DEBUGGER_CAP_INDEX": 10, "L4_BASE_ARM_SMCCC_CAP_INDEX": 11,
    "L4_BASE_CAPS_LAST_INDEX": 11,
    "L4_BASE_TASK_CAP": 1 << 12, "L4_BASE_FACTORY_CAP": 2 << 12, "L4_BASE_THREAD_CAP": 3 << 12,
    "L4_BASE_PAGER_CAP": 4 << 12, "L4_BASE_LOG_CAP": 5 << 12, "L4_BASE_ICU_CAP": 6 << 12,
    "L4_BASE_SCHEDULER_CAP": 7 << 12, "L4_BASE_IOMMU_CAP": 8 << 12,
    "L4_BASE_DEBUGGER_CAP": 10 << 12, "L4_BASE_ARM_SMCCC_CAP": 11 << 12,
    "L4_BASE_CAPS_LAST": 11 << 12,
    # §6.3 syscall flags
    "L4_SYSF_NONE": 0x00, "L4_SYSF_SEND": 0x01, "L4_SYSF_RECV": 0x02,
    "L4_SYSF_OPEN_WAIT": 0x04, "L4_SYSF_REPLY": 0x08, "L4_SYSF_CALL": 0x03,
    "L4_SYSF_WAIT": 0x06, "L4_SYSF_SEND_AND_WAIT": 0x07, "L4_SYSF_REPLY_AND_WAIT": 0x0F,
    # §7 protocols
    "L4_PROTO_NONE": 0, "L4_PROTO_PLATFORM_CTL": 0, "L4_PROTO_ALLOW_SYSCALL": 1,
    "L4_PROTO_PF_EXCEPTION": 1, "L4_PROTO_IRQ": -1, "L4_PROTO_PAGE_FAULT": -2,
    "L4_PROTO_EXCEPTION": -5, "L4_PROTO_SIGMA0": -6, "L4_PROTO_IO_PAGE_FAULT": -8,
    "L4_PROTO_THREAD_GROUP": -9, "L4_PROTO_KOBJECT": -10, "L4_PROTO_TASK": -11,
    "L4_PROTO_THREAD": -12, "L4_PROTO_LOG": -13, "L4_PROTO_SCHEDULER": -14,
    "L4_PROTO_FACTORY": -15, "L4_PROTO_VM": -16, "L4_PROTO_DMA_SPACE": -17,
    "L4_PROTO_IRQ_SENDER": -18, "L4_PROTO_SEMAPHORE": -20, "L4_PROTO_META": -21,
    "L4_PROTO_IOMMU": -22, "L4_PROTO_DEBUGGER": -23, "L4_PROTO_SMCCC": -24,
    "L4_PROTO_VCPU_CONTEXT": -25,
    # §8 kernel-object protocols (opcodes, flags, modes)
    "L4_KOBJECT_OP_DEC_REFCNT": 0, "L4_KOBJECT_OP_REGISTER_IRQ": 1, "L4_TASK_MAP_OP": 0,
    "L4_TASK_UNMAP_OP": 1, "L4_TASK_CAP_INFO_OP": 2, "L4_TASK_ADD_KU_MEM_OP": 3,
    "L4_TASK_LDT_SET_X86_OP": 0x11, "L4_TASK_MAP_VGICC_ARM_OP": 0x12, "L4_THREAD_CONTROL_OP": 0,
    "L4_THREAD_EX_REGS_OP": 1, "L4_THREAD_SWITCH_OP": 2, "L4_THREAD_STATS_OP": 3,
    "L4_THREAD_VCPU_RESUME_OP": 4, "L4_THREAD_REGISTER_DELETE_IRQ_OP": 5,
    "L4_THREAD_MODIFY_SENDER_OP": 6, "L4_THREAD_VCPU_CONTROL_OP": 7,
    "L4_THREAD_REGISTER_DOORBELL_IRQ_OP": 8, "L4_THREAD_PF_TRAMP_CONTROL_OP": 9,
    "L4_THREAD_X86_GDT_OP": 0x10, "L4_THREAD_ARM_TPIDRURO_OP": 0x10,
    "L4_THREAD_AMD64_SET_SEGMENT_BASE_OP": 0x12, "L4_THREAD_AMD64_GET_SEGMENT_INFO_OP": 0x13,
    "L4_THREAD_OPCODE_MASK": 0xFFFF, "L4_THREAD_VCPU_CONTROL_EXT_OP": 0x10007,
    "L4_THREAD_CONTROL_SET_PAGER": 0x0010000, "L4_THREAD_CONTROL_BIND_TASK": 0x0200000,
    "L4_THREAD_CONTROL_ALIEN": 0x0400000, "L4_THREAD_CONTROL_UX_NATIVE": 0x0800000,
    "L4_THREAD_CONTROL_SET_EXC_HANDLER": 0x1000000, "L4_THREAD_CONTROL_MR_IDX_FLAGS": 0,
    "L4_THREAD_CONTROL_MR_IDX_PAGER": 1, "L4_THREAD_CONTROL_MR_IDX_EXC_HANDLER": 2,
    "L4_THREAD_CONTROL_MR_IDX_FLAG_VALS": 4, "L4_THREAD_CONTROL_MR_IDX_BIND_UTCB": 5,
    "L4_THREAD_CONTROL_MR_IDX_BIND_TASK": 6, "L4_THREAD_EX_REGS_CANCEL": 0x10000,
    "L4_THREAD_EX_REGS_TRIGGER_EXCEPTION": 0x20000, "L4_THREAD_EX_REGS_ARCH_MASK": 0xff000000,
    "L4_VARG_TYPE_NIL": 0x00, "L4_VARG_TYPE_UMWORD": 0x01, "L4_VARG_TYPE_MWORD": 0x81,
    "L4_VARG_TYPE_STRING": 0x02, "L4_VARG_TYPE_FPAGE": 0x03, "L4_VARG_TYPE_SIGN": 0x80,
    "L4_IPC_GATE_BIND_OP": 0x10, "L4_RCV_EP_BIND_OP": 0x10, "L4_IPC_GATE_GET_INFO_OP": 0x11,
    "L4_IRQ_OP_TRIGGER": 2, "L4_IRQ_OP_EOI": 4, "L4_IRQ_SENDER_OP_ATTACH": 0,
    "L4_IRQ_SENDER_OP_DETACH": 1, "L4_IRQ_SENDER_OP_BIND_VCPU": 2, "L4_SEMAPHORE_OP_DOWN": 0,
    # §11.2 vCPU flags
    "L4_VCPU_F_IRQ": 0x01, "L4_VCPU_F_PAGE_FAULTS": 0x02, "L4_VCPU_F_EXCEPTIONS": 0x04,
    "L4_VCPU_F_USER_MODE": 0x20, "L4_VCPU_F_FPU_ENABLED": 0x80, "L4_VCPU_SF_IRQ_PENDING": 0x01,
    "L4_ICU_OP_BIND": 0, "L4_ICU_OP_UNBIND": 1, "L4_ICU_OP_INFO": 2, "L4_ICU_OP_MSI_INFO": 3,
    "L4_ICU_OP_UNMASK": 4, "L4_ICU_OP_MASK": 5, "L4_ICU_OP_SET_MODE": 6, "L4_ICU_CTL_UNMASK": 0,
    "L4_ICU_CTL_MASK": 1, "L4_ICU_FLAG_MSI": 0x80000000, "L4_IRQ_F_NONE": 0x0,
    "L4_IRQ_F_SET_MODE": 0x1, "L4_IRQ_F_LEVEL": 0x2, "L4_IRQ_F_EDGE": 0x0, "L4_IRQ_F_POS": 0x0,
    "L4_IRQ_F_NEG": 0x4, "L4_IRQ_F_BOTH": 0x8, "L4_IRQ_F_LEVEL_HIGH": 0x3,
    "L4_IRQ_F_LEVEL_LOW": 0x7, "L4_IRQ_F_POS_EDGE": 0x1, "L4_IRQ_F_NEG_EDGE": 0x5,
    "L4_IRQ_F_BOTH_EDGE": 0x9, "L4_IRQ_F_MASK": 0xF, "L4_IRQ_F_SET_WAKEUP": 0x10,
    "L4_IRQ_F_CLEAR_WAKEUP": 0x20, "L4_SCHEDULER_INFO_OP": 0, "L4_SCHEDULER_RUN_THREAD_OP": 1,
    "L4_SCHEDULER_IDLE_TIME_OP": 2, "L4_SCHED_MIN_PRIO": 1, "L4_SCHED_MAX_PRIO": 255,
    "L4_SCHEDULER_CLASS_FIXED_PRIO": 0x2, "L4_SCHEDULER_CLASS_WFQ": 0x4,
    "L4_SCHED_CLASS_FIXED_PRIO": -1, "L4_SCHED_CLASS_WFQ": -2,
    "L4_PLATFORM_CTL_SYS_SUSPEND_OP": 0, "L4_PLATFORM_CTL_SYS_SHUTDOWN_OP": 1,
    "L4_PLATFORM_CTL_CPU_ALLOW_SHUTDOWN_OP": 2, "L4_PLATFORM_CTL_CPU_ENABLE_OP": 3,
    "L4_PLATFORM_CTL_CPU_DISABLE_OP": 4, "L4_PLATFORM_CTL_SET_TASK_ASID_OP": 0x10,
    "L4_VCON_WRITE_OP": 0, "L4_VCON_READ_OP": 1, "L4_VCON_SET_ATTR_OP": 2,
    "L4_VCON_GET_ATTR_OP": 3, "L4_VCON_WRITE_SIZE": 61 * 8, "L4_VCON_READ_SIZE": 62 * 8,
    "L4_VCON_READ_SIZE_MASK": 0x3FFFFFFF, "L4_VCON_READ_STAT_BREAK": 1 << 30,
    "L4_VCON_READ_STAT_DONE": 1 << 31, "L4_VCON_INLCR": 0o100, "L4_VCON_IGNCR": 0o200,
    "L4_VCON_ICRNL": 0o400, "L4_VCON_ONLCR": 0o4, "L4_VCON_OCRNL": 0o10, "L4_VCON_ONLRET": 0o40,
    "L4_VCON_ICANON": 0o2, "L4_VCON_ECHO": 0o10,
    # §8.10 debugger: opcode groups, JDB ops, object ops
    "L4_KDEBUG_GROUP_JDB": 0x000, "L4_KDEBUG_GROUP_KOBJ": 0x100, "L4_KDEBUG_GROUP_TRACE": 0x200,
    "L4_KDEBUG_GROUP_COV": 0x400, "L4_KDEBUG_GROUP_DUMP": 0x500, "L4_KDEBUG_ENTER": 0,
    "L4_KDEBUG_OUTCHAR": 1, "L4_KDEBUG_OUTNSTRING": 2, "L4_KDEBUG_OUTHEX32": 3,
    "L4_KDEBUG_OUTHEX20": 4, "L4_KDEBUG_OUTHEX16": 5, "L4_KDEBUG_OUTHEX12": 6,
    "L4_KDEBUG_OUTHEX8": 7, "L4_KDEBUG_OUTDEC": 8, "L4_DEBUGGER_NAME_SET_OP": 0,
    "L4_DEBUGGER_GLOBAL_ID_OP": 1, "L4_DEBUGGER_KOBJ_TO_ID_OP": 2,
    "L4_DEBUGGER_QUERY_LOG_TYPEID_OP": 3, "L4_DEBUGGER_SWITCH_LOG_OP": 4,
    "L4_DEBUGGER_NAME_GET_OP": 5, "L4_DEBUGGER_QUERY_LOG_NAME_OP": 6,
    "L4_DEBUGGER_OBJ_INFO_OP": 16,
    "L4_DEBUGGER_SWITCH_LOG_ON": 1, "L4_DEBUGGER_SWITCH_LOG_OFF": 0,
}
# Not in l4_abi.h but exported by l4sys (read from the arch build).
EXTRA = {"L4_MWORD_BITS": 64}


def tag_with_error():
    return l4.l4_msgtag(0, 0, 0, l4.L4_MSGTAG_ERROR)


# ---- constants -------------------------------------------------------------------------

def test_every_constant_matches_the_spec_in_this_build(lib):
    wrong = {n: (getattr(lib, n, "missing"), v) for n, v in SPEC.items()
             if getattr(lib, n, None) != v}
    assert not wrong, "name: (built, spec)"


def test_every_l4sys_constant_matches_the_spec():
    wrong = {n: (getattr(l4, n, "missing"), v) for n, v in SPEC.items()
             if getattr(l4, n, None) != v or type(getattr(l4, n)) is not int}
    assert not wrong, "name: (l4sys, spec)"


def test_every_l4_constant_of_the_build_is_in_the_spec_table_and_exported(lib):
    # a constant added to l4_abi.h must be added to SPEC (checked) and reach l4sys
    built = {n for n in dir(lib) if n.startswith("L4_")}
    assert built == set(SPEC)
    assert all(getattr(l4, n) == getattr(lib, n) for n in built)


def test_all_builds_agree():
    libs = [_core.load(a)[1] for a in _core.available_arches()]
    for name in SPEC:
        assert len({getattr(lib, name) for lib in libs}) == 1, name


def test_mword_bits(lib):
    assert lib.ARCH_MWORD_BITS == EXTRA["L4_MWORD_BITS"] == l4.L4_MWORD_BITS


def test_utcb_layout_adds_up_to_the_arch_utcb_size(lib):
    # §2: 63 MRs + 1 kernel word, BDR + 58 BRs, then 5 TCRs = 128 words
    word = lib.ARCH_MWORD_BITS // 8
    assert lib.L4_UTCB_BUF_REGS_OFFSET == (lib.L4_UTCB_GENERIC_DATA_SIZE + 1) * word
    assert lib.L4_UTCB_THREAD_REGS_OFFSET == (lib.L4_UTCB_BUF_REGS_OFFSET
                                              + (1 + lib.L4_UTCB_GENERIC_BUFFERS_SIZE) * word)
    assert lib.L4_UTCB_THREAD_REGS_OFFSET + 5 * word == lib.ARCH_UTCB_SIZE == 1024


def test_syscall_flag_combinations():
    assert l4.L4_SYSF_CALL == l4.L4_SYSF_SEND | l4.L4_SYSF_RECV
    assert l4.L4_SYSF_WAIT == l4.L4_SYSF_OPEN_WAIT | l4.L4_SYSF_RECV
    assert l4.L4_SYSF_SEND_AND_WAIT == l4.L4_SYSF_OPEN_WAIT | l4.L4_SYSF_CALL
    assert l4.L4_SYSF_REPLY_AND_WAIT == l4.L4_SYSF_WAIT | l4.L4_SYSF_SEND | l4.L4_SYSF_REPLY


def test_base_selectors_are_indices_shifted():
    for name in SPEC:
        if name.startswith("L4_BASE_") and name.endswith("_INDEX"):
            assert getattr(l4, name[:-len("_INDEX")]) == getattr(l4, name) << l4.L4_CAP_SHIFT


def test_exports_are_complete_and_unique():
    assert len(l4.__all__) == len(set(l4.__all__))
    for name in l4.__all__:
        assert hasattr(l4, name), name
    for name in set(SPEC) | set(EXTRA):
        assert name in l4.__all__
    for fn in ("l4_msgtag", "l4_error", "l4_error_u", "l4_ipc_error", "l4_timeout_from_us",
               "l4_fpage", "l4_obj_fpage", "l4_iofpage", "l4_map_control", "l4_is_valid_cap"):
        assert fn in l4.__all__


# ---- §1 message tags --------------------------------------------------------------------

def test_msgtag_known_answer():
    t = l4.l4_msgtag(l4.L4_PROTO_TASK, 3, 1, 0)
    assert t.raw == 0xFFFFFFFFFFF50043
    assert l4.l4_msgtag_label(t) == -11 and t.label == -11
    assert l4.l4_msgtag_words(t) == 3 and l4.l4_msgtag_items(t) == 1
    assert l4.l4_msgtag_flags(t) == 0 and not l4.l4_msgtag_has_error(t)
    assert l4.l4_msgtag_t(0xFFFFFFFFFFF50043) == t
    assert l4.l4_msgtag_t(-0xAFFBD) == t               # the signed l4_mword_t form


def test_msgtag_fields_do_not_bleed():
    t = l4.l4_msgtag(5, 63, 63, l4.L4_MSGTAG_FLAGS)
    assert (t.label, t.words, t.items, t.flags) == (5, 63, 63, 0xF000)
    assert t.raw == (5 << 16) | 0xF000 | (63 << 6) | 63


@given(label=st.integers(-(1 << 47), (1 << 47) - 1), words=st.integers(0, 63),
       items=st.integers(0, 63), flags=st.sampled_from([0, 0x1000, 0x2000, 0x4000, 0x8000, 0xF000]))
def test_msgtag_round_trip(label, words, items, flags):
    t = l4.l4_msgtag(label, words, items, flags)
    assert 0 <= t.raw <= U64
    assert (l4.l4_msgtag_label(t), l4.l4_msgtag_words(t), l4.l4_msgtag_items(t),
            l4.l4_msgtag_flags(t)) == (label, words, items, flags)
    assert l4.l4_msgtag_has_error(t) == bool(flags & 0x8000)
    assert l4.l4_msgtag_t(t.raw) == t and hash(l4.l4_msgtag_t(t.raw)) == hash(t)


def test_msgtag_protocol_predicates():
    assert l4.l4_msgtag_is_page_fault(l4.l4_msgtag(-2, 2, 0, 0))
    assert l4.l4_msgtag_is_exception(l4.l4_msgtag(-5, 0, 0, 0))
    assert l4.l4_msgtag_is_sigma0(l4.l4_msgtag(-6, 0, 0, 0))
    assert l4.l4_msgtag_is_io_page_fault(l4.l4_msgtag(-8, 0, 0, 0))
    assert not l4.l4_msgtag_is_page_fault(l4.l4_msgtag(2, 0, 0, 0))
    assert l4.l4_msgtag(-2, 0, 0, 0).is_page_fault() and tag_with_error().has_error()


def test_msgtag_is_immutable_hashable_and_picklable():
    t = l4.l4_msgtag(-12, 2, 0, 0)
    with pytest.raises(AttributeError):
        t.raw = 5
    with pytest.raises(AttributeError):
        t.label = 5
    with pytest.raises(AttributeError):
        del t.raw
    assert not hasattr(t, "__dict__")
    assert {t: 1}[l4.l4_msgtag(-12, 2, 0, 0)] == 1
    assert pickle.loads(pickle.dumps(t)) == t and copy.copy(t) == t
    assert t != t.raw and t != l4.l4_msgtag(-12, 1, 0, 0)


def test_msgtag_repr_decodes():
    r = repr(l4.l4_msgtag(-22, 1, 0, l4.L4_MSGTAG_ERROR))
    assert "label=-22" in r and "L4_PROTO_IOMMU" in r and "-L4_EINVAL" in r
    assert "words=1" in r and "items=0" in r and "ERROR" in r


@pytest.mark.parametrize("args, exc", [
    ((1 << 47, 0, 0, 0), ValueError),
    ((-(1 << 47) - 1, 0, 0, 0), ValueError),
    ((0, 64, 0, 0), ValueError),
    ((0, -1, 0, 0), ValueError),
    ((0, 0, 64, 0), ValueError),
    ((0, 0, 0, 0x0800), ValueError),
    ((0, 0, 0, 0x10000), ValueError),
    ((0.0, 0, 0, 0), TypeError),
    ((0, True, 0, 0), TypeError),
    ((0, "1", 0, 0), TypeError),
])
def test_msgtag_refusals(args, exc):
    with pytest.raises(exc, match="l4_msgtag"):
        l4.l4_msgtag(*args)


@pytest.mark.parametrize("raw, exc", [(1 << 64, ValueError), (-(1 << 63) - 1, ValueError),
                                      (1.0, TypeError), (None, TypeError)])
def test_msgtag_raw_refusals(raw, exc):
    with pytest.raises(exc):
        l4.l4_msgtag_t(raw)


def test_msgtag_accepts_numpy_integers():
    assert l4.l4_msgtag(np.int64(-11), np.uint8(3), 1, 0).raw == 0xFFFFFFFFFFF50043
    assert l4.l4_msgtag_t(np.uint64(0xFFFFFFFFFFF50043)).label == -11


# ---- §3 errors --------------------------------------------------------------------------

def test_ipc_error_reads_the_tcr_only_with_the_error_flag(fake_utcb):
    fake_utcb.tcr[0] = l4.L4_IPC_RETIMEOUT
    ok = l4.l4_msgtag(-22, 0, 0, 0)
    assert l4.l4_ipc_error(ok, fake_utcb) == 0
    assert l4.l4_error_u(ok, fake_utcb) == -l4.L4_EINVAL       # a kernel object's refusal
    assert l4.l4_error(ok) == -22                                # no UTCB needed without error
    bad = tag_with_error()
    assert l4.l4_ipc_error(bad, fake_utcb) == 3
    assert l4.l4_error_u(bad, fake_utcb) == -2003
    assert l4.l4_error(bad, fake_utcb) == -2003
    assert l4.l4_error(l4.l4_msgtag(7, 0, 0, 0)) == 7


@pytest.mark.parametrize("code, snd", [(0x02, True), (0x03, False), (0x04, True), (0x06, True),
                                       (0x07, False), (0x08, True), (0x09, False),
                                       (0x10, True), (0x11, False), (0x13, False)])
def test_error_phase_bit(fake_utcb, code, snd):
    fake_utcb.tcr[0] = code
    assert l4.l4_ipc_is_snd_error(fake_utcb) is snd
    assert l4.l4_ipc_is_rcv_error(fake_utcb) is (not snd)
    assert l4.l4_ipc_error_code(fake_utcb) == code


def test_error_code_is_masked_to_five_bits(fake_utcb):
    fake_utcb.tcr[0] = 0x100 | l4.L4_IPC_SEMAPFAILED      # kernel-internal bits above
    assert l4.l4_ipc_error_code(fake_utcb) == 0x10
    assert l4.l4_ipc_error(tag_with_error(), fake_utcb) == 0x10
    assert l4.l4_error_u(tag_with_error(), fake_utcb) == -2016


def test_utcb_can_be_any_object_with_tcr():
    class U:
        tcr = [l4.L4_IPC_ENOT_EXISTENT, 0, 0, 0, 0]
    assert l4.l4_error_u(tag_with_error(), U()) == -2004
    with pytest.raises(TypeError, match="UTCB"):
        l4.l4_error_u(tag_with_error(), object())


def test_l4_error_without_utcb_needs_a_current_thread(fake_utcb):
    with pytest.raises(RuntimeError, match="no current thread"):
        l4.l4_error(tag_with_error())
    fake_utcb.tcr[0] = l4.L4_IPC_SECANCELED
    previous = utcb_mod.set_utcb_provider(lambda: fake_utcb)
    try:
        assert l4.l4_utcb() is fake_utcb
        assert l4.l4_error(tag_with_error()) == -2006
    finally:
        utcb_mod.set_utcb_provider(previous)
    with pytest.raises(RuntimeError):
        l4.l4_utcb()


def test_ipc_to_errno():
    assert l4.l4_ipc_to_errno(0) == -2000
    assert l4.l4_ipc_to_errno(l4.L4_IPC_RETIMEOUT) == -2003
    assert l4.l4_ipc_to_errno(31) == -l4.L4_EIPC_HI
    with pytest.raises(ValueError):
        l4.l4_ipc_to_errno(32)
    with pytest.raises(ValueError):
        l4.l4_ipc_to_errno(-1)
    with pytest.raises(TypeError):
        l4.l4_ipc_to_errno(3.0)


def test_errtostr():
    assert "invalid argument" in l4.l4sys_errtostr(-l4.L4_EINVAL)
    assert "receive timeout" in l4.l4sys_errtostr(-2003)
    assert l4.l4sys_errtostr(0) == "OK"
    assert "unknown" in l4.l4sys_errtostr(-555)


# ---- §4 timeouts ------------------------------------------------------------------------

@pytest.mark.parametrize("us, raw", [(1, 0x0001), (1000, 0x03E8), (1024, 0x0600),
                                     (10_000, 0x1271), (1_000_000, 0x2BD1), (0, 0x0400),
                                     ((1 << 41), 0), (U64, 0), ((1 << 41) - 1, 0)])
def test_timeout_from_us_known_answers(us, raw):
    assert l4.l4_timeout_from_us(us) == raw


def test_timeout_from_us_largest_finite():
    # 1023·2^31 µs is the longest relative timeout there is
    assert l4.l4_timeout_from_us(1023 << 31) == (31 << 10) | 1023
    assert l4.l4_timeout_rel_get((31 << 10) | 1023) == 1023 << 31
    # just above it no finite value is long enough: "never" (never fires early)
    assert l4.l4_timeout_from_us((1023 << 31) + 1) == l4.L4_IPC_TIMEOUT_NEVER


@given(st.integers(1, 1023 << 31))
def test_timeout_from_us_rounds_up_by_less_than_one_unit(us):
    t = l4.l4_timeout_from_us(us)
    assert 0 < t < 0x8000 and not l4.l4_timeout_is_absolute(t)
    exp = t >> 10
    got = l4.l4_timeout_rel_get(t)
    assert us <= got < us + (1 << exp)
    if us < 1024:
        assert got == us


def test_timeout_constants_compose():
    assert l4.l4_timeout(l4.L4_IPC_TIMEOUT_0, l4.L4_IPC_TIMEOUT_0) == l4.L4_IPC_BOTH_TIMEOUT_0
    assert l4.l4_timeout(l4.L4_IPC_TIMEOUT_NEVER, l4.L4_IPC_TIMEOUT_0) == l4.L4_IPC_RECV_TIMEOUT_0
    assert l4.l4_timeout(l4.L4_IPC_TIMEOUT_0, l4.L4_IPC_TIMEOUT_NEVER) == l4.L4_IPC_SEND_TIMEOUT_0
    assert l4.l4_timeout(0, 0) == l4.L4_IPC_NEVER
    assert l4.l4_timeout_rel(0, 1) == l4.L4_IPC_TIMEOUT_0
    assert l4.l4_timeout_rel(625, 4) == 0x1271
    assert l4.l4_ipc_timeout(1, 0, 625, 4) == (1 << 16) | 0x1271


def test_timeout_pair_halves():
    to = l4.l4_timeout(0x1271, 0x2BD1)
    assert l4.l4_snd_timeout(0x0400, to) == 0x04002BD1
    assert l4.l4_rcv_timeout(0x0400, to) == 0x12710400


def test_timeout_rel_get():
    assert l4.l4_timeout_rel_get(0) == U64 == l4.L4_TIMEOUT_US_NEVER
    assert l4.l4_timeout_rel_get(0x0400) == 0
    assert l4.l4_timeout_rel_get(0x2BD1) == 1_000_448
    with pytest.raises(ValueError, match="absolute"):
        l4.l4_timeout_rel_get(0x8005)


def test_timeout_get():
    assert l4.l4_timeout_get(100, 0x1271) == 10_100
    assert l4.l4_timeout_get(100, 0x8003) == 0
    assert l4.l4_timeout_get(100, 0) == l4.L4_TIMEOUT_US_NEVER


def test_absolute_timeout_stores_in_the_br(fake_utcb):
    t = l4.l4_timeout_abs_u(123_456_789, 5, fake_utcb)
    assert t == 0x8005 and l4.l4_timeout_is_absolute(t)
    assert int(fake_utcb.br[5]) == 123_456_789
    assert l4.l4_timeout_abs(U64, 57, fake_utcb) == 0x8000 | 57 and int(fake_utcb.br[57]) == U64
    assert l4.l4_timeout(t, 0) >> 16 == 0x8005


@pytest.mark.parametrize("args, exc", [((1, 58), ValueError), ((1, -1), ValueError),
                                       ((-1, 0), ValueError), ((1 << 64, 0), ValueError),
                                       ((1.5, 0), TypeError), ((1, True), TypeError)])
def test_absolute_timeout_refusals(fake_utcb, args, exc):
    with pytest.raises(exc, match="l4_timeout_abs_u"):
        l4.l4_timeout_abs_u(*args, fake_utcb)
    assert not fake_utcb.br.any()


@pytest.mark.parametrize("fn, args, exc", [
    (l4.l4_timeout_from_us, (-1,), ValueError),
    (l4.l4_timeout_from_us, (1 << 64,), ValueError),
    (l4.l4_timeout_from_us, (1.0,), TypeError),
    (l4.l4_timeout_from_us, ("10",), TypeError),
    (l4.l4_timeout_rel, (1024, 0), ValueError),
    (l4.l4_timeout_rel, (-1, 0), ValueError),
    (l4.l4_timeout_rel, (1, 32), ValueError),
    (l4.l4_timeout_rel, (1, -1), ValueError),
    (l4.l4_timeout_rel, (1, 1.0), TypeError),
    (l4.l4_timeout, (0x10000, 0), ValueError),
    (l4.l4_timeout, (0, -1), ValueError),
    (l4.l4_snd_timeout, (0, 1 << 32), ValueError),
    (l4.l4_timeout_rel_get, (0x10000,), ValueError),
])
def test_timeout_refusals(fn, args, exc):
    with pytest.raises(exc):
        fn(*args)


# ---- §5 flexpages and items -------------------------------------------------------------

def test_fpage_known_answers():
    assert l4.l4_fpage_all().raw == 0xFC0
    assert l4.l4_fpage_invalid().raw == 0
    assert l4.l4_iofpage(0, l4.L4_WHOLE_IOADDRESS_SPACE).raw == (16 << 6) | (2 << 4) | 6
    assert l4.l4_obj_fpage(l4.L4_BASE_TASK_CAP, 0, l4.L4_CAP_FPAGE_RWS).raw == 0x1037
    assert l4.l4_fpage(0x200000, 21, l4.L4_FPAGE_RW).raw == 0x200000 | (21 << 6) | 0x10 | 6
    # bits below 12 are not part of the encoding (the kernel aligns anyway)
    assert l4.l4_fpage(0x1234, 12, 4).raw == 0x1000 | (12 << 6) | 0x10 | 4


@given(addr=st.integers(0, U64), order=st.integers(0, 63), rights=st.integers(0, 15))
def test_memory_fpage_round_trip(addr, order, rights):
    f = l4.l4_fpage(addr, order, rights)
    assert l4.l4_fpage_type(f) == l4.L4_FPAGE_MEMORY
    assert l4.l4_fpage_memaddr(f) == addr & ~0xFFF
    assert l4.l4_fpage_page(f) == addr >> 12
    assert l4.l4_fpage_size(f) == order and l4.l4_fpage_rights(f) == rights
    assert l4.l4_is_fpage_writable(f) == bool(rights & l4.L4_FPAGE_W)
    assert l4.l4_fpage_is_valid(f)
    assert l4.l4_fpage_t(f.raw) == f and f.fpage == f.raw


@given(index=st.integers(0, (1 << 52) - 1), order=st.integers(0, 63), rights=st.integers(0, 15))
def test_object_fpage_round_trip(index, order, rights):
    f = l4.l4_obj_fpage(index << 12, order, rights)
    assert l4.l4_fpage_type(f) == l4.L4_FPAGE_OBJ
    assert l4.l4_fpage_obj(f) == index << 12
    assert (l4.l4_fpage_size(f), l4.l4_fpage_rights(f)) == (order, rights)


@given(port=st.integers(0, 0xFFFF), order=st.integers(0, 16))
def test_io_fpage_round_trip(port, order):
    f = l4.l4_iofpage(port, order)
    assert l4.l4_fpage_type(f) == l4.L4_FPAGE_IO
    assert l4.l4_fpage_ioport(f) == port
    assert (l4.l4_fpage_size(f), l4.l4_fpage_rights(f)) == (order, l4.L4_FPAGE_RW)


def test_fpage_validity_and_rights():
    assert not l4.l4_fpage_is_valid(l4.l4_fpage_invalid())
    assert l4.l4_fpage_is_valid(l4.l4_fpage_all())
    f = l4.l4_fpage(0x4000, 12, l4.L4_FPAGE_RWX)
    g = l4.l4_fpage_set_rights(f, l4.L4_FPAGE_RX)
    assert l4.l4_fpage_rights(g) == l4.L4_FPAGE_RX and not l4.l4_is_fpage_writable(g)
    assert l4.l4_fpage_memaddr(g) == 0x4000 and l4.l4_fpage_size(g) == 12
    assert l4.l4_fpage_rights(f) == l4.L4_FPAGE_RWX    # the original is unchanged


def test_fpage_contains():
    f = l4.l4_fpage(0x200000, 21, l4.L4_FPAGE_RW)
    assert l4.l4_fpage_contains(f, 0x200000, 21)
    assert l4.l4_fpage_contains(f, 0x3FF000, 12)
    assert not l4.l4_fpage_contains(f, 0x3FF000, 13)
    assert not l4.l4_fpage_contains(f, 0x1FF000, 12)


def test_type_specific_accessors_refuse_other_types():
    with pytest.raises(ValueError, match="obj flexpage, not memory"):
        l4.l4_fpage_memaddr(l4.l4_obj_fpage(0x1000, 0, 4))
    with pytest.raises(ValueError, match="memory flexpage, not obj"):
        l4.l4_fpage_obj(l4.l4_fpage(0x1000, 12, 4))
    with pytest.raises(ValueError, match="special flexpage, not io"):
        l4.l4_fpage_ioport(l4.l4_fpage_all())


def test_fpage_is_immutable_and_hashable():
    f = l4.l4_fpage(0x1000, 12, 4)
    with pytest.raises(AttributeError):
        f.raw = 0
    with pytest.raises(AttributeError):
        del f.raw
    assert {f} == {l4.l4_fpage(0x1000, 12, 4)} and f != f.raw
    assert pickle.loads(pickle.dumps(f)) == f
    assert "memory addr=0x1000 order=12" in repr(f)
    assert "all spaces" in repr(l4.l4_fpage_all()) and "invalid" in repr(l4.l4_fpage_invalid())


@pytest.mark.parametrize("fn, args, exc", [
    (l4.l4_fpage, (0, 64, 0), ValueError),
    (l4.l4_fpage, (0, -1, 0), ValueError),
    (l4.l4_fpage, (0, 12, 16), ValueError),
    (l4.l4_fpage, (0, 12, -1), ValueError),
    (l4.l4_fpage, (1 << 64, 12, 0), ValueError),
    (l4.l4_fpage, (-4096, 12, 0), ValueError),
    (l4.l4_fpage, (4096.0, 12, 0), TypeError),
    (l4.l4_fpage, (0, True, 0), TypeError),
    (l4.l4_iofpage, (0x10000, 0), ValueError),
    (l4.l4_iofpage, (0, 17), ValueError),
    (l4.l4_iofpage, (-1, 0), ValueError),
    (l4.l4_obj_fpage, (l4.L4_INVALID_CAP, 0, 4), ValueError),
    (l4.l4_obj_fpage, (0x1000 | l4.L4_SYSF_CALL, 0, 4), ValueError),
    (l4.l4_obj_fpage, (0x1000 | l4.L4_REPLY_CAP_BIT, 0, 4), ValueError),
    (l4.l4_obj_fpage, (1 << 64, 0, 4), ValueError),
    (l4.l4_obj_fpage, (0x1000, 64, 4), ValueError),
    (l4.l4_obj_fpage, (0x1000, 0, 16), ValueError),
    (l4.l4_fpage_t, (1 << 64,), ValueError),
    (l4.l4_fpage_t, (-1,), ValueError),
])
def test_fpage_refusals(fn, args, exc):
    with pytest.raises(exc):
        fn(*args)


def test_map_control_words():
    assert l4.l4_map_control(0x1000, l4.L4_FPAGE_CACHEABLE, l4.L4_MAP_ITEM_GRANT) == 0x103A
    assert l4.l4_map_control(0x1FFF, 0, l4.L4_MAP_ITEM_MAP) == 0x1008
    assert l4.l4_map_obj_control(l4.L4_BASE_LOG_CAP, l4.L4_MAP_ITEM_MAP) == 0x5008
    assert l4.l4_map_obj_control(0, l4.L4_MAP_ITEM_GRANT) == 0xA
    assert l4.l4_map_control(U64, 0xF, 2) == (U64 & ~0xFFF) | 0xFA


@pytest.mark.parametrize("fn, args, exc", [
    (l4.l4_map_control, (0, 0, 1), ValueError),
    (l4.l4_map_control, (0, 0, 8), ValueError),
    (l4.l4_map_control, (0, 16, 0), ValueError),
    (l4.l4_map_control, (-1, 0, 0), ValueError),
    (l4.l4_map_control, (0, 0, True), TypeError),
    (l4.l4_map_obj_control, (1 << 64, 0), ValueError),
    (l4.l4_map_obj_control, (0, 3), ValueError),
])
def test_map_control_refusals(fn, args, exc):
    with pytest.raises(exc):
        fn(*args)


def test_returned_item_words_match_the_user_tests_of_5_4():
    # an object item (type 3 in bits 4..5 of the send fpage) as the receiver sees it
    base = l4.L4_ITEM_MAP | (l4.L4_FPAGE_OBJ << l4.L4_FPAGE_TYPE_SHIFT)
    assert (base | l4.L4_RET_ITEM_MAP_SOMETHING) & 0x3E == 0x38     # capability received
    assert (base | l4.L4_RET_ITEM_ID) & 0x3E == 0x3C                # id received
    assert (base | l4.L4_RET_ITEM_FLEXPAGE) & 0x3E == 0x3E          # raw flexpage received
    assert l4.L4_RCV_ITEM_SINGLE_CAP == l4.L4_ITEM_MAP | 2


def test_unmap_flags():
    assert l4.L4_FP_DELETE_OBJ & l4.L4_FP_ALL_SPACES == l4.L4_FP_ALL_SPACES
    assert l4.L4_FP_DELETE_OBJ == 0xC0000000 and l4.L4_FP_ALL_SPACES == 1 << 31


# ---- §6 capability selectors ------------------------------------------------------------

def test_cap_helpers():
    assert l4.l4_is_invalid_cap(l4.L4_INVALID_CAP) and not l4.l4_is_valid_cap(l4.L4_INVALID_CAP)
    assert l4.l4_is_invalid_cap(l4.L4_INVALID_REPLY_CAP)
    for sel in (l4.L4_BASE_TASK_CAP, l4.L4_BASE_THREAD_CAP, l4.L4_BASE_CAPS_LAST, 0):
        assert l4.l4_is_valid_cap(sel) and not l4.l4_is_invalid_cap(sel)
    assert l4.l4_capability_equal(l4.L4_BASE_THREAD_CAP | l4.L4_SYSF_CALL, l4.L4_BASE_THREAD_CAP)
    assert not l4.l4_capability_equal(l4.L4_BASE_THREAD_CAP, l4.L4_BASE_TASK_CAP)
    assert l4.l4_capability_next(l4.L4_BASE_TASK_CAP) == l4.L4_BASE_FACTORY_CAP
    assert l4.L4_CAP_MASK & l4.L4_BASE_LOG_CAP == l4.L4_BASE_LOG_CAP
    assert l4.L4_INVALID_CAP >> l4.L4_CAP_SHIFT == (1 << 52) - 1


def test_cap_helpers_take_capindex_and_refuse_other_typed_values():
    from pyl4re.types import CapIndex, VirtAddr
    assert l4.l4_is_valid_cap(CapIndex(3))          # a slot's selector: CapIndex.selector
    with pytest.raises(TypeError):
        l4.l4_is_valid_cap(VirtAddr(0x3000))
