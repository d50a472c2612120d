/*
 * l4/sys/compiler.h (pyl4re): the attribute macros l4sys headers and programs use.
 */
#ifndef PYL4RE_L4_SYS_COMPILER_H
#define PYL4RE_L4_SYS_COMPILER_H

#define L4_INLINE static inline
#define L4_ALWAYS_INLINE static inline __attribute__((always_inline))
#define L4_CV
#define L4_EXPORT __attribute__((visibility("default")))
#define L4_NORETURN __attribute__((noreturn))
#define L4_NOTHROW
#define L4_STICKY(x) __builtin_expect((x), 1)
#define L4_LIKELY(x) __builtin_expect(!!(x), 1)
#define L4_UNLIKELY(x) __builtin_expect(!!(x), 0)
#ifdef __cplusplus
#define L4_BEGIN_DECLS extern "C" {
#define L4_END_DECLS }
#define EXTERN_C_BEGIN extern "C" {
#define EXTERN_C_END }
#else
#define L4_BEGIN_DECLS
#define L4_END_DECLS
#define EXTERN_C_BEGIN
#define EXTERN_C_END
#endif

#endif
