/*
 * seed.c: the kernel's choices among legal schedules, drawn from one seeded generator.
 *
 * Where a real kernel's order depends on timing the model does not have, the scheduler
 * takes a canonical choice (the lowest CPU, FIFO, the full quantum), unless the kernel was
 * created with a seed: then it asks here. The points are few and marked in sched.c: which
 * of several CPUs at the same virtual time goes first, the order of threads whose timeouts
 * or wake-ups fall due at the same time, how much of a quantum a thread gets at refill
 * (within the declared bound), and the jitter of device-model events (hw.py asks, within
 * the bound the harness declares). Same seed, same draws, same trace. The generator is
 * SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
 * OOPSLA 2014): a 64-bit state, one add and three xor-shift-multiplies per draw.
 */
#include "kernel.h"

void seed_init(kernel_t *k, const struct kernel_config *cfg)
{
    k->seeded = cfg->seeded != 0;
    k->rng = cfg->seed;
    k->quantum_jitter_permille = cfg->quantum_jitter_permille;
}

static uint64_t seed_next(kernel_t *k)
{
    uint64_t z = (k->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t seed_below(kernel_t *k, uint64_t n)
{
    if (!n)
        return 0;
    /* Draws past the last whole multiple of n are drawn again: every value equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;
    do
        x = seed_next(k);
    while (x >= limit);
    return x % n;
}

uint64_t seed_quantum(kernel_t *k, uint64_t quantum_ns)
{
    if (!k->seeded || !k->quantum_jitter_permille || quantum_ns < 2)
        return quantum_ns;
    uint64_t bound = quantum_ns / 1000 * k->quantum_jitter_permille
                     + quantum_ns % 1000 * k->quantum_jitter_permille / 1000;
    if (bound >= quantum_ns)
        bound = quantum_ns - 1;              /* a quantum is never empty */
    return quantum_ns - seed_below(k, bound + 1);
}

uint64_t sched_jitter(kernel_t *k, uint64_t bound_ns)
{
    return k->seeded && bound_ns ? seed_below(k, bound_ns + 1) : 0;
}
