/*
 * l4/sys/task.h (pyl4re): map and unmap (label L4_PROTO_TASK). Flexpage addresses are the
 * model's task virtual addresses, not host pointers (docs/c-uapps.md, "Memory").
 */
#ifndef PYL4RE_L4_SYS_TASK_H
#define PYL4RE_L4_SYS_TASK_H

#include <l4/sys/ipc.h>

/* Map snd_fpage of src_task into dst_task at snd_base (l4_map_control / l4_map_obj_control). */
L4_INLINE l4_msgtag_t l4_task_map(l4_cap_idx_t dst_task, l4_cap_idx_t src_task,
                                  l4_fpage_t snd_fpage, l4_umword_t snd_base)
{
    l4_utcb_t *u = l4_utcb();
    l4_msg_regs_t *m = l4_utcb_mr_u(u);
    m->mr[0] = L4_TASK_MAP_OP;
    m->mr[1] = snd_base;
    m->mr[2] = snd_fpage.raw;
    m->mr[3] = l4_map_obj_control(0, 0);
    m->mr[4] = l4_obj_fpage(src_task, 0, L4_CAP_FPAGE_RWS).raw;
    return l4_ipc_call(dst_task, u, l4_msgtag(L4_PROTO_TASK, 3, 1, 0), L4_IPC_NEVER);
}

L4_INLINE l4_msgtag_t l4_task_unmap(l4_cap_idx_t task, l4_fpage_t fpage, l4_umword_t map_mask)
{
    l4_utcb_t *u = l4_utcb();
    l4_msg_regs_t *m = l4_utcb_mr_u(u);
    m->mr[0] = L4_TASK_UNMAP_OP;
    m->mr[1] = map_mask;
    m->mr[2] = fpage.raw;
    return l4_ipc_call(task, u, l4_msgtag(L4_PROTO_TASK, 3, 0, 0), L4_IPC_NEVER);
}

#endif
