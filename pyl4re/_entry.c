/* The µApp fast kernel entry as a CPython awaitable (pyl4re._entry; docs/benchmarks.md,
 * "What bounds the Python path").
 *
 * traps.enter_tag / enter_tag_label return a Trap. Awaiting it makes the kernel entry:
 * one direct call of the core's sys_enter, through the function pointer the kernel's
 * cffi library gives for it, with no cffi wrapper, no argument tuple and no generator
 * frame. It handles the two answers of the µApp round trip itself:
 *   SYS_DONE          the kernel finished at once: the answer is read from the result
 *                     words and the await returns it;
 *   >= SYS_SWITCH_TO  C chose a µApp that goes on with its result: the Trap yields that
 *                     µApp's run-loop record to the loop, and when resumed with
 *                     RESUME_RESULT returns the answer from the scheduler's words.
 * Everything else (a slow-path object, a wait, a vCPU upcall, an alien thread, no running
 * µApp, a resume that says "enter again") goes on in traps.py's general code: the Trap
 * then delegates to the Python generator traps._rest_tag / _rest_tag_label returns, and
 * forwards send, throw and close to it. So this file is the hot path only; traps.py stays
 * the one description of what a kernel entry does.
 *
 * This is interpreter glue, not kernel code: it calls Python only for the general path,
 * and the C core never calls it. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>

struct kernel;             /* kernel_c/pyl4re.h: the core's kernel_t, opaque here */
typedef int (*sys_enter_fn)(struct kernel *k, uint64_t dest, uint64_t tag, uint64_t timeout);

/* What setup() is given once (traps.py): all borrowed from modules that live as long as
 * the interpreter, and held here with a reference. */
static struct {
    PyObject *current;         /* traps._current: [the running µApp's record or None] */
    PyTypeObject *record_type; /* runloop.ThreadRecord */
    Py_ssize_t entry_offset;   /* where a record keeps its Entry (its `entry` slot), */
    Py_ssize_t coro_offset;    /* its code's coroutine, */
    Py_ssize_t failing_offset; /* the exception its handler is being told about, */
    Py_ssize_t triggered_offset;   /* and the exception IPC kept while it is told; */
    Py_ssize_t utcb_offset;    /* and its UTCB view */
    PyTypeObject *msgtag_type; /* l4_msgtag_t, */
    Py_ssize_t raw_offset;     /* and where it keeps its word */
    PyObject *resume_result;   /* RESUME_RESULT */
    PyObject *interned;        /* msgtag._interned: raw word -> l4_msgtag_t */
    PyObject *tag_of_raw;      /* msgtag._tag_of_raw(raw): the tag for a word not interned */
    PyObject *rest[2];         /* traps._rest_tag, traps._rest_tag_label */
    int sys_switch;            /* SYS_SWITCH */
    int switch_to;             /* SYS_SWITCH_TO */
} g;

/* One slot of an instance of a __slots__ class, at the offset setup() found (None while
 * unset), as CPython's own slot access reads it. */
static PyObject *
slot_at(PyObject *obj, Py_ssize_t offset)
{
    PyObject *v = *(PyObject **)((char *)obj + offset);
    return v != NULL ? v : Py_None;
}

/* The running µApp's record as traps._current holds it (None between threads, and if
 * Python code emptied the list). Borrowed. */
static PyObject *
current_record(void)
{
    return PyList_GET_SIZE(g.current) > 0 ? PyList_GET_ITEM(g.current, 0) : Py_None;
}

/* ---- Entry: one kernel's side of the fast entry ---------------------------------- */

/* The kernel's entry point and the words it answers in, as plain C pointers, and the run
 * loop's records by index (the µApp a SYS_SWITCH_TO status names). `owner` keeps the
 * memory these point into alive (the kernel and its result structs). */
typedef struct {
    PyObject_HEAD
    struct kernel *kernel;
    sys_enter_fn sys_enter;
    const uint64_t *result;    /* struct sys_result: tag, label are words 0, 1 */
    const uint64_t *next;      /* struct sched_out: tag, label are words 2, 3 */
    PyObject *peers;           /* list: run-loop records by index */
    PyObject *owner;
} Entry;

/* An address from Python (cffi's pointer as an int): non-null, and aligned to `align`. */
static int
address_arg(PyObject *value, const char *what, size_t align, void **out)
{
    unsigned long long a = PyLong_AsUnsignedLongLong(value);
    if (a == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    if (a == 0 || a % align != 0) {
        PyErr_Format(PyExc_ValueError, "Entry: %s must be a non-null address aligned to %zu",
                     what, align);
        return -1;
    }
    *out = (void *)(uintptr_t)a;
    return 0;
}

static PyObject *
Entry_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"kernel", "sys_enter", "result", "next", "peers", "owner", NULL};
    PyObject *kernel, *fn, *result, *next, *peers, *owner;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOO!O:Entry", names, &kernel, &fn,
                                     &result, &next, &PyList_Type, &peers, &owner))
        return NULL;
    void *k, *f, *r, *n;
    if (address_arg(kernel, "kernel", sizeof(void *), &k)
            || address_arg(fn, "sys_enter", 1, &f)      /* code: any alignment */
            || address_arg(result, "result", sizeof(uint64_t), &r)
            || address_arg(next, "next", sizeof(uint64_t), &n))
        return NULL;
    Entry *self = (Entry *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->kernel = k;
    self->sys_enter = (sys_enter_fn)(uintptr_t)f;
    self->result = r;
    self->next = n;
    Py_INCREF(peers);
    self->peers = peers;
    Py_INCREF(owner);
    self->owner = owner;
    return (PyObject *)self;
}

static int
Entry_traverse(Entry *self, visitproc visit, void *arg)
{
    Py_VISIT(self->peers);
    Py_VISIT(self->owner);
    return 0;
}

static int
Entry_clear(Entry *self)
{
    Py_CLEAR(self->peers);
    Py_CLEAR(self->owner);
    return 0;
}

static void
Entry_dealloc(Entry *self)
{
    PyObject_GC_UnTrack(self);
    Entry_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject EntryType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyl4re._entry.Entry",
    .tp_doc = PyDoc_STR("Entry(kernel, sys_enter, result, next, peers, owner): one kernel's "
                        "fast entry: the kernel_t address, sys_enter's address, the "
                        "addresses of its result structs (sys_result, sched_out), the run "
                        "loop's records by index, and what keeps that memory alive."),
    .tp_basicsize = sizeof(Entry),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Entry_new,
    .tp_traverse = (traverseproc)Entry_traverse,
    .tp_clear = (inquiry)Entry_clear,
    .tp_dealloc = (destructor)Entry_dealloc,
};

/* ---- Trap: one kernel entry, awaited ---------------------------------------------- */

enum trap_state {
    TRAP_FRESH,        /* not entered yet */
    TRAP_SWITCHED,     /* yielded the record of the µApp C chose; waits for its resume */
    TRAP_DELEGATED,    /* goes on in traps.py's general code: `rest` */
    TRAP_DONE,         /* returned or raised */
};

typedef struct {
    PyObject_HEAD
    uint64_t dest, tag, timeout;
    unsigned char with_label;  /* answers (tag, label), not the tag alone */
    unsigned char state;       /* enum trap_state */
    PyObject *rest;            /* TRAP_DELEGATED: the generator it goes on in */
} Trap;

static PyTypeObject TrapType;

/* Spent Traps kept for reuse, as CPython keeps its own small objects: one is made and
 * dropped on every IPC a µApp makes. Off in the sanitizer build, so that a use after
 * free is still seen, and from CPython 3.13 on, whose headers no longer offer
 * _Py_NewReference. */
#if defined(PYL4RE_SANITIZE) || PY_VERSION_HEX >= 0x030D0000
#define TRAP_FREE_MAX 0
#else
#define TRAP_FREE_MAX 16
#endif
static Trap *trap_free[TRAP_FREE_MAX + 1];
static int trap_nfree;

/* The answer from two result words: the interned tag (or a new one), with the label. */
static PyObject *
answer(int with_label, uint64_t raw, uint64_t label)
{
    PyObject *key = PyLong_FromUnsignedLongLong(raw);
    if (key == NULL)
        return NULL;
    PyObject *tag = PyDict_GetItemWithError(g.interned, key);     /* borrowed */
    if (tag != NULL)
        Py_INCREF(tag);
    else if (!PyErr_Occurred())
        tag = PyObject_CallOneArg(g.tag_of_raw, key);
    Py_DECREF(key);
    if (tag == NULL || !with_label)
        return tag;
    PyObject *lab = PyLong_FromUnsignedLongLong(label);
    if (lab == NULL) {
        Py_DECREF(tag);
        return NULL;
    }
    PyObject *pair = PyTuple_Pack(2, tag, lab);
    Py_DECREF(tag);
    Py_DECREF(lab);
    return pair;
}

enum { GO_ON = 0, ENTER_IN_FULL = 1 };      /* delegate(): from a status, or from scratch */

/* Hands the entry to traps.py's general code: rest(status, dest, tag, timeout), a
 * generator that goes on with the entry from the status C gave it (an error status
 * raises there), or (in_full: status None) makes the entry in full, as traps.enter does,
 * and returns the final answer; the Trap forwards to it from now on. */
static PySendResult
delegate(Trap *self, int in_full, int status, PyObject **result)
{
    PyObject *how = in_full ? Py_NewRef(Py_None) : PyLong_FromLong(status);
    if (how == NULL) {
        self->state = TRAP_DONE;
        *result = NULL;
        return PYGEN_ERROR;
    }
    PyObject *rest = PyObject_CallFunction(g.rest[self->with_label], "OKKK", how,
                                           (unsigned long long)self->dest,
                                           (unsigned long long)self->tag,
                                           (unsigned long long)self->timeout);
    Py_DECREF(how);
    if (rest == NULL) {
        self->state = TRAP_DONE;
        *result = NULL;
        return PYGEN_ERROR;
    }
    self->rest = rest;
    self->state = TRAP_DELEGATED;
    PyObject_GC_Track(self);           /* rest may refer back to what awaits this */
    PySendResult r = PyIter_Send(rest, Py_None, result);
    if (r != PYGEN_NEXT)
        self->state = TRAP_DONE;
    return r;
}


/* The running µApp's Entry, or NULL: none runs, or its kernel has no fast entry. */
static Entry *
running_entry(PyObject *cur)
{
    if (Py_TYPE(cur) != g.record_type)
        return NULL;
    PyObject *e = *(PyObject **)((char *)cur + g.entry_offset);
    return e != NULL && Py_TYPE(e) == &EntryType ? (Entry *)e : NULL;
}

static PySendResult
Trap_am_send(Trap *self, PyObject *arg, PyObject **result)
{
    PyObject *cur = current_record();
    Entry *entry;
    switch (self->state) {
    case TRAP_FRESH:
        entry = running_entry(cur);
        if (entry == NULL)             /* running() raises there, or the general entry */
            return delegate(self, ENTER_IN_FULL, 0, result);
        int status = entry->sys_enter(entry->kernel, self->dest, self->tag, self->timeout);
        if (status == 0) {                             /* SYS_DONE: the µApp goes on */
            self->state = TRAP_DONE;
            *result = answer(self->with_label, entry->result[0], entry->result[1]);
            return *result ? PYGEN_RETURN : PYGEN_ERROR;
        }
        if (status >= g.switch_to) {
            PyObject *peer = status < PyList_GET_SIZE(entry->peers)
                ? PyList_GET_ITEM(entry->peers, status) : Py_None;
            if (peer == Py_None)           /* no record by that index: the general switch */
                return delegate(self, GO_ON, g.sys_switch, result);
            self->state = TRAP_SWITCHED;   /* the µApp C chose: to the loop, at once */
            Py_INCREF(peer);
            *result = peer;
            return PYGEN_NEXT;
        }
        return delegate(self, GO_ON, status, result);   /* errors too: it raises */
    case TRAP_SWITCHED: {
        /* Resumed: the thread runs again, so its kernel is the running record's. */
        entry = running_entry(cur);
        int with_result = arg == g.resume_result      /* a small int: one object */
            || (arg != NULL && PyLong_CheckExact(arg)
                && PyObject_RichCompareBool(arg, g.resume_result, Py_EQ) == 1);
        if (with_result && entry != NULL) {
            self->state = TRAP_DONE;
            *result = answer(self->with_label, entry->next[2], entry->next[3]);
            return *result ? PYGEN_RETURN : PYGEN_ERROR;
        }
        /* Resumed, but not with its result (a gate got bound under it): the entry is
         * made again, as traps.enter does. */
        return delegate(self, ENTER_IN_FULL, 0, result);
    }
    case TRAP_DELEGATED: {
        PySendResult r = PyIter_Send(self->rest, arg, result);
        if (r != PYGEN_NEXT)
            self->state = TRAP_DONE;
        return r;
    }
    default:
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse an already awaited kernel entry");
        *result = NULL;
        return PYGEN_ERROR;
    }
}

/* A return as a generator's send() reports it: StopIteration carrying the value (made
 * as an instance, so that a tuple or an exception stays the value). Takes the value. */
static PyObject *
raise_stop(PyObject *value)
{
    if (value == Py_None) {
        PyErr_SetNone(PyExc_StopIteration);
    } else {
        PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, value);
        if (stop != NULL) {
            PyErr_SetObject(PyExc_StopIteration, stop);
            Py_DECREF(stop);
        }
    }
    Py_DECREF(value);
    return NULL;
}

/* The generator protocol on top of am_send, for a driver that calls methods (a tracer
 * makes CPython's SEND do that; tests and harnesses may send by hand). */
static PyObject *
finish(PySendResult r, PyObject *value)
{
    if (r == PYGEN_RETURN)
        return raise_stop(value);
    return value;          /* PYGEN_NEXT: what it yields; PYGEN_ERROR: NULL, raised */
}

static PyObject *
Trap_send(Trap *self, PyObject *arg)
{
    PyObject *value;
    PySendResult r = Trap_am_send(self, arg, &value);
    return finish(r, value);
}

static PyObject *
Trap_iternext(Trap *self)
{
    PyObject *value;
    PySendResult r = Trap_am_send(self, Py_None, &value);
    return finish(r, value);       /* a return: NULL with StopIteration set */
}

/* throw(): a delegated entry hands it to its generator; otherwise the exception comes out
 * at the await, as it would at the yield of traps.py's entry. */
static PyObject *
Trap_throw(Trap *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw expected 1 to 3 arguments");
        return NULL;
    }
    if (self->state == TRAP_DELEGATED) {
        PyObject *meth = PyObject_GetAttrString(self->rest, "throw");
        if (meth == NULL)
            return NULL;
        PyObject *r = PyObject_Vectorcall(meth, args, nargs, NULL);
        Py_DECREF(meth);
        if (r == NULL)             /* it returned (StopIteration) or raised */
            self->state = TRAP_DONE;
        return r;
    }
    self->state = TRAP_DONE;
    PyObject *typ = args[0], *val = nargs > 1 ? args[1] : Py_None;
    PyObject *tb = nargs > 2 ? args[2] : Py_None;
    if (tb != Py_None && !PyTraceBack_Check(tb)) {
        PyErr_SetString(PyExc_TypeError, "throw() third argument must be a traceback object");
        return NULL;
    }
    if (PyExceptionInstance_Check(typ)) {
        if (val != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "instance exception may not have a separate value");
            return NULL;
        }
        PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
    } else if (PyExceptionClass_Check(typ)) {
        PyErr_SetObject(typ, val == Py_None ? NULL : val);
    } else {
        PyErr_Format(PyExc_TypeError, "exceptions must be classes or instances deriving "
                     "from BaseException, not %s", Py_TYPE(typ)->tp_name);
        return NULL;
    }
    if (tb != Py_None) {
        PyObject *t, *v, *oldtb;
        PyErr_Fetch(&t, &v, &oldtb);
        PyErr_NormalizeException(&t, &v, &oldtb);
        Py_XDECREF(oldtb);
        Py_INCREF(tb);
        PyException_SetTraceback(v, tb);
        PyErr_Restore(t, v, tb);
    }
    return NULL;
}

static PyObject *
Trap_close(Trap *self, PyObject *unused)
{
    if (self->state == TRAP_DELEGATED) {
        self->state = TRAP_DONE;
        PyObject *r = PyObject_CallMethod(self->rest, "close", NULL);
        Py_CLEAR(self->rest);
        return r;
    }
    self->state = TRAP_DONE;
    Py_RETURN_NONE;
}

static PyObject *
Trap_self(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static int
Trap_traverse(Trap *self, visitproc visit, void *arg)
{
    Py_VISIT(self->rest);
    return 0;
}

static int
Trap_clear(Trap *self)
{
    Py_CLEAR(self->rest);
    return 0;
}

static void
Trap_dealloc(Trap *self)
{
    if (PyObject_GC_IsTracked((PyObject *)self))
        PyObject_GC_UnTrack(self);
    Trap_clear(self);
    if (trap_nfree < TRAP_FREE_MAX && Py_TYPE(self) == &TrapType)
        trap_free[trap_nfree++] = self;
    else
        PyObject_GC_Del(self);
}

static PyObject *
Trap_repr(Trap *self)
{
    char text[96];
    snprintf(text, sizeof text, "<pyl4re kernel entry dest=%#llx tag=%#llx timeout=%#llx>",
             (unsigned long long)self->dest, (unsigned long long)self->tag,
             (unsigned long long)self->timeout);
    return PyUnicode_FromString(text);
}

static PyMethodDef Trap_methods[] = {
    {"send", (PyCFunction)Trap_send, METH_O, PyDoc_STR("send(value): go on with the entry")},
    {"throw", (PyCFunction)(void (*)(void))Trap_throw, METH_FASTCALL,
     PyDoc_STR("throw(exc): raise exc where the entry waits")},
    {"close", (PyCFunction)Trap_close, METH_NOARGS, PyDoc_STR("close(): abandon the entry")},
    {NULL},
};

static PyAsyncMethods Trap_async = {
    .am_await = Trap_self,
    .am_send = (sendfunc)Trap_am_send,
};

static PyTypeObject TrapType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyl4re._entry.Trap",
    .tp_doc = PyDoc_STR("One µApp kernel entry, made when awaited (traps.enter_tag)."),
    .tp_basicsize = sizeof(Trap),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_as_async = &Trap_async,
    .tp_iter = Trap_self,
    .tp_iternext = (iternextfunc)Trap_iternext,
    .tp_methods = Trap_methods,
    .tp_repr = (reprfunc)Trap_repr,
    .tp_traverse = (traverseproc)Trap_traverse,
    .tp_clear = (inquiry)Trap_clear,
    .tp_dealloc = (destructor)Trap_dealloc,
};

/* ---- FastCall: an l4sys IPC call whose common case is checked here ------------------ */

/* l4sys/ipc.py wraps its hottest calls in this: called with plain-int arguments in range,
 * an l4_msgtag_t and the caller's own UTCB (or None), it makes the Trap at once; with
 * anything else (a CapIndex, a bad value, keywords) it calls the Python function, whose
 * checks raise or convert, so that function stays the one definition of the call. The
 * arguments: [dest,] utcb, [tag,] timeout, as the call's shape says. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *fn;              /* the Python function: the definition, and the slow path */
    uint64_t word;             /* the entry's dest word: L4_SYSF_* flags, or all of it */
    uint64_t stray;            /* selector bits that may not be set (they are the flags) */
    unsigned char has_dest, has_tag, with_label;
} FastCall;

/* An exact int in 0..max (no bool, no subclass), as *out; 0 for anything else. */
static int
plain_word(PyObject *v, uint64_t max, uint64_t *out)
{
    if (!PyLong_CheckExact(v))
        return 0;
    unsigned long w = PyLong_AsUnsignedLong(v);
    if (w == (unsigned long)-1 && PyErr_Occurred()) {
        PyErr_Clear();                 /* negative or too large: the slow path says so */
        return 0;
    }
    *out = w;
    return w <= max;
}

static Trap *make_trap(uint64_t dest, uint64_t tag, uint64_t timeout, int with_label);

static PyObject *
FastCall_vectorcall(FastCall *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames == NULL && nargs == 2 + self->has_dest + self->has_tag) {
        PyObject *const *a = args;
        uint64_t dest = 0, tag = 0, timeout;
        if (self->has_dest && !(plain_word(*a++, UINT64_MAX, &dest) && !(dest & self->stray)))
            goto slow;
        PyObject *utcb = *a++;
        if (self->has_tag) {
            PyObject *t = *a++;
            if (Py_TYPE(t) != g.msgtag_type
                    || !plain_word(slot_at(t, g.raw_offset), UINT64_MAX, &tag))
                goto slow;
        }
        if (!plain_word(*a, 0xFFFFFFFFu, &timeout))
            goto slow;
        if (utcb != Py_None) {
            PyObject *cur = current_record();
            if (Py_TYPE(cur) != g.record_type || slot_at(cur, g.utcb_offset) != utcb)
                goto slow;
        }
        return (PyObject *)make_trap(dest | self->word, tag, timeout, self->with_label);
    }
slow:
    return PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
}

static PyObject *
FastCall_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"fn", "word", "stray", "has_dest", "has_tag", "with_label", NULL};
    PyObject *fn, *word_obj, *stray_obj;
    int has_dest, has_tag, with_label;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!O!ppp:FastCall", names, &fn,
                                     &PyLong_Type, &word_obj, &PyLong_Type, &stray_obj,
                                     &has_dest, &has_tag, &with_label))
        return NULL;
    unsigned long long word = PyLong_AsUnsignedLongLong(word_obj);
    unsigned long long stray = PyLong_AsUnsignedLongLong(stray_obj);
    if (PyErr_Occurred())
        return NULL;
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "FastCall: fn must be callable");
        return NULL;
    }
    FastCall *self = (FastCall *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = (vectorcallfunc)FastCall_vectorcall;
    Py_INCREF(fn);
    self->fn = fn;
    self->word = word;
    self->stray = stray;
    self->has_dest = (unsigned char)has_dest;
    self->has_tag = (unsigned char)has_tag;
    self->with_label = (unsigned char)with_label;
    return (PyObject *)self;
}

static PyObject *
FastCall_call(FastCall *self, PyObject *args, PyObject *kwds)
{
    return PyObject_Call(self->fn, args, kwds);
}

static int
FastCall_traverse(FastCall *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fn);
    return 0;
}

static int
FastCall_clear(FastCall *self)
{
    Py_CLEAR(self->fn);
    return 0;
}

static void
FastCall_dealloc(FastCall *self)
{
    PyObject_GC_UnTrack(self);
    FastCall_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* What introspection asks of a function (__name__, __module__, help(), inspect.signature
 * through __wrapped__, the docs' checks) is the Python function's. */
static PyObject *
FastCall_getattro(FastCall *self, PyObject *name)
{
    PyObject *v = PyObject_GenericGetAttr((PyObject *)self, name);
    if (v != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError))
        return v;
    PyErr_Clear();
    return PyObject_GetAttr(self->fn, name);
}

static PyObject *
FastCall_doc(FastCall *self, void *unused)
{
    return PyObject_GetAttrString(self->fn, "__doc__");
}

static PyObject *
FastCall_repr(FastCall *self)
{
    return PyObject_Repr(self->fn);
}

static PyGetSetDef FastCall_getset[] = {
    {"__doc__", (getter)FastCall_doc, NULL, NULL, NULL},   /* else the type's (None) */
    {NULL},
};

static PyMemberDef FastCall_members[] = {
    {"__wrapped__", T_OBJECT_EX, offsetof(FastCall, fn), READONLY, NULL},
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(FastCall, vectorcall), READONLY, NULL},
    {NULL},
};

static PyTypeObject FastCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyl4re._entry.FastCall",
    .tp_basicsize = sizeof(FastCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(FastCall, vectorcall),
    .tp_call = (ternaryfunc)FastCall_call,
    .tp_new = FastCall_new,
    .tp_getattro = (getattrofunc)FastCall_getattro,
    .tp_getset = FastCall_getset,
    .tp_members = FastCall_members,
    .tp_repr = (reprfunc)FastCall_repr,
    .tp_traverse = (traverseproc)FastCall_traverse,
    .tp_clear = (inquiry)FastCall_clear,
    .tp_dealloc = (destructor)FastCall_dealloc,
};

/* ---- the module --------------------------------------------------------------------- */

/* The three entry words, as the C core takes them: the callers (l4sys/ipc.py) checked
 * them already; a value that is no int in 0..2^64-1 is refused here all the same. */
static int
word_arg(PyObject *value, uint64_t *out)
{
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "kernel entry words must be ints, not %s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    unsigned long w = PyLong_AsUnsignedLong(value);
    if (w == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    *out = w;
    return 0;
}

static Trap *
make_trap(uint64_t dest, uint64_t tag, uint64_t timeout, int with_label)
{
    Trap *t;                                  /* untracked: tracked once it delegates */
#if TRAP_FREE_MAX > 0
    if (trap_nfree > 0) {
        t = trap_free[--trap_nfree];
        _Py_NewReference((PyObject *)t);
    } else
#endif
    {
        t = PyObject_GC_New(Trap, &TrapType);
        if (t == NULL)
            return NULL;
    }
    t->dest = dest;
    t->tag = tag;
    t->timeout = timeout;
    t->with_label = (unsigned char)with_label;
    t->state = TRAP_FRESH;
    t->rest = NULL;
    return t;
}

static PyObject *
new_trap(PyObject *const *args, Py_ssize_t nargs, int with_label)
{
    if (g.current == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "pyl4re._entry.setup() was not called");
        return NULL;
    }
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "expected 3 arguments (dest, tag, timeout), got %zd",
                     nargs);
        return NULL;
    }
    uint64_t dest, tag, timeout;
    if (word_arg(args[0], &dest) || word_arg(args[1], &tag) || word_arg(args[2], &timeout))
        return NULL;
    return (PyObject *)make_trap(dest, tag, timeout, with_label);
}

static PyObject *
enter_tag(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    return new_trap(args, nargs, 0);
}

static PyObject *
enter_tag_label(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    return new_trap(args, nargs, 1);
}

/* Where instances of a __slots__ class keep one slot: its member descriptor's offset, as
 * CPython's own slot access reads it. */
static int
slot_offset(PyObject *type, const char *name, Py_ssize_t *offset)
{
    PyObject *d = PyDict_GetItemString(((PyTypeObject *)type)->tp_dict, name);
    if (d == NULL || Py_TYPE(d) != &PyMemberDescr_Type
            || ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "setup: %s has no slot %s", ((PyTypeObject *)type)->tp_name,
                     name);
        return -1;
    }
    *offset = ((PyMemberDescrObject *)d)->d_member->offset;
    return 0;
}

static PyObject *
setup(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"current", "record_type", "msgtag_type", "interned", "tag_of_raw",
                            "rest_tag", "rest_tag_label", "resume_result", "sys_switch",
                            "switch_to", NULL};
    PyObject *current, *record_type, *msgtag_type, *interned, *tag_of_raw, *rest_tag,
        *rest_label, *resume_result;
    int sys_switch, switch_to;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!O!OOOO!ii:setup", names,
                                     &PyList_Type, &current, &PyType_Type, &record_type,
                                     &PyType_Type, &msgtag_type, &PyDict_Type, &interned,
                                     &tag_of_raw, &rest_tag, &rest_label, &PyLong_Type,
                                     &resume_result, &sys_switch, &switch_to))
        return NULL;
    if (PyList_GET_SIZE(current) != 1) {
        PyErr_SetString(PyExc_ValueError, "setup: current must be a list of one item");
        return NULL;
    }
    Py_ssize_t entry, coro, failing, triggered, utcb, raw;
    if (slot_offset(record_type, "entry", &entry) || slot_offset(record_type, "coro", &coro)
            || slot_offset(record_type, "failing", &failing)
            || slot_offset(record_type, "triggered", &triggered)
            || slot_offset(record_type, "utcb", &utcb)
            || slot_offset(msgtag_type, "raw", &raw))
        return NULL;
    Py_INCREF(current);
    Py_INCREF(record_type);
    Py_INCREF(msgtag_type);
    Py_INCREF(interned);
    Py_INCREF(tag_of_raw);
    Py_INCREF(rest_tag);
    Py_INCREF(rest_label);
    Py_XSETREF(g.current, current);
    Py_XSETREF(g.record_type, (PyTypeObject *)record_type);
    Py_XSETREF(g.msgtag_type, (PyTypeObject *)msgtag_type);
    g.entry_offset = entry;
    g.coro_offset = coro;
    g.failing_offset = failing;
    g.triggered_offset = triggered;
    g.utcb_offset = utcb;
    g.raw_offset = raw;
    Py_INCREF(resume_result);
    Py_XSETREF(g.resume_result, resume_result);
    Py_XSETREF(g.interned, interned);
    Py_XSETREF(g.tag_of_raw, tag_of_raw);
    Py_XSETREF(g.rest[0], rest_tag);
    Py_XSETREF(g.rest[1], rest_label);
    g.sys_switch = sys_switch;
    g.switch_to = switch_to;
    Py_RETURN_NONE;
}

/* The run loop's µApp <-> µApp switch (runloop.RunLoop._run): a Trap yielded the record
 * of the µApp C chose to go on with its result; that µApp becomes the running one and is
 * resumed with RESUME_RESULT at once, and so on while each yields the next such record.
 * Returns the first other thing yielded; a µApp's return comes out as StopIteration, as
 * coroutine.send() gives it. Either way traps._current then holds the record whose code
 * ran last. A record with anything special (no code yet, an exception being told) is
 * returned for the loop's general path. */
static PyObject *
chain(PyObject *module, PyObject *yielded)
{
    if (g.current == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "pyl4re._entry.setup() was not called");
        return NULL;
    }
    Py_INCREF(yielded);
    while (Py_TYPE(yielded) == g.record_type) {
        PyObject *coro = slot_at(yielded, g.coro_offset);
        if (coro == Py_None || slot_at(yielded, g.failing_offset) != Py_None
                || slot_at(yielded, g.triggered_offset) != Py_None)
            break;
        if (PyList_GET_SIZE(g.current) < 1) {
            Py_DECREF(yielded);
            PyErr_SetString(PyExc_RuntimeError, "traps._current was emptied");
            return NULL;
        }
        PyList_SetItem(g.current, 0, yielded);   /* the running record: takes our reference */
        Py_INCREF(coro);
        PyObject *out;
        PySendResult r = PyIter_Send(coro, g.resume_result, &out);
        Py_DECREF(coro);
        if (r == PYGEN_ERROR)
            return NULL;
        if (r == PYGEN_RETURN)
            return raise_stop(out);
        yielded = out;
    }
    return yielded;
}

static PyMethodDef module_methods[] = {
    {"enter_tag", (PyCFunction)(void (*)(void))enter_tag, METH_FASTCALL,
     PyDoc_STR("enter_tag(dest, tag, timeout): the kernel entry answering the tag")},
    {"enter_tag_label", (PyCFunction)(void (*)(void))enter_tag_label, METH_FASTCALL,
     PyDoc_STR("enter_tag_label(dest, tag, timeout): the entry answering (tag, label)")},
    {"chain", chain, METH_O,
     PyDoc_STR("chain(yielded): resume the µApps C chose while each yields the next; "
               "the first other thing yielded")},
    {"setup", (PyCFunction)(void (*)(void))setup, METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("setup(current, record_type, msgtag_type, interned, tag_of_raw, rest_tag, "
               "rest_tag_label, resume_result, sys_switch, switch_to): what the fast "
               "entry reads (runloop.py calls it once)")},
    {NULL},
};

static struct PyModuleDef entry_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pyl4re._entry",
    .m_doc = PyDoc_STR("The µApp fast kernel entry, awaitable, in C (see traps.py)."),
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__entry(void)
{
    if (PyType_Ready(&EntryType) < 0 || PyType_Ready(&TrapType) < 0
            || PyType_Ready(&FastCallType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&entry_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&EntryType);
    if (PyModule_AddObject(m, "Entry", (PyObject *)&EntryType) < 0) {
        Py_DECREF(&EntryType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&TrapType);
    if (PyModule_AddObject(m, "Trap", (PyObject *)&TrapType) < 0) {
        Py_DECREF(&TrapType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&FastCallType);
    if (PyModule_AddObject(m, "FastCall", (PyObject *)&FastCallType) < 0) {
        Py_DECREF(&FastCallType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
