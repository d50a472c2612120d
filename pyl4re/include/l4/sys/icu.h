/*
 * l4/sys/icu.h (pyl4re): the interrupt controller (label L4_PROTO_IRQ on an ICU capability).
 */
#ifndef PYL4RE_L4_SYS_ICU_H
#define PYL4RE_L4_SYS_ICU_H

#include <l4/sys/ipc.h>

L4_INLINE l4_msgtag_t l4_icu_control_irq_u(l4_cap_idx_t icu, unsigned op, unsigned irqnum,
                                           l4_cap_idx_t irq)
{
    l4_utcb_t *u = l4_utcb();
    l4_msg_regs_t *m = l4_utcb_mr_u(u);
    m->mr[0] = op;
    m->mr[1] = irqnum;
    m->mr[2] = l4_map_obj_control(0, 0);
    m->mr[3] = l4_obj_fpage(irq, 0, L4_CAP_FPAGE_RWS).raw;
    return l4_ipc_call(icu, u, l4_msgtag(L4_PROTO_IRQ, 2, 1, 0), L4_IPC_NEVER);
}

/* Line irqnum of the ICU raises the Irq object irq. */
L4_INLINE l4_msgtag_t l4_icu_bind(l4_cap_idx_t icu, unsigned irqnum, l4_cap_idx_t irq)
{ return l4_icu_control_irq_u(icu, L4_ICU_OP_BIND, irqnum, irq); }

L4_INLINE l4_msgtag_t l4_icu_unbind(l4_cap_idx_t icu, unsigned irqnum, l4_cap_idx_t irq)
{ return l4_icu_control_irq_u(icu, L4_ICU_OP_UNBIND, irqnum, irq); }

#endif
