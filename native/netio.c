/* netio.c -- client socket I/O on a thread of its own, outside the GIL.
 *
 * At a few thousand clients, most of a network module's tick was the
 * kernel: one recv and one send per client per tick, and on loopback a
 * send also runs the peer's TCP receive path. A Pump moves those system
 * calls to one native thread, so the tick only parses and builds frames:
 *
 *   - the thread waits in epoll for readable sockets and reads what they
 *     have into a per-socket input buffer (bounded: past read_cap it stops
 *     reading that socket until the tick takes the bytes, so a flooding
 *     client is held back by TCP, not by our memory);
 *   - the tick takes every socket's input at once (collect), feeds it to the
 *     sans-IO protocol objects, and hands the frames to send back in one call
 *     (write); the thread sends them, keeping what the kernel does not take
 *     and sending it when the socket is writable again;
 *   - end of file and socket errors come back through collect, after the
 *     bytes that arrived before them.
 *
 * The thread works in rounds of at least `pace` (1 ms by default): wait for
 * ready sockets, read them, send what is queued, then sleep out the rest of
 * the round. Without the pace it would wake for every arriving frame, and
 * at thousands of clients the wake-ups cost more than the reads; with it a
 * round reads tens of sockets per epoll_wait, as the tick did when it read
 * them itself, for at most a millisecond of added latency.
 *
 * hold(True) keeps the thread from starting a round until hold(False): the
 * network module holds it for its own tick, so on a small machine the two do
 * not compete for one core (docs/design.md).
 *
 * The Python side never blocks on the thread except in remove(), which
 * waits until the thread is out of any system call on that socket, so the
 * caller may close the descriptor (and the kernel may reuse its number)
 * right after. Locking: one mutex guards the connection table and every
 * buffer. The thread takes it twice a round: to plan the round's recv and
 * send calls (marking those connections busy, reserving room to read into),
 * and to apply their results; the calls themselves run without it, so the
 * tick's collect() and write() never wait behind a system call. The thread
 * never touches a Python object.
 *
 * Linux only (epoll, eventfd); engine/modules/_client_io.py falls back to
 * reading and writing inside the tick where this module is not built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
#define MAX_EVENTS 1024

typedef struct {
    char *data;
    size_t len, cap, off; /* off: bytes of data already sent (output buffers only) */
} buffer;

typedef struct {
    int fd;
    int busy;      /* the thread has a system call on fd planned or in flight (0 or 1) */
    int removed;   /* remove() is waiting for busy to clear */
    int reading;   /* EPOLLIN armed */
    int want_out;  /* the kernel took less than we had: wait for EPOLLOUT */
    int listed;    /* on the ready list (input or a loss to report) */
    int shut_wr;   /* shut our write side once everything is sent */
    int shut_done;
    int lost;      /* end of file or an error: nothing more is read or sent */
    int reported;  /* the loss went out through collect */
    int err;       /* errno of the loss; 0 for end of file */
    buffer in;     /* received, not yet collected */
    buffer out;    /* written by the tick, not yet handed to the kernel */
    buffer sending;/* being handed to the kernel by the thread */
} conn;

typedef struct {
    int *fds;
    size_t len, cap;
} fd_list;

typedef struct {
    PyObject_HEAD
    pthread_mutex_t lock;
    pthread_cond_t idle;   /* signalled when a removed connection's busy clears */
    pthread_cond_t unheld; /* signalled when hold(False) lets the thread go on */
    int held;              /* hold(True): the thread starts no round until hold(False) */
    pthread_t thread;
    int started, stopping;
    int epfd, wakefd;
    size_t read_cap;
    char *scratch;         /* the thread's reads land here first: MAX_EVENTS slots of CHUNK */
    long pace_ns;          /* a round of the thread lasts at least this long */
    conn **by_fd;          /* indexed by descriptor */
    size_t nslots;
    fd_list ready;         /* connections with input or a loss for collect */
    fd_list dirty;         /* connections with output for the thread */
    /* counters, read by stats() */
    unsigned long long reads, writes, short_writes, wakeups, bytes_in, bytes_out, rounds;
    size_t open;
} Pump;

/* ---- small helpers (callers hold the lock) ------------------------------- */

static int buf_append(buffer *b, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL) return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static void buf_free(buffer *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = b->off = 0;
}

static int list_push(fd_list *l, int fd)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        int *f = realloc(l->fds, cap * sizeof *f);
        if (f == NULL) return -1;
        l->fds = f;
        l->cap = cap;
    }
    l->fds[l->len++] = fd;
    return 0;
}

static inline conn *lookup(Pump *p, int fd)
{
    if (fd < 0 || (size_t)fd >= p->nslots) return NULL;
    conn *c = p->by_fd[fd];
    return (c != NULL && !c->removed) ? c : NULL;
}

static size_t unsent(const conn *c) { return c->out.len + (c->sending.len - c->sending.off); }

/* Arm epoll for what the connection waits for now. */
static void rearm(Pump *p, conn *c)
{
    struct epoll_event ev = {0};
    ev.data.fd = c->fd;
    ev.events = (c->reading ? EPOLLIN : 0) | (c->want_out ? EPOLLOUT : 0);
    if (!ev.events) ev.events = EPOLLET; /* hang-ups are still reported, but once */
    epoll_ctl(p->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void mark_lost(Pump *p, conn *c, int err)
{
    if (c->lost) return;
    c->lost = 1;
    c->err = err;
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (!c->listed) {
        c->listed = 1;
        list_push(&p->ready, c->fd);
    }
}

/* ---- the thread ------------------------------------------------------------- */

/* One system call of a round: planned under the lock, made without it,
 * applied under it again. */
typedef struct {
    conn *c;
    char *data;    /* recv: where to read (room reserved in c->in); send: what to send */
    size_t n;
    ssize_t result;
    int err;
} io_op;

typedef struct {
    io_op *ops;
    size_t len, cap;
} op_list;

static io_op *op_push(op_list *l)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        io_op *o = realloc(l->ops, cap * sizeof *o);
        if (o == NULL) return NULL;
        l->ops = o;
        l->cap = cap;
    }
    io_op *op = &l->ops[l->len++];
    memset(op, 0, sizeof *op);
    return op;
}

/* Plan a read of c into the round's scratch (slot i of MAX_EVENTS, CHUNK bytes each:
 * virtual memory, of which only the pages a read fills become real). */
static void plan_read(op_list *reads, conn *c, char *scratch)
{
    if (c->lost || !c->reading) return;
    io_op *op = op_push(reads);
    if (op == NULL) return;
    op->c = c;
    op->data = scratch + (reads->len - 1) * (size_t)CHUNK;
    op->n = CHUNK;
    c->busy++; /* remove() waits for it */
}

/* Plan a send of what c has queued; shut its write side if asked and all is sent. */
static void plan_write(Pump *p, op_list *writes, conn *c)
{
    if (c->lost || c->want_out) return;
    if (c->sending.off == c->sending.len) {
        buffer t = c->sending; /* swap: the tick appends to out while we send */
        t.len = t.off = 0;
        if (t.cap > 4 * CHUNK) buf_free(&t); /* a burst is over: give the memory back */
        c->sending = c->out;
        c->out = t;
    }
    if (c->sending.len == 0) {
        if (c->shut_wr && !c->shut_done) {
            c->shut_done = 1;
            shutdown(c->fd, SHUT_WR);
        }
        return;
    }
    io_op *op = op_push(writes);
    if (op == NULL) return;
    op->c = c;
    op->data = c->sending.data + c->sending.off;
    op->n = c->sending.len - c->sending.off;
    c->busy++;
    (void)p;
}

/* After the call: 1 if the connection is still served, else 0 (and remove() is told). */
static int settle(Pump *p, conn *c)
{
    c->busy--;
    if (c->removed) {
        if (!c->busy) pthread_cond_broadcast(&p->idle);
        return 0;
    }
    return 1;
}

static void apply_read(Pump *p, io_op *op)
{
    conn *c = op->c;
    if (!settle(p, c)) return;
    p->reads++;
    if (op->result > 0) {
        p->bytes_in += (unsigned long long)op->result;
        if (buf_append(&c->in, op->data, (size_t)op->result) < 0) {
            mark_lost(p, c, ENOMEM);
            return;
        }
        if (!c->listed) {
            c->listed = 1;
            list_push(&p->ready, c->fd);
        }
        if (c->in.len >= p->read_cap && c->reading) { /* the tick has not caught up: TCP holds the rest */
            c->reading = 0;
            rearm(p, c);
        }
    } else if (op->result == 0) {
        mark_lost(p, c, 0);
    } else if (op->err != EAGAIN && op->err != EWOULDBLOCK && op->err != EINTR) {
        mark_lost(p, c, op->err);
    }
}

static void apply_write(Pump *p, io_op *op)
{
    conn *c = op->c;
    if (!settle(p, c)) return;
    p->writes++;
    if (op->result > 0) {
        p->bytes_out += (unsigned long long)op->result;
        c->sending.off += (size_t)op->result;
        if ((size_t)op->result < op->n) {
            p->short_writes++;
            c->want_out = 1;
            rearm(p, c);
        } else if (c->out.len || c->shut_wr) {
            list_push(&p->dirty, c->fd); /* queued meanwhile, or a shutdown to make: next round */
        }
    } else if (op->result < 0 && (op->err == EAGAIN || op->err == EWOULDBLOCK || op->err == EINTR)) {
        p->short_writes++;
        c->want_out = 1;
        rearm(p, c);
    } else if (!c->lost) {
        mark_lost(p, c, op->result == 0 ? EPIPE : op->err);
    }
}

static long since_ns(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000000000L + (t1.tv_nsec - t0->tv_nsec);
}

static void *run(void *arg)
{
    Pump *p = arg;
    struct epoll_event events[MAX_EVENTS];
    op_list reads = {NULL, 0, 0}, writes = {NULL, 0, 0};
    char *scratch = p->scratch;
    int again = 0; /* output was left for the next round: do not wait for an event */
    for (;;) {
        int n = epoll_wait(p->epfd, events, MAX_EVENTS, again ? 0 : -1);
        if (n < 0 && errno != EINTR) break;
        if (n < 0) n = 0;
        struct timespec started;
        clock_gettime(CLOCK_MONOTONIC, &started);

        /* 1. Under the lock: what to read and what to send. */
        pthread_mutex_lock(&p->lock);
        while (p->held && !p->stopping) pthread_cond_wait(&p->unheld, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        p->rounds++;
        reads.len = writes.len = 0;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == p->wakefd) {
                uint64_t count;
                if (read(p->wakefd, &count, sizeof count) > 0) p->wakeups++;
                continue;
            }
            conn *c = lookup(p, fd);
            if (c == NULL || c->lost) continue;
            if ((events[i].events & EPOLLOUT) && c->want_out) {
                c->want_out = 0;
                rearm(p, c);
                list_push(&p->dirty, fd);
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) plan_read(&reads, c, scratch);
        }
        fd_list dirty = p->dirty; /* write() and apply_write fill a fresh list meanwhile */
        p->dirty.fds = NULL;
        p->dirty.len = p->dirty.cap = 0;
        for (size_t i = 0; i < dirty.len; i++) {
            conn *c = lookup(p, dirty.fds[i]);
            if (c == NULL) continue;
            if (c->busy) list_push(&p->dirty, c->fd); /* a read in flight: send next round */
            else plan_write(p, &writes, c);
        }
        free(dirty.fds);
        pthread_mutex_unlock(&p->lock);

        /* 2. The system calls, with no lock held. */
        for (size_t i = 0; i < reads.len; i++) {
            io_op *op = &reads.ops[i];
            op->result = recv(op->c->fd, op->data, op->n, MSG_DONTWAIT);
            op->err = errno;
        }
        for (size_t i = 0; i < writes.len; i++) {
            io_op *op = &writes.ops[i];
            op->result = send(op->c->fd, op->data, op->n, MSG_NOSIGNAL | MSG_DONTWAIT);
            op->err = errno;
        }

        /* 3. Under the lock: what they did. */
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < reads.len; i++) apply_read(p, &reads.ops[i]);
        for (size_t i = 0; i < writes.len; i++) apply_write(p, &writes.ops[i]);
        again = p->dirty.len > 0;
        pthread_mutex_unlock(&p->lock);

        long left = p->pace_ns - since_ns(&started);
        if (left > 0 && n < MAX_EVENTS) {
            struct timespec nap = {0, left};
            nanosleep(&nap, NULL);
        }
    }
    free(reads.ops);
    free(writes.ops);
    return NULL;
}

/* ---- the Python face ------------------------------------------------------- */

static void wake(Pump *p)
{
    uint64_t one = 1;
    ssize_t ignored = write(p->wakefd, &one, sizeof one);
    (void)ignored;
}

static int pump_init(Pump *p, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"read_cap", "pace", NULL};
    Py_ssize_t read_cap = 1 << 20;
    double pace = 0.001;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|nd", kwlist, &read_cap, &pace)) return -1;
    if (read_cap < 1) {
        PyErr_SetString(PyExc_ValueError, "read_cap must be at least 1 byte");
        return -1;
    }
    if (!(pace >= 0 && pace < 1)) {
        PyErr_SetString(PyExc_ValueError, "pace must be at least 0 and under 1 second");
        return -1;
    }
    p->pace_ns = (long)(pace * 1e9);
    p->scratch = malloc((size_t)MAX_EVENTS * CHUNK); /* virtual: pages become real as reads fill them */
    if (p->scratch == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (p->started) {
        PyErr_SetString(PyExc_RuntimeError, "a Pump is initialised once");
        return -1;
    }
    p->read_cap = (size_t)read_cap;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->epfd < 0 || p->wakefd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    struct epoll_event ev = {0};
    ev.events = EPOLLIN;
    ev.data.fd = p->wakefd;
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &ev) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->idle, NULL);
    pthread_cond_init(&p->unheld, NULL);
    /* The thread blocks every signal, so SIGINT and SIGTERM reach the main
     * thread, whose Python handlers stop the node. */
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    int rc = pthread_create(&p->thread, NULL, run, p);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    if (rc != 0) {
        errno = rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    p->started = 1;
    return 0;
}

static void stop_thread(Pump *p)
{
    if (!p->started) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->unheld);
    pthread_mutex_unlock(&p->lock);
    wake(p);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(p->thread, NULL);
    Py_END_ALLOW_THREADS
    p->started = 0;
}

static void free_conn(conn *c)
{
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->sending);
    free(c);
}

static void pump_dealloc(Pump *p)
{
    stop_thread(p);
    for (size_t i = 0; i < p->nslots; i++)
        if (p->by_fd[i] != NULL) free_conn(p->by_fd[i]);
    free(p->by_fd);
    free(p->ready.fds);
    free(p->dirty.fds);
    free(p->scratch);
    if (p->epfd > 0) close(p->epfd);
    if (p->wakefd > 0) close(p->wakefd);
    Py_TYPE(p)->tp_free((PyObject *)p);
}

static PyObject *pump_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    Pump *p = (Pump *)type->tp_alloc(type, 0);
    if (p != NULL) p->epfd = p->wakefd = -1;
    return (PyObject *)p;
}

/* A descriptor from a Python int; -1 with an exception set if it is not one. */
static int as_fd(PyObject *o)
{
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < 0 || v > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "not a file descriptor: %ld", v);
        return -1;
    }
    return (int)v;
}

static int check_running(Pump *p)
{
    if (!p->started) {
        PyErr_SetString(PyExc_RuntimeError, "the Pump is closed");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(add_doc, "add(fd)\n--\n\nServe a connected non-blocking socket: read it from now on.");

static PyObject *pump_add(Pump *p, PyObject *arg)
{
    int fd = as_fd(arg);
    if (fd < 0) return NULL;
    if (check_running(p) < 0) return NULL;
    conn *c = calloc(1, sizeof *c);
    if (c == NULL) return PyErr_NoMemory();
    c->fd = fd;
    c->reading = 1;
    pthread_mutex_lock(&p->lock);
    if ((size_t)fd >= p->nslots) {
        size_t n = p->nslots ? p->nslots : 1024;
        while (n <= (size_t)fd) n *= 2;
        conn **t = realloc(p->by_fd, n * sizeof *t);
        if (t == NULL) {
            pthread_mutex_unlock(&p->lock);
            free(c);
            return PyErr_NoMemory();
        }
        memset(t + p->nslots, 0, (n - p->nslots) * sizeof *t);
        p->by_fd = t;
        p->nslots = n;
    }
    if (p->by_fd[fd] != NULL) {
        pthread_mutex_unlock(&p->lock);
        free(c);
        PyErr_Format(PyExc_ValueError, "descriptor %d is served already", fd);
        return NULL;
    }
    struct epoll_event ev = {0};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        pthread_mutex_unlock(&p->lock);
        free(c);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    p->by_fd[fd] = c;
    p->open++;
    pthread_mutex_unlock(&p->lock);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(remove_doc,
"remove(fd)\n--\n\n"
"Stop serving fd and forget what it had buffered either way. On return the\n"
"thread is in no system call on it: the caller may close it.");

static PyObject *pump_remove(Pump *p, PyObject *arg)
{
    int fd = as_fd(arg);
    if (fd < 0) return NULL;
    pthread_mutex_lock(&p->lock);
    conn *c = lookup(p, fd);
    if (c == NULL) {
        pthread_mutex_unlock(&p->lock);
        Py_RETURN_NONE;
    }
    c->removed = 1;
    if (!c->lost) epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
    while (c->busy) pthread_cond_wait(&p->idle, &p->lock); /* microseconds: one recv or send */
    p->by_fd[fd] = NULL;
    p->open--;
    pthread_mutex_unlock(&p->lock);
    free_conn(c);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(collect_doc,
"collect() -> (received, lost)\n--\n\n"
"What arrived since the last call: received is a list of (fd, bytes), lost a\n"
"list of (fd, errno) for sockets at end of file (errno 0) or failed. A\n"
"socket's bytes come before its loss.");

typedef struct {
    int fd, lost, err;
    buffer in;
} taken;

static PyObject *pump_collect(Pump *p, PyObject *unused)
{
    (void)unused;
    /* Take the buffers under the lock, build Python objects after it: making
     * objects can run the garbage collector, and with it arbitrary code. */
    pthread_mutex_lock(&p->lock);
    fd_list ready = p->ready;
    p->ready.fds = NULL;
    p->ready.len = p->ready.cap = 0;
    taken *got = ready.len ? calloc(ready.len, sizeof *got) : NULL;
    size_t ngot = 0;
    for (size_t i = 0; i < ready.len && (got != NULL); i++) {
        conn *c = lookup(p, ready.fds[i]);
        if (c == NULL || !c->listed) continue;
        c->listed = 0;
        taken *t = &got[ngot];
        t->fd = c->fd;
        if (c->in.len) {
            t->in = c->in; /* the connection starts a fresh buffer */
            memset(&c->in, 0, sizeof c->in);
        }
        if (c->lost && !c->reported) {
            t->lost = 1;
            t->err = c->err;
            c->reported = 1;
        } else if (!c->lost && !c->reading) { /* it was held back at read_cap: read on */
            c->reading = 1;
            rearm(p, c);
        }
        if (t->in.len || t->lost) ngot++;
    }
    if (got == NULL && ready.len) { /* out of memory: put the list back, try next time */
        p->ready = ready;
        pthread_mutex_unlock(&p->lock);
        return PyErr_NoMemory();
    }
    pthread_mutex_unlock(&p->lock);
    free(ready.fds);
    PyObject *received = PyList_New(0), *lost = PyList_New(0);
    int failed = received == NULL || lost == NULL;
    for (size_t i = 0; i < ngot; i++) {
        taken *t = &got[i];
        if (!failed && t->in.len) {
            PyObject *item = Py_BuildValue("(iy#)", t->fd, t->in.data, (Py_ssize_t)t->in.len);
            if (item == NULL || PyList_Append(received, item) < 0) failed = 1;
            Py_XDECREF(item);
        }
        if (!failed && t->lost) {
            PyObject *item = Py_BuildValue("(ii)", t->fd, t->err);
            if (item == NULL || PyList_Append(lost, item) < 0) failed = 1;
            Py_XDECREF(item);
        }
        buf_free(&t->in);
    }
    free(got);
    if (failed) {
        Py_XDECREF(received);
        Py_XDECREF(lost);
        return NULL;
    }
    PyObject *out = PyTuple_Pack(2, received, lost);
    Py_DECREF(received);
    Py_DECREF(lost);
    return out;
}

PyDoc_STRVAR(write_doc,
"write(fds, datas, limit) -> list\n--\n\n"
"Queue datas[i] for fds[i], in order, and wake the thread once. Returns\n"
"(fd, unsent bytes) for each socket whose unsent output now passes limit\n"
"(it stopped reading). Unknown or lost descriptors are skipped.");

static PyObject *pump_write(Pump *p, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_CheckExact(args[0]) || !PyList_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "write(fds: list, datas: list, limit: int)");
        return NULL;
    }
    if (check_running(p) < 0) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(args[0]);
    if (PyList_GET_SIZE(args[1]) != n) {
        PyErr_SetString(PyExc_ValueError, "write: as many datas as fds");
        return NULL;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    if (limit == -1 && PyErr_Occurred()) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) { /* check everything before queueing anything */
        if (!PyBytes_CheckExact(PyList_GET_ITEM(args[1], i))) {
            PyErr_SetString(PyExc_TypeError, "write: datas are bytes");
            return NULL;
        }
        if (as_fd(PyList_GET_ITEM(args[0], i)) < 0) return NULL;
    }
    int *over_fd = NULL;
    size_t *over_n = NULL, nover = 0;
    int queued = 0;
    pthread_mutex_lock(&p->lock);
    for (Py_ssize_t i = 0; i < n; i++) {
        int fd = as_fd(PyList_GET_ITEM(args[0], i));
        PyObject *data = PyList_GET_ITEM(args[1], i);
        conn *c = lookup(p, fd);
        if (c == NULL || c->lost || PyBytes_GET_SIZE(data) == 0) continue;
        int was_idle = unsent(c) == 0;
        if (buf_append(&c->out, PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data)) < 0) {
            mark_lost(p, c, ENOMEM);
            continue;
        }
        if (was_idle && !c->want_out) {
            list_push(&p->dirty, fd);
            queued = 1;
        }
        size_t pending = unsent(c);
        if (pending > (size_t)limit) { /* rare: a client that stopped reading */
            int *f = realloc(over_fd, (nover + 1) * sizeof *f);
            if (f != NULL) over_fd = f;
            size_t *m = realloc(over_n, (nover + 1) * sizeof *m);
            if (m != NULL) over_n = m;
            if (f != NULL && m != NULL) {
                over_fd[nover] = fd;
                over_n[nover++] = pending;
            }
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (queued) wake(p);
    PyObject *over = PyList_New(0);
    for (size_t i = 0; over != NULL && i < nover; i++) {
        PyObject *item = Py_BuildValue("(in)", over_fd[i], (Py_ssize_t)over_n[i]);
        if (item == NULL || PyList_Append(over, item) < 0) Py_CLEAR(over);
        Py_XDECREF(item);
    }
    free(over_fd);
    free(over_n);
    return over;
}

PyDoc_STRVAR(shutdown_doc,
"shutdown(fd)\n--\n\n"
"Shut fd's write side once everything queued for it is sent (a close\n"
"frame goes out first); reading goes on, to see the peer's end of file.");

static PyObject *pump_shutdown(Pump *p, PyObject *arg)
{
    int fd = as_fd(arg);
    if (fd < 0) return NULL;
    if (check_running(p) < 0) return NULL;
    pthread_mutex_lock(&p->lock);
    conn *c = lookup(p, fd);
    if (c != NULL && !c->lost && !c->shut_wr) {
        c->shut_wr = 1;
        list_push(&p->dirty, fd);
    }
    pthread_mutex_unlock(&p->lock);
    wake(p);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(unsent_doc, "unsent(fd) -> int\n--\n\nBytes queued for fd that the kernel has not taken yet.");

static PyObject *pump_unsent(Pump *p, PyObject *arg)
{
    int fd = as_fd(arg);
    if (fd < 0) return NULL;
    pthread_mutex_lock(&p->lock);
    conn *c = lookup(p, fd);
    size_t n = c ? unsent(c) : 0;
    pthread_mutex_unlock(&p->lock);
    return PyLong_FromSize_t(n);
}

PyDoc_STRVAR(stats_doc,
"stats() -> dict\n--\n\n"
"Counters since start: reads, writes, short_writes (the kernel took less\n"
"than offered), wakeups, bytes_in, bytes_out; open sockets; stalled\n"
"(sockets with unsent output) and unsent_bytes now.");

static PyObject *pump_stats(Pump *p, PyObject *unused)
{
    (void)unused;
    pthread_mutex_lock(&p->lock);
    size_t stalled = 0, pending = 0;
    for (size_t i = 0; i < p->nslots; i++) {
        conn *c = p->by_fd[i];
        if (c != NULL && !c->removed && unsent(c)) {
            stalled++;
            pending += unsent(c);
        }
    }
    PyObject *out = Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:n,s:n,s:n}", "rounds", p->rounds, "reads", p->reads, "writes", p->writes,
        "short_writes", p->short_writes, "wakeups", p->wakeups, "bytes_in", p->bytes_in,
        "bytes_out", p->bytes_out, "open", (Py_ssize_t)p->open, "stalled", (Py_ssize_t)stalled,
        "unsent_bytes", (Py_ssize_t)pending);
    pthread_mutex_unlock(&p->lock);
    return out;
}

PyDoc_STRVAR(hold_doc,
"hold(on)\n--\n\n"
"hold(True): the thread finishes the round it is in and starts no other\n"
"until hold(False). What arrives meanwhile waits in the kernel; what write()\n"
"queues meanwhile is sent after. The network module holds the thread for\n"
"its own tick, so on a small machine the two do not compete for a core.");

static PyObject *pump_hold(Pump *p, PyObject *arg)
{
    int on = PyObject_IsTrue(arg);
    if (on < 0) return NULL;
    pthread_mutex_lock(&p->lock);
    p->held = on;
    if (!on) pthread_cond_broadcast(&p->unheld);
    pthread_mutex_unlock(&p->lock);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(close_doc, "close()\n--\n\nStop the thread. Sockets are not closed: they are the caller's.");

static PyObject *pump_close(Pump *p, PyObject *unused)
{
    (void)unused;
    stop_thread(p);
    Py_RETURN_NONE;
}

static PyMethodDef pump_methods[] = {
    {"add", (PyCFunction)pump_add, METH_O, add_doc},
    {"remove", (PyCFunction)pump_remove, METH_O, remove_doc},
    {"collect", (PyCFunction)pump_collect, METH_NOARGS, collect_doc},
    {"write", (PyCFunction)(void (*)(void))pump_write, METH_FASTCALL, write_doc},
    {"shutdown", (PyCFunction)pump_shutdown, METH_O, shutdown_doc},
    {"unsent", (PyCFunction)pump_unsent, METH_O, unsent_doc},
    {"stats", (PyCFunction)pump_stats, METH_NOARGS, stats_doc},
    {"hold", (PyCFunction)pump_hold, METH_O, hold_doc},
    {"close", (PyCFunction)pump_close, METH_NOARGS, close_doc},
    {NULL, NULL, 0, NULL}
};

PyDoc_STRVAR(pump_doc,
"Pump(read_cap=1 MiB, pace=0.001)\n--\n\n"
"Reads and writes client sockets on a native thread (see native/netio.c).\n"
"read_cap bounds the bytes held per socket between two collect() calls;\n"
"the thread's rounds last at least pace seconds.");

static PyTypeObject PumpType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "native._netio.Pump",
    .tp_basicsize = sizeof(Pump),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = pump_doc,
    .tp_new = pump_new,
    .tp_init = (initproc)pump_init,
    .tp_dealloc = (destructor)pump_dealloc,
    .tp_methods = pump_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "native._netio",
    "Client socket I/O on a native thread (see native/netio.c).", -1, NULL,
    NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit__netio(void)
{
    if (PyType_Ready(&PumpType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&PumpType);
    if (PyModule_AddObject(m, "Pump", (PyObject *)&PumpType) < 0) {
        Py_DECREF(&PumpType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
