/*
 * sigma0.c: the root pager, as a native program (user-level spec §1).
 *
 * sigma0 owns every frame outside the kernel pool at boot and hands frames out first come,
 * first served: a page fault at X maps frame X at X (one page) if X is free or already
 * the faulting owner's; the sigma0 protocol (label -6) maps RAM at a given physical address
 * or any free RAM of a given size; an I/O page-fault message (label -8, x86) maps I/O
 * ports, first come, first served, as frames. Owners are told apart by the label of the gate a request
 * came through (owner = label >> 4). It replies with reply_and_wait and send timeout 0,
 * keeps its own bookkeeping, and reaches kernel state only through its UTCB and IPC; the
 * mapping itself is done by the kernel when the reply's map item arrives.
 */
#include "kernel.h"
#include "fpage.h"
#include "heap.h"
#include "native.h"
#include "thread.h"

#define SIGMA0_MAGIC 0xffffffffffffff00
enum {
    SIGMA0_REQ_RAM = 0x60, SIGMA0_REQ_IOMEM = 0x70, SIGMA0_REQ_IOMEM_CACHED = 0x80,
    SIGMA0_REQ_ANY = 0x90, SIGMA0_REQ_KIP = 0xA0, SIGMA0_REQ_DEBUG = 0xC0,
    FREE = 0,
    KERNEL = 1,                    /* the KIP's page: sigma0 keeps it for the kernel */
};

struct sigma0 {
    uint64_t first_pfn, end_pfn;   /* the frames it owns: [first, end) */
    uint16_t *owner;               /* per 4 KiB frame: 0 = free, else owner id */
    uint16_t *io_owner;            /* per I/O port (ARCH_IO_PORTS), the same */
};

int sigma0_init(kernel_t *k, struct thread *t)
{
    struct frames_stats s;
    frames_stats(k, &s);
    struct sigma0 *st = heap_alloc(sizeof(*st));
    uint16_t *owner = heap_alloc_array(s.sigma0_frames ? s.sigma0_frames : 1, sizeof(uint16_t));
    uint16_t *io_owner = heap_alloc_array(ARCH_IO_PORTS ? ARCH_IO_PORTS : 1, sizeof(uint16_t));
    if (!st || !owner || !io_owner) {
        heap_free(st);
        heap_free(owner);
        heap_free(io_owner);
        return -L4_ENOMEM;
    }
    *st = (struct sigma0){ s.sigma0_first_pfn, s.sigma0_first_pfn + s.sigma0_frames, owner,
                           io_owner };
    uint64_t kip = phys_to_pfn(k->kip_pa).raw;
    for (uint64_t i = 0; i < ((uint64_t)1 << (ARCH_PAGE_SHIFT - FRAME_SHIFT)); i++)
        owner[kip - st->first_pfn + i] = KERNEL;
    t->native_state = st;
    return 0;
}

void sigma0_fini(struct thread *t)
{
    struct sigma0 *st = t->native_state;
    if (st) {
        heap_free(st->owner);
        heap_free(st->io_owner);
    }
    heap_free(st);
    t->native_state = NULL;
}

/* Takes [pfn, pfn + n) for owner if every frame is free or already owner's. */
static int take(struct sigma0 *st, uint64_t pfn, uint64_t n, uint16_t owner)
{
    if (pfn < st->first_pfn || pfn + n > st->end_pfn || pfn + n < pfn)
        return -L4_ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        uint16_t o = st->owner[pfn - st->first_pfn + i];
        if (o != FREE && o != owner)
            return -L4_ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++)
        st->owner[pfn - st->first_pfn + i] = owner;
    return 0;
}

/* First fit of 2^order bytes, naturally aligned, in ascending order. */
static int take_any(struct sigma0 *st, unsigned order, uint16_t owner, uint64_t *pfn)
{
    uint64_t n = (uint64_t)1 << (order - FRAME_SHIFT);
    for (uint64_t p = (st->first_pfn + n - 1) & ~(n - 1); p + n <= st->end_pfn; p += n) {
        uint64_t i = 0;
        while (i < n && st->owner[p - st->first_pfn + i] == FREE)
            i++;
        if (i == n) {
            *pfn = p;
            return take(st, p, n, owner);
        }
    }
    return -L4_ENOMEM;
}

/* A reply mapping 2^order bytes at pa 1:1 (send base = pa), RWX, cacheable. */
static uint64_t map_reply(struct thread *t, uint64_t pa, unsigned order)
{
    t->utcb[0] = (pa & ~(uint64_t)0xFFF) | L4_ITEM_MAP | (L4_FPAGE_CACHEABLE << 4);
    t->utcb[1] = (pa & ~(uint64_t)0xFFF) | ((uint64_t)order << 6) | (FPAGE_MEMORY << 4)
                 | L4_FPAGE_RWX;
    return tag_make(0, 0, 1, 0);
}

/* MR0 = the I/O fpage asked for (bit 1, W, as a fault sets it): every port of it must be
 * free or the owner's; the reply maps them (ports keep their numbers). */
static uint64_t io_answer(struct thread *t, struct sigma0 *st, uint64_t fp, uint16_t owner)
{
    unsigned order = fpage_order(fp);
    uint64_t port = fp >> 12;
    if (!ARCH_IO_PORTS)
        return tag_make(-L4_ENOSYS, 0, 0, 0);
    if (fpage_type(fp) != FPAGE_IO || order > 16 || (port & (((uint64_t)1 << order) - 1))
        || port + ((uint64_t)1 << order) > ARCH_IO_PORTS)
        return tag_make(-L4_EINVAL, 0, 0, 0);
    uint64_t n = (uint64_t)1 << order;
    for (uint64_t i = 0; i < n; i++)
        if (st->io_owner[port + i] != FREE && st->io_owner[port + i] != owner)
            return tag_make(-L4_ENOMEM, 0, 0, 0);
    for (uint64_t i = 0; i < n; i++)
        st->io_owner[port + i] = owner;
    t->utcb[0] = (port << 12) | L4_ITEM_MAP;
    t->utcb[1] = (port << 12) | ((uint64_t)order << 6) | (FPAGE_IO << 4) | L4_FPAGE_RW;
    return tag_make(0, 0, 1, 0);
}

static uint64_t answer(struct thread *t, uint64_t tag, uint64_t label)
{
    struct sigma0 *st = t->native_state;
    uint16_t owner = (uint16_t)((label >> 4) & 0xFFF);
    int64_t proto = tag_label(tag);
    uint64_t mr0 = t->utcb[0], mr1 = t->utcb[1];
    if (proto == L4_PROTO_PAGE_FAULT) {
        uint64_t page = (mr0 & ~(uint64_t)7) & ~(((uint64_t)1 << ARCH_PAGE_SHIFT) - 1);
        uint64_t n = (uint64_t)1 << (ARCH_PAGE_SHIFT - FRAME_SHIFT);
        if (take(st, page >> FRAME_SHIFT, n, owner) < 0)
            return tag_make(-L4_ENOMEM, 0, 0, 0);
        return map_reply(t, page, ARCH_PAGE_SHIFT);
    }
    if (proto == L4_PROTO_IO_PAGE_FAULT)
        return io_answer(t, st, mr0, owner);
    if (proto != L4_PROTO_SIGMA0)
        return tag_make(-L4_EBADPROTO, 0, 0, 0);
    if ((mr0 & ~(uint64_t)0xFF) != SIGMA0_MAGIC)
        return tag_make(-L4_ENOSYS, 0, 0, 0);
    unsigned order = fpage_order(mr1);
    uint64_t pa = mr1 & ~(uint64_t)0xFFF;
    switch (mr0 & 0xF0) {
    case SIGMA0_REQ_RAM:
        if (order < ARCH_PAGE_SHIFT || order >= 64 || (pa & (((uint64_t)1 << order) - 1)))
            return tag_make(-L4_EINVAL, 0, 0, 0);
        if (take(st, pa >> FRAME_SHIFT, (uint64_t)1 << (order - FRAME_SHIFT), owner) < 0)
            return tag_make(-L4_ENOMEM, 0, 0, 0);
        return map_reply(t, pa, order);
    case SIGMA0_REQ_ANY: {
        uint64_t pfn;
        if (order < ARCH_PAGE_SHIFT || order > FRAME_SHIFT + 40)
            return tag_make(-L4_EINVAL, 0, 0, 0);
        if (take_any(st, order, owner, &pfn) < 0)
            return tag_make(-L4_ENOMEM, 0, 0, 0);
        return map_reply(t, pfn << FRAME_SHIFT, order);
    }
    case SIGMA0_REQ_IOMEM:
    case SIGMA0_REQ_IOMEM_CACHED:
        return tag_make(-L4_ENOMEM, 0, 0, 0);    /* no device memory in this machine */
    default:
        return tag_make(-L4_ENOSYS, 0, 0, 0);
    }
}

uint32_t sigma0_why(const kernel_t *k, uint64_t pa, uint16_t owner, uint32_t *holder)
{
    const struct sigma0 *st = k->sigma0_thread ? k->sigma0_thread->native_state : NULL;
    uint64_t n = (uint64_t)1 << (ARCH_PAGE_SHIFT - FRAME_SHIFT);
    uint64_t pfn = (pa >> ARCH_PAGE_SHIFT << ARCH_PAGE_SHIFT) >> FRAME_SHIFT;
    if (!st || pfn < st->first_pfn || pfn + n > st->end_pfn)
        return FAULT_SIGMA0_NOT_RAM;
    for (uint64_t i = 0; i < n; i++) {
        uint16_t o = st->owner[pfn - st->first_pfn + i];
        if (o == KERNEL)
            return FAULT_SIGMA0_KERNEL;
        if (o != FREE && o != owner) {
            *holder = o;
            return FAULT_SIGMA0_TAKEN;
        }
    }
    return 0;
}

void sigma0_step(kernel_t *k, struct thread *t)
{
    int have_msg = t->native_pc && !(t->ret_tag & L4_MSGTAG_ERROR);
    t->native_pc = 1;
    struct sys_call c = { .dest = L4_INVALID_CAP | L4_SYSF_WAIT, .timeout = L4_IPC_NEVER };
    if (have_msg) {
        t->native_count++;
        c.tag = answer(t, t->ret_tag, t->ret_label);
        c.dest = L4_INVALID_CAP | L4_SYSF_REPLY_AND_WAIT;
        c.timeout = L4_IPC_SEND_TIMEOUT_0;
    }
    kernel_entry(k, t, &c);
}
