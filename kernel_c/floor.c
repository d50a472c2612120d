/*
 * floor.c: the C floor for the IPC benchmarks: what one IPC minimally must do (a
 * function call, two table lookups, the message words copied each way), in a plain loop
 * compiled with the same flags as the kernel. Nothing else in pyl4re uses it.
 */
#include <string.h>

#include "pyl4re.h"

struct floor_utcb { uint64_t mr[64]; };

static struct floor_utcb floor_a, floor_b;
static uint64_t floor_table[2][256];

__attribute__((noinline)) static uint64_t floor_ipc(uint64_t sel, unsigned words)
{
    uint64_t obj = floor_table[0][sel & 255];              /* the capability lookup */
    uint64_t partner = floor_table[1][(sel + obj) & 255];  /* the object's thread */
    memcpy(floor_b.mr, floor_a.mr, words * sizeof(uint64_t));   /* there */
    memcpy(floor_a.mr, floor_b.mr, words * sizeof(uint64_t));   /* and back */
    return obj + partner + floor_a.mr[0];
}

uint64_t bench_floor(uint64_t iterations, uint32_t words)
{
    if (words > 63)
        words = 63;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iterations; i++) {
        floor_a.mr[0] = i;
        sum += floor_ipc(i, words);
    }
    return sum;
}

/* The Python path's floor calls this once per kernel entry it stands for: a cffi call
 * into C that does nothing. */
void bench_noop(void)
{
}
