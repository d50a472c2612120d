/*
 * heap.h: the C core's only way to the C heap.
 *
 * Every block is counted, so a test can check that the core gives back everything it
 * took (core_heap_blocks() in pyl4re.h) without relying on a leak checker that would also
 * see the interpreter's own allocations. Blocks come zeroed.
 */
#ifndef PYL4RE_HEAP_H
#define PYL4RE_HEAP_H

#include <stddef.h>

void *heap_alloc(size_t size);
void *heap_alloc_array(size_t count, size_t size);
/* Grows or shrinks a block (NULL = new block); on failure the old block is untouched.
 * Bytes beyond the old size are not zeroed. */
void *heap_realloc(void *p, size_t size);
void heap_free(void *p);

#endif
