/*
 * l4/sys/l4int.h (pyl4re): the fixed-size integer types of l4sys (64-bit mword).
 */
#ifndef PYL4RE_L4_SYS_L4INT_H
#define PYL4RE_L4_SYS_L4INT_H

#include <stdint.h>

typedef int8_t l4_int8_t;
typedef uint8_t l4_uint8_t;
typedef int16_t l4_int16_t;
typedef uint16_t l4_uint16_t;
typedef int32_t l4_int32_t;
typedef uint32_t l4_uint32_t;
typedef int64_t l4_int64_t;
typedef uint64_t l4_uint64_t;
typedef unsigned long l4_umword_t;
typedef long l4_mword_t;
typedef unsigned long l4_addr_t;
typedef l4_uint64_t l4_cpu_time_t;
typedef l4_uint64_t l4_kernel_clock_t;

#endif
