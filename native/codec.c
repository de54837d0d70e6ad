/* codec.c -- message batches to and from msgpack bytes, in one pass each way.
 *
 * Every node-to-node link and every client connection encodes and decodes
 * batches of small messages, and on a busy node that is most of the time.
 *
 * Decoding: unpacking with msgpack and then wrapping each array in its
 * message class costs two object constructions per message (the list
 * msgpack builds, then the tuple subclass copied from it). decode_batch
 * walks the bytes once, checks each field against the same schema table
 * check.c uses, and builds each message tuple in place. It returns the list
 * of messages, or None when it cannot prove the batch valid (malformed
 * bytes, a field of the wrong type, bad UTF-8, an extension type, nested
 * message fields whose class bounds only Python checks). On None the caller
 * runs the Python decoder, which decodes the batch or raises the DecodeError
 * naming the problem, so results and errors are the same as without this
 * file (tests/native/test_native_codec.py).
 *
 * Encoding: encode_batch writes exactly the bytes msgpack.packb writes for
 * the types messages carry (int, float, str, bytes, bool, None, list, tuple,
 * dict), without msgpack's general type dispatch. For anything else it
 * returns None and the caller uses msgpack, so the bytes and the errors are
 * msgpack's.
 *
 * This is a CPython extension and not part of the cffi module: cffi hands C
 * plain memory, and what these functions make and read are Python objects.
 *
 * Schema encoding is check.c's: types sorted by id; arity[i] fields after
 * the type id, described by schema[at[i] .. at[i+1]), one spec byte per
 * field (kind | 0x80 if nil is allowed), a list-of spec followed by its
 * element's spec.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum {
    K_ANY = 0, K_INT = 1, K_GUID = 2, K_FLOAT = 3, K_BOOL = 4, K_STR = 5, K_BYTES = 6,
    K_LIST = 7, K_LIST_OF = 8, K_DICT = 9, K_MESSAGE = 10,
    K_OPT = 0x80
};

#define MAX_DEPTH 512

typedef struct {
    const uint8_t *p, *end;
    int depth;
} reader;

typedef struct {
    const int64_t *tids;
    const int32_t *arity, *at;
    const uint8_t *schema;
    Py_ssize_t ntypes, schema_len;
} table;

static inline int need(const reader *r, int64_t n) { return r->end - r->p >= n; }

/* The n-byte big-endian unsigned value at p (n is 1, 2, 4 or 8 on every hot path). */
static inline uint64_t be(const uint8_t *p, int n)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    switch (n) {
        case 1: return p[0];
        case 2: { uint16_t v; memcpy(&v, p, 2); return __builtin_bswap16(v); }
        case 4: { uint32_t v; memcpy(&v, p, 4); return __builtin_bswap32(v); }
        case 8: { uint64_t v; memcpy(&v, p, 8); return __builtin_bswap64(v); }
        default: break;
    }
#endif
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* Length of the array at r->p (and step over its header), or -1. */
static int64_t array_len(reader *r)
{
    if (!need(r, 1)) return -1;
    uint8_t b = *r->p;
    if ((b & 0xf0) == 0x90) { r->p += 1; return b & 0x0f; }
    if (b == 0xdc && need(r, 3)) { int64_t n = (int64_t)be(r->p + 1, 2); r->p += 3; return n; }
    if (b == 0xdd && need(r, 5)) { int64_t n = (int64_t)be(r->p + 1, 4); r->p += 5; return n; }
    return -1;
}

/* Length of the map at r->p (and step over its header), or -1. */
static int64_t map_len(reader *r)
{
    if (!need(r, 1)) return -1;
    uint8_t b = *r->p;
    if ((b & 0xf0) == 0x80) { r->p += 1; return b & 0x0f; }
    if (b == 0xde && need(r, 3)) { int64_t n = (int64_t)be(r->p + 1, 2); r->p += 3; return n; }
    if (b == 0xdf && need(r, 5)) { int64_t n = (int64_t)be(r->p + 1, 4); r->p += 5; return n; }
    return -1;
}

/* Length of the str (is_str) or bin at r->p, stepping over its header; -1 if not one. */
static int64_t blob_len(reader *r, int is_str)
{
    if (!need(r, 1)) return -1;
    uint8_t b = *r->p;
    int64_t n;
    if (is_str && (b & 0xe0) == 0xa0) { r->p += 1; n = b & 0x1f; }
    else if (b == (is_str ? 0xd9 : 0xc4) && need(r, 2)) { n = r->p[1]; r->p += 2; }
    else if (b == (is_str ? 0xda : 0xc5) && need(r, 3)) { n = (int64_t)be(r->p + 1, 2); r->p += 3; }
    else if (b == (is_str ? 0xdb : 0xc6) && need(r, 5)) { n = (int64_t)be(r->p + 1, 4); r->p += 5; }
    else return -1;
    return need(r, n) ? n : -1;
}

/* The last multi-byte int read at one field position of a batch's messages:
 * its encoding (tag, raw bits) and the int built for it (borrowed: the message
 * holding it stays alive in the batch's list; on any failure the batch is
 * dropped and the memo with it). Messages of a batch to one peer mostly share
 * `to` and `frm`: reusing the int saves an allocation and a free each. */
typedef struct {
    uint8_t tag;
    uint64_t raw;
    PyObject *obj;
} int_memo;

#define MEMO_FIELDS 16

/* An int of any msgpack width as a Python int; NULL (no error set) if not an int.
 * With a memo, the same encoding as the memo's gives the memo's int (the same
 * tag and bits are the same value; a different width or sign is a new int). */
static PyObject *read_int(reader *r, int *negative, int_memo *memo)
{
    uint8_t b = *r->p;
    *negative = 0;
    if (b <= 0x7f) { r->p++; return PyLong_FromLong(b); }  /* small ints are shared by CPython */
    if (b >= 0xe0) { r->p++; *negative = 1; return PyLong_FromLong((int8_t)b); }
    int n;
    switch (b) {
        case 0xcc: case 0xd0: n = 1; break;
        case 0xcd: case 0xd1: n = 2; break;
        case 0xce: case 0xd2: n = 4; break;
        case 0xcf: case 0xd3: n = 8; break;
        default: return NULL;
    }
    if (!need(r, 1 + n)) return NULL;
    uint64_t raw = be(r->p + 1, n);
    r->p += 1 + n;
    int64_t v = 0;
    if (b >= 0xd0) {
        v = n == 1 ? (int8_t)raw : n == 2 ? (int16_t)raw : n == 4 ? (int32_t)raw : (int64_t)raw;
        *negative = v < 0;
    }
    if (memo != NULL && memo->obj != NULL && memo->tag == b && memo->raw == raw) {
        Py_INCREF(memo->obj);
        return memo->obj;
    }
    PyObject *o = b <= 0xcf ? PyLong_FromUnsignedLongLong(raw) : PyLong_FromLongLong(v);
    if (memo != NULL && o != NULL) { memo->tag = b; memo->raw = raw; memo->obj = o; }
    return o;
}

static PyObject *read_float(reader *r)
{
    uint8_t b = *r->p;
    if (b == 0xca && need(r, 5)) {
        uint32_t bits = (uint32_t)be(r->p + 1, 4);
        float f;
        memcpy(&f, &bits, 4);
        r->p += 5;
        return PyFloat_FromDouble((double)f);
    }
    if (b == 0xcb && need(r, 9)) {
        uint64_t bits = be(r->p + 1, 8);
        double d;
        memcpy(&d, &bits, 8);
        r->p += 9;
        return PyFloat_FromDouble(d);
    }
    return NULL;
}

static PyObject *read_str(reader *r)
{
    int64_t n = blob_len(r, 1);
    if (n < 0) return NULL;
    PyObject *s = PyUnicode_DecodeUTF8((const char *)r->p, (Py_ssize_t)n, NULL);
    r->p += n;
    return s;  /* NULL with a UnicodeDecodeError set on bad UTF-8: the caller clears it */
}

static PyObject *read_bytes(reader *r)
{
    int64_t n = blob_len(r, 0);
    if (n < 0) return NULL;
    PyObject *s = PyBytes_FromStringAndSize((const char *)r->p, (Py_ssize_t)n);
    r->p += n;
    return s;
}

static PyObject *read_any(reader *r);

static PyObject *read_list(reader *r)
{
    int64_t n = array_len(r);
    if (n < 0 || n > r->end - r->p || ++r->depth > MAX_DEPTH) return NULL;
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL) return NULL;
    for (int64_t i = 0; i < n; i++) {
        PyObject *item = read_any(r);
        if (item == NULL) { Py_DECREF(list); return NULL; }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    r->depth--;
    return list;
}

static PyObject *read_dict(reader *r)
{
    int64_t n = map_len(r);
    if (n < 0 || 2 * n > r->end - r->p || ++r->depth > MAX_DEPTH) return NULL;
    PyObject *dict = PyDict_New();
    if (dict == NULL) return NULL;
    for (int64_t i = 0; i < n; i++) {
        PyObject *key = read_any(r);
        if (key == NULL) { Py_DECREF(dict); return NULL; }
        PyObject *value = read_any(r);
        if (value == NULL || PyDict_SetItem(dict, key, value) < 0) {  /* an unhashable key fails here */
            Py_DECREF(key); Py_XDECREF(value); Py_DECREF(dict);
            return NULL;
        }
        Py_DECREF(key); Py_DECREF(value);
    }
    r->depth--;
    return dict;
}

/* Any msgpack value as msgpack.unpackb(raw=False, use_list=True) would build it;
 * NULL for what it would not (or would build as an ExtType: left to Python). */
static PyObject *read_any(reader *r)
{
    if (!need(r, 1)) return NULL;
    uint8_t b = *r->p;
    int negative;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3)) return read_int(r, &negative, NULL);
    if (b == 0xc0) { r->p++; Py_RETURN_NONE; }
    if (b == 0xc2) { r->p++; Py_RETURN_FALSE; }
    if (b == 0xc3) { r->p++; Py_RETURN_TRUE; }
    if (b == 0xca || b == 0xcb) return read_float(r);
    if ((b & 0xe0) == 0xa0 || b == 0xd9 || b == 0xda || b == 0xdb) return read_str(r);
    if (b == 0xc4 || b == 0xc5 || b == 0xc6) return read_bytes(r);
    if ((b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd) return read_list(r);
    if ((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf) return read_dict(r);
    return NULL;  /* ext types and the unused 0xc1 */
}

/* One field value checked against the spec at *spec (advanced past it); an
 * int or Guid field may reuse the int in memo (NULL: none). */
static PyObject *read_field(reader *r, const uint8_t **spec, const uint8_t *spec_end, int_memo *memo)
{
    if (*spec >= spec_end || !need(r, 1)) return NULL;
    uint8_t s = *(*spec)++;
    int kind = s & 0x7f, optional = (s & K_OPT) != 0;
    const uint8_t *elem = NULL;
    if (kind == K_LIST_OF) {
        elem = *spec;
        const uint8_t *q = *spec;
        while (q < spec_end && (*q & 0x7f) == K_LIST_OF) q++;
        if (q >= spec_end) return NULL;
        *spec = q + 1;
    }
    uint8_t b = *r->p;
    if (b == 0xc0 && (optional || kind == K_ANY)) { r->p++; Py_RETURN_NONE; }
    int negative;
    PyObject *v;
    switch (kind) {
        case K_ANY:
            return read_any(r);
        case K_INT:
            return (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3)) ? read_int(r, &negative, memo) : NULL;
        case K_GUID:
            if (!(b <= 0x7f || (b >= 0xcc && b <= 0xd3))) return NULL;
            v = read_int(r, &negative, memo);
            if (v != NULL && negative) { Py_DECREF(v); return NULL; }
            return v;
        case K_FLOAT:
            return read_float(r);
        case K_BOOL:
            if (b == 0xc2) { r->p++; Py_RETURN_FALSE; }
            if (b == 0xc3) { r->p++; Py_RETURN_TRUE; }
            return NULL;
        case K_STR:
            return read_str(r);
        case K_BYTES:
            return read_bytes(r);
        case K_LIST:
            return read_list(r);
        case K_DICT:
            return read_dict(r);
        case K_LIST_OF: {
            int64_t n = array_len(r);
            if (n < 0 || n > r->end - r->p || ++r->depth > MAX_DEPTH) return NULL;
            PyObject *list = PyList_New((Py_ssize_t)n);
            if (list == NULL) return NULL;
            for (int64_t i = 0; i < n; i++) {
                const uint8_t *e = elem;
                PyObject *item = read_field(r, &e, spec_end, NULL);
                if (item == NULL) { Py_DECREF(list); return NULL; }
                PyList_SET_ITEM(list, (Py_ssize_t)i, item);
            }
            r->depth--;
            return list;
        }
        default:  /* K_MESSAGE and anything unknown: Python's to check */
            return NULL;
    }
}

static Py_ssize_t find_type(const table *t, int64_t tid)
{
    Py_ssize_t lo = 0, hi = t->ntypes - 1;
    while (lo <= hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (t->tids[mid] == tid) return mid;
        if (t->tids[mid] < tid) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

/* The type id at r->p as a C integer; 0 if it is not an int in int64 range. */
static int read_tid(reader *r, int64_t *tid)
{
    if (!need(r, 1)) return 0;
    uint8_t b = *r->p;
    if (b <= 0x7f) { *tid = b; r->p++; return 1; }
    if (b >= 0xe0) { *tid = (int8_t)b; r->p++; return 1; }
    int n;
    switch (b) {
        case 0xcc: case 0xd0: n = 1; break;
        case 0xcd: case 0xd1: n = 2; break;
        case 0xce: case 0xd2: n = 4; break;
        case 0xcf: case 0xd3: n = 8; break;
        default: return 0;
    }
    if (!need(r, 1 + n)) return 0;
    uint64_t raw = be(r->p + 1, n);
    r->p += 1 + n;
    if (b <= 0xcf) {
        if (raw > (uint64_t)INT64_MAX) return 0;
        *tid = (int64_t)raw;
    } else {
        *tid = n == 1 ? (int8_t)raw : n == 2 ? (int16_t)raw : n == 4 ? (int32_t)raw : (int64_t)raw;
    }
    return 1;
}

/* What decoding one batch carries from message to message. */
typedef struct {
    int64_t tid;       /* the last message's type id and its index in the table (-1: none yet) */
    Py_ssize_t index;
    int_memo memo[MEMO_FIELDS];  /* per field position, see int_memo */
} batch_state;

/* One message: its class's tuple with the type id object first, then each field. */
static PyObject *read_message(reader *r, const table *t, PyObject *classes, PyObject *tid_objects,
                              batch_state *st)
{
    int64_t fields = array_len(r), tid;
    if (fields < 1 || !read_tid(r, &tid)) return NULL;
    Py_ssize_t i = st->index >= 0 && st->tid == tid ? st->index : find_type(t, tid);
    if (i < 0 || fields != (int64_t)t->arity[i] + 1) return NULL;
    st->tid = tid;
    st->index = i;
    PyTypeObject *cls = (PyTypeObject *)PyTuple_GET_ITEM(classes, i);
    PyObject *message = cls->tp_alloc(cls, (Py_ssize_t)fields);
    if (message == NULL) return NULL;
    PyObject *tid_object = PyTuple_GET_ITEM(tid_objects, i);
    Py_INCREF(tid_object);
    PyTuple_SET_ITEM(message, 0, tid_object);
    const uint8_t *spec = t->schema + t->at[i], *spec_end = t->schema + t->at[i + 1];
    int atomic = 1;
    for (int64_t f = 1; f < fields; f++) {
        PyObject *v = read_field(r, &spec, spec_end, f <= MEMO_FIELDS ? &st->memo[f - 1] : NULL);
        if (v == NULL) { Py_DECREF(message); return NULL; }  /* unset items are NULL: safe */
        PyTuple_SET_ITEM(message, (Py_ssize_t)f, v);
        if (atomic && PyObject_IS_GC(v) && PyObject_GC_IsTracked(v)) atomic = 0;
    }
    /* A message of plain values (numbers, strings, None) cannot be part of a
     * reference cycle, so the collector need not walk it: CPython untracks such
     * plain tuples the same way, but not tuple subclasses, because a subclass
     * instance may hold a __dict__. Messages are immutable values and never
     * get attributes set; one that did, in a cycle through itself, would only
     * never be collected. A tick holds up to 50,000 arrived messages, and
     * walking them in every young collection was about a third of a busy
     * receiver's time. */
    /* Only a class whose instances are bare tuples (no __dict__, no slots of
     * its own; engine/messages.py gives every message class __slots__ = ())
     * may be untracked: anything else could be made to point back. */
    if (atomic && cls->tp_dictoffset == 0 && cls->tp_basicsize == PyTuple_Type.tp_basicsize)
        PyObject_GC_UnTrack(message);
    return message;
}

static int get_table_buffer(PyObject *o, const char *name, Py_ssize_t itemsize, const void **out,
                            Py_ssize_t *count)
{
    if (!PyBytes_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be bytes", name);
        return 0;
    }
    Py_ssize_t len = PyBytes_GET_SIZE(o);
    if (len % itemsize) {
        PyErr_Format(PyExc_ValueError, "%s is not a whole number of items", name);
        return 0;
    }
    *out = PyBytes_AS_STRING(o);
    *count = len / itemsize;
    return 1;
}

PyDoc_STRVAR(decode_batch_doc,
"decode_batch(data, tids, arity, at, schema, classes, tid_objects, max_messages) -> list | None\n\n"
"The batch's messages built from msgpack bytes, or None if the batch is not\n"
"proven valid (the caller's Python decoder then decodes it or names the error).\n"
"tids (int64), arity and at (int32) and schema (uint8) are the schema table as\n"
"bytes; classes and tid_objects are tuples parallel to tids.");

PyDoc_STRVAR(decode_batch_to_doc,
"decode_batch_to(data, tids, arity, at, schema, classes, tid_objects, max_messages)\n"
"    -> (list, to | None) | None\n\n"
"decode_batch, and the `to` (field 1) every message of the batch shares: None\n"
"if they differ, or the batch is empty. A receiver routing a batch for one\n"
"address then needs no pass over the messages.");

/* The schema table from args[0..5] (tids, arity, at, schema, classes, tid_objects); 0 with an
 * error set if it is malformed. */
static int parse_table(PyObject *const *args, table *t, PyObject **classes, PyObject **tid_objects)
{
    Py_ssize_t n_arity, n_at;
    if (!get_table_buffer(args[0], "tids", 8, (const void **)&t->tids, &t->ntypes)
        || !get_table_buffer(args[1], "arity", 4, (const void **)&t->arity, &n_arity)
        || !get_table_buffer(args[2], "at", 4, (const void **)&t->at, &n_at)
        || !get_table_buffer(args[3], "schema", 1, (const void **)&t->schema, &t->schema_len))
        return 0;
    *classes = args[4];
    *tid_objects = args[5];
    if (!PyTuple_Check(*classes) || !PyTuple_Check(*tid_objects)
        || PyTuple_GET_SIZE(*classes) != t->ntypes || PyTuple_GET_SIZE(*tid_objects) != t->ntypes
        || n_arity != t->ntypes || n_at != t->ntypes + 1
        || (t->ntypes > 0 && (t->at[t->ntypes] > t->schema_len || t->at[0] < 0))) {
        PyErr_SetString(PyExc_ValueError, "the schema table's parts do not agree");
        return 0;
    }
    for (Py_ssize_t i = 0; i < t->ntypes; i++) {
        PyObject *c = PyTuple_GET_ITEM(*classes, i);
        if (!PyType_Check(c) || !PyType_IsSubtype((PyTypeObject *)c, &PyTuple_Type)
            || t->at[i] > t->at[i + 1]) {
            PyErr_SetString(PyExc_ValueError, "classes must be tuple subclasses and at ascending");
            return 0;
        }
    }
    return 1;
}

/* The batch in [p, end) as a list; NULL (an error may be set: the caller
 * clears it) if not proven. With to_out, *to_out is the `to` all messages
 * share (borrowed, NULL if they differ); with frm, every message's frm
 * (item 2) is replaced by it after its own was checked. */
static PyObject *decode_region(const uint8_t *p, const uint8_t *end, const table *t, PyObject *classes,
                               PyObject *tid_objects, Py_ssize_t max_messages, PyObject *frm,
                               PyObject **to_out)
{
    reader r = {p, end, 0};
    PyObject *out = NULL, *to = NULL;
    int to_differs = 0;
    int64_t n = array_len(&r);
    if (n < 0 || n > max_messages || n > r.end - r.p) return NULL;
    batch_state st;
    memset(&st, 0, sizeof st);
    st.index = -1;
    out = PyList_New((Py_ssize_t)n);
    for (int64_t m = 0; out != NULL && m < n; m++) {
        PyObject *message = read_message(&r, t, classes, tid_objects, &st);
        if (message == NULL) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, (Py_ssize_t)m, message);
        if (frm != NULL) {
            if (PyTuple_GET_SIZE(message) < 3) { Py_CLEAR(out); break; }  /* no frm to replace */
            PyObject *old = PyTuple_GET_ITEM(message, 2);
            Py_INCREF(frm);
            PyTuple_SET_ITEM(message, 2, frm);
            if (st.memo[1].obj == old) st.memo[1].obj = NULL;  /* the memo borrowed it: no longer held */
            Py_DECREF(old);
        }
        if (to_out == NULL || to_differs) continue;
        /* the memo hands out one int for one encoding: `is` settles nearly every message */
        PyObject *its = PyTuple_GET_SIZE(message) > 1 ? PyTuple_GET_ITEM(message, 1) : NULL;
        if (m == 0) to = its;
        else if (its != to) {
            int same = its != NULL && to != NULL ? PyObject_RichCompareBool(its, to, Py_EQ) : 0;
            if (same < 0) { Py_CLEAR(out); break; }
            to_differs = !same;
        }
    }
    if (out != NULL && r.p != r.end) Py_CLEAR(out);  /* trailing bytes */
    if (out != NULL && to_out != NULL)
        *to_out = to_differs || to == NULL || !PyLong_CheckExact(to) ? NULL : to;
    return out;
}

/* Decode a batch; with to_out, also set *to_out to the `to` all messages share
 * (borrowed, NULL if they differ). NULL (no error set) if not proven. */
static PyObject *decode(PyObject *const *args, Py_ssize_t nargs, const char *name, PyObject **to_out)
{
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "%s takes 8 arguments", name);
        return NULL;
    }
    table t;
    PyObject *classes, *tid_objects;
    if (!parse_table(args + 1, &t, &classes, &tid_objects)) return NULL;
    Py_ssize_t max_messages = PyLong_AsSsize_t(args[7]);
    if (max_messages == -1 && PyErr_Occurred()) return NULL;

    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    const uint8_t *p = (const uint8_t *)view.buf;
    PyObject *out = decode_region(p, p + view.len, &t, classes, tid_objects, max_messages, NULL, to_out);
    PyBuffer_Release(&view);
    /* Not proven: whatever went wrong (bad bytes, bad UTF-8, an unhashable
     * key, even memory) is the Python decoder's to report. */
    if (out == NULL) PyErr_Clear();
    return out;
}

static PyObject *decode_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    PyObject *out = decode(args, nargs, "decode_batch", NULL);
    if (out == NULL && !PyErr_Occurred()) Py_RETURN_NONE;
    return out;
}

static PyObject *decode_batch_to(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    PyObject *to = NULL;
    PyObject *out = decode(args, nargs, "decode_batch_to", &to);
    if (out == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    PyObject *pair = PyTuple_Pack(2, out, to != NULL ? to : Py_None);
    Py_DECREF(out);
    return pair;
}

PyDoc_STRVAR(decode_frames_doc,
"decode_frames(tids, arity, at, schema, classes, tid_objects, data, pos, frame_type,\n"
"              max_frame_bytes, max_messages, max_frames, frm) -> (list of lists, pos)\n\n"
"The batches of the whole frames at data[pos:], each a 4-byte big-endian length\n"
"(counting the type byte), a type byte equal to frame_type and a msgpack batch,\n"
"and the offset after the last one decoded. It stops before the first frame it\n"
"cannot prove: another type, a length under 2 or over max_frame_bytes, a partial\n"
"frame, a batch decode_batch would not prove, or after max_frames. With frm not\n"
"None, each message's frm is replaced by it once its own was checked. The table\n"
"comes first so that a caller can bind it once (functools.partial).\n\n"
"A server reading a client's whole MESSAGES frames, the usual read, then makes\n"
"one call for all of them: their checks, their messages and the stamp of the\n"
"sender, where Python would slice, check and stamp each.");

static PyObject *decode_frames(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 13) {
        PyErr_SetString(PyExc_TypeError, "decode_frames takes 13 arguments");
        return NULL;
    }
    table t;
    PyObject *classes, *tid_objects;
    if (!parse_table(args, &t, &classes, &tid_objects)) return NULL;
    Py_ssize_t pos = PyLong_AsSsize_t(args[7]);
    long frame_type = PyLong_AsLong(args[8]);
    Py_ssize_t max_frame_bytes = PyLong_AsSsize_t(args[9]);
    Py_ssize_t max_messages = PyLong_AsSsize_t(args[10]);
    Py_ssize_t max_frames = PyLong_AsSsize_t(args[11]);
    if (PyErr_Occurred()) return NULL;
    PyObject *frm = args[12] == Py_None ? NULL : args[12];
    if (pos < 0) {
        PyErr_SetString(PyExc_ValueError, "pos must not be negative");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[6], &view, PyBUF_SIMPLE) < 0) return NULL;
    const uint8_t *base = (const uint8_t *)view.buf;
    Py_ssize_t len = view.len;
    PyObject *batches = PyList_New(0);
    if (batches == NULL) { PyBuffer_Release(&view); return NULL; }
    while (len - pos > 5 && PyList_GET_SIZE(batches) < max_frames) {
        uint64_t length = be(base + pos, 4);
        if (base[pos + 4] != frame_type || length < 2 || (int64_t)length > max_frame_bytes
            || (int64_t)length > len - pos - 4)
            break;
        const uint8_t *start = base + pos + 5, *stop = base + pos + 4 + length;
        PyObject *batch = decode_region(start, stop, &t, classes, tid_objects, max_messages, frm, NULL);
        if (batch == NULL) {
            if (PyErr_ExceptionMatches(PyExc_MemoryError)) goto fail;
            PyErr_Clear();  /* not proven: the caller's careful path names the problem */
            break;
        }
        int appended = PyList_Append(batches, batch);
        Py_DECREF(batch);
        if (appended < 0) goto fail;
        pos += 4 + (Py_ssize_t)length;
    }
    PyBuffer_Release(&view);
    PyObject *result = Py_BuildValue("(Nn)", batches, pos);
    return result;
fail:
    PyBuffer_Release(&view);
    Py_DECREF(batches);
    return NULL;
}

/* ---- encoding ------------------------------------------------------------ */

#define ENCODE_DEPTH 500  /* msgpack.packb's own limit is 511: deeper goes to it */

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} out_buf;

enum { PACKED = 1, DECLINED = 0, FAILED = -1 };  /* FAILED: a Python error is set */

static int reserve(out_buf *b, Py_ssize_t more)
{
    if (b->len + more <= b->cap) return PACKED;
    Py_ssize_t cap = b->cap * 2 > b->len + more ? b->cap * 2 : b->len + more + 64;
    char *data = PyMem_Realloc(b->data, (size_t)cap);
    if (data == NULL) { PyErr_NoMemory(); return FAILED; }
    b->data = data;
    b->cap = cap;
    return PACKED;
}

static inline void put_be(char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) { p[i] = (char)(v & 0xff); v >>= 8; }
}

/* A one-byte tag followed by an n-byte big-endian value. */
static int put_tagged(out_buf *b, uint8_t tag, uint64_t v, int n)
{
    if (reserve(b, 1 + n) != PACKED) return FAILED;
    b->data[b->len] = (char)tag;
    put_be(b->data + b->len + 1, v, n);
    b->len += 1 + n;
    return PACKED;
}

static int put_int(out_buf *b, PyObject *o)
{
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(o);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) { PyErr_Clear(); return DECLINED; }
        return put_tagged(b, 0xcf, u, 8);
    }
    if (overflow < 0) return DECLINED;
    if (v == -1 && PyErr_Occurred()) { PyErr_Clear(); return DECLINED; }
    if (v < -(1LL << 5)) {
        if (v < -(1LL << 15)) return v < -(1LL << 31) ? put_tagged(b, 0xd3, (uint64_t)v, 8)
                                                      : put_tagged(b, 0xd2, (uint64_t)v & 0xffffffffu, 4);
        return v < -(1LL << 7) ? put_tagged(b, 0xd1, (uint64_t)v & 0xffff, 2)
                               : put_tagged(b, 0xd0, (uint64_t)v & 0xff, 1);
    }
    if (v < (1LL << 7)) {
        if (reserve(b, 1) != PACKED) return FAILED;
        b->data[b->len++] = (char)(v & 0xff);
        return PACKED;
    }
    if (v < (1LL << 16)) return v < (1LL << 8) ? put_tagged(b, 0xcc, (uint64_t)v, 1)
                                               : put_tagged(b, 0xcd, (uint64_t)v, 2);
    return v < (1LL << 32) ? put_tagged(b, 0xce, (uint64_t)v, 4) : put_tagged(b, 0xcf, (uint64_t)v, 8);
}

static int put_raw(out_buf *b, const char *p, Py_ssize_t n)
{
    if (reserve(b, n) != PACKED) return FAILED;
    memcpy(b->data + b->len, p, (size_t)n);
    b->len += n;
    return PACKED;
}

static int put_header(out_buf *b, Py_ssize_t n, uint8_t fix, int fix_bits, uint8_t tag8, uint8_t tag16,
                      uint8_t tag32)
{
    if (n < (1 << fix_bits)) {
        if (reserve(b, 1) != PACKED) return FAILED;
        b->data[b->len++] = (char)(fix | n);
        return PACKED;
    }
    if (tag8 && n < 256) return put_tagged(b, tag8, (uint64_t)n, 1);
    if (n < 65536) return put_tagged(b, tag16, (uint64_t)n, 2);
    if ((uint64_t)n <= 0xffffffffu) return put_tagged(b, tag32, (uint64_t)n, 4);
    return DECLINED;
}

static int put_value(out_buf *b, PyObject *o, int depth);

static int put_items(out_buf *b, PyObject *const *items, Py_ssize_t n, int depth)
{
    int got = put_header(b, n, 0x90, 4, 0, 0xdc, 0xdd);
    for (Py_ssize_t i = 0; got == PACKED && i < n; i++) got = put_value(b, items[i], depth + 1);
    return got;
}

static int put_value(out_buf *b, PyObject *o, int depth)
{
    if (depth > ENCODE_DEPTH) return DECLINED;
    if (PyLong_CheckExact(o)) return put_int(b, o);
    if (PyFloat_CheckExact(o)) {
        double d = PyFloat_AS_DOUBLE(o);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        return put_tagged(b, 0xcb, bits, 8);
    }
    if (PyTuple_Check(o)) return put_items(b, &PyTuple_GET_ITEM(o, 0), PyTuple_GET_SIZE(o), depth);
    if (PyList_CheckExact(o)) return put_items(b, PySequence_Fast_ITEMS(o), PyList_GET_SIZE(o), depth);
    if (PyUnicode_CheckExact(o)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(o, &n);
        if (p == NULL) { PyErr_Clear(); return DECLINED; }  /* lone surrogates: msgpack's error */
        int got = put_header(b, n, 0xa0, 5, 0xd9, 0xda, 0xdb);
        return got == PACKED ? put_raw(b, p, n) : got;
    }
    if (o == Py_None) return put_raw(b, "\xc0", 1);
    if (o == Py_True) return put_raw(b, "\xc3", 1);
    if (o == Py_False) return put_raw(b, "\xc2", 1);
    if (PyBytes_CheckExact(o)) {
        Py_ssize_t n = PyBytes_GET_SIZE(o);
        int got = n < 256 ? put_tagged(b, 0xc4, (uint64_t)n, 1) : put_header(b, n, 0, 0, 0, 0xc5, 0xc6);
        return got == PACKED ? put_raw(b, PyBytes_AS_STRING(o), n) : got;
    }
    if (PyDict_CheckExact(o)) {
        Py_ssize_t pos = 0, n = PyDict_GET_SIZE(o);
        PyObject *key, *value;
        int got = put_header(b, n, 0x80, 4, 0, 0xde, 0xdf);
        while (got == PACKED && PyDict_Next(o, &pos, &key, &value)) {
            got = put_value(b, key, depth + 1);
            if (got == PACKED) got = put_value(b, value, depth + 1);
        }
        return got;
    }
    return DECLINED;  /* subclasses, bytearray, sets, objects...: msgpack's to pack or refuse */
}

PyDoc_STRVAR(encode_batch_doc,
"encode_batch(messages) -> bytes | None\n\n"
"msgpack.packb(messages) for a list of messages (tuples) holding int, float,\n"
"str, bytes, bool, None, list, tuple and dict; None if it holds anything else\n"
"(the caller then uses msgpack, whose bytes or error it gets).");

static PyObject *encode_batch(PyObject *self, PyObject *messages)
{
    (void)self;
    if (!PyList_CheckExact(messages)) {
        PyErr_SetString(PyExc_TypeError, "encode_batch takes a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(messages);
    out_buf b = {NULL, 0, 0};
    int got = reserve(&b, 16 + 48 * n);
    if (got == PACKED) got = put_items(&b, PySequence_Fast_ITEMS(messages), n, 0);
    PyObject *result = NULL;
    if (got == PACKED) result = PyBytes_FromStringAndSize(b.data, b.len);
    else if (got == DECLINED) { result = Py_None; Py_INCREF(result); }
    PyMem_Free(b.data);
    return result;
}

PyDoc_STRVAR(encode_frames_doc,
"encode_frames(batches, frame_type, max_frame_bytes, max_messages) -> list of (bytes | None)\n\n"
"For each batch (a list of messages), the frame carrying it: a 4-byte big-endian\n"
"length counting the type byte, the frame_type byte, then encode_batch's bytes.\n"
"None where the batch has more than max_messages messages, its frame would pass\n"
"max_frame_bytes, or encode_batch would decline it: the caller frames that one\n"
"the careful way, which names the problem. A server sends one frame to each of\n"
"thousands of clients a tick; this is one call for all of them.");

static PyObject *encode_frames(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 4 || !PyList_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "encode_frames(batches: list, frame_type, max_frame_bytes, max_messages)");
        return NULL;
    }
    long frame_type = PyLong_AsLong(args[1]);
    Py_ssize_t max_frame_bytes = PyLong_AsSsize_t(args[2]);
    Py_ssize_t max_messages = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred()) return NULL;
    if (frame_type < 0 || frame_type > 255) {
        PyErr_SetString(PyExc_ValueError, "frame_type must fit in a byte");
        return NULL;
    }
    PyObject *batches = args[0];
    Py_ssize_t count = PyList_GET_SIZE(batches);
    PyObject *out = PyList_New(count);
    if (out == NULL) return NULL;
    out_buf b = {NULL, 0, 0};
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *batch = PyList_GET_ITEM(batches, i), *frame = NULL;
        if (PyList_CheckExact(batch) && PyList_GET_SIZE(batch) <= max_messages) {
            Py_ssize_t n = PyList_GET_SIZE(batch);
            b.len = 0;
            int got = reserve(&b, 5 + 16 + 48 * n);
            if (got == PACKED) { b.len = 5; got = put_items(&b, PySequence_Fast_ITEMS(batch), n, 0); }
            if (got == FAILED) { PyMem_Free(b.data); Py_DECREF(out); return NULL; }
            Py_ssize_t length = b.len - 4;  /* the type byte and the batch */
            if (got == PACKED && length <= max_frame_bytes && (uint64_t)length <= 0xffffffffu) {
                put_be(b.data, (uint64_t)length, 4);
                b.data[4] = (char)frame_type;
                frame = PyBytes_FromStringAndSize(b.data, b.len);
                if (frame == NULL) { PyMem_Free(b.data); Py_DECREF(out); return NULL; }
            }
        }
        if (frame == NULL) { frame = Py_None; Py_INCREF(frame); }
        PyList_SET_ITEM(out, i, frame);
    }
    PyMem_Free(b.data);
    return out;
}

static PyMethodDef methods[] = {
    {"decode_batch", (PyCFunction)(void (*)(void))decode_batch, METH_FASTCALL, decode_batch_doc},
    {"decode_batch_to", (PyCFunction)(void (*)(void))decode_batch_to, METH_FASTCALL, decode_batch_to_doc},
    {"decode_frames", (PyCFunction)(void (*)(void))decode_frames, METH_FASTCALL, decode_frames_doc},
    {"encode_batch", (PyCFunction)encode_batch, METH_O, encode_batch_doc},
    {"encode_frames", (PyCFunction)(void (*)(void))encode_frames, METH_FASTCALL, encode_frames_doc},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "native._codec",
    "Message batches to and from msgpack bytes in one pass (see native/codec.c).", -1, methods,
    NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit__codec(void) { return PyModule_Create(&module); }
