/*
 * l4/re/env.h (pyl4re): the initial environment of an L4Re program, `l4re_env_t`, with
 * L4Re's field order (kernkonzept/l4re-core l4re/include/env.h) and its named capabilities.
 *
 * The loader (pyl4re/cprog.py) fills it in before main runs: the kernel's base
 * capabilities, and one entry per name the harness gave in start_cprogram(caps=...).
 * Fields the model's harness has no object for (parent, rm, mem_alloc, itas, dbg_events)
 * are L4_INVALID_CAP.
 */
#ifndef PYL4RE_L4_RE_ENV_H
#define PYL4RE_L4_RE_ENV_H

#include <string.h>
#include <l4/sys/consts.h>

typedef struct l4re_env_cap_entry_t {
    l4_cap_idx_t cap;
    l4_umword_t flags;
    char name[16];                 /* not NUL-terminated when all 16 are used */
} l4re_env_cap_entry_t;

typedef struct l4re_env_t {
    l4_cap_idx_t parent, rm, mem_alloc, log, main_thread, factory, scheduler, itas,
                 dbg_events;
    l4_umword_t first_free_cap, first_free_reply_cap;
    l4_fpage_t utcb_area;
    l4_addr_t first_free_utcb;
    l4re_env_cap_entry_t *caps;    /* ends with an entry whose cap is L4_INVALID_CAP */
} l4re_env_t;

L4_BEGIN_DECLS
extern l4re_env_t *l4re_global_env;
L4_END_DECLS

L4_INLINE l4re_env_t *l4re_env(void) { return l4re_global_env; }

/* The capability the environment names `name` (len bytes), or L4_INVALID_CAP. */
L4_INLINE l4_cap_idx_t l4re_env_get_cap_l(char const *name, unsigned len, l4re_env_t const *e)
{
    if (len > sizeof(e->caps->name))
        return L4_INVALID_CAP;
    for (l4re_env_cap_entry_t const *c = e->caps; c && l4_is_valid_cap(c->cap); c++)
        if (strncmp(c->name, name, len) == 0 && (len == sizeof(c->name) || !c->name[len]))
            return c->cap;
    return L4_INVALID_CAP;
}
L4_INLINE l4_cap_idx_t l4re_env_get_cap(char const *name)
{ return l4re_env_get_cap_l(name, (unsigned)strlen(name), l4re_env()); }

#endif
