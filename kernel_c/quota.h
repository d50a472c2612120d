/*
 * quota.h: kernel-memory quotas (Fiasco's Ram_quota, §13).
 *
 * Every factory owns one. Charges are bytes; limit 0 means unlimited (the root). A child
 * factory's whole budget plus its own size is charged to the parent once, at creation, and
 * returned when the child is destroyed *and* the last byte charged to it has come back.
 */
#ifndef PYL4RE_QUOTA_H
#define PYL4RE_QUOTA_H

#include "pyl4re.h"

struct quota {
    struct quota *parent;
    uint64_t limit, used;
    uint64_t parent_charge;    /* what this quota holds of its parent's */
    int valid;
    struct quota *all_prev, *all_next;   /* the kernel's list of quotas, for teardown */
};

/* A new quota under `parent`; `parent_charge` must already be charged to the parent. */
struct quota *quota_new(kernel_t *k, struct quota *parent, uint64_t limit,
                        uint64_t parent_charge);
int quota_alloc(struct quota *q, uint64_t bytes);
void quota_free(kernel_t *k, struct quota *q, uint64_t bytes);
/* The owning factory died: no new charges; released once drained. */
void quota_invalidate(kernel_t *k, struct quota *q);
void quota_fini_all(kernel_t *k);

#endif
