/*
 * fpage.h: flexpage and message-tag words as the kernel reads them (§1, §5), and the
 * placement rule that decides where a sent range lands in a receive window (§5.2).
 */
#ifndef PYL4RE_FPAGE_H
#define PYL4RE_FPAGE_H

#include <stdint.h>
#include "pyl4re.h"

enum fpage_type { FPAGE_SPECIAL = 0, FPAGE_MEMORY = 1, FPAGE_IO = 2, FPAGE_OBJ = 3 };
enum { CAP_SPACE_ORDER = 20 };   /* 2^20 capability slots (§6.1) */

static inline unsigned fpage_rights(uint64_t fp) { return fp & 0xF; }
static inline unsigned fpage_type(uint64_t fp) { return (fp >> 4) & 3; }
static inline unsigned fpage_order(uint64_t fp) { return (fp >> 6) & 0x3F; }
static inline uint64_t fpage_base(uint64_t fp) { return fp >> 12; }      /* index / port / page */
static inline int fpage_is_all(uint64_t fp) { return fpage_type(fp) == FPAGE_SPECIAL && fpage_order(fp) == 63; }

static inline unsigned tag_words(uint64_t tag) { return tag & 0x3F; }
static inline unsigned tag_items(uint64_t tag) { return (tag >> 6) & 0x3F; }
static inline int64_t tag_label(uint64_t tag) { return (int64_t)tag >> 16; }
static inline uint64_t tag_make(int64_t label, unsigned words, unsigned items, unsigned flags)
{
    return ((uint64_t)label << 16) | (words & 0x3F) | ((items & 0x3F) << 6) | (flags & 0xF000);
}

/* A range to transfer: `count` units from src to dst. */
struct placement {
    uint64_t src, dst, count;
};

/* §5.2: send range (base sb, order so) with hot spot h, receive window (rb, ro). */
static inline struct placement fpage_place(uint64_t sb, unsigned so, uint64_t h,
                                           uint64_t rb, unsigned ro)
{
    struct placement p;
    sb &= ~(((uint64_t)1 << so) - 1);
    rb &= ~(((uint64_t)1 << ro) - 1);
    if (ro >= so) {
        p.src = sb;
        p.dst = rb + ((h & (((uint64_t)1 << ro) - 1)) & ~(((uint64_t)1 << so) - 1));
        p.count = (uint64_t)1 << so;
    } else {
        p.src = sb + ((h & (((uint64_t)1 << so) - 1)) & ~(((uint64_t)1 << ro) - 1));
        p.dst = rb;
        p.count = (uint64_t)1 << ro;
    }
    return p;
}

#endif
