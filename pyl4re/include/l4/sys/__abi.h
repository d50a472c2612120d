/*
 * l4/sys/__abi.h (pyl4re, internal): the ABI constants, from the kernel's own l4_abi.h.
 *
 * The model's kernel and C µApps read every constant from that one header. l4sys spells
 * the six timeout constants as l4_timeout_t / l4_timeout_s values, not integers: they are
 * renamed on the way in and defined as those values in l4/sys/types.h.
 */
#ifndef PYL4RE_L4_SYS_ABI_H
#define PYL4RE_L4_SYS_ABI_H

#define L4_IPC_NEVER PYL4RE_RAW_IPC_NEVER
#define L4_IPC_TIMEOUT_NEVER PYL4RE_RAW_IPC_TIMEOUT_NEVER
#define L4_IPC_TIMEOUT_0 PYL4RE_RAW_IPC_TIMEOUT_0
#define L4_IPC_RECV_TIMEOUT_0 PYL4RE_RAW_IPC_RECV_TIMEOUT_0
#define L4_IPC_SEND_TIMEOUT_0 PYL4RE_RAW_IPC_SEND_TIMEOUT_0
#define L4_IPC_BOTH_TIMEOUT_0 PYL4RE_RAW_IPC_BOTH_TIMEOUT_0
#include "l4_abi.h"
#undef L4_IPC_NEVER
#undef L4_IPC_TIMEOUT_NEVER
#undef L4_IPC_TIMEOUT_0
#undef L4_IPC_RECV_TIMEOUT_0
#undef L4_IPC_SEND_TIMEOUT_0
#undef L4_IPC_BOTH_TIMEOUT_0

#endif
