/*
 * quota.c: charging and refunding kernel memory (see quota.h). Pure bookkeeping: it
 * allocates nothing on anyone's behalf, it only says yes or -L4_ENOMEM.
 */

#include "kernel.h"
#include "heap.h"
#include "quota.h"

struct quota *quota_new(kernel_t *k, struct quota *parent, uint64_t limit,
                        uint64_t parent_charge)
{
    struct quota *q = heap_alloc(sizeof(*q));
    if (!q)
        return NULL;
    q->parent = parent;
    q->limit = limit;
    q->parent_charge = parent_charge;
    q->valid = 1;
    q->all_next = k->quotas;
    if (k->quotas)
        k->quotas->all_prev = q;
    k->quotas = q;
    return q;
}

int quota_alloc(struct quota *q, uint64_t bytes)
{
    if (!q->valid)
        return -L4_ENOMEM;
    if (q->limit && (bytes > q->limit || q->used > q->limit - bytes))
        return -L4_ENOMEM;
    q->used += bytes;
    return 0;
}

static void quota_release(kernel_t *k, struct quota *q)
{
    if (q->all_prev)
        q->all_prev->all_next = q->all_next;
    else
        k->quotas = q->all_next;
    if (q->all_next)
        q->all_next->all_prev = q->all_prev;
    heap_free(q);
}

void quota_free(kernel_t *k, struct quota *q, uint64_t bytes)
{
    /* A drained dead quota gives its budget back, which may drain its parent in turn. */
    while (q) {
        q->used -= bytes;
        if (q->valid || q->used)
            return;
        struct quota *parent = q->parent;
        bytes = q->parent_charge;
        quota_release(k, q);
        q = parent;
    }
}

void quota_invalidate(kernel_t *k, struct quota *q)
{
    q->valid = 0;
    quota_free(k, q, 0);    /* releases it at once if nothing is charged to it */
}

void quota_fini_all(kernel_t *k)
{
    while (k->quotas)
        quota_release(k, k->quotas);
}
