/* mirror.c -- a client mirror's Moves rows, applied in one C loop.
 *
 * Every frame a client receives carries a Moves message with a packed row
 * (gamelogic.operations.MOVE_ROW: Guid uint64, x, y, z, yaw float32,
 * little-endian, 24 bytes) for each entity in view that moved: a bot in a
 * crowd applies dozens of rows twenty times a second, and in Python the
 * loop (unpack, finiteness checks, a dict lookup, a sample appended) was
 * most of a bots process (nodes/client/mirror.py).
 *
 * apply_moves(rows, index, now, me) does what apply_moves_python does
 * with the mirror's entities, row by row, the entities' Samples found in an
 * Index (below), and returns (applied, bad, unknown, own):
 *   - rows not a whole number of rows raise ValueError (the caller checks);
 *   - a row whose x, y, z, yaw are not all finite is counted bad;
 *   - a row for ``me`` (when ``me`` is not 0) is counted applied and its
 *     (x, y, z) goes into ``own``, for the caller to reconcile in order;
 *   - a row for a guid not in the index is applied but counted unknown;
 *   - otherwise (now, x, y, z, yaw) is written into that entity's Samples.
 * tests/client/test_mirror.py checks both loops agree.
 *
 * Samples is where an entity keeps its latest positions: a ring of
 * (time, x, y, z, yaw) as doubles inside the object, read as tuples and
 * appended to like a deque(maxlen=capacity). apply_moves writes a row
 * straight into it. With a deque of tuples, a bots process holding a few
 * hundred mirrors spent most of each row in cache misses: the deque, the
 * tuple it let go and that tuple's four floats, all freed; a ring is one
 * object written in place, a quarter of the memory.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

/* -- Samples: a ring of (time, x, y, z, yaw) ----------------------------------------------- */

#define SAMPLE_WIDTH 5
#define SAMPLES_MAX 64

typedef struct {
    PyObject_VAR_HEAD  /* ob_size: the capacity in doubles (capacity * SAMPLE_WIDTH) */
    Py_ssize_t capacity, head, count;
    double v[1];
} SamplesObject;

static PyTypeObject SamplesType;

/* The next place to write (the oldest sample's when full, which it replaces). */
static double *samples_next(SamplesObject *s) {
    Py_ssize_t at;
    if (s->count < s->capacity) {
        at = (s->head + s->count) % s->capacity;
        s->count++;
    } else {
        at = s->head;
        s->head = (s->head + 1) % s->capacity;
    }
    return s->v + at * SAMPLE_WIDTH;
}

static PyObject *samples_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    Py_ssize_t capacity;
    static char *kwlist[] = {"capacity", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n:Samples", kwlist, &capacity))
        return NULL;
    if (capacity < 1 || capacity > SAMPLES_MAX) {
        PyErr_Format(PyExc_ValueError, "Samples: capacity must be 1..%d, got %zd", SAMPLES_MAX, capacity);
        return NULL;
    }
    SamplesObject *s = (SamplesObject *)type->tp_alloc(type, capacity * SAMPLE_WIDTH);
    if (s == NULL)
        return NULL;
    s->capacity = capacity;
    s->head = s->count = 0;
    return (PyObject *)s;
}

static Py_ssize_t samples_len(PyObject *self) {
    return ((SamplesObject *)self)->count;
}

static PyObject *samples_item(PyObject *self, Py_ssize_t i) {
    SamplesObject *s = (SamplesObject *)self;
    if (i < 0 || i >= s->count) {
        PyErr_SetString(PyExc_IndexError, "Samples index out of range");
        return NULL;
    }
    const double *d = s->v + ((s->head + i) % s->capacity) * SAMPLE_WIDTH;
    return Py_BuildValue("(ddddd)", d[0], d[1], d[2], d[3], d[4]);
}

static PyObject *samples_append(PyObject *self, PyObject *sample) {
    PyObject *seq = PySequence_Fast(sample, "Samples.append takes (time, x, y, z, yaw)");
    if (seq == NULL)
        return NULL;
    if (PySequence_Fast_GET_SIZE(seq) != SAMPLE_WIDTH) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "Samples.append takes (time, x, y, z, yaw)");
        return NULL;
    }
    double d[SAMPLE_WIDTH];
    for (int k = 0; k < SAMPLE_WIDTH; k++) {
        d[k] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, k));
        if (d[k] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    memcpy(samples_next((SamplesObject *)self), d, sizeof d);
    Py_RETURN_NONE;
}

static PyObject *samples_clear(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    SamplesObject *s = (SamplesObject *)self;
    s->head = s->count = 0;
    Py_RETURN_NONE;
}

static PyObject *samples_maxlen(PyObject *self, void *Py_UNUSED(closure)) {
    return PyLong_FromSsize_t(((SamplesObject *)self)->capacity);
}

static PyObject *samples_repr(PyObject *self) {
    SamplesObject *s = (SamplesObject *)self;
    return PyUnicode_FromFormat("Samples(capacity=%zd, %zd held)", s->capacity, s->count);
}

static PyMethodDef samples_methods[] = {
    {"append", samples_append, METH_O, "append((time, x, y, z, yaw)): the oldest goes when full"},
    {"clear", samples_clear, METH_NOARGS, "forget every sample"},
    {NULL, NULL, 0, NULL}
};

static PyGetSetDef samples_getset[] = {
    {"maxlen", samples_maxlen, NULL, "how many samples it keeps", NULL},
    {NULL, NULL, NULL, NULL, NULL}
};

static PySequenceMethods samples_as_sequence = {
    .sq_length = samples_len,
    .sq_item = samples_item,
};

static PyTypeObject SamplesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "native._mirror.Samples",
    .tp_doc = "Samples(capacity): the latest (time, x, y, z, yaw) of an entity, oldest first, as doubles",
    .tp_basicsize = offsetof(SamplesObject, v),
    .tp_itemsize = sizeof(double),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = samples_new,
    .tp_repr = samples_repr,
    .tp_as_sequence = &samples_as_sequence,
    .tp_methods = samples_methods,
    .tp_getset = samples_getset,
};

/* -- Index: Guid -> Samples, for the Moves loop --------------------------------------------- */

/* A mirror's entities by Guid, for the one lookup every Moves row makes.
 * The mirror's dict is the truth; the Index holds the same entities'
 * Samples under their Guids (the mirror sets and deletes them with the
 * dict). A dict lookup cost a Python int made from the row, a probe that
 * reads the key object, the entity, then its samples attribute: about five
 * cache misses a row in a bots process holding a thousand mirrors. Here a
 * row is one probe of a table of (uint64, pointer) and the ring it writes.
 * Linear probing, Fibonacci hashing, at most half full; deletion shifts the
 * following entries back (no tombstones). */

typedef struct {
    PyObject_HEAD
    Py_ssize_t used;
    uint64_t mask;  /* capacity - 1, capacity a power of two */
    int shift;      /* 64 - log2(capacity) */
    uint64_t *keys;
    PyObject **vals;  /* Samples (strong references); NULL: an empty place */
} IndexObject;

static PyTypeObject IndexType;

static inline uint64_t index_home(const IndexObject *ix, uint64_t g) {
    return (g * 0x9E3779B97F4A7C15ull) >> ix->shift;
}

/* Where g is (vals[at] != NULL) or would go (vals[at] == NULL). */
static uint64_t index_probe(const IndexObject *ix, uint64_t g) {
    uint64_t at = index_home(ix, g);
    while (ix->vals[at] != NULL && ix->keys[at] != g)
        at = (at + 1) & ix->mask;
    return at;
}

static int index_alloc(IndexObject *ix, int bits) {
    uint64_t size = (uint64_t)1 << bits;
    uint64_t *keys = PyMem_Calloc(size, sizeof *keys);
    PyObject **vals = PyMem_Calloc(size, sizeof *vals);
    if (keys == NULL || vals == NULL) {
        PyMem_Free(keys);
        PyMem_Free(vals);
        PyErr_NoMemory();
        return -1;
    }
    ix->keys = keys;
    ix->vals = vals;
    ix->mask = size - 1;
    ix->shift = 64 - bits;
    return 0;
}

static int index_grow(IndexObject *ix) {
    uint64_t *old_keys = ix->keys;
    PyObject **old_vals = ix->vals;
    uint64_t old_size = ix->mask + 1;
    if (index_alloc(ix, 64 - ix->shift + 1) < 0)
        return -1;
    for (uint64_t i = 0; i < old_size; i++)
        if (old_vals[i] != NULL) {
            uint64_t at = index_probe(ix, old_keys[i]);
            ix->keys[at] = old_keys[i];
            ix->vals[at] = old_vals[i];
        }
    PyMem_Free(old_keys);
    PyMem_Free(old_vals);
    return 0;
}

/* The Guid of a Python key: an int in 0 .. 2**64 - 1, else an error. */
static int index_key(PyObject *key, uint64_t *g) {
    if (!PyLong_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "Index keys are Guids (int)");
        return -1;
    }
    *g = PyLong_AsUnsignedLongLong(key);
    if (*g == (uint64_t)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_KeyError, "Index keys are Guids: 0 .. 2**64 - 1");
        }
        return -1;
    }
    return 0;
}

static void index_remove_at(IndexObject *ix, uint64_t at) {
    Py_CLEAR(ix->vals[at]);
    ix->used--;
    uint64_t hole = at, i = at;
    for (;;) {  /* shift back every entry that may no longer be found past the hole */
        i = (i + 1) & ix->mask;
        if (ix->vals[i] == NULL)
            return;
        uint64_t home = index_home(ix, ix->keys[i]);
        if (((i - home) & ix->mask) >= ((i - hole) & ix->mask)) {
            ix->keys[hole] = ix->keys[i];
            ix->vals[hole] = ix->vals[i];
            ix->vals[i] = NULL;
            hole = i;
        }
    }
}

static PyObject *index_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":Index", kwlist))
        return NULL;
    IndexObject *ix = (IndexObject *)type->tp_alloc(type, 0);
    if (ix == NULL)
        return NULL;
    if (index_alloc(ix, 6) < 0) {
        Py_DECREF(ix);
        return NULL;
    }
    return (PyObject *)ix;
}

static int index_clear_refs(IndexObject *ix) {
    if (ix->vals != NULL)
        for (uint64_t i = 0; i <= ix->mask; i++)
            Py_CLEAR(ix->vals[i]);
    ix->used = 0;
    return 0;
}

static void index_dealloc(IndexObject *ix) {
    index_clear_refs(ix);
    PyMem_Free(ix->keys);
    PyMem_Free(ix->vals);
    Py_TYPE(ix)->tp_free((PyObject *)ix);
}

static Py_ssize_t index_len(PyObject *self) {
    return ((IndexObject *)self)->used;
}

static PyObject *index_getitem(PyObject *self, PyObject *key) {
    IndexObject *ix = (IndexObject *)self;
    uint64_t g;
    if (index_key(key, &g) < 0)
        return NULL;
    uint64_t at = index_probe(ix, g);
    if (ix->vals[at] == NULL) {
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    Py_INCREF(ix->vals[at]);
    return ix->vals[at];
}

static int index_setitem(PyObject *self, PyObject *key, PyObject *value) {
    IndexObject *ix = (IndexObject *)self;
    uint64_t g;
    if (index_key(key, &g) < 0)
        return -1;
    uint64_t at = index_probe(ix, g);
    if (value == NULL) {  /* del index[guid] */
        if (ix->vals[at] == NULL) {
            PyErr_SetObject(PyExc_KeyError, key);
            return -1;
        }
        index_remove_at(ix, at);
        return 0;
    }
    if (!Py_IS_TYPE(value, &SamplesType)) {
        PyErr_SetString(PyExc_TypeError, "Index values are Samples");
        return -1;
    }
    Py_INCREF(value);
    if (ix->vals[at] != NULL) {
        Py_SETREF(ix->vals[at], value);
        return 0;
    }
    ix->keys[at] = g;
    ix->vals[at] = value;
    ix->used++;
    if ((uint64_t)ix->used * 2 > ix->mask + 1)
        return index_grow(ix);
    return 0;
}

static int index_contains(PyObject *self, PyObject *key) {
    IndexObject *ix = (IndexObject *)self;
    uint64_t g;
    if (!PyLong_Check(key))
        return 0;
    g = PyLong_AsUnsignedLongLong(key);
    if (g == (uint64_t)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return ix->vals[index_probe(ix, g)] != NULL;
}

static PyObject *index_clear(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    index_clear_refs((IndexObject *)self);
    Py_RETURN_NONE;
}

static PyObject *index_discard(PyObject *self, PyObject *key) {
    IndexObject *ix = (IndexObject *)self;
    uint64_t g;
    if (PyLong_Check(key)) {
        g = PyLong_AsUnsignedLongLong(key);
        if (g == (uint64_t)-1 && PyErr_Occurred())
            PyErr_Clear();  /* not a Guid: not there */
        else {
            uint64_t at = index_probe(ix, g);
            if (ix->vals[at] != NULL)
                index_remove_at(ix, at);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *index_keys(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    IndexObject *ix = (IndexObject *)self;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (uint64_t i = 0; i <= ix->mask; i++)
        if (ix->vals[i] != NULL) {
            PyObject *k = PyLong_FromUnsignedLongLong(ix->keys[i]);
            if (k == NULL || PyList_Append(out, k) < 0) {
                Py_XDECREF(k);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(k);
        }
    return out;
}

static PyMethodDef index_methods[] = {
    {"clear", index_clear, METH_NOARGS, "forget every entry"},
    {"discard", index_discard, METH_O, "discard(guid): forget it if it is there"},
    {"keys", index_keys, METH_NOARGS, "the Guids held, as a list (in no order)"},
    {NULL, NULL, 0, NULL}
};

static PyMappingMethods index_as_mapping = {
    .mp_length = index_len,
    .mp_subscript = index_getitem,
    .mp_ass_subscript = index_setitem,
};

static PySequenceMethods index_as_sequence = {
    .sq_contains = index_contains,
};

static PyTypeObject IndexType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "native._mirror.Index",
    .tp_doc = "Index(): Guid -> Samples, what apply_moves looks rows up in (see native/mirror.c)",
    .tp_basicsize = sizeof(IndexObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = index_new,
    .tp_dealloc = (destructor)index_dealloc,
    .tp_as_mapping = &index_as_mapping,
    .tp_as_sequence = &index_as_sequence,
    .tp_methods = index_methods,
};

/* A little-endian uint64 / float32 at p (assembled byte by byte: one load on a little-endian machine). */
static uint64_t read_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = (v << 8) | p[k];
    return v;
}

static double read_f32(const unsigned char *p) {
    uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &bits, sizeof f);
    return (double)f;
}

#define ROW_BYTES 24  /* gamelogic.operations.MOVE_ROW: "<Q4f" */

PyDoc_STRVAR(apply_moves_doc,
"apply_moves(rows, index, now, me) -> (applied, bad, unknown, own)\n\n"
"Append (now, x, y, z, yaw) to index[guid] (a Samples) for each valid packed row; see native/mirror.c.");

static PyObject *apply_moves(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "apply_moves(rows, index, now, me)");
        return NULL;
    }
    PyObject *rows = args[0], *now = args[2], *me = args[3];
    if (!PyBytes_Check(rows) || !Py_IS_TYPE(args[1], &IndexType)) {
        PyErr_SetString(PyExc_TypeError, "apply_moves: rows must be bytes and entities an Index");
        return NULL;
    }
    const IndexObject *ix = (const IndexObject *)args[1];
    Py_ssize_t size = PyBytes_GET_SIZE(rows);
    if (size % ROW_BYTES) {
        PyErr_Format(PyExc_ValueError, "Moves: %zd bytes is not a whole number of %d-byte rows", size, ROW_BYTES);
        return NULL;
    }
    uint64_t me_guid = 0;
    if (PyLong_Check(me)) {
        me_guid = PyLong_AsUnsignedLongLongMask(me);
        if (me_guid == (uint64_t)-1 && PyErr_Occurred())
            return NULL;
    } else if (me != Py_None) {
        PyErr_SetString(PyExc_TypeError, "apply_moves: me must be an int (0: no own rows)");
        return NULL;
    }
    double t_now = PyFloat_AsDouble(now);  /* what a Samples ring stores of it */
    if (t_now == -1.0 && PyErr_Occurred())
        return NULL;
    Py_ssize_t applied = 0, bad = 0, unknown = 0;
    PyObject *own = PyList_New(0);
    if (own == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(rows);
    for (Py_ssize_t at = 0; at < size; at += ROW_BYTES) {
        const unsigned char *row = p + at;
        uint64_t g = read_u64(row);
        double v[4];
        for (int k = 0; k < 4; k++)
            v[k] = read_f32(row + 8 + 4 * k);
        if (!(isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]) && isfinite(v[3]))) {
            bad++;
            continue;
        }
        applied++;
        if (me_guid && g == me_guid) {
            PyObject *xyz = Py_BuildValue("(ddd)", v[0], v[1], v[2]);
            if (xyz == NULL || PyList_Append(own, xyz) < 0) {
                Py_XDECREF(xyz);
                goto fail;
            }
            Py_DECREF(xyz);
            continue;
        }
        PyObject *found = ix->vals[index_probe(ix, g)];  /* one probe, the ring written in place */
        if (found == NULL) {
            unknown++;
            continue;
        }
        double *d = samples_next((SamplesObject *)found);
        d[0] = t_now;
        memcpy(d + 1, v, sizeof v);
    }
    return Py_BuildValue("(nnnN)", applied, bad, unknown, own);
fail:
    Py_DECREF(own);
    return NULL;
}

static PyMethodDef methods[] = {
    {"apply_moves", (PyCFunction)(void (*)(void))apply_moves, METH_FASTCALL, apply_moves_doc},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "native._mirror",
    "A client mirror's Moves rows applied in one C loop (see native/mirror.c).", -1, methods,
    NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit__mirror(void) {
    if (PyType_Ready(&SamplesType) < 0 || PyType_Ready(&IndexType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&SamplesType);
    if (PyModule_AddObject(m, "Samples", (PyObject *)&SamplesType) < 0) {
        Py_DECREF(&SamplesType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&IndexType);
    if (PyModule_AddObject(m, "Index", (PyObject *)&IndexType) < 0) {
        Py_DECREF(&IndexType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
