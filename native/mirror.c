/* mirror.c -- a client mirror's Moves rows, applied in one C loop.
 *
 * Every frame a client receives carries a Moves message with a row
 * [guid, x, y, z, yaw] for each entity in view that moved: a bot in a
 * crowd applies a few hundred rows twenty times a second, and in Python
 * the loop (unpack, type and finiteness checks, a dict lookup, a sample
 * appended) was most of a bots process (nodes/client/mirror.py).
 *
 * apply_moves(rows, entities, now, me) does what WorldMirror._moves_python
 * does, row by row, and returns (applied, bad, unknown, own):
 *   - a row that is not a list or tuple of five, or whose x, y, z, yaw are
 *     not numbers float() accepts, or not all finite, is counted bad;
 *   - a row for ``me`` (when ``me`` is not 0) is counted applied and its
 *     (x, y, z) goes into ``own``, for the caller to reconcile in order;
 *   - a row for a guid not in ``entities`` is applied but counted unknown;
 *   - otherwise (now, x, y, z, yaw) is appended to that entity's
 *     ``samples``.
 * Anything else going wrong (an entity without ``samples``) raises, as the
 * Python loop would. tests/client/test_mirror.py checks both loops agree.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

static PyObject *str_samples, *str_append;

/* float(o) as a new reference (o itself when it is a float); NULL and an error set when float() refuses. */
static PyObject *as_float(PyObject *o) {
    if (PyFloat_CheckExact(o)) {
        Py_INCREF(o);
        return o;
    }
    return PyNumber_Float(o);
}

PyDoc_STRVAR(apply_moves_doc,
"apply_moves(rows, entities, now, me) -> (applied, bad, unknown, own)\n\n"
"Append (now, x, y, z, yaw) to entities[guid].samples for each valid row; see native/mirror.c.");

static PyObject *apply_moves(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "apply_moves(rows, entities, now, me)");
        return NULL;
    }
    PyObject *rows = args[0], *entities = args[1], *now = args[2], *me = args[3];
    if (!PyList_Check(rows) || !PyDict_Check(entities)) {
        PyErr_SetString(PyExc_TypeError, "apply_moves: rows must be a list and entities a dict");
        return NULL;
    }
    int has_me = PyObject_IsTrue(me);
    if (has_me < 0)
        return NULL;
    Py_ssize_t applied = 0, bad = 0, unknown = 0;
    PyObject *guid = NULL;
    PyObject *f[4];  /* a row's x, y, z, yaw as floats (the row's own objects when they are floats) */
    PyObject *own = PyList_New(0);
    if (own == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(rows); i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        PyObject *const *items;
        if (PyList_Check(row) && PyList_GET_SIZE(row) == 5)
            items = (PyObject *const *)((PyListObject *)row)->ob_item;
        else if (PyTuple_Check(row) && PyTuple_GET_SIZE(row) == 5)
            items = (PyObject *const *)((PyTupleObject *)row)->ob_item;
        else {
            bad++;
            continue;
        }
        guid = items[0];
        Py_INCREF(guid);  /* float() of an odd value may run code that changes the row */
        f[0] = f[1] = f[2] = f[3] = NULL;
        double v[4];
        int ok = 1;
        for (int k = 0; k < 4 && ok; k++) {
            f[k] = as_float(items[k + 1]);
            if (f[k] == NULL) {
                PyErr_Clear();
                ok = 0;
            } else {
                v[k] = PyFloat_AS_DOUBLE(f[k]);
                ok = isfinite(v[k]);
            }
        }
        if (!ok) {
            for (int k = 0; k < 4; k++)
                Py_XDECREF(f[k]);
            Py_DECREF(guid);
            bad++;
            continue;
        }
        applied++;
        if (has_me) {
            int mine = PyObject_RichCompareBool(guid, me, Py_EQ);
            if (mine < 0)
                goto fail_row;
            if (mine) {
                PyObject *at = PyTuple_Pack(3, f[0], f[1], f[2]);
                if (at == NULL || PyList_Append(own, at) < 0) {
                    Py_XDECREF(at);
                    goto fail_row;
                }
                Py_DECREF(at);
                for (int k = 0; k < 4; k++)
                    Py_DECREF(f[k]);
                Py_DECREF(guid);
                continue;
            }
        }
        PyObject *ent = PyDict_GetItemWithError(entities, guid);  /* borrowed */
        if (ent == NULL) {
            if (PyErr_Occurred()) {
                if (!PyErr_ExceptionMatches(PyExc_TypeError))  /* an unhashable guid: unknown */
                    goto fail_row;
                PyErr_Clear();
            }
            for (int k = 0; k < 4; k++)
                Py_DECREF(f[k]);
            Py_DECREF(guid);
            unknown++;
            continue;
        }
        Py_DECREF(guid);
        PyObject *sample = PyTuple_New(5);  /* (now, x, y, z, yaw): it takes over the floats */
        if (sample == NULL) {
            for (int k = 0; k < 4; k++)
                Py_DECREF(f[k]);
            goto fail;
        }
        Py_INCREF(now);
        PyTuple_SET_ITEM(sample, 0, now);
        for (int k = 0; k < 4; k++)
            PyTuple_SET_ITEM(sample, k + 1, f[k]);
        Py_INCREF(ent);
        PyObject *samples = PyObject_GetAttr(ent, str_samples);
        Py_DECREF(ent);
        if (samples == NULL) {
            Py_DECREF(sample);
            goto fail;
        }
        PyObject *r = PyObject_CallMethodOneArg(samples, str_append, sample);
        Py_DECREF(samples);
        Py_DECREF(sample);
        if (r == NULL)
            goto fail;
        Py_DECREF(r);
    }
    return Py_BuildValue("(nnnN)", applied, bad, unknown, own);
fail_row:
    for (int k = 0; k < 4; k++)
        Py_DECREF(f[k]);
    Py_DECREF(guid);
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
    str_samples = PyUnicode_InternFromString("samples");
    str_append = PyUnicode_InternFromString("append");
    if (str_samples == NULL || str_append == NULL)
        return NULL;
    return PyModule_Create(&module);
}
