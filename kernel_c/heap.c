/*
 * heap.c: counted malloc/free for the C core (see heap.h). The count is process-wide and
 * atomic because cffi releases the GIL around calls, so two kernels may allocate at once.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "pyl4re.h"
#include "heap.h"

static atomic_uint_fast64_t live_blocks;

void *heap_alloc(size_t size)
{
    return heap_alloc_array(1, size);
}

void *heap_alloc_array(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p)
        atomic_fetch_add(&live_blocks, 1);
    return p;
}

void *heap_realloc(void *p, size_t size)
{
    void *n = realloc(p, size ? size : 1);
    if (n && !p)
        atomic_fetch_add(&live_blocks, 1);
    return n;
}

void heap_free(void *p)
{
    if (p) {
        atomic_fetch_sub(&live_blocks, 1);
        free(p);
    }
}

uint64_t core_heap_blocks(void)
{
    return atomic_load(&live_blocks);
}
