/*
 * l4/sys/irq.h (pyl4re): Irq objects (label L4_PROTO_IRQ; attach/detach on
 * L4_PROTO_IRQ_SENDER). An Irq sends its message to the thread bound to it
 * (l4_rcv_ep_bind_thread, l4/sys/rcv_endpoint.h) with the label given there.
 */
#ifndef PYL4RE_L4_SYS_IRQ_H
#define PYL4RE_L4_SYS_IRQ_H

#include <l4/sys/ipc.h>
#include <l4/sys/rcv_endpoint.h>

L4_INLINE l4_msgtag_t l4_irq_trigger(l4_cap_idx_t irq)
{ return l4_ipc_send(irq, l4_utcb(), l4_msgtag(L4_PROTO_IRQ, 0, 0, 0), L4_IPC_BOTH_TIMEOUT_0); }

L4_INLINE l4_msgtag_t l4_irq_unmask(l4_cap_idx_t irq)
{
    l4_utcb_mr()->mr[0] = L4_IRQ_OP_EOI;
    return l4_ipc_send(irq, l4_utcb(), l4_msgtag(L4_PROTO_IRQ, 1, 0, 0), L4_IPC_SEND_TIMEOUT_0);
}

/* Unmask, then wait for this Irq's message only. */
L4_INLINE l4_msgtag_t l4_irq_receive(l4_cap_idx_t irq, l4_timeout_t timeout)
{
    l4_utcb_mr()->mr[0] = L4_IRQ_OP_EOI;
    return l4_ipc_call(irq, l4_utcb(), l4_msgtag(L4_PROTO_IRQ, 1, 0, 0), timeout);
}

/* Unmask, then wait for any message (its label in *label). */
L4_INLINE l4_msgtag_t l4_irq_wait(l4_cap_idx_t irq, l4_umword_t *label, l4_timeout_t timeout)
{
    l4_utcb_mr()->mr[0] = L4_IRQ_OP_EOI;
    return l4_ipc_send_and_wait(irq, l4_utcb(), l4_msgtag(L4_PROTO_IRQ, 1, 0, 0), label, timeout);
}

L4_INLINE l4_msgtag_t l4_irq_detach(l4_cap_idx_t irq)
{
    l4_utcb_mr()->mr[0] = L4_IRQ_SENDER_OP_DETACH;
    return l4_ipc_call(irq, l4_utcb(), l4_msgtag(L4_PROTO_IRQ_SENDER, 1, 0, 0), L4_IPC_NEVER);
}

/* The older name of binding: the Irq sends to `thread` with `label`. */
L4_INLINE l4_msgtag_t l4_irq_attach(l4_cap_idx_t irq, l4_umword_t label, l4_cap_idx_t thread)
{ return l4_rcv_ep_bind_thread(irq, thread, label); }

#endif
