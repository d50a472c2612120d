/*
 * l4/util/util.h (pyl4re): l4util's sleep calls, as IPC receives with a timeout.
 */
#ifndef PYL4RE_L4_UTIL_UTIL_H
#define PYL4RE_L4_UTIL_UTIL_H

#include <l4/sys/ipc.h>

L4_INLINE void l4_sleep(int ms) { l4_ipc_sleep_ms((l4_umword_t)(ms < 0 ? 0 : ms)); }
L4_INLINE void l4_usleep(int us) { l4_ipc_sleep_us((l4_uint64_t)(us < 0 ? 0 : us)); }
L4_INLINE void l4_sleep_forever(void) { for (;;) l4_ipc_sleep(L4_IPC_NEVER); }

#endif
