/*
 * frames.c: hands out physical frames of the kernel pool for kernel use (page tables,
 * UTCBs, vCPU state), as naturally aligned blocks of 2^order 4 KiB frames.
 *
 * A binary buddy allocator: one free list per order, blocks split on allocation and merged
 * with their buddy on free. It never touches sigma0's frames and refuses cleanly (-L4_ENOMEM)
 * when the pool is exhausted. Freeing checks the block exactly (alignment, pool, order,
 * allocated), so a wrong free is refused instead of corrupting the lists.
 */
#include <string.h>

#include "kernel.h"
#include "heap.h"

enum {
    OWNER_MASK = 0x3,
    FRAME_HEAD = 0x80,        /* first frame of a block; its order is in bits 2..6 */
    ORDER_SHIFT = 2,
    ORDER_MASK = 0x1f,
};
#define NIL UINT32_MAX

static unsigned owner_of(const struct frames *f, uint64_t pfn) { return f->state[pfn] & OWNER_MASK; }
static unsigned order_of(const struct frames *f, uint64_t pfn) { return (f->state[pfn] >> ORDER_SHIFT) & ORDER_MASK; }
static int is_head(const struct frames *f, uint64_t pfn) { return (f->state[pfn] & FRAME_HEAD) != 0; }

static void mark_block(struct frames *f, uint64_t pfn, unsigned order, unsigned owner)
{
    uint64_t n = (uint64_t)1 << order;
    memset(f->state + pfn, (int)owner, n);
    f->state[pfn] = (uint8_t)(owner | FRAME_HEAD | (order << ORDER_SHIFT));
}

static void list_push(struct frames *f, uint64_t pfn, unsigned order)
{
    uint32_t old = f->head[order];
    f->next[pfn] = old;
    f->prev[pfn] = NIL;
    if (old != NIL)
        f->prev[old] = (uint32_t)pfn;
    f->head[order] = (uint32_t)pfn;
    mark_block(f, pfn, order, FRAME_KERNEL_FREE);
}

static void list_remove(struct frames *f, uint64_t pfn, unsigned order)
{
    uint32_t n = f->next[pfn], p = f->prev[pfn];
    if (p != NIL)
        f->next[p] = n;
    else
        f->head[order] = n;
    if (n != NIL)
        f->prev[n] = p;
}

int frames_init(struct frames *f, uint64_t nframes, uint64_t pool_frames)
{
    memset(f, 0, sizeof(*f));
    f->state = heap_alloc_array(nframes, 1);
    f->next = heap_alloc_array(nframes, sizeof(uint32_t));
    f->prev = heap_alloc_array(nframes, sizeof(uint32_t));
    if (!f->state || !f->next || !f->prev) {
        frames_fini(f);
        return -L4_ENOMEM;
    }
    f->nframes = nframes;
    f->pool_end = pool_frames;
    for (unsigned o = 0; o <= FRAME_MAX_ORDER; o++)
        f->head[o] = NIL;
    f->state[0] = FRAME_RESERVED;
    memset(f->state + pool_frames, FRAME_SIGMA0, nframes - pool_frames);
    /* Cover the pool [1, pool_end) with the largest aligned blocks that fit. */
    for (uint64_t pfn = 1; pfn < pool_frames;) {
        unsigned order = 0;
        while (order < FRAME_MAX_ORDER && (pfn & (((uint64_t)2 << order) - 1)) == 0
               && pfn + ((uint64_t)2 << order) <= pool_frames)
            order++;
        list_push(f, pfn, order);
        f->free_frames += (uint64_t)1 << order;
        pfn += (uint64_t)1 << order;
    }
    return 0;
}

void frames_fini(struct frames *f)
{
    heap_free(f->state);
    heap_free(f->next);
    heap_free(f->prev);
    memset(f, 0, sizeof(*f));
}

int frames_alloc(kernel_t *k, uint32_t order, phys_addr_t *out)
{
    struct frames *f = &k->frames;
    if (order > FRAME_MAX_ORDER)
        return -L4_EINVAL;
    unsigned o = order;
    while (o <= FRAME_MAX_ORDER && f->head[o] == NIL)
        o++;
    if (o > FRAME_MAX_ORDER)
        return -L4_ENOMEM;
    uint64_t pfn = f->head[o];
    list_remove(f, pfn, o);
    while (o > order) {             /* split: keep the lower half, free the upper */
        o--;
        list_push(f, pfn + ((uint64_t)1 << o), o);
    }
    mark_block(f, pfn, order, FRAME_KERNEL);
    f->free_frames -= (uint64_t)1 << order;
    /* Kernel memory starts zeroed: page tables rely on it. */
    memset(k->mem + (pfn << FRAME_SHIFT), 0, (size_t)FRAME_SIZE << order);
    *out = pfn_to_phys(page_number(pfn));
    return 0;
}

int frames_free(kernel_t *k, phys_addr_t block, uint32_t order)
{
    struct frames *f = &k->frames;
    if (order > FRAME_MAX_ORDER || (block.raw & (((uint64_t)FRAME_SIZE << order) - 1)))
        return -L4_EINVAL;
    uint64_t pfn = phys_to_pfn(block).raw;
    if (pfn == 0 || pfn >= f->pool_end || !is_head(f, pfn)
        || owner_of(f, pfn) != FRAME_KERNEL || order_of(f, pfn) != order)
        return -L4_EINVAL;
    f->free_frames += (uint64_t)1 << order;
    while (order < FRAME_MAX_ORDER) {
        uint64_t buddy = pfn ^ ((uint64_t)1 << order);
        if (buddy == 0 || buddy >= f->pool_end || !is_head(f, buddy)
            || owner_of(f, buddy) != FRAME_KERNEL_FREE || order_of(f, buddy) != order)
            break;
        list_remove(f, buddy, order);
        f->state[buddy] &= (uint8_t)~FRAME_HEAD;
        pfn &= ~((uint64_t)1 << order);
        order++;
    }
    list_push(f, pfn, order);
    return 0;
}

int frames_owner(const kernel_t *k, page_number_t pfn)
{
    if (pfn.raw >= k->frames.nframes)
        return -L4_ERANGE;
    return (int)owner_of(&k->frames, pfn.raw);
}

void frames_stats(const kernel_t *k, struct frames_stats *out)
{
    const struct frames *f = &k->frames;
    out->total_frames = f->nframes;
    out->kernel_frames = f->pool_end - 1;
    out->kernel_free_frames = f->free_frames;
    out->sigma0_frames = f->nframes - f->pool_end;
    out->sigma0_first_pfn = f->pool_end;
}
