/*
 * l4/sys/err.h (pyl4re): the error codes (l4_abi.h) and their names.
 */
#ifndef PYL4RE_L4_SYS_ERR_H
#define PYL4RE_L4_SYS_ERR_H

#include <l4/sys/types.h>

L4_BEGIN_DECLS
/* A short text for an error from l4_error() (-L4_Exxx or an IPC error). */
L4_CV char const *l4sys_errtostr(long err);
L4_END_DECLS

#endif
