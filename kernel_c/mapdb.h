/*
 * mapdb.h: the mapping database for memory, and the map and unmap operations built on it
 * (§5.2, §5.5, §13). Internal to the C core; the boundary functions are in pyl4re.h.
 *
 * Every memory mapping is a node in the tree of the physical memory it maps. Roots are
 * sigma0's 1:1 mappings of the frames it owns (made on demand: sigma0's own faults are
 * resolved by the kernel 1:1); a node's children are the mappings derived from it. Page
 * tables (vspace) hold what the nodes say, and nothing else: every valid leaf of every task
 * has exactly one node with at least its rights, and vice versa. Nodes are charged to the
 * receiving task's quota. Unmapping bumps k->tlb_epoch, which every software TLB checks.
 */
#ifndef PYL4RE_MAPDB_H
#define PYL4RE_MAPDB_H

#include "kernel.h"
#include "kobject.h"

/* Maps the memory flexpage snd_fpage of `from` into `to` (§5.2): placement by the hot spot
 * (ctl >> 12, in bytes) in the receive window rcv_window (a memory fpage or l4_fpage_all());
 * piece by piece, each as large as the source's page, the window, alignment and the
 * receiver's existing tables allow; rights = source rights & fpage rights (U added); pages
 * the sender lacks are skipped; overmapping removes an unrelated mapping (and its subtree)
 * first, a re-map of the same frame by the same parent only adds rights; grant moves the
 * node (map if the piece is smaller than the source page); cacheability from ctl bits 4..7
 * (L4_FPAGE_CACHE_OPT set: the given type, else the source's). *mapped counts pages that
 * arrived. Returns 0, or -L4_ENOMEM when a node or table could not be charged (the IPC
 * error Map_failed); what was mapped before that stays mapped, consistently. */
int mem_map(kernel_t *k, struct task *from, uint64_t snd_fpage, struct task *to,
            uint64_t rcv_window, uint64_t ctl, uint32_t *mapped);

/* Unmaps the memory flexpage in t (§5.5): fpage rights with R remove the mappings (full
 * flush), otherwise only W and X are revoked; children always, t's own mapping only with
 * L4_FP_ALL_SPACES. A mapping partly covered is removed whole, with its subtree. Returns
 * the OR of the Referenced/Dirty flags of what was flushed (L4_FP_REFERENCED|DIRTY). */
uint32_t mem_unmap(kernel_t *k, struct task *t, uint64_t fpage, uint64_t mask);

/* A dying task: every mapping it had goes, with its subtree; node charges are refunded. */
void mapdb_task_release(kernel_t *k, struct task *t);
void mapdb_fini(kernel_t *k);

#endif
