/*
 * frames.h: the physical frame allocator's state (a buddy allocator over the kernel pool).
 *
 * Physical memory is split at boot: frame 0 is reserved (0 means "no table" in page-table
 * entries), frames 1 .. pool_end-1 form the kernel pool that hands out naturally aligned
 * blocks of 2^order frames, and every frame from pool_end on belongs to sigma0.
 */
#ifndef PYL4RE_FRAMES_H
#define PYL4RE_FRAMES_H

#include "pyl4re.h"

struct frames {
    uint64_t nframes;
    uint64_t pool_end;          /* first frame after the kernel pool */
    uint64_t free_frames;
    uint8_t *state;             /* per frame: owner | FRAME_HEAD | order << 2 */
    uint32_t *next, *prev;      /* free-list links, valid for free block heads */
    uint32_t head[FRAME_MAX_ORDER + 1];
};

int frames_init(struct frames *f, uint64_t nframes, uint64_t pool_frames);
void frames_fini(struct frames *f);

#endif
