/*
 * l4/re/c/util/cap_alloc.h (pyl4re): capability slots for a C µApp, from the
 * environment's first_free_cap on (as l4re_util_cap_alloc hands them out).
 */
#ifndef PYL4RE_L4_RE_C_UTIL_CAP_ALLOC_H
#define PYL4RE_L4_RE_C_UTIL_CAP_ALLOC_H

#include <l4/re/env.h>

L4_BEGIN_DECLS
/* A free slot's selector, or L4_INVALID_CAP when the table is full. */
L4_CV l4_cap_idx_t l4re_util_cap_alloc(void);
L4_CV void l4re_util_cap_free(l4_cap_idx_t cap);
L4_END_DECLS

#endif
