/*
 * l4/sys/thread.h (pyl4re): thread control and ex_regs (label L4_PROTO_THREAD, opcode in
 * MR0). In a C µApp, l4_thread_ex_regs(ip, sp) starts a C function `void f(void)` at ip
 * on the stack below sp (memory the program gave: no guard page).
 */
#ifndef PYL4RE_L4_SYS_THREAD_H
#define PYL4RE_L4_SYS_THREAD_H

#include <l4/sys/ipc.h>

L4_INLINE l4_msgtag_t l4_thread_ex_regs_u(l4_cap_idx_t thread, l4_addr_t ip, l4_addr_t sp,
                                          l4_umword_t flags, l4_utcb_t *u)
{
    l4_msg_regs_t *m = l4_utcb_mr_u(u);
    m->mr[0] = L4_THREAD_EX_REGS_OP | flags;
    m->mr[1] = ip;
    m->mr[2] = sp;
    return l4_ipc_call(thread, u, l4_msgtag(L4_PROTO_THREAD, 3, 0, 0), L4_IPC_NEVER);
}
L4_INLINE l4_msgtag_t l4_thread_ex_regs(l4_cap_idx_t thread, l4_addr_t ip, l4_addr_t sp,
                                        l4_umword_t flags)
{ return l4_thread_ex_regs_u(thread, ip, sp, flags, l4_utcb()); }

/* ex_regs that also returns the old ip, sp and flags (NULL: not wanted). */
L4_INLINE l4_msgtag_t l4_thread_ex_regs_ret(l4_cap_idx_t thread, l4_addr_t *ip, l4_addr_t *sp,
                                            l4_umword_t *flags)
{
    l4_utcb_t *u = l4_utcb();
    l4_msgtag_t t = l4_thread_ex_regs_u(thread, ip ? *ip : ~0UL, sp ? *sp : ~0UL,
                                        flags ? *flags : 0, u);
    if (!l4_error_u(t, u)) {
        if (ip) *ip = l4_utcb_mr_u(u)->mr[1];
        if (sp) *sp = l4_utcb_mr_u(u)->mr[2];
        if (flags) *flags = l4_utcb_mr_u(u)->mr[0];
    }
    return t;
}

L4_INLINE void l4_thread_control_start_u(l4_utcb_t *u)
{ l4_utcb_mr_u(u)->mr[L4_THREAD_CONTROL_MR_IDX_FLAGS] = L4_THREAD_CONTROL_OP; }
L4_INLINE void l4_thread_control_start(void) { l4_thread_control_start_u(l4_utcb()); }

L4_INLINE void l4_thread_control_pager_u(l4_cap_idx_t pager, l4_utcb_t *u)
{
    l4_msg_regs_t *m = l4_utcb_mr_u(u);
    m->mr[L4_THREAD_CONTROL_MR_IDX_FLAGS] |= L4_THREAD_CONTROL_SET_PAGER;
    m->mr[L4_THREAD_CONTROL_MR_IDX_PAGER] = pager;
}
L4_INLINE void l4_thread_control_pager(l4_cap_idx_t pager)
{ l4_thread_control_pager_u(pager, l4_utcb()); }

L4_INLINE void l4_thread_control_exc_handler_u(l4_cap_idx_t handler, l4_utcb_t *u)
{
    l4_msg_regs_t *m = l4_utcb_mr_u(u);
    m->mr[L4_THREAD_CONTROL_MR_IDX_FLAGS] |= L4_THREAD_CONTROL_SET_EXC_HANDLER;
    m->mr[L4_THREAD_CONTROL_MR_IDX_EXC_HANDLER] = handler;
}
L4_INLINE void l4_thread_control_exc_handler(l4_cap_idx_t handler)
{ l4_thread_control_exc_handler_u(handler, l4_utcb()); }

/* Binds the thread to `task` with its UTCB at thread_utcb (a task virtual address). */
L4_INLINE void l4_thread_control_bind_u(l4_utcb_t *thread_utcb, l4_cap_idx_t task, l4_utcb_t *u)
{
    l4_msg_regs_t *m = l4_utcb_mr_u(u);
    m->mr[L4_THREAD_CONTROL_MR_IDX_FLAGS] |= L4_THREAD_CONTROL_BIND_TASK;
    m->mr[L4_THREAD_CONTROL_MR_IDX_BIND_UTCB] = (l4_addr_t)thread_utcb;
    m->mr[L4_THREAD_CONTROL_MR_IDX_BIND_TASK] = L4_ITEM_MAP;
    m->mr[L4_THREAD_CONTROL_MR_IDX_BIND_TASK + 1] = l4_obj_fpage(task, 0, L4_CAP_FPAGE_RWS).raw;
}
L4_INLINE void l4_thread_control_bind(l4_utcb_t *thread_utcb, l4_cap_idx_t task)
{ l4_thread_control_bind_u(thread_utcb, task, l4_utcb()); }

L4_INLINE l4_msgtag_t l4_thread_control_commit_u(l4_cap_idx_t thread, l4_utcb_t *u)
{
    unsigned items = (l4_utcb_mr_u(u)->mr[L4_THREAD_CONTROL_MR_IDX_FLAGS]
                      & L4_THREAD_CONTROL_BIND_TASK) ? 1 : 0;
    return l4_ipc_call(thread, u, l4_msgtag(L4_PROTO_THREAD, 6, items, 0), L4_IPC_NEVER);
}
L4_INLINE l4_msgtag_t l4_thread_control_commit(l4_cap_idx_t thread)
{ return l4_thread_control_commit_u(thread, l4_utcb()); }

/* Give the rest of the time slice to `to` (L4_INVALID_CAP: anyone). */
L4_INLINE l4_msgtag_t l4_thread_switch(l4_cap_idx_t to)
{
    l4_utcb_mr()->mr[0] = L4_THREAD_SWITCH_OP;
    return l4_ipc_call(to, l4_utcb(), l4_msgtag(L4_PROTO_THREAD, 1, 0, 0), L4_IPC_NEVER);
}
L4_INLINE void l4_thread_yield(void) { l4_ipc_receive(L4_INVALID_CAP, 0, L4_IPC_BOTH_TIMEOUT_0); }

#endif
