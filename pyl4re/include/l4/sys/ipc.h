/*
 * l4/sys/ipc.h (pyl4re): the IPC calls of l4sys. Each is one l4_ipc() with the flags
 * l4sys gives it (kernkonzept/l4re-core l4sys/include/ipc.h); l4_ipc itself comes last,
 * from l4/sys/arch/ipc.h, as in l4sys.
 */
#ifndef PYL4RE_L4_SYS_IPC_H
#define PYL4RE_L4_SYS_IPC_H

#include <l4/sys/types.h>
#include <l4/sys/utcb.h>

L4_INLINE l4_msgtag_t l4_ipc(l4_cap_idx_t dest, l4_utcb_t *utcb, l4_umword_t flags,
                             l4_umword_t slabel, l4_msgtag_t tag, l4_umword_t *rlabel,
                             l4_timeout_t timeout) L4_NOTHROW;

/* ---- the error of the last IPC (the error TCR; valid when the tag says so) */
L4_INLINE l4_umword_t l4_ipc_error(l4_msgtag_t tag, l4_utcb_t *utcb)
{
    if (!l4_msgtag_has_error(tag))
        return 0;
    return l4_utcb_tcr_u(utcb)->error & L4_IPC_ERROR_MASK;
}
L4_INLINE long l4_ipc_error_code(l4_utcb_t *utcb)
{
    return -(long)(L4_EIPC_LO + (l4_utcb_tcr_u(utcb)->error & L4_IPC_ERROR_MASK));
}
/* 0, an IPC error as -(L4_EIPC_LO + code), or a negative label (a -L4_Exxx reply). */
L4_INLINE long l4_error_u(l4_msgtag_t tag, l4_utcb_t *utcb)
{
    if (l4_msgtag_has_error(tag))
        return l4_ipc_error_code(utcb);
    return l4_msgtag_label(tag) < 0 ? l4_msgtag_label(tag) : 0;
}
L4_INLINE long l4_error(l4_msgtag_t tag) { return l4_error_u(tag, l4_utcb()); }
L4_INLINE int l4_ipc_is_snd_error(l4_utcb_t *utcb)
{ return (l4_utcb_tcr_u(utcb)->error & L4_IPC_SND_ERR_MASK) == 0; }
L4_INLINE int l4_ipc_is_rcv_error(l4_utcb_t *utcb)
{ return (l4_utcb_tcr_u(utcb)->error & L4_IPC_SND_ERR_MASK) != 0; }

/* ---- the operations */
L4_INLINE l4_msgtag_t l4_ipc_call(l4_cap_idx_t object, l4_utcb_t *utcb, l4_msgtag_t tag,
                                  l4_timeout_t timeout)
{ return l4_ipc(object, utcb, L4_SYSF_CALL, 0, tag, 0, timeout); }

L4_INLINE l4_msgtag_t l4_ipc_reply_and_wait(l4_utcb_t *utcb, l4_msgtag_t tag,
                                            l4_umword_t *label, l4_timeout_t timeout)
{ return l4_ipc(L4_INVALID_CAP, utcb, L4_SYSF_REPLY_AND_WAIT, 0, tag, label, timeout); }

L4_INLINE l4_msgtag_t l4_ipc_send_and_wait(l4_cap_idx_t dest, l4_utcb_t *utcb,
                                           l4_msgtag_t tag, l4_umword_t *label,
                                           l4_timeout_t timeout)
{ return l4_ipc(dest, utcb, L4_SYSF_SEND_AND_WAIT, 0, tag, label, timeout); }

L4_INLINE l4_msgtag_t l4_ipc_send(l4_cap_idx_t dest, l4_utcb_t *utcb, l4_msgtag_t tag,
                                  l4_timeout_t timeout)
{ return l4_ipc(dest, utcb, L4_SYSF_SEND, 0, tag, 0, timeout); }

L4_INLINE l4_msgtag_t l4_ipc_wait(l4_utcb_t *utcb, l4_umword_t *label, l4_timeout_t timeout)
{ return l4_ipc(L4_INVALID_CAP, utcb, L4_SYSF_WAIT, 0, l4_msgtag(0, 0, 0, 0), label, timeout); }

L4_INLINE l4_msgtag_t l4_ipc_receive(l4_cap_idx_t object, l4_utcb_t *utcb,
                                     l4_timeout_t timeout)
{ return l4_ipc(object, utcb, L4_SYSF_RECV, 0, l4_msgtag(0, 0, 0, 0), 0, timeout); }

L4_INLINE l4_msgtag_t l4_ipc_reply(l4_utcb_t *utcb, l4_msgtag_t tag, l4_timeout_t timeout)
{ return l4_ipc(L4_INVALID_CAP, utcb, L4_SYSF_REPLY | L4_SYSF_SEND, 0, tag, 0, timeout); }

L4_INLINE l4_msgtag_t l4_ipc_sleep(l4_timeout_t timeout)
{ return l4_ipc_receive(L4_INVALID_CAP, 0, timeout); }

L4_INLINE l4_msgtag_t l4_ipc_sleep_us(l4_uint64_t us)
{ return l4_ipc_sleep(l4_timeout(L4_IPC_TIMEOUT_NEVER, l4_timeout_from_us(us))); }

L4_INLINE l4_msgtag_t l4_ipc_sleep_ms(l4_umword_t ms)
{ return l4_ipc_sleep_us((l4_uint64_t)ms * 1000); }

#include <l4/sys/arch/ipc.h>

#endif
