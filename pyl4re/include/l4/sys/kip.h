/*
 * l4/sys/kip.h (pyl4re): the kernel info page and its clock.
 *
 * l4_kip() is the model's KIP (a host pointer to it in the model's memory). On hardware
 * l4_kip_clock() calls code the kernel put into the KIP; in the model it reads the
 * running thread's CPU clock, in virtual microseconds, through the program's ops table.
 */
#ifndef PYL4RE_L4_SYS_KIP_H
#define PYL4RE_L4_SYS_KIP_H

#include <l4/sys/types.h>
#include <pyl4re/model_ops.h>

typedef struct l4_kernel_info_t l4_kernel_info_t;   /* opaque: read it with the calls below */

L4_BEGIN_DECLS
extern struct pyl4re_model_ops pyl4re_model_ops;
L4_END_DECLS

L4_INLINE l4_kernel_info_t *l4_kip(void) { return (l4_kernel_info_t *)pyl4re_model_ops.kip(); }
L4_INLINE l4_cpu_time_t l4_kip_clock(l4_kernel_info_t const *kip)
{ (void)kip; return pyl4re_model_ops.clock_us(); }
L4_INLINE l4_cpu_time_t l4_kip_clock_ns(l4_kernel_info_t const *kip)
{ (void)kip; return pyl4re_model_ops.clock_us() * 1000; }
L4_INLINE l4_uint32_t l4_kip_magic(l4_kernel_info_t const *kip)
{ return *(l4_uint32_t const *)kip; }

#endif
