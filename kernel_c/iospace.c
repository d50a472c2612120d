/*
 * iospace.c: x86 I/O ports as a mapped space (§5.1, §5.5; kernkonzept/fiasco
 * src/kern/ia32/io_space.cpp, map_util-io.cpp): sigma0 owns every port at boot, tasks get
 * ports by I/O flexpages (map items, l4_task_map) and lose them by unmap, recursively.
 *
 * The database of I/O mappings: each task that holds ports has an array over the
 * ARCH_IO_PORTS ports naming the task each port was mapped from (sigma0, the root, holds
 * them all without one). Revoking a port in t takes it from every task whose entry names
 * t, and from theirs. Ports are not translated: a port keeps its number in every task.
 * The array is charged to the task's quota as Fiasco charges its I/O bitmap (8 KiB).
 * Architectures without ports (ARCH_IO_PORTS 0) map none. What it must not do: touch
 * memory mappings (mapdb.c) or decide about the access itself (io_port_access).
 */
#include "fpage.h"
#include "heap.h"
#include "iospace.h"
#include "quota.h"

enum { IO_BITMAP_CHARGE = 8192, IO_WHOLE_ORDER = 16, IO_ALL_WINDOW = 0xFC0 /* l4_fpage_all() */ };

/* The number of ports (a function: for arches with none, comparisons against a constant 0
 * would be warnings). */
static uint64_t io_ports(void)
{
    return ARCH_IO_PORTS;
}

static uint64_t id_of(const struct task *t)
{
    return kobj_id_of(&t->hdr).raw;
}

static int io_has(const kernel_t *k, const struct task *t, uint32_t port)
{
    return t == k->sigma0 || (t->io_parent && t->io_parent[port]);
}

/* The ports [first, last] an I/O fpage names (the base aligned down, order at most 16).
 * 0 if it names none (not an I/O fpage, or no ports here). */
static int io_range(uint64_t fp, uint32_t *first, uint32_t *last)
{
    if (!io_ports())
        return 0;
    if (fpage_is_all(fp)) {
        *first = 0;
        *last = io_ports() - 1;
        return 1;
    }
    if (fpage_type(fp) != FPAGE_IO)
        return 0;
    unsigned order = fpage_order(fp) > IO_WHOLE_ORDER ? IO_WHOLE_ORDER : fpage_order(fp);
    uint64_t base = (fp >> 12) & ~(((uint64_t)1 << order) - 1);
    if (base >= io_ports())
        return 0;
    *first = (uint32_t)base;
    *last = (uint32_t)(base + ((uint64_t)1 << order) - 1);
    if (*last >= io_ports())
        *last = io_ports() - 1;
    return 1;
}

static int io_table(kernel_t *k, struct task *t)
{
    (void)k;
    if (t->io_parent || t == k->sigma0)
        return 0;
    if (t->hdr.quota && quota_alloc(t->hdr.quota, IO_BITMAP_CHARGE) < 0)
        return -L4_ENOMEM;
    t->io_parent = heap_alloc_array(io_ports(), sizeof(uint64_t));
    if (!t->io_parent) {
        if (t->hdr.quota)
            quota_free(k, t->hdr.quota, IO_BITMAP_CHARGE);
        return -L4_ENOMEM;
    }
    return 0;
}

/* Takes `port` from every task that got it from t, recursively; from t too if self. */
static void io_revoke(kernel_t *k, struct task *t, uint32_t port, int self)
{
    uint64_t id = id_of(t);
    for (uint32_t i = 0; i < k->objs.cap; i++) {
        struct kobj *o = k->objs.ents[i].obj;
        if (!o || o->type != KOBJ_TASK)
            continue;
        struct task *u = (struct task *)o;
        if (u != t && u->io_parent && u->io_parent[port] == id)
            io_revoke(k, u, port, 1);
    }
    if (self && t->io_parent)
        t->io_parent[port] = 0;
}

int io_map(kernel_t *k, struct task *from, uint64_t snd_fpage, struct task *to,
           uint64_t window, uint32_t *mapped)
{
    uint32_t sf = 0, sl = 0, wf = 0, wl = 0;
    *mapped = 0;
    if (!io_range(snd_fpage, &sf, &sl) || !io_range(window, &wf, &wl) || from == to)
        return 0;
    uint32_t first = sf > wf ? sf : wf, last = sl < wl ? sl : wl;
    if (first > last || to == k->sigma0)
        return 0;
    int any = 0;
    for (uint32_t p = first; p <= last && !any; p++)
        any = io_has(k, from, p);
    if (!any)
        return 0;
    int rc = io_table(k, to);
    if (rc < 0)
        return rc;
    for (uint32_t p = first; p <= last; p++) {
        if (!io_has(k, from, p) || to->io_parent[p] == id_of(from))
            continue;
        if (to->io_parent[p])
            io_revoke(k, to, p, 1);               /* overmapped: the old subtree goes */
        to->io_parent[p] = id_of(from);
        (*mapped)++;
    }
    return 0;
}

void io_task_release(kernel_t *k, struct task *t)
{
    if (!t->io_parent)
        return;
    for (uint32_t p = 0; p < io_ports(); p++)
        if (t->io_parent[p])
            io_revoke(k, t, p, 1);
    heap_free(t->io_parent);
    t->io_parent = NULL;
    if (t->hdr.quota)
        quota_free(k, t->hdr.quota, IO_BITMAP_CHARGE);
}

/* ---- the boundary */

static struct task *task_get(const kernel_t *k, kobj_id_t id)
{
    struct kobj *o = kobj_get(k, id);
    return o && o->type == KOBJ_TASK ? (struct task *)o : NULL;
}

int task_map_io(kernel_t *k, kobj_id_t dst, kobj_id_t src, uint64_t fpage, uint32_t *mapped)
{
    struct task *d = task_get(k, dst), *s = task_get(k, src);
    if (!d || !s || !mapped)
        return -L4_EINVAL;
    /* l4_task_map: the receive window is the whole destination I/O space. */
    return io_map(k, s, fpage, d, IO_ALL_WINDOW, mapped);
}

int task_unmap_io(kernel_t *k, kobj_id_t task, uint64_t fpage, uint64_t mask)
{
    struct task *t = task_get(k, task);
    uint32_t first = 0, last = 0;
    if (!t)
        return -L4_EINVAL;
    if (!io_range(fpage, &first, &last) || !(fpage & L4_FPAGE_RIGHTS_MASK))
        return 0;                                 /* I/O: any right flushes */
    int self = (mask & L4_FP_ALL_SPACES) != 0;
    for (uint32_t p = first; p <= last; p++)
        if (io_has(k, t, p))
            io_revoke(k, t, p, self);
    return 0;
}

int io_port_access(const kernel_t *k, kobj_id_t task, uint32_t port, uint32_t size)
{
    const struct task *t = task_get(k, task);
    if (!io_ports())
        return -L4_ENOSYS;
    if (!t || (size != 1 && size != 2 && size != 4) || port > io_ports() - size)
        return -L4_EINVAL;
    for (uint32_t p = port; p < port + size; p++)
        if (!io_has(k, t, p))
            return -L4_EPERM;
    return 0;
}

int io_ports_of(const kernel_t *k, kobj_id_t task, uint32_t port, kobj_id_t *from)
{
    const struct task *t = task_get(k, task);
    if (!t || !from || port >= io_ports())
        return -L4_EINVAL;
    from->raw = t->io_parent ? t->io_parent[port] : 0;
    return t == k->sigma0 || from->raw ? 0 : -L4_ENOENT;
}
