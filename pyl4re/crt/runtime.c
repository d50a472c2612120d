/*
 * runtime.c: the part of every C µApp that is not the user's code (compiled into each
 * program by pyl4re.cprog.build; docs/c-uapps.md).
 *
 *   pyl4re_model_ops   the table the loader links to the kernel before main runs
 *   l4_utcb_wrap       l4sys's UTCB hook: the running thread's UTCB in the model
 *   l4re_global_env    the L4Re environment, filled in by the loader (pyl4re_env_*)
 *   printf, puts, ...  stdout goes to the log capability as Vcon writes, as in L4Re
 *   exit, _exit        end the calling thread, not the host process
 *   l4re_util_cap_alloc  free capability slots from first_free_cap on
 *   l4sys_errtostr     names of the error codes
 *
 * The program is linked with -Bsymbolic-functions, so its own calls to printf, exit, ...
 * reach these definitions, not the host C library's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <l4/sys/err.h>
#include <l4/sys/ipc.h>
#include <l4/sys/vcon.h>
#include <l4/re/env.h>
#include <l4/re/c/util/cap_alloc.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT struct pyl4re_model_ops pyl4re_model_ops = {
    .version = PYL4RE_MODEL_OPS_VERSION, .size = sizeof(struct pyl4re_model_ops),
};

EXPORT l4_utcb_t *l4_utcb_wrap(void)
{
    return (l4_utcb_t *)pyl4re_model_ops.utcb();
}

/* ---- the environment */

enum { ENV_CAPS = 64, ENV_FIELDS = 13 };
static l4re_env_cap_entry_t env_caps[ENV_CAPS + 1] = { { .cap = L4_INVALID_CAP } };
static l4re_env_t env = { .caps = env_caps };
EXPORT l4re_env_t *l4re_global_env = &env;

/* The loader's: the fields of l4re_env_t before `caps`, in their order. */
EXPORT int pyl4re_env_init(const l4_umword_t *fields, unsigned n)
{
    if (!fields || n != ENV_FIELDS)
        return -L4_EINVAL;
    l4_umword_t *at = &env.parent;
    for (unsigned i = 0; i < n; i++)
        at[i] = fields[i];
    return 0;
}

EXPORT int pyl4re_env_add_cap(const char *name, l4_cap_idx_t cap)
{
    unsigned i = 0;
    while (i < ENV_CAPS && l4_is_valid_cap(env_caps[i].cap))
        i++;
    if (!name || i == ENV_CAPS || strlen(name) > sizeof(env_caps[i].name)
        || l4_is_invalid_cap(cap))
        return -L4_EINVAL;
    memset(env_caps[i].name, 0, sizeof(env_caps[i].name));
    memcpy(env_caps[i].name, name, strlen(name));
    env_caps[i].cap = cap;
    env_caps[i].flags = 0;
    env_caps[i + 1].cap = L4_INVALID_CAP;
    return 0;
}

/* ---- capability slots: the lowest free first; freed ones again (one bit per slot) */

enum { CAP_SLOTS = 4096 };
static unsigned char cap_used[CAP_SLOTS / 8];

EXPORT l4_cap_idx_t l4re_util_cap_alloc(void)
{
    for (l4_umword_t i = env.first_free_cap; i < CAP_SLOTS; i++)
        if (!(cap_used[i / 8] & (1u << (i % 8)))) {
            cap_used[i / 8] |= (unsigned char)(1u << (i % 8));
            return i << L4_CAP_SHIFT;
        }
    return L4_INVALID_CAP;
}

EXPORT void l4re_util_cap_free(l4_cap_idx_t cap)
{
    l4_umword_t i = cap >> L4_CAP_SHIFT;
    if (i < CAP_SLOTS)
        cap_used[i / 8] &= (unsigned char)~(1u << (i % 8));
}

/* ---- stdout to the log capability */

static int log_write(const char *s, size_t n)
{
    size_t done = 0;
    while (done < n) {
        long r = l4_vcon_write(env.log, s + done, (unsigned)(n - done));
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return (int)n;
}

EXPORT int vprintf(const char *fmt, va_list ap)
{
    char small[512];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n < 0) {
        va_end(again);
        return n;
    }
    char *buf = small;
    if ((size_t)n >= sizeof(small)) {
        buf = malloc((size_t)n + 1);
        if (!buf) {
            va_end(again);
            return -1;
        }
        vsnprintf(buf, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    int r = log_write(buf, (size_t)n);
    if (buf != small)
        free(buf);
    return r;
}

EXPORT int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

EXPORT int puts(const char *s)
{
    size_t n = strlen(s);
    if (log_write(s, n) < 0 || log_write("\n", 1) < 0)
        return EOF;
    return (int)n + 1;
}

EXPORT int putchar(int c)
{
    char ch = (char)c;
    return log_write(&ch, 1) < 0 ? EOF : (unsigned char)c;
}

/* ---- ending: the thread, never the host process */

EXPORT void exit(int status)
{
    pyl4re_model_ops.exit(status);
}

EXPORT void _exit(int status)
{
    pyl4re_model_ops.exit(status);
}

EXPORT void _Exit(int status)
{
    pyl4re_model_ops.exit(status);
}

/* ---- l4sys_errtostr */

EXPORT char const *l4sys_errtostr(long err)
{
    static const struct { long code; const char *text; } names[] = {
        { L4_EOK, "Success" }, { L4_EPERM, "Operation not permitted" },
        { L4_ENOENT, "No such entity" }, { L4_EIO, "I/O error" },
        { L4_ENXIO, "No such device or address" }, { L4_E2BIG, "Argument list too long" },
        { L4_EAGAIN, "Try again" }, { L4_ENOMEM, "No memory" },
        { L4_EACCESS, "Permission denied" }, { L4_EFAULT, "Invalid address" },
        { L4_EBUSY, "Object currently busy" }, { L4_EEXIST, "Already exists" },
        { L4_ENODEV, "No such thing" }, { L4_ENOTDIR, "Not a directory" },
        { L4_EINVAL, "Invalid argument" }, { L4_ENOSPC, "No space left" },
        { L4_ERANGE, "Out of range" }, { L4_ENAMETOOLONG, "Name too long" },
        { L4_ENOSYS, "No such operation" }, { L4_EBADPROTO, "Unsupported protocol" },
        { L4_EADDRNOTAVAIL, "Address not available" }, { L4_ENOREPLY, "No reply" },
        { L4_EMSGTOOSHORT, "Message too short" }, { L4_EMSGTOOLONG, "Message too long" },
        { L4_EMSGMISSARG, "Message missing argument" },
        { L4_EMSGERRRANGE, "Message error range" },
    };
    static const char *ipc[] = {
        [L4_IPC_SETIMEOUT] = "Send timeout", [L4_IPC_RETIMEOUT] = "Receive timeout",
        [L4_IPC_ENOT_EXISTENT] = "Non-existing partner",
        [L4_IPC_SECANCELED] = "Send canceled", [L4_IPC_RECANCELED] = "Receive canceled",
        [L4_IPC_SEMSGCUT] = "Send message cut", [L4_IPC_REMSGCUT] = "Receive message cut",
        [L4_IPC_SEMAPFAILED] = "Send map failed", [L4_IPC_REMAPFAILED] = "Receive map failed",
        [L4_IPC_NO_REPLY_CAP] = "No reply capability",
    };
    long code = err < 0 ? -err : err;
    if (code >= L4_EIPC_LO && code <= L4_EIPC_HI) {
        long i = code - L4_EIPC_LO;
        return i < (long)(sizeof(ipc) / sizeof(ipc[0])) && ipc[i] ? ipc[i] : "IPC error";
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].code == code)
            return names[i].text;
    return "Unknown error";
}
