/*
 * sched.c: per-CPU scheduling in virtual time (§12).
 *
 * Every CPU has a virtual clock, a ready queue (fixed-priority round robin over 256 levels
 * by default, WFQ in the PYL4RE_SCHED=wfq build: ready_queue.h), and a sorted
 * list of timed events (IPC timeouts and wake-ups arriving from other CPUs). sched_next()
 * is the loop's only question to C: it always advances the CPU whose next event is
 * earliest (ties: the lowest CPU), fires what is due, runs native threads and compute
 * bursts itself, and returns as soon as a Python thread must run. A CPU may run ahead of
 * the others by at most the IPI cost, the earliest an event from elsewhere could reach
 * it, so the order of events is the same on every run: no wall clock. A seeded kernel
 * draws where the real kernel's order depends on timing (CPU ties, equal timeouts,
 * quantum refills; seed.c), so different seeds explore different legal schedules.
 */
#include <string.h>

#include "kernel.h"
#include "heap.h"
#include "thread.h"
#include "native.h"
#include "trace.h"
#include "ready_queue.h"

#define NEVER UINT64_MAX

int sched_init(kernel_t *k)
{
    k->cpu = heap_alloc_array(k->cpus, sizeof(struct cpu));
    if (!k->cpu)
        return -L4_ENOMEM;
    for (uint32_t i = 0; i < k->cpus; i++)
        k->cpu[i].online = 1;
    k->running_cpu = CPU_NONE;
    return 0;
}

void sched_fini(kernel_t *k)
{
    heap_free(k->cpu);
    k->cpu = NULL;
}

/* ---- ready queues: the build's policy (kernel_c/sched_fp/ or sched_wfq/ready_queue.h) */

/* ---- timed events */

/* How many timeouts from `last` backwards are due at `deadline`. */
static uint64_t due_together(const struct thread *last, uint64_t deadline)
{
    uint64_t n = 0;
    for (; last && last->deadline_ns == deadline; last = last->to_prev)
        n++;
    return n;
}

void timeout_arm(kernel_t *k, struct thread *t, uint64_t deadline_ns)
{
    struct cpu *c = &k->cpu[t->cpu];
    timeout_disarm(k, t);
    t->deadline_ns = deadline_ns ? deadline_ns : 1;
    struct thread **pp = &c->timeouts, *prev = NULL;
    while (*pp && (*pp)->deadline_ns <= t->deadline_ns) {   /* FIFO among equals */
        prev = *pp;
        pp = &(*pp)->to_next;
    }
    if (k->seeded)          /* seeded: any place among those due at the same time (seed.c) */
        for (uint64_t back = seed_below(k, due_together(prev, t->deadline_ns) + 1); back;
             back--) {
            prev = prev->to_prev;
            pp = prev ? &prev->to_next : &c->timeouts;
        }
    t->to_next = *pp;
    t->to_prev = prev;
    if (*pp)
        (*pp)->to_prev = t;
    *pp = t;
}

void timeout_unlink(kernel_t *k, struct thread *t)
{
    struct cpu *c = &k->cpu[t->cpu];
    if (t->to_prev)
        t->to_prev->to_next = t->to_next;
    else
        c->timeouts = t->to_next;
    if (t->to_next)
        t->to_next->to_prev = t->to_prev;
    t->to_next = t->to_prev = NULL;
    t->deadline_ns = 0;
    t->wake_pending = 0;
}

/* ---- making threads runnable and not */

static void make_ready_now(kernel_t *k, struct thread *t)
{
    struct cpu *c = &k->cpu[t->cpu];
    if (c->current == t || (t->state & TS_QUEUED))
        return;
    rq_wakeup(c, t);
    rq_push(c, t, 0);
    if (rq_dominates(t, c->current))
        c->need_resched = 1;
}

void sched_ready(kernel_t *k, struct thread *t)
{
    t->state = (t->state & ~(TS_IPC_MASK | TS_DEAD)) | TS_READY;
    if (t->cpu == CPU_NONE)
        return;                    /* waits for run_thread to give it a CPU */
    uint32_t from = k->running_cpu;
    if (from != CPU_NONE && from != t->cpu) {
        /* It hears of it only when the IPI arrives. */
        uint64_t arrival = k->cpu[from].clock_ns + k->cost.ipi_ns;
        if (arrival > k->cpu[t->cpu].clock_ns) {
            timeout_arm(k, t, arrival);
            t->wake_pending = 1;
            return;
        }
    }
    timeout_disarm(k, t);
    make_ready_now(k, t);
}

void sched_block(kernel_t *k, struct thread *t)
{
    t->state &= ~TS_READY;
    if (t->cpu == CPU_NONE)
        return;
    struct cpu *c = &k->cpu[t->cpu];
    if (t->state & TS_QUEUED)
        rq_remove(c, t);
    if (c->current == t) {
        c->current = NULL;
        c->need_resched = 1;
    }
}

void sched_switch_to(kernel_t *k, struct thread *from, struct thread *to)
{
    /* Time-slice donation (§12): the partner runs at once, whatever its priority. */
    struct cpu *c = &k->cpu[to->cpu];
    to->state = (to->state & ~(TS_IPC_MASK | TS_DEAD)) | TS_READY;
    timeout_disarm(k, to);
    if (to->state & TS_QUEUED)
        rq_remove(c, to);
    if (c->current && c->current != from && c->current != to)
        rq_push(c, c->current, 1);
    if (k->trace.size) trace_switch(k, to->cpu, to);
    c->current = to;
    c->need_resched = 0;
    charge_switch(k, to->cpu, to);
}

void sched_yield(kernel_t *k, struct thread *t)
{
    struct cpu *c = &k->cpu[t->cpu];
    if (c->current == t) {
        c->current = NULL;
        rq_push(c, t, 0);
        c->need_resched = 1;
    }
}

void sched_migrate(kernel_t *k, struct thread *t, uint32_t cpu)
{
    int runnable = (t->state & TS_READY) != 0;
    if (t->cpu != CPU_NONE) {
        struct cpu *c = &k->cpu[t->cpu];
        uint64_t deadline = t->deadline_ns;
        uint32_t wake = t->wake_pending;
        timeout_disarm(k, t);
        if (t->state & TS_QUEUED)
            rq_remove(c, t);
        if (c->current == t) {
            c->current = NULL;
            c->need_resched = 1;
        }
        t->cpu = cpu;
        if (deadline && !wake)
            timeout_arm(k, t, deadline);     /* a pending IPC timeout moves along */
    } else
        t->cpu = cpu;
    if (runnable)
        sched_ready(k, t);
}

/* ---- the loop's view */

/* When c next has something to do. Inline: asked of every CPU at every step. */
__attribute__((always_inline))
static inline uint64_t next_event(const kernel_t *k, const struct cpu *c)
{
    if (!c->online || k->suspended)
        return NEVER;                  /* an offline CPU, or a suspended system (pfc.c) */
    int runnable = c->current || !rq_empty(c);
    uint64_t timer = c->timeouts ? c->timeouts->deadline_ns : NEVER;
    if (runnable)
        return c->clock_ns;
    if (timer == NEVER)
        return NEVER;
    (void)k;
    return timer > c->clock_ns ? timer : c->clock_ns;
}

int sched_may_continue(const kernel_t *k, struct thread *t)
{
    if (t->cpu == CPU_NONE)
        return 0;
    const struct cpu *c = &k->cpu[t->cpu];
    if (c->current != t || c->need_resched || !(t->state & TS_READY) || t->vcpu.upcall)
        return 0;
    if (c->timeouts && c->timeouts->deadline_ns <= c->clock_ns)
        return 0;
    for (uint32_t i = 0; i < k->cpus; i++) {   /* another CPU fell behind: it goes first */
        uint64_t e = i != t->cpu ? next_event(k, &k->cpu[i]) : NEVER;
        if (e < c->clock_ns || (k->seeded && e == c->clock_ns))   /* seeded: a tie draws */
            return 0;
    }
    return 1;
}

/* How far c's clock may go while the native thread a direct switch left on c goes on
 * without a full step (run_natives): below the first of c's timeouts, within the run's end,
 * and before another CPU's next event (a tie with a lower CPU, or any tie in a seeded
 * kernel, where the full step draws, stops it there too). 0 while native runs are off.
 * Inline: asked once per run of native steps. */
__attribute__((always_inline))
static inline uint64_t native_horizon(const kernel_t *k, const struct cpu *c, uint64_t until)
{
    if (k->native_runs_off)
        return 0;                                /* (tests: every step a full one) */
    uint64_t h = until == NEVER ? NEVER : until + 1;
    if (c->timeouts && c->timeouts->deadline_ns < h)
        h = c->timeouts->deadline_ns;
    for (uint32_t i = 0; i < k->cpus; i++) {
        const struct cpu *o = &k->cpu[i];
        if (o == c)
            continue;
        uint64_t e = next_event(k, o);
        if (o > c && !k->seeded && e != NEVER)
            e++;                                 /* a tie with a later CPU: c goes first */
        if (e < h)
            h = e;
    }
    return h;
}

static void fire_due(kernel_t *k, struct cpu *c)
{
    while (c->timeouts && c->timeouts->deadline_ns <= c->clock_ns) {
        struct thread *t = c->timeouts;
        int wake = t->wake_pending;
        timeout_disarm(k, t);
        if (wake)
            make_ready_now(k, t);
        else
            ipc_timeout_expired(k, t);
    }
}

/* The thread that runs next on c, after preemption and quantum decisions. */
static struct thread *cpu_pick(kernel_t *k, struct cpu *c)
{
    struct thread *cur = c->current;
    if (cur && !c->need_resched && cur->left_ns && !rq_preempts(c, cur))
        return cur;
    if (cur) {
        if (!cur->left_ns) {
            rq_replenish(cur);                   /* refill; to the tail of its turn */
            if (k->seeded)                       /* a seeded quantum within its bound */
                cur->left_ns = seed_quantum(k, cur->quantum_ns);
            rq_push(c, cur, 0);
        } else
            rq_push(c, cur, 1);                  /* preempted: keeps its place */
        c->current = NULL;
    }
    c->need_resched = 0;
    struct thread *next = rq_first(c);
    if (!next)
        return NULL;
    rq_remove(c, next);
    c->current = next;
    if (k->trace.size) trace_switch(k, (uint32_t)(c - k->cpu), next);
    if (next != cur)
        charge_switch(k, (uint32_t)(c - k->cpu), next);
    return next;
}

/* Burns compute time of c's current thread up to the next point anything could change. */
static int run_compute(kernel_t *k, struct cpu *c, struct thread *t, uint64_t until)
{
    uint64_t horizon = until ? until : NEVER;
    for (uint32_t i = 0; i < k->cpus; i++) {
        uint64_t e = next_event(k, &k->cpu[i]);
        if (&k->cpu[i] != c && e != NEVER && e + k->cost.ipi_ns < horizon)
            horizon = e + k->cost.ipi_ns;
    }
    if (c->timeouts && c->timeouts->deadline_ns < horizon)
        horizon = c->timeouts->deadline_ns;
    if (c->clock_ns + t->left_ns < horizon)
        horizon = c->clock_ns + t->left_ns;
    if (horizon <= c->clock_ns)
        return 0;
    uint64_t run = horizon - c->clock_ns;
    if (run > t->compute_left_ns)
        run = t->compute_left_ns;
    cpu_charge(k, (uint32_t)(c - k->cpu), run);
    t->compute_left_ns -= run;
    return 1;
}

/*
 * Runs native thread t, the choice of c's step, and the native partners its IPC switches
 * to directly, as long as each next full scheduler step would only pick that partner on c
 * once more: the step was one kernel entry that the fast path finished (its handoff
 * changes nothing but c and the two threads: no ready queue, no other CPU, no new
 * timeout), the step budget is not spent, c's clock is still below native_horizon(), and
 * c's pick (cpu_pick) would keep the new current thread (no preemption, quantum left),
 * which has no compute burst and is native. Each such step counts as a step. Anything
 * else returns to sched_next's full step, which then does what it always does.
 */
__attribute__((noinline))
static uint64_t run_natives(kernel_t *k, struct cpu *c, struct thread *t, uint64_t until,
                            uint64_t steps)
{
    uint64_t horizon = native_horizon(k, c, until);
    while (native_step(k, t) && steps && c->clock_ns < horizon) {
        t = c->current;          /* (the handoff's charge sets need_resched iff !left_ns) */
        if (!t->left_ns || rq_preempts(c, t) || t->compute_left_ns
            || t->program == PROGRAM_PYTHON)
            break;
        steps -= steps != NEVER;
        k->native_run_steps++;
    }
    kip_flush(k);                  /* the clock the last native entry left (native.c) */
    return steps;
}

void sched_set_native_runs(kernel_t *k, uint32_t on)
{
    k->native_runs_off = !on;
}

uint64_t sched_native_run_steps(const kernel_t *k)
{
    return k->native_run_steps;
}

void sched_limits(kernel_t *k, uint64_t until_ns, uint64_t max_steps, uint32_t switch_in_entry)
{
    k->sched_until_ns = until_ns ? until_ns : NEVER;
    k->sched_steps_left = max_steps ? max_steps : NEVER;
    k->sched_in_entry = switch_in_entry != 0;
}

void sched_set_event(kernel_t *k, uint64_t event_ns)
{
    k->sched_event_ns = event_ns;
}

int sched_next(kernel_t *k, struct sched_out *out)
{
    if (k->shutdown)
        return out->status = SCHED_SHUTDOWN;
    /* Nothing may run past the run's end or the next harness event (if that comes first:
     * then the run loop fires it and goes on). The step budget is counted in a local:
     * native steps never schedule, so nothing else touches it meanwhile. */
    int event_first = k->sched_event_ns != NEVER && k->sched_event_ns <= k->sched_until_ns;
    uint64_t until = event_first ? k->sched_event_ns : k->sched_until_ns;
    uint64_t steps = k->sched_steps_left;
    int status;
    for (;;) {
        k->running_cpu = CPU_NONE;
        if (steps == 0) {
            status = SCHED_STEPS;
            break;
        }
        steps -= steps != NEVER;
        struct cpu *c = NULL;
        uint64_t best = NEVER, ties = 0;
        for (uint32_t i = 0; i < k->cpus; i++) {
            uint64_t e = next_event(k, &k->cpu[i]);
            if (e < best) {
                best = e;
                c = &k->cpu[i];
                ties = 1;
            } else if (k->seeded && e == best && e != NEVER && !seed_below(k, ++ties))
                c = &k->cpu[i];                  /* seeded: any of the CPUs tied (seed.c) */
        }
        if (!c || best > until) {
            status = event_first ? SCHED_EVENT : !c ? SCHED_IDLE : SCHED_LIMIT;
            break;
        }
        if (best > c->clock_ns) {                /* idle until the event */
            if (k->trace.size) trace_switch(k, (uint32_t)(c - k->cpu), NULL);
            c->idle_ns += best - c->clock_ns;
            c->clock_ns = best;
        }
        fire_due(k, c);
        struct thread *t = cpu_pick(k, c);
        if (!t)
            continue;
        k->running_cpu = t->cpu;
        if (t->compute_left_ns) {
            if (!run_compute(k, c, t, until)) {
                status = event_first ? SCHED_EVENT : SCHED_LIMIT;
                break;
            }
            if (t->compute_left_ns)
                continue;
        } else if (t->program != PROGRAM_PYTHON) {
            steps = run_natives(k, c, t, until, steps);
            continue;
        }
        kip_tick(k, t->cpu);                     /* the clock the thread will read */
        out->thread = k->py_thread = thread_id(t);
        out->tag = t->ret_tag;
        out->label = t->ret_label;
        if (t->start_pending)                    /* a fault the old code began since */
            thread_abandon_kcalls(t);
        int exc = !t->vcpu.upcall && thread_exception_due(t);   /* told first */
        out->resume = t->vcpu.upcall ? RESUME_UPCALL : exc ? RESUME_EXCEPTION
                      : t->start_pending ? RESUME_START
                      : t->ret_restart ? RESUME_REPEAT : RESUME_RESULT;
        out->ip = t->ip;
        out->cpu = t->cpu;
        if (!exc)
            t->ret_restart = t->start_pending = 0;
        t->vcpu.upcall = 0;
        status = SCHED_RUN;
        break;
    }
    k->sched_steps_left = steps;
    return out->status = status;
}

int sched_wait_in_entry(kernel_t *k, kobj_id_t self, struct sched_out *next)
{
    if (!k->sched_in_entry)
        return SYS_SUSPEND;
    /* The run loop would ask the scheduler next thing anyway: asking here saves a trip. */
    if (sched_next(k, next) == SCHED_RUN && next->thread.raw == self.raw
        && next->resume == RESUME_RESULT)
        return SYS_DONE;
    return SYS_SWITCH;
}

void kernel_advance_idle(kernel_t *k, uint64_t t)
{
    for (uint32_t i = 0; i < k->cpus; i++) {
        struct cpu *c = &k->cpu[i];
        if (((!c->current && rq_empty(c)) || k->suspended) && c->clock_ns < t) {
            if (k->trace.size) trace_switch(k, i, NULL);
            c->idle_ns += t - c->clock_ns;
            c->clock_ns = t;
        }
    }
}

uint64_t kernel_now_ns(const kernel_t *k)
{
    uint64_t now = 0;
    for (uint32_t i = 0; i < k->cpus; i++)
        if (k->cpu[i].clock_ns > now)
            now = k->cpu[i].clock_ns;
    return now;
}

int cpu_info(const kernel_t *k, cpu_number_t cpu, struct cpu_info *out)
{
    if (cpu.raw >= k->cpus)
        return -L4_EINVAL;
    const struct cpu *c = &k->cpu[cpu.raw];
    out->clock_ns = c->clock_ns;
    out->idle_ns = c->idle_ns;
    out->online = c->online;
    out->current = thread_id(c->current);
    return 0;
}
