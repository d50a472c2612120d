/*
 * cov.c: edge coverage of the C core, for the coverage-guided fuzzer (pyl4re fuzz
 * --coverage, docs/fuzzing.md).
 *
 * The coverage build (PYL4RE_COVERAGE=1, kernel_c/build_cffi.py) compiles every file with
 * gcc's -fsanitize-coverage=trace-pc, which calls __sanitizer_cov_trace_pc() at the start
 * of every basic block. The hook below turns consecutive blocks into an edge: each block's
 * address (relative to this module, so the same in every process) is hashed to COV_MAP_BITS
 * bits, and the pair (previous, current) marks one byte of a bitmap. cov_collect() hands
 * the marks to the fuzzer and clears them. Other builds have no hook: cov_map_size() is 0
 * there and cov_collect() finds nothing. Coverage is process-wide (one map per extension),
 * not per kernel; the fuzzer runs one case at a time.
 */
#include <stdint.h>
#include <string.h>

#include "pyl4re.h"

#ifdef PYL4RE_COVERAGE

enum { COV_MAP_BITS = 18, COV_MAP_BYTES = 1u << COV_MAP_BITS };

static uint8_t cov_map[COV_MAP_BYTES];
static uint32_t cov_prev;

/* Called by the instrumented code, never by hand. Not instrumented itself (it would
 * recurse), and as short as it can be: it runs at every basic block of the core. */
__attribute__((no_sanitize_coverage))
void __sanitizer_cov_trace_pc(void)
{
    uintptr_t off = (uintptr_t)__builtin_return_address(0) - (uintptr_t)&cov_collect;
    uint32_t cur = ((uint32_t)off ^ (uint32_t)(off >> 32)) * 2654435761u >> (32 - COV_MAP_BITS);
    cov_map[cur ^ cov_prev] = 1;
    cov_prev = cur >> 1;            /* A->B and B->A are different edges */
}

__attribute__((no_sanitize_coverage))
uint32_t cov_map_size(void)
{
    return COV_MAP_BYTES;
}

__attribute__((no_sanitize_coverage))
uint32_t cov_collect(uint8_t *seen, uint32_t n, uint32_t *hit)
{
    uint32_t fresh = 0, any = 0;
    for (uint32_t i = 0; i < COV_MAP_BYTES; i++) {
        if (!cov_map[i])
            continue;
        any++;
        if (seen && i < n && !seen[i]) {
            seen[i] = 1;
            fresh++;
        }
    }
    memset(cov_map, 0, sizeof(cov_map));
    cov_prev = 0;
    if (hit)
        *hit = any;
    return fresh;
}

#else

uint32_t cov_map_size(void)
{
    return 0;
}

uint32_t cov_collect(uint8_t *seen, uint32_t n, uint32_t *hit)
{
    (void)seen;
    (void)n;
    if (hit)
        *hit = 0;
    return 0;
}

#endif
