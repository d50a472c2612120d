/*
 * l4/sys/utcb.h (pyl4re): the user thread control block, as l4sys lays it out.
 *
 * In a C µApp the UTCB is the model's own: l4_utcb() returns a host pointer to the
 * running thread's UTCB words in the model's physical memory, through the wrap hook
 * (l4_utcb_wrap, as l4sys does with L4SYS_USE_UTCB_WRAP), so what the program writes
 * there is exactly what the kernel reads.
 */
#ifndef PYL4RE_L4_SYS_UTCB_H
#define PYL4RE_L4_SYS_UTCB_H

#include <l4/sys/types.h>

typedef struct l4_utcb_t l4_utcb_t;        /* opaque: only the views below are used */

typedef union l4_msg_regs_t {
    l4_umword_t mr[L4_UTCB_GENERIC_DATA_SIZE];
    l4_uint64_t mr64[L4_UTCB_GENERIC_DATA_SIZE];
} l4_msg_regs_t;

typedef struct l4_buf_regs_t {
    l4_umword_t bdr;
    l4_umword_t br[L4_UTCB_GENERIC_BUFFERS_SIZE];
} l4_buf_regs_t;

typedef struct l4_thread_regs_t {
    l4_umword_t error;
    l4_umword_t free_marker;
    l4_umword_t user[3];
} l4_thread_regs_t;

L4_BEGIN_DECLS
L4_CV l4_utcb_t *l4_utcb_wrap(void);
L4_END_DECLS

L4_INLINE l4_utcb_t *l4_utcb(void) { return l4_utcb_wrap(); }

L4_INLINE l4_msg_regs_t *l4_utcb_mr_u(l4_utcb_t *u)
{ return (l4_msg_regs_t *)((char *)u + L4_UTCB_MSG_REGS_OFFSET); }
L4_INLINE l4_buf_regs_t *l4_utcb_br_u(l4_utcb_t *u)
{ return (l4_buf_regs_t *)((char *)u + L4_UTCB_BUF_REGS_OFFSET); }
L4_INLINE l4_thread_regs_t *l4_utcb_tcr_u(l4_utcb_t *u)
{ return (l4_thread_regs_t *)((char *)u + L4_UTCB_THREAD_REGS_OFFSET); }
L4_INLINE l4_msg_regs_t *l4_utcb_mr(void) { return l4_utcb_mr_u(l4_utcb()); }
L4_INLINE l4_buf_regs_t *l4_utcb_br(void) { return l4_utcb_br_u(l4_utcb()); }
L4_INLINE l4_thread_regs_t *l4_utcb_tcr(void) { return l4_utcb_tcr_u(l4_utcb()); }

#endif
