/*
 * l4/sys/arch/ipc.h (pyl4re): l4_ipc, the one kernel entry, for C µApps in the model.
 *
 * On hardware this is inline `syscall` (amd64), `svc` (arm64) or `syscall` (mips64) with
 * the registers of each architecture; in the model it is a call through the program's
 * ops table into the kernel's sys_invoke, for the thread that runs (pyl4re/model_ops.h).
 * The utcb argument is unused, as on amd64: the kernel knows the running thread's UTCB.
 * This file comes first on the include path, so an l4re-core checkout's l4sys headers
 * (PYL4RE_L4RE_SRC) get this l4_ipc instead of their machine instruction.
 */
#ifndef PYL4RE_L4_SYS_ARCH_IPC_H
#define PYL4RE_L4_SYS_ARCH_IPC_H

#include <l4/sys/types.h>
#include <l4/sys/utcb.h>
#include <pyl4re/model_ops.h>

L4_BEGIN_DECLS
extern struct pyl4re_model_ops pyl4re_model_ops;
L4_END_DECLS

L4_INLINE l4_msgtag_t l4_ipc(l4_cap_idx_t dest, l4_utcb_t *utcb, l4_umword_t flags,
                             l4_umword_t slabel, l4_msgtag_t tag, l4_umword_t *rlabel,
                             l4_timeout_t timeout) L4_NOTHROW
{
    (void)utcb;
    l4_uint64_t label;
    l4_msgtag_t out;
    out.raw = (l4_mword_t)pyl4re_model_ops.ipc(dest | flags, slabel, (l4_uint64_t)tag.raw,
                                               timeout.raw, &label);
    if (rlabel)
        *rlabel = label;
    return out;
}

#endif
