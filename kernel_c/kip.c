/*
 * kip.c: the kernel info page (user-level spec §2), built at boot in physical memory.
 *
 * It lies in the first page sigma0 would own, which sigma0 keeps for the kernel: every
 * task sees it read-only at KIP_VA, entered into its page table the first time the task
 * touches it (memaccess.c), as a mapping derived from sigma0's like any other. The clock
 * at 0x20 (µs) is brought up to date at every kernel entry and scheduling decision.
 */
#include <string.h>

#include "kernel.h"
#include "fpage.h"
#include "thread.h"

#define KIP_MAGIC 0x4BE6344Cu           /* "L4µK" */
#define KIP_VERSION 0x87004444u
enum {
    KIP_SCHED_GRANULARITY = 0x50,
    KIP_MEM_DESCS = 0x54,
    KIP_MEM_DESCS_NUM = 0x58,
    KIP_PLATFORM_NAME = 0x70,
    KIP_PLATFORM_IS_MP = 0x80,
    KIP_STRINGS = 0x100,             /* version string, then the feature strings */
    KIP_DESCS = 0x200,               /* memory descriptors: two words each */
    MD_CONVENTIONAL = 1, MD_RESERVED = 2, MD_VIRTUAL = 0x200,
};

static void put32(uint8_t *p, unsigned off, uint32_t v) { memcpy(p + off, &v, 4); }
static void put64(uint8_t *p, unsigned off, uint64_t v) { memcpy(p + off, &v, 8); }

/* A memory descriptor [start, end] (end inclusive, 1 KiB granularity). */
static void put_desc(uint8_t *p, unsigned i, uint64_t start, uint64_t end, unsigned type)
{
    put64(p, KIP_DESCS + 16 * i, (start & ~(uint64_t)0x3FF) | type);
    put64(p, KIP_DESCS + 16 * i + 8, end & ~(uint64_t)0x3FF);
}

int kip_init(kernel_t *k)
{
    struct frames_stats s;
    frames_stats(k, &s);
    uint64_t page = (uint64_t)1 << ARCH_PAGE_SHIFT;
    uint64_t pa = ((s.sigma0_first_pfn << FRAME_SHIFT) + page - 1) & ~(page - 1);
    if (pa + page > k->mem_size)
        return -L4_ENOMEM;
    k->kip_pa = phys_addr(pa);
    uint8_t *p = k->mem + pa;
    memset(p, 0, page);
    put32(p, 0, KIP_MAGIC);
    put32(p, 4, KIP_VERSION);
    p[8] = KIP_STRINGS >> 4;                        /* offset_version_strings */
    put32(p, KIP_SCHED_GRANULARITY, 1000);
    static const char strings[] = "pyl4re: an in-process model of Fiasco.OC\0mapdb\0abiver:1\0";
    memcpy(p + KIP_STRINGS, strings, sizeof(strings));   /* ends with an empty string */
    memcpy(p + KIP_PLATFORM_NAME, "pyl4re", 6);
    put32(p, KIP_PLATFORM_IS_MP, k->cpus > 1);
    unsigned n = 0;
    put_desc(p, n++, s.sigma0_first_pfn << FRAME_SHIFT, k->mem_size - 1, MD_CONVENTIONAL);
    put_desc(p, n++, 0, (s.sigma0_first_pfn << FRAME_SHIFT) - 1, MD_RESERVED);
    put_desc(p, n++, 0, ARCH_USER_MAX, MD_CONVENTIONAL | MD_VIRTUAL);
    put32(p, KIP_MEM_DESCS, KIP_DESCS);
    put32(p, KIP_MEM_DESCS_NUM, n);
    return 0;
}

phys_addr_t kernel_kip(const kernel_t *k)
{
    return k->kip_pa;
}
