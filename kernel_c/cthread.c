/*
 * cthread.c: threads of C µApps (docs/c-uapps.md), each on a stack of its own.
 *
 * A C µApp is a shared object the loader links to this kernel through its ops table
 * (pyl4re/model_ops.h, filled in by cthread_link). Its threads are µApp threads to the
 * scheduler; the run loop resumes one with cthread_run(), which switches onto the
 * thread's stack (ucontext the first time, to start on a stack of its own; after that
 * _setjmp/_longjmp, which leave the signal mask alone: swapcontext saves and restores it
 * with a system call on every switch, four per C µApp round trip). There its code runs until a kernel entry that cannot finish at once:
 * `l4_ipc` enters sys_invoke right here, in C, for the running thread; SYS_DONE (the partner
 * was ready, or a native partner answered inside the entry) goes straight back to the
 * program, anything else switches back to cthread_run's caller with the entry's status,
 * and the run loop goes on from there exactly as for a Python µApp's entry. The next
 * cthread_run hands the entry's result to the waiting `l4_ipc`.
 *
 * A crash in the program (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP) is caught on
 * an alternate signal stack and ends the thread as faulted (CTHREAD_FAULTED), back in
 * cthread_run's caller; a stack this file maps has a guard page below it, so an overflow
 * is a fault reported as one. A fault anywhere else (the kernel itself, Python) goes to the
 * handler that was there before: it is not the program's. Under AddressSanitizer every
 * switch is announced with the fiber API, so ASan knows which stack is live.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "kernel.h"
#include "thread.h"
#include "pyl4re/model_ops.h"

#if defined(__SANITIZE_ADDRESS__)
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#define FIBER_START(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define FIBER_FINISH(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define FIBER_START(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define FIBER_FINISH(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#endif

enum {
    CTHREAD_FRESH = 0,
    CTHREAD_RUNNING = 4,
    STACK_SIZE = 256 << 10,          /* a stack of its own: mapped lazily, so cheap */
    GIVEN_STACK_SPAN = 64 << 10,     /* what ASan is told of a stack the program gave */
    ALT_STACK_SIZE = 64 << 10,
};

struct cthread {
    ucontext_t ctx;                  /* where the thread starts (makecontext) */
    jmp_buf resume, back;            /* the thread's switch point, cthread_run's caller's */
    int started;
    kernel_t *k;
    kobj_id_t tid;
    uint64_t *utcb;
    struct sys_result *res;          /* the kernel's result structs the run loop reads */
    struct sched_out *next;
    uint64_t ip;
    int is_main, in_kernel;
    void *map;                       /* a stack this file mapped (guard page first), or NULL */
    size_t map_size;
    uintptr_t stack_lo, stack_hi, guard_lo, guard_hi;
    uint64_t ret_tag, ret_label;     /* the waiting entry's result, given by cthread_run */
    struct cthread_info info;
    void *fake_stack;                /* ASan's bookkeeping of the suspended side */
    const void *sched_bottom;
    size_t sched_size;
    char *argv[2];
};

static _Thread_local struct cthread *current;   /* the C µApp thread running now */
static char program_name[] = "cprog";         /* argv[0] of a C µApp's main */

/* ---- crashes */

static const int fault_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP };
static struct sigaction old_actions[NSIG];
static int handlers_installed;
static _Thread_local int alt_stack_ready;

/* Whoever handled sig before us: called in place, so our handler stays installed (each
 * architecture's extension installs one, each knowing only its own threads). */
static void chain(int sig, siginfo_t *si, void *ucontext)
{
    struct sigaction *old = &old_actions[sig];
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction)
            old->sa_sigaction(sig, si, ucontext);
    } else if (old->sa_handler == SIG_DFL) {
        signal(sig, SIG_DFL);          /* the access faults again, a raised one is raised */
        if (si->si_code <= 0)
            raise(sig);
    } else if (old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
    }
}

static void on_fault(int sig, siginfo_t *si, void *ucontext)
{
    struct cthread *c = current;
    if (!c || c->in_kernel || c->info.status != CTHREAD_RUNNING) {
        chain(sig, si, ucontext);      /* not the program's fault */
        return;
    }
    uintptr_t addr = (uintptr_t)si->si_addr;
    c->info.status = CTHREAD_FAULTED;
    c->info.signo = sig;
    c->info.fault_addr = addr;
    c->info.overflow = c->map && addr >= c->guard_lo && addr < c->guard_hi;
    /* Leaving the handler by a jump: unblock the signal it runs with blocked, as its
     * return would have (it was not blocked before: a blocked fault kills the process). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    FIBER_START(NULL, c->sched_bottom, c->sched_size);
    _longjmp(c->back, 1);             /* cthread_run returns CTHREAD_FAULTED */
}

static void install_handlers(void)
{
    if (!alt_stack_ready) {
        stack_t have;
        if (sigaltstack(NULL, &have) == 0 && (have.ss_flags & SS_DISABLE)) {
            static _Thread_local char *alt;
            if (!alt)
                alt = malloc(ALT_STACK_SIZE);
            stack_t ss = { .ss_sp = alt, .ss_size = ALT_STACK_SIZE, .ss_flags = 0 };
            if (alt)
                sigaltstack(&ss, NULL);
        }
        alt_stack_ready = 1;
    }
    if (handlers_installed)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
        sigaction(fault_signals[i], &sa, &old_actions[fault_signals[i]]);
    handlers_installed = 1;
}

/* ---- switching */

static void entered(struct cthread *c)
{
    FIBER_FINISH(c->fake_stack, &c->sched_bottom, &c->sched_size);
}

static void switch_out(struct cthread *c, int status)
{
    c->info.status = status;
    FIBER_START(status == CTHREAD_ENTRY ? &c->fake_stack : NULL, c->sched_bottom, c->sched_size);
    if (!_setjmp(c->resume))
        _longjmp(c->back, 1);
    entered(c);
}

static void trampoline(void)
{
    struct cthread *c = current;
    entered(c);
    int64_t code = 0;
    if (c->is_main)
        code = ((int (*)(int, char **))(uintptr_t)c->ip)(1, c->argv);
    else
        ((void (*)(void))(uintptr_t)c->ip)();
    c->info.exit_code = code;
    switch_out(c, CTHREAD_EXITED);
    abort();                          /* never resumed: cthread_run refuses an ended thread */
}

/* ---- the ops a program calls */

static uint64_t op_ipc(uint64_t dest, uint64_t slabel, uint64_t tag, uint64_t timeout,
                       uint64_t *rlabel)
{
    struct cthread *c = current;
    uint64_t out_tag = L4_MSGTAG_ERROR, out_label = 0;
    if (c) {
        c->in_kernel = 1;
        int status = sys_invoke(c->k, c->tid, dest, tag, slabel, timeout, c->res, c->next);
        c->in_kernel = 0;
        if (status == SYS_DONE) {
            out_tag = c->res->tag;
            out_label = c->res->label;
        } else {                      /* the run loop goes on from here (traps.py) */
            c->info.entry_status = sys_switch_by_index(c->k, status, c->next);
            c->info.dest = dest;
            c->info.tag = tag;
            c->info.label = slabel;
            c->info.timeout = timeout;
            switch_out(c, CTHREAD_ENTRY);
            out_tag = c->ret_tag;
            out_label = c->ret_label;
        }
    }
    if (rlabel)
        *rlabel = out_label;
    return out_tag;
}

static uint64_t *op_utcb(void)
{
    return current ? current->utcb : NULL;
}

static void *op_kip(void)
{
    return current ? current->k->mem + current->k->kip_pa.raw : NULL;
}

static uint64_t op_clock_us(void)
{
    struct cthread *c = current;
    struct thread *t = c ? thread_get(c->k, c->tid) : NULL;
    return t && t->cpu != CPU_NONE ? cpu_now(c->k, t->cpu) / 1000 : 0;
}

__attribute__((noreturn))
static void op_exit(int64_t code)
{
    struct cthread *c = current;
    if (c) {
        c->info.exit_code = code;
        switch_out(c, CTHREAD_EXITED);
    }
    abort();                          /* outside a C µApp thread: nothing to return to */
}

/* ---- the boundary */

int cthread_link(void *ops, uint32_t size)
{
    struct pyl4re_model_ops *o = ops;
    if (!o || size != sizeof(*o) || o->version != PYL4RE_MODEL_OPS_VERSION
        || o->size != sizeof(*o))
        return -L4_EINVAL;
    o->ipc = op_ipc;
    o->utcb = op_utcb;
    o->kip = op_kip;
    o->clock_us = op_clock_us;
    o->exit = op_exit;
    return 0;
}

int cthread_create(kernel_t *k, kobj_id_t thread, uint64_t ip, uint64_t sp, uint32_t is_main,
                   struct sys_result *res, struct sched_out *next, struct cthread **out)
{
    struct thread *t = k ? thread_get(k, thread) : NULL;
    if (!t || !t->utcb || !ip || !res || !next || !out || is_main > 1)
        return -L4_EINVAL;
    struct cthread *c = calloc(1, sizeof(*c));
    if (!c)
        return -L4_ENOMEM;
    c->k = k;
    c->tid = thread;
    c->utcb = t->utcb;
    c->res = res;
    c->next = next;
    c->ip = ip;
    c->is_main = (int)is_main;
    c->argv[0] = program_name;
    if (getcontext(&c->ctx) != 0) {
        free(c);
        return -L4_ENOMEM;
    }
    if (sp) {                         /* the program's own stack (l4_thread_ex_regs) */
        c->stack_hi = sp & ~(uintptr_t)15;
        c->stack_lo = c->stack_hi > GIVEN_STACK_SPAN ? c->stack_hi - GIVEN_STACK_SPAN : 0;
    } else {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        c->map_size = STACK_SIZE + page;
        c->map = mmap(NULL, c->map_size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (c->map == MAP_FAILED || mprotect(c->map, page, PROT_NONE) != 0) {
            if (c->map != MAP_FAILED)
                munmap(c->map, c->map_size);
            free(c);
            return -L4_ENOMEM;
        }
        c->guard_lo = (uintptr_t)c->map;
        c->guard_hi = c->guard_lo + page;
        c->stack_lo = c->guard_hi;
        c->stack_hi = (uintptr_t)c->map + c->map_size;
    }
    c->ctx.uc_stack.ss_sp = (void *)c->stack_lo;
    c->ctx.uc_stack.ss_size = c->stack_hi - c->stack_lo;
    c->ctx.uc_link = NULL;
    makecontext(&c->ctx, trampoline, 0);
    *out = c;
    return 0;
}

int cthread_run(struct cthread *c, uint64_t tag, uint64_t label)
{
    if (!c || current || (c->info.status != CTHREAD_FRESH && c->info.status != CTHREAD_ENTRY))
        return -L4_EINVAL;
    install_handlers();
    c->ret_tag = tag;
    c->ret_label = label;
    c->info.status = CTHREAD_RUNNING;
    current = c;
    void *fake = NULL;
    FIBER_START(&fake, (const void *)c->stack_lo, c->stack_hi - c->stack_lo);
    if (!_setjmp(c->back)) {
        if (c->started)
            _longjmp(c->resume, 1);
        c->started = 1;
        setcontext(&c->ctx);          /* the first time: onto its own stack, at trampoline */
    }
    FIBER_FINISH(fake, NULL, NULL);
    current = NULL;
    if (c->info.status == CTHREAD_ENTRY && c->info.entry_status >= SYS_SWITCH_TO)
        return c->info.entry_status;  /* the run loop switches by index: no info needed */
    return c->info.status;
}

int cthread_run_next(struct cthread *c)
{
    if (!c)
        return -L4_EINVAL;
    return cthread_run(c, c->next->tag, c->next->label);
}

int cthread_info(const struct cthread *c, struct cthread_info *out)
{
    if (!c || !out)
        return -L4_EINVAL;
    *out = c->info;
    return 0;
}

void cthread_free(struct cthread *c)
{
    if (!c || c == current)
        return;
    if (c->map)
        munmap(c->map, c->map_size);
    free(c);
}

uint64_t cthread_code_base(uint64_t ip)
{
    Dl_info info;
    if (!ip || !dladdr((void *)(uintptr_t)ip, &info))
        return 0;
    return (uint64_t)(uintptr_t)info.dli_fbase;
}
