/*
 * l4/sys/consts.h (pyl4re): syscall flags, capability constants, default capability
 * selectors, protocols, rights (all from the kernel's l4_abi.h, through types.h).
 */
#ifndef PYL4RE_L4_SYS_CONSTS_H
#define PYL4RE_L4_SYS_CONSTS_H

#include <l4/sys/types.h>

#endif
