/*
 * mapdb.c: the mapping database for memory, and map, grant and unmap on top of it
 * (§5.2, §5.5, §13; after Fiasco's map_util.cpp, map_util-mem.cpp, mapdb.cpp).
 *
 * Every mapped page is a node: (task, va, pa, size, rights). A node's parent is the
 * mapping it was derived from; roots are sigma0's 1:1 mappings (va == pa), made on demand
 * when sigma0 sends a frame it owns. Nodes are found by (task, va) in a hash table; from a
 * page table leaf the node is one lookup away, so the page table and the tree never need
 * pointers into each other. A task's nodes are enumerated by walking its page table.
 *
 *   sigma0 [2M @ 0x200000] ── A [2M @ 0x600000] ─┬─ B [4K @ 0x1000] ── C [4K @ 0x9000]
 *   (root, depth 0)          (depth 1)           └─ B [4K @ 0x2000]
 *
 * Mappings are never split: unmapping part of a page removes (or revokes) the whole page
 * and everything derived from it. Each node costs MAPDB_NODE_BYTES of the receiving task's
 * quota (docs/quotas.md). Access flags (Referenced/Dirty) are read back from the page
 * tables; flags of flushed children are kept in the parent's node, as Fiasco keeps them in
 * the parent's page-table entry (amd64 v_set_access_flags), so a later unmap reports them.
 * What it must not do: write page-table entries itself (vspace/ptab do), or leave a page
 * half-mapped: every page is either mapped with its node and charge, or not at all.
 */
#include <string.h>

#include "mapdb.h"
#include "fpage.h"
#include "heap.h"
#include "ptab.h"
#include "quota.h"
#include "thread.h"
#include "trace.h"

enum {
    MEM_MIN_ORDER = 12,           /* L4_fpage::Mem_addr::Shift: smaller fpages do nothing */
    HASH_MIN_BUCKETS = 256,
    RIGHTS_WX = L4_FPAGE_W | L4_FPAGE_X,
    ACCESS_FLAGS = L4_FP_REFERENCED | L4_FP_DIRTY,
    PROBE_NO_TABLE = 64,          /* a task without a table: one hole over everything */
    FPAGE_ALL_SPACES = 0xFC0,     /* l4_fpage_all(): special type, order 63 */
};

struct mnode {
    struct mnode *parent, *child, *next, *prev;    /* the tree: first child, siblings */
    struct mnode *hnext;                           /* the (task, va) hash chain */
    struct task *task;
    uint64_t va, pa;                               /* first byte of the page and frames */
    uint16_t depth;                                /* 0: sigma0's root */
    uint8_t shift;
    uint8_t rights;                                /* RWX | U, as the leaf holds them */
    uint8_t saved;                                 /* access flags kept for the leaf */
};

struct mapdb {
    struct mnode **bucket;
    uint64_t nbuckets;                             /* a power of two */
    uint64_t nodes;
};

_Static_assert(MAPDB_MAX_DEPTH < UINT16_MAX, "depth fits the node");

/* ---- small helpers */

static uint64_t size_of(unsigned shift) { return (uint64_t)1 << shift; }
static uint64_t last_of(const struct mnode *n) { return n->pa + (size_of(n->shift) - 1); }
static kobj_id_t task_id(const struct task *t) { return kobj_id_of(&t->hdr); }

static struct task *task_get(const kernel_t *k, kobj_id_t id)
{
    struct kobj *o = kobj_get(k, id);
    return o && kobj_is_space(o) ? (struct task *)o : NULL;
}

/* The kind of table a task has, or gets with its first mapping (a VM's and a DMA space's
 * kind is set when it is created). */
static uint32_t space_kind(const struct task *t)
{
    return t->pt_kind;
}

static const struct pt_format *space_format(const struct task *t)
{
    return space_kind(t) < VSPACE_KINDS ? arch_pt_format(space_kind(t)) : NULL;
}

/* The largest leaf the format offers of at most 2^shift bytes; 0 if there is none. */
static unsigned fit_shift(const struct pt_format *f, unsigned shift)
{
    unsigned best = 0;
    for (unsigned l = 0; l < f->levels; l++)
        if (f->level[l].leaf_ok && f->level[l].shift <= shift && f->level[l].shift > best)
            best = f->level[l].shift;
    return best;
}

static unsigned min_shift(const struct pt_format *f)
{
    unsigned best = 64;
    for (unsigned l = 0; l < f->levels; l++)
        if (f->level[l].leaf_ok && f->level[l].shift < best)
            best = f->level[l].shift;
    return best;
}

/* What a page table holds at va: the leaf (mapped), or the largest empty, aligned region
 * around va that the table's shape leaves free (the size a new leaf there may have). */
struct probe {
    int mapped;
    uint64_t base;            /* first byte of the leaf or hole */
    unsigned shift;           /* its size; PROBE_NO_TABLE: no table at all */
    struct pt_leaf leaf;
};

static void space_probe(const kernel_t *k, const struct task *t, const struct pt_format *f,
                        uint64_t va, struct probe *p)
{
    p->mapped = 0;
    if (!t->pt_root.raw) {
        p->shift = PROBE_NO_TABLE;
        p->base = 0;
        return;
    }
    struct pt_walk w;
    int rc = ptab_lookup(k, f, t->pt_root, virt_addr(va), &w);
    p->mapped = rc == 0;
    p->shift = w.shift;
    if (rc == 0)
        p->leaf = w.leaf;
    else if (rc != -L4_ENOENT)                     /* a corrupt table: step one page */
        p->shift = min_shift(f);
    p->base = va & ~(size_of(p->shift) - 1);
}

/* The last byte of the region a probe found, clipped to the 64-bit space. */
static uint64_t probe_last(const struct probe *p)
{
    return p->shift >= PROBE_NO_TABLE ? UINT64_MAX : p->base + (size_of(p->shift) - 1);
}

/* ---- the hash table of nodes by (task, va) */

static uint64_t key_hash(const struct task *t, uint64_t va, uint64_t nbuckets)
{
    uint64_t h = (uint64_t)(uintptr_t)t * 0x9E3779B97F4A7C15ull
                 ^ (va >> FRAME_SHIFT) * 0xC2B2AE3D27D4EB4Full;
    return (h ^ (h >> 31)) & (nbuckets - 1);
}

static struct mapdb *db_get(kernel_t *k)
{
    if (k->mapdb)
        return k->mapdb;
    struct mapdb *db = heap_alloc(sizeof(*db));
    if (!db)
        return NULL;
    db->bucket = heap_alloc_array(HASH_MIN_BUCKETS, sizeof(*db->bucket));
    if (!db->bucket) {
        heap_free(db);
        return NULL;
    }
    db->nbuckets = HASH_MIN_BUCKETS;
    k->mapdb = db;
    return db;
}

static struct mnode *node_find(const struct mapdb *db, const struct task *t, uint64_t va)
{
    if (!db)
        return NULL;
    struct mnode *n = db->bucket[key_hash(t, va, db->nbuckets)];
    while (n && (n->task != t || n->va != va))
        n = n->hnext;
    return n;
}

static void hash_insert(struct mapdb *db, struct mnode *n)
{
    struct mnode **b = &db->bucket[key_hash(n->task, n->va, db->nbuckets)];
    n->hnext = *b;
    *b = n;
}

static void hash_remove(struct mapdb *db, struct mnode *n)
{
    struct mnode **p = &db->bucket[key_hash(n->task, n->va, db->nbuckets)];
    while (*p != n)
        p = &(*p)->hnext;
    *p = n->hnext;
}

/* Keeps chains short; a failed allocation only leaves them longer. */
static void hash_grow(struct mapdb *db)
{
    if (db->nodes <= 2 * db->nbuckets || db->nbuckets > UINT64_MAX / 16)
        return;
    uint64_t nb = db->nbuckets * 4;
    struct mnode **fresh = heap_alloc_array(nb, sizeof(*fresh));
    if (!fresh)
        return;
    for (uint64_t i = 0; i < db->nbuckets; i++) {
        for (struct mnode *n = db->bucket[i], *next; n; n = next) {
            next = n->hnext;
            struct mnode **b = &fresh[key_hash(n->task, n->va, nb)];
            n->hnext = *b;
            *b = n;
        }
    }
    heap_free(db->bucket);
    db->bucket = fresh;
    db->nbuckets = nb;
}

/* ---- the tree */

static void tree_link(struct mnode *parent, struct mnode *n)
{
    /* A new child goes first, right after its parent in tree order, as in Fiasco. */
    n->parent = parent;
    n->prev = NULL;
    n->next = parent ? parent->child : NULL;
    if (n->next)
        n->next->prev = n;
    if (parent)
        parent->child = n;
}

static void tree_unlink(struct mnode *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else if (n->parent)
        n->parent->child = n->next;
    if (n->next)
        n->next->prev = n->prev;
    n->parent = n->next = n->prev = NULL;
}

/* The next node after n in tree order, staying inside the subtree of top. */
static struct mnode *tree_next(struct mnode *n, const struct mnode *top)
{
    if (n->child)
        return n->child;
    while (n != top) {
        if (n->next)
            return n->next;
        n = n->parent;
    }
    return NULL;
}

/* ---- quota */

static int node_charge(struct task *t)
{
    return t->hdr.quota ? quota_alloc(t->hdr.quota, MAPDB_NODE_BYTES) : 0;
}

static void node_refund(kernel_t *k, struct task *t)
{
    if (t->hdr.quota)
        quota_free(k, t->hdr.quota, MAPDB_NODE_BYTES);
}

/* ---- leaves (through ptab by the task's own table, so a dying task's work too) */

/* The node takes the rights its leaf really has: a format may add some (amd64 and arm64
 * have no write-only or execute-only pages, so W and X come with R). */
static void node_sync_rights(const kernel_t *k, struct mnode *n)
{
    struct probe p;
    space_probe(k, n->task, space_format(n->task), n->va, &p);
    if (p.mapped)
        n->rights = (uint8_t)p.leaf.rights;
}

/* Removes n's leaf; returns its access flags and those kept in the node. */
static uint32_t leaf_remove(kernel_t *k, struct mnode *n)
{
    const struct pt_format *f = space_format(n->task);
    uint32_t flags = 0;
    if (k->trace.size) trace_mapping(k, TRACE_UNMAP, n->task, n->va, n->shift);
    if (f && n->task->pt_root.raw)
        ptab_unmap(k, f, n->task->pt_root, virt_addr(n->va), n->shift, &flags);
    k->tlb_epoch++;
    flags |= n->saved;
    n->saved = 0;
    return flags & ACCESS_FLAGS;
}

/* Takes rights (W, X) from n's leaf; reads and clears its access flags as unmap does. */
static uint32_t leaf_revoke(kernel_t *k, struct mnode *n, uint32_t rights)
{
    const struct pt_format *f = space_format(n->task);
    uint32_t flags = 0;
    rights &= RIGHTS_WX;
    if (f && n->task->pt_root.raw)
        ptab_revoke(k, f, n->task->pt_root, virt_addr(n->va), n->shift, rights, &flags);
    if (n->rights & rights)
        k->tlb_epoch++;
    node_sync_rights(k, n);
    flags |= n->saved;
    n->saved = 0;
    return flags & ACCESS_FLAGS;
}

/* ---- making and destroying nodes */

static struct mnode *node_new(struct task *t, uint64_t va, uint64_t pa, unsigned shift,
                              uint32_t rights)
{
    struct mnode *n = heap_alloc(sizeof(*n));
    if (!n)
        return NULL;
    n->task = t;
    n->va = va;
    n->pa = pa;
    n->shift = (uint8_t)shift;
    n->rights = (uint8_t)(rights | VSPACE_RIGHT_U);
    return n;
}

/* Unmaps n's leaf and frees n (which has no children any more); returns the leaf's flags. */
static uint32_t node_destroy(kernel_t *k, struct mapdb *db, struct mnode *n)
{
    uint32_t flags = leaf_remove(k, n);
    tree_unlink(n);
    hash_remove(db, n);
    db->nodes--;
    node_refund(k, n->task);
    heap_free(n);
    return flags;
}

/* Removes top and everything derived from it, leaves first; returns their access flags. */
static uint32_t subtree_free(kernel_t *k, struct mapdb *db, struct mnode *top)
{
    uint32_t flags = 0;
    struct mnode *n = top;
    for (;;) {
        while (n->child)
            n = n->child;
        struct mnode *up = n->parent;
        int last = n == top;
        flags |= node_destroy(k, db, n);
        if (last)
            return flags;
        n = up;
    }
}

static uint32_t subtree_revoke(kernel_t *k, struct mnode *top, uint32_t rights)
{
    uint32_t flags = 0;
    for (struct mnode *n = top; n; n = tree_next(n, top))
        flags |= leaf_revoke(k, n, rights);
    return flags;
}

/* sigma0's root for the frame at pa (va == pa): the largest page the format offers that
 * lies wholly in memory sigma0 owns and fits the hole in sigma0's table. NULL (and 0) if
 * sigma0 does not own pa; -L4_ENOMEM if its table or the node could not be made. */
static int root_make(kernel_t *k, struct mapdb *db, const struct pt_format *f,
                     const struct probe *hole, uint64_t pa, struct mnode **out)
{
    *out = NULL;
    if (pa >= k->mem_size || frames_owner(k, phys_to_pfn(phys_addr(pa))) != FRAME_SIGMA0)
        return 0;
    struct frames_stats st;
    frames_stats(k, &st);
    uint64_t lo = st.sigma0_first_pfn << FRAME_SHIFT;   /* sigma0 owns [lo, end of memory) */
    unsigned s = fit_shift(f, hole->shift);
    for (; s; s = fit_shift(f, s - 1)) {
        uint64_t base = pa & ~(size_of(s) - 1);
        if (base >= lo && size_of(s) <= k->mem_size - base && base + (size_of(s) - 1) <= f->va_max)
            break;
    }
    if (!s)
        return 0;
    uint64_t base = pa & ~(size_of(s) - 1);
    struct mnode *n = node_new(k->sigma0, base, base, s, L4_FPAGE_RWX);
    if (!n)
        return -L4_ENOMEM;
    int rc = vspace_map_page(k, task_id(k->sigma0), space_kind(k->sigma0), virt_addr(base),
                             phys_addr(base), s, L4_FPAGE_RWX, VSPACE_CACHE_NORMAL);
    if (rc < 0) {
        heap_free(n);
        return rc == -L4_ENOMEM ? rc : 0;
    }
    node_sync_rights(k, n);
    tree_link(NULL, n);
    hash_insert(db, n);
    db->nodes++;
    *out = n;
    return 0;
}

/* ---- map */

/* What the sender has at va: its node and leaf, or (node NULL) how many bytes to skip. */
struct source {
    struct mnode *node;
    struct probe page;
    uint64_t skip;            /* node NULL: bytes to the next thing worth a look; 0: none */
};

static int source_lookup(kernel_t *k, struct mapdb *db, struct task *from,
                         const struct pt_format *f, uint64_t va, struct source *s)
{
    space_probe(k, from, f, va, &s->page);
    s->node = s->page.mapped ? node_find(db, from, s->page.base) : NULL;
    s->skip = probe_last(&s->page) - va + 1;
    if (s->page.mapped || from != k->sigma0)
        return 0;
    /* sigma0's own faults are resolved 1:1 by the kernel: its roots appear on demand. */
    int rc = root_make(k, db, f, &s->page, va, &s->node);
    if (rc < 0)
        return rc;
    if (s->node) {
        space_probe(k, from, f, va, &s->page);
        s->skip = probe_last(&s->page) - va + 1;
        return 0;
    }
    /* Not sigma0's frame: step to where its memory starts, or stop after the end. */
    struct frames_stats st;
    frames_stats(k, &st);
    uint64_t lo = st.sigma0_first_pfn << FRAME_SHIFT, page = size_of(min_shift(f));
    if (va >= k->mem_size)
        s->skip = 0;
    else if (va < lo)
        s->skip = (lo - va + page - 1) & ~(page - 1);
    else
        s->skip = page;
    return 0;
}

/* How the receiver's node d stands to the source node s (Fiasco's lookup_src_dst):
 * 2 = d is s or an ancestor of s (unmapping d takes s along), 0 = d is s's child (an
 * upgrade may do), 1 = unrelated. */
static int node_relation(const struct mnode *d, const struct mnode *s)
{
    for (const struct mnode *a = s; a; a = a->parent)
        if (a == d)
            return 2;
    return d->parent == s ? 0 : 1;
}

/* The cacheability a map item asks for (ctl bits 4..6, §5.2), or 0: copy the sender's. */
static uint32_t ctl_cache(uint64_t ctl)
{
    unsigned nibble = (ctl >> 4) & 7;
    if (!(nibble & L4_FPAGE_CACHE_OPT))
        return 0;
    if (nibble == L4_FPAGE_CACHEABLE)
        return VSPACE_CACHE_NORMAL;
    return nibble == L4_FPAGE_BUFFERABLE ? VSPACE_CACHE_BUFFERED : VSPACE_CACHE_UNCACHED;
}

/* A new child of parent in `to`. 0, 1 (the table refused: skipped, as Fiasco's
 * Insert_err_exists), or -L4_ENOMEM (depth, quota, heap or tables). */
static int node_insert(kernel_t *k, struct mapdb *db, struct mnode *parent, struct task *to,
                       uint64_t va, uint64_t pa, unsigned shift, uint32_t rights,
                       uint32_t cache)
{
    if (parent->depth >= MAPDB_MAX_DEPTH || node_charge(to) < 0)
        return -L4_ENOMEM;
    struct mnode *n = node_new(to, va, pa, shift, rights);
    int rc = n ? vspace_map_page(k, task_id(to), space_kind(to), virt_addr(va), phys_addr(pa),
                                 shift, rights & L4_FPAGE_RWX, cache)
               : -L4_ENOMEM;
    if (rc < 0) {
        heap_free(n);
        node_refund(k, to);
        return rc == -L4_ENOMEM ? rc : 1;
    }
    n->depth = (uint16_t)(parent->depth + 1);
    node_sync_rights(k, n);
    tree_link(parent, n);
    hash_insert(db, n);
    db->nodes++;
    if (k->trace.size) trace_mapping(k, TRACE_MAP, to, va, shift);
    return 0;
}

/* Moves n to (to, va) with rights; its children stay its children. Same results. */
static int node_grant(kernel_t *k, struct mapdb *db, struct mnode *n, struct task *to,
                      uint64_t va, uint32_t rights, uint32_t cache)
{
    struct task *old = n->task;
    if (to != old && node_charge(to) < 0)
        return -L4_ENOMEM;
    int rc = vspace_map_page(k, task_id(to), space_kind(to), virt_addr(va), phys_addr(n->pa),
                             n->shift, rights & L4_FPAGE_RWX, cache);
    if (rc < 0) {
        if (to != old)
            node_refund(k, to);
        return rc == -L4_ENOMEM ? rc : 1;
    }
    leaf_remove(k, n);                             /* the sender's page goes; Fiasco drops its flags */
    hash_remove(db, n);
    n->task = to;
    n->va = va;
    hash_insert(db, n);
    node_sync_rights(k, n);
    if (k->trace.size) trace_mapping(k, TRACE_MAP, to, va, n->shift);
    if (to != old)
        node_refund(k, old);
    return 0;
}

/* A re-map of the same frame by the same parent: the receiver's page only gains rights
 * (Fiasco's Insert_warn_attrib_upgrade); its cacheability stays. */
static void node_upgrade(kernel_t *k, struct mnode *d, const struct probe *r, uint32_t rights)
{
    uint32_t want = (rights | d->rights) & L4_FPAGE_RWX;
    if (want == (d->rights & L4_FPAGE_RWX))
        return;
    /* Rewriting the entry clears its access flags: keep them in the node. */
    d->saved |= (uint8_t)(r->leaf.flags & ACCESS_FLAGS);
    vspace_map_page(k, task_id(d->task), space_kind(d->task), virt_addr(d->va),
                    phys_addr(d->pa), d->shift, want, r->leaf.cache);
    node_sync_rights(k, d);
    k->tlb_epoch++;
}

struct map_job {
    struct task *from, *to;
    const struct pt_format *sf, *rf;
    uint32_t want;            /* fpage rights | U */
    uint32_t cache;           /* 0: the sender's */
    int grant;
    uint64_t rcv_last;        /* last byte of the placed receive range */
};

/* The piece at (snd, rcv): at most `left` bytes, as large as the sender's page, the
 * receiver's table, alignment and the window allow (Fiasco's to_fit_size loop). */
static unsigned piece_shift(struct map_job *j, const struct source *s, const struct probe *r,
                            uint64_t snd, uint64_t rcv, uint64_t left)
{
    unsigned i = fit_shift(j->rf, s->page.shift);
    unsigned top = i;
    while (i && (size_of(i) > left || i > r->shift || (snd & (size_of(i) - 1))
                 || (rcv & (size_of(i) - 1)) || rcv + (size_of(i) - 1) > j->rcv_last
                 || rcv + (size_of(i) - 1) > j->rf->va_max))
        i = fit_shift(j->rf, i - 1);
    if (i < top || i < s->page.shift)
        j->grant = 0;                              /* a part of a page cannot move: map it */
    return i;
}

int mem_map(kernel_t *k, struct task *from, uint64_t snd_fpage, struct task *to,
            uint64_t rcv_window, uint64_t ctl, uint32_t *mapped)
{
    *mapped = 0;
    uint64_t rb;
    unsigned ro;
    if (fpage_is_all(rcv_window)) {
        rb = 0;
        ro = L4_WHOLE_ADDRESS_SPACE;
    } else if (fpage_type(rcv_window) == FPAGE_MEMORY) {
        rb = rcv_window & L4_FPAGE_CONTROL_MASK;
        ro = fpage_order(rcv_window);
    } else
        return 0;                                  /* Map_traits::match: not a memory window */
    unsigned so = fpage_order(snd_fpage);
    struct map_job j = { from, to, space_format(from), space_format(to),
                         (fpage_rights(snd_fpage) & L4_FPAGE_RWX) | VSPACE_RIGHT_U,
                         ctl_cache(ctl), (ctl & L4_MAP_ITEM_GRANT) && from != k->sigma0, 0 };
    if (fpage_type(snd_fpage) != FPAGE_MEMORY || so < MEM_MIN_ORDER || ro < MEM_MIN_ORDER
        || !j.sf || !j.rf)
        return 0;
    struct placement p = fpage_place(snd_fpage & L4_FPAGE_CONTROL_MASK, so,
                                     ctl & L4_FPAGE_CONTROL_MASK, rb, ro);
    if (p.count < size_of(min_shift(j.sf)) || p.count < size_of(min_shift(j.rf)))
        return 0;                                  /* less than a page (16 KiB MIPS pages) */
    struct mapdb *db = db_get(k);
    if (!db)
        return -L4_ENOMEM;
    j.rcv_last = p.dst + (p.count - 1);
    uint64_t snd = p.src, rcv = p.dst, left = p.count, size;
    int rc = 0;
    for (; left && rcv <= j.rf->va_max && snd <= j.sf->va_max;
         snd += size, rcv += size, left -= size) {
        struct source s;
        rc = source_lookup(k, db, from, j.sf, snd, &s);
        if (rc < 0)
            break;
        uint32_t rights = s.node ? s.page.leaf.rights & j.want : 0;
        if (!(rights & L4_FPAGE_RWX)) {            /* the sender lacks it: skip its page */
            size = s.skip;
            if (!size || size >= left)
                break;
            continue;
        }
        struct probe r;
        space_probe(k, to, j.rf, rcv, &r);
        unsigned shift = piece_shift(&j, &s, &r, snd, rcv, left);
        if (!shift)
            break;
        size = size_of(shift);
        uint64_t pa = s.node->pa + (snd - s.node->va);
        struct mnode *d = r.mapped ? node_find(db, to, r.base) : NULL;
        if (r.mapped && !d)
            continue;                              /* a leaf without a node: left alone */
        if (d) {
            int rel = node_relation(d, s.node);
            uint64_t r_pa = r.leaf.pa.raw + (rcv - r.base);
            if (rel || j.grant || r_pa != pa || r.shift > shift) {
                subtree_free(k, db, d);            /* overmapping: the old page goes first */
                if (rel == 2)
                    continue;                      /* the source went with it */
            } else {
                node_upgrade(k, d, &r, rights);
                (*mapped)++;
                continue;
            }
        }
        uint32_t cache = j.cache ? j.cache : s.page.leaf.cache;
        rc = j.grant ? node_grant(k, db, s.node, to, rcv, rights, cache)
                     : node_insert(k, db, s.node, to, rcv, pa, shift, rights, cache);
        if (rc < 0)
            break;
        if (rc == 0)
            (*mapped)++;
        rc = 0;
    }
    hash_grow(db);
    return rc;
}

/* ---- unmap */

/* Unmaps [lo, hi] (inside n's page, in its task's addresses) from n's children and, with
 * me_too, n itself; returns the access flags of what it touched. */
static uint32_t page_unmap(kernel_t *k, struct mapdb *db, struct mnode *n, uint64_t lo,
                           uint64_t hi, uint32_t rights, int me_too)
{
    int full = (rights & L4_FPAGE_RO) != 0;       /* R in the fpage: the mappings go */
    if (full && me_too)
        return subtree_free(k, db, n);
    uint64_t plo = n->pa + (lo - n->va), phi = n->pa + (hi - n->va);
    uint32_t flags = me_too ? leaf_revoke(k, n, rights) : 0;
    for (struct mnode *c = n->child, *next; c; c = next) {
        next = c->next;
        if (c->pa > phi || last_of(c) < plo)
            continue;                              /* children are whole or not at all */
        flags |= full ? subtree_free(k, db, c) : subtree_revoke(k, c, rights);
    }
    n->saved |= (uint8_t)flags;                    /* Fiasco's save_access_flags */
    return flags;
}

uint32_t mem_unmap(kernel_t *k, struct task *t, uint64_t fpage, uint64_t mask)
{
    uint64_t start;
    unsigned order;
    if (fpage_is_all(fpage)) {
        start = 0;
        order = L4_WHOLE_ADDRESS_SPACE;
    } else if (fpage_type(fpage) == FPAGE_MEMORY && fpage_order(fpage) >= MEM_MIN_ORDER) {
        order = fpage_order(fpage);
        start = fpage & L4_FPAGE_CONTROL_MASK & ~(size_of(order) - 1);
    } else
        return 0;
    struct mapdb *db = k->mapdb;
    const struct pt_format *f = space_format(t);
    if (!db || !f || !t->pt_root.raw || start > f->va_max)
        return 0;
    uint64_t last = start + (size_of(order) - 1);
    if (last > f->va_max)
        last = f->va_max;
    int me_too = (mask & L4_FP_ALL_SPACES) != 0;
    uint32_t rights = fpage_rights(fpage) & L4_FPAGE_RWX, flags = 0;
    for (uint64_t va = start;;) {
        struct probe p;
        space_probe(k, t, f, va, &p);
        uint64_t page_last = probe_last(&p);
        struct mnode *n = p.mapped ? node_find(db, t, p.base) : NULL;
        if (n) {
            uint64_t lo = va, hi = page_last < last ? page_last : last;
            if (me_too) {                          /* the whole page goes, never a part */
                lo = p.base;
                hi = page_last;
                if (last < page_last)
                    last = page_last;
            }
            flags |= page_unmap(k, db, n, lo, hi, rights, me_too);
        }
        if (page_last >= last)
            break;
        va = page_last + 1;
    }
    return flags;
}

/* ---- task death and teardown */

void mapdb_task_release(kernel_t *k, struct task *t)
{
    struct mapdb *db = k->mapdb;
    const struct pt_format *f = space_format(t);
    if (!db || !f || !t->pt_root.raw)
        return;
    for (uint64_t va = 0; va <= f->va_max;) {
        struct probe p;
        space_probe(k, t, f, va, &p);
        struct mnode *n = p.mapped ? node_find(db, t, p.base) : NULL;
        if (n)
            subtree_free(k, db, n);
        uint64_t page_last = probe_last(&p);
        if (page_last >= f->va_max)
            break;
        va = page_last + 1;
    }
}

void mapdb_fini(kernel_t *k)
{
    struct mapdb *db = k->mapdb;
    if (!db)
        return;
    /* Tasks may be gone already: free the nodes without touching them. */
    for (uint64_t i = 0; i < db->nbuckets; i++) {
        for (struct mnode *n = db->bucket[i], *next; n; n = next) {
            next = n->hnext;
            heap_free(n);
        }
    }
    heap_free(db->bucket);
    heap_free(db);
    k->mapdb = NULL;
}

/* ---- the boundary (pyl4re.h): check every value, then act */

/* A memory fpage as the boundary accepts it: order >= 12, aligned, starting in range. */
static int fpage_ok(uint64_t fp, const struct pt_format *f)
{
    if (fpage_type(fp) != FPAGE_MEMORY || fpage_order(fp) < MEM_MIN_ORDER)
        return 0;
    uint64_t base = fp & L4_FPAGE_CONTROL_MASK;
    return !(base & (size_of(fpage_order(fp)) - 1)) && base <= f->va_max;
}

int task_map_mem(kernel_t *k, kobj_id_t dst_task, kobj_id_t src_task, uint64_t fpage,
                 uint64_t ctl, uint32_t *mapped)
{
    struct task *dt = task_get(k, dst_task), *st = task_get(k, src_task);
    if (!mapped)
        return -L4_EINVAL;
    *mapped = 0;
    if (!dt || !st || !space_format(dt) || !space_format(st) || !fpage_ok(fpage, space_format(st)))
        return -L4_EINVAL;
    if (((ctl >> 4) & L4_FPAGE_CACHE_OPT) && ((ctl >> 4) & 7) == 7)
        return -L4_EINVAL;                          /* "set" with no such memory type */
    /* l4_task_map's memory case: the receive window is the whole destination space.
     * Each page costs what it costs in a map item. */
    int rc = mem_map(k, st, fpage, dt, FPAGE_ALL_SPACES, ctl, mapped);
    charge_entry(k, (uint64_t)*mapped * k->cost.item_ns);
    return rc;
}

int task_unmap_mem(kernel_t *k, kobj_id_t task, uint64_t fpage, uint64_t mask, uint32_t *flags)
{
    struct task *t = task_get(k, task);
    if (!flags)
        return -L4_EINVAL;
    *flags = 0;
    if (!t || !space_format(t) || !(fpage_is_all(fpage) || fpage_ok(fpage, space_format(t))))
        return -L4_EINVAL;
    *flags = mem_unmap(k, t, fpage, mask);
    return 0;
}

static void entry_fill(struct mapdb_entry *e, const struct mnode *n)
{
    e->task = task_id(n->task);
    e->va = virt_addr(n->va);
    e->pa = phys_addr(n->pa);
    e->page_shift = n->shift;
    e->rights = n->rights;
    e->depth = n->depth;
    e->parent = n->parent ? task_id(n->parent->task) : (kobj_id_t){ 0 };
    e->parent_va = virt_addr(n->parent ? n->parent->va : 0);
}

int mapdb_walk(const kernel_t *k, phys_addr_t pa, struct mapdb_entry *out, uint32_t max,
               uint32_t *count)
{
    if (!count || (max && !out))
        return -L4_EINVAL;
    *count = 0;
    const struct mapdb *db = k->mapdb;
    const struct pt_format *f = space_format(k->sigma0);
    if (pa.raw >= k->mem_size)
        return -L4_EINVAL;
    if (!db || !f)
        return 0;
    /* The tree of a frame hangs from sigma0's page at va == pa. */
    struct probe p;
    space_probe(k, k->sigma0, f, pa.raw, &p);
    struct mnode *top = p.mapped ? node_find(db, k->sigma0, p.base) : NULL;
    while (top && top->parent)
        top = top->parent;
    if (!top || pa.raw < top->pa || pa.raw > last_of(top))
        return 0;
    for (struct mnode *n = top; n;) {
        if (pa.raw < n->pa || pa.raw > last_of(n)) {   /* not this frame: skip the subtree */
            while (n != top && !n->next)
                n = n->parent;
            n = n == top ? NULL : n->next;
            continue;
        }
        if (*count < max)
            entry_fill(&out[*count], n);
        (*count)++;
        n = tree_next(n, top);
    }
    return 0;
}

int mapdb_task_walk(const kernel_t *k, kobj_id_t task, struct mapdb_entry *out, uint32_t max,
                    uint32_t *count)
{
    const struct task *t = task_get(k, task);
    if (!count || (max && !out) || !t)
        return -L4_EINVAL;
    *count = 0;
    const struct pt_format *f = space_format(t);
    if (!k->mapdb || !f || !t->pt_root.raw)
        return 0;
    for (uint64_t va = 0; va <= f->va_max;) {
        struct probe p;
        space_probe(k, t, f, va, &p);
        const struct mnode *n = p.mapped ? node_find(k->mapdb, t, p.base) : NULL;
        if (n) {
            if (*count < max)
                entry_fill(&out[*count], n);
            (*count)++;
        }
        uint64_t page_last = probe_last(&p);
        if (page_last >= f->va_max)
            break;
        va = page_last + 1;
    }
    return 0;
}

uint64_t mapdb_nodes(const kernel_t *k)
{
    return k->mapdb ? ((const struct mapdb *)k->mapdb)->nodes : 0;
}

/* ---- consistency (for tests): the trees, the hash and every page table agree */

static int problem(struct mapdb_problem *out, const struct task *t, uint64_t va,
                   const char *what)
{
    out->task = t ? task_id(t) : (kobj_id_t){ 0 };
    out->va = virt_addr(va);
    strncpy(out->what, what, sizeof(out->what) - 1);
    out->what[sizeof(out->what) - 1] = 0;
    return -L4_EINVAL;
}

static int node_check(const kernel_t *k, const struct mapdb *db, const struct mnode *n,
                      struct mapdb_problem *out)
{
    const struct kobj *o = kobj_from_slot(k, n->task->hdr.slot, n->task->hdr.gen);
    if (o != &n->task->hdr)
        return problem(out, NULL, n->va, "node of a dead task");
    if (node_find(db, n->task, n->va) != n)
        return problem(out, n->task, n->va, "node not found by its key");
    const struct pt_format *f = space_format(n->task);
    struct probe p;
    space_probe(k, n->task, f, n->va, &p);
    if (!p.mapped || p.base != n->va || p.shift != n->shift || p.leaf.pa.raw != n->pa)
        return problem(out, n->task, n->va, "node without its page-table leaf");
    if ((p.leaf.rights & L4_FPAGE_RWX) != (n->rights & L4_FPAGE_RWX))
        return problem(out, n->task, n->va, "leaf rights differ from the node's");
    const struct mnode *up = n->parent;
    if (!up) {
        if (n->task != k->sigma0 || n->va != n->pa || n->depth)
            return problem(out, n->task, n->va, "root that is not sigma0's 1:1 page");
        return 0;
    }
    if (n->depth != up->depth + 1 || n->shift > up->shift || n->pa < up->pa
        || last_of(n) > last_of(up))
        return problem(out, n->task, n->va, "child outside its parent");
    if (n->prev ? n->prev->next != n : up->child != n)
        return problem(out, n->task, n->va, "child not linked to its parent");
    return 0;
}

/* Every leaf of t has its node. */
static int space_check(const kernel_t *k, const struct mapdb *db, const struct task *t,
                       struct mapdb_problem *out)
{
    const struct pt_format *f = space_format(t);
    if (!f || !t->pt_root.raw)
        return 0;
    for (uint64_t va = 0; va <= f->va_max;) {
        struct probe p;
        space_probe(k, t, f, va, &p);
        if (p.mapped && !node_find(db, t, p.base))
            return problem(out, t, p.base, "leaf without a node");
        uint64_t page_last = probe_last(&p);
        if (page_last >= f->va_max)
            break;
        va = page_last + 1;
    }
    return 0;
}

int mapdb_check(const kernel_t *k, struct mapdb_problem *out)
{
    if (!out)
        return -L4_EINVAL;
    memset(out, 0, sizeof(*out));
    const struct mapdb *db = k->mapdb;
    uint64_t seen = 0;
    for (uint64_t i = 0; db && i < db->nbuckets; i++) {
        for (const struct mnode *n = db->bucket[i]; n; n = n->hnext, seen++) {
            int rc = node_check(k, db, n, out);
            if (rc < 0)
                return rc;
        }
    }
    if (db && seen != db->nodes)
        return problem(out, NULL, 0, "node count is off");
    for (uint32_t i = 0; i < k->objs.cap; i++) {
        const struct kobj *o = k->objs.ents[i].obj;
        if (o && kobj_is_space(o)) {
            int rc = space_check(k, db, (const struct task *)o, out);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}
