/*
 * l4/sys/vcon.h (pyl4re): writing to a Vcon or the kernel log (label L4_PROTO_LOG):
 * MR0 the opcode, MR1 the length, the bytes from MR2 on, at most L4_VCON_WRITE_SIZE.
 */
#ifndef PYL4RE_L4_SYS_VCON_H
#define PYL4RE_L4_SYS_VCON_H

#include <string.h>
#include <l4/sys/ipc.h>

L4_INLINE l4_msgtag_t l4_vcon_send(l4_cap_idx_t vcon, char const *buf, unsigned size)
{
    l4_utcb_t *u = l4_utcb();
    l4_msg_regs_t *m = l4_utcb_mr_u(u);
    if (size > L4_VCON_WRITE_SIZE)
        size = L4_VCON_WRITE_SIZE;
    m->mr[0] = L4_VCON_WRITE_OP;
    m->mr[1] = size;
    memcpy(&m->mr[2], buf, size);
    unsigned words = 2 + (size + sizeof(l4_umword_t) - 1) / sizeof(l4_umword_t);
    return l4_ipc_send(vcon, u, l4_msgtag(L4_PROTO_LOG, words, 0, L4_MSGTAG_SCHEDULE),
                       L4_IPC_NEVER);
}

/* Writes up to L4_VCON_WRITE_SIZE bytes; returns how many, or a negative error. */
L4_INLINE long l4_vcon_write(l4_cap_idx_t vcon, char const *buf, unsigned size)
{
    unsigned n = size > (unsigned)L4_VCON_WRITE_SIZE ? (unsigned)L4_VCON_WRITE_SIZE : size;
    long err = l4_error(l4_vcon_send(vcon, buf, n));
    return err < 0 ? err : (long)n;
}

#endif
