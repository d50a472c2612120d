/*
 * l4/sys/factory.h (pyl4re): creating kernel objects (label L4_PROTO_FACTORY): MR0 the
 * protocol of the new object, then its arguments as variable-argument words; BR0 receives
 * the new capability at target_cap.
 */
#ifndef PYL4RE_L4_SYS_FACTORY_H
#define PYL4RE_L4_SYS_FACTORY_H

#include <l4/sys/ipc.h>

L4_INLINE void l4_factory_create_start_u(long obj, l4_cap_idx_t target, l4_utcb_t *u)
{
    l4_utcb_mr_u(u)->mr[0] = (l4_umword_t)obj;
    l4_utcb_br_u(u)->bdr = 0;
    l4_utcb_br_u(u)->br[0] = target | L4_RCV_ITEM_SINGLE_CAP;
}
/* Appends one word argument (an l4 "varg": type and length, then the value) at *pos. */
L4_INLINE void l4_factory_put_umword_u(l4_umword_t v, unsigned *pos, l4_utcb_t *u)
{
    l4_utcb_mr_u(u)->mr[(*pos)++] = L4_VARG_TYPE_UMWORD | (sizeof(l4_umword_t) << 16);
    l4_utcb_mr_u(u)->mr[(*pos)++] = v;
}
L4_INLINE void l4_factory_put_fpage_u(l4_fpage_t f, unsigned *pos, l4_utcb_t *u)
{
    l4_utcb_mr_u(u)->mr[(*pos)++] = L4_VARG_TYPE_FPAGE | (sizeof(l4_fpage_t) << 16);
    l4_utcb_mr_u(u)->mr[(*pos)++] = f.raw;
}

L4_INLINE l4_msgtag_t l4_factory_create_u(l4_cap_idx_t factory, long obj, l4_cap_idx_t target,
                                          l4_utcb_t *u)
{
    l4_factory_create_start_u(obj, target, u);
    return l4_ipc_call(factory, u, l4_msgtag(L4_PROTO_FACTORY, 1, 0, 0), L4_IPC_NEVER);
}
L4_INLINE l4_msgtag_t l4_factory_create(l4_cap_idx_t factory, long obj, l4_cap_idx_t target)
{ return l4_factory_create_u(factory, obj, target, l4_utcb()); }

L4_INLINE l4_msgtag_t l4_factory_create_thread(l4_cap_idx_t factory, l4_cap_idx_t target)
{ return l4_factory_create(factory, L4_PROTO_THREAD, target); }

L4_INLINE l4_msgtag_t l4_factory_create_irq(l4_cap_idx_t factory, l4_cap_idx_t target)
{ return l4_factory_create(factory, L4_PROTO_IRQ_SENDER, target); }

L4_INLINE l4_msgtag_t l4_factory_create_semaphore(l4_cap_idx_t factory, l4_cap_idx_t target)
{ return l4_factory_create(factory, L4_PROTO_SEMAPHORE, target); }

L4_INLINE l4_msgtag_t l4_factory_create_task(l4_cap_idx_t factory, l4_cap_idx_t target,
                                             l4_fpage_t utcb_area)
{
    l4_utcb_t *u = l4_utcb();
    unsigned pos = 1;
    l4_factory_create_start_u(L4_PROTO_TASK, target, u);
    l4_factory_put_fpage_u(utcb_area, &pos, u);
    return l4_ipc_call(factory, u, l4_msgtag(L4_PROTO_FACTORY, pos, 0, 0), L4_IPC_NEVER);
}

L4_INLINE l4_msgtag_t l4_factory_create_factory(l4_cap_idx_t factory, l4_cap_idx_t target,
                                                l4_umword_t limit)
{
    l4_utcb_t *u = l4_utcb();
    unsigned pos = 1;
    l4_factory_create_start_u(L4_PROTO_FACTORY, target, u);
    l4_factory_put_umword_u(limit, &pos, u);
    return l4_ipc_call(factory, u, l4_msgtag(L4_PROTO_FACTORY, pos, 0, 0), L4_IPC_NEVER);
}

/* An IPC gate to `thread` (none: bind it later) with `label`. */
L4_INLINE l4_msgtag_t l4_factory_create_gate(l4_cap_idx_t factory, l4_cap_idx_t target,
                                             l4_cap_idx_t thread, l4_umword_t label)
{
    l4_utcb_t *u = l4_utcb();
    unsigned pos = 1, items = 0;
    l4_factory_create_start_u(0, target, u);
    l4_factory_put_umword_u(label, &pos, u);
    if (l4_is_valid_cap(thread)) {
        l4_utcb_mr_u(u)->mr[pos] = l4_map_obj_control(0, 0);
        l4_utcb_mr_u(u)->mr[pos + 1] = l4_obj_fpage(thread, 0, L4_CAP_FPAGE_RWS).raw;
        items = 1;
    }
    return l4_ipc_call(factory, u, l4_msgtag(L4_PROTO_FACTORY, pos, items, 0), L4_IPC_NEVER);
}

#endif
