/* check.c -- validate a msgpack batch of messages against per-type schemas.
 *
 * The binary codec's decoder checks every field of every message in Python
 * after msgpack has built the objects. This walks the raw bytes once instead
 * and answers "every message is well formed" without building anything, so
 * the decoder can unpack and wrap the messages with no per-field Python
 * code. It never answers "valid" for a batch the Python checker would
 * reject: anything it cannot prove (nested message fields, whose class
 * bounds only Python knows) is reported as SP_CHECK_UNSUPPORTED and left to
 * the Python path. Strings are not UTF-8 validated here: msgpack's own
 * unpacker still rejects bad UTF-8 when the decoder unpacks.
 *
 * Schema encoding, per type (tids sorted ascending): arity[i] fields after
 * the type id (to and frm included), described by the bytes
 * schema[schema_at[i] .. schema_at[i+1]), one spec per field; a spec is one
 * byte, kind | SP_OPT if nil is allowed, and a list-of spec is followed by
 * its element's spec.
 */
#include "_common.h"

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

static inline int need(reader *r, int64_t n) { return r->end - r->p >= n; }

static inline uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* Lengths of the container/string/binary at r->p, or -1 if it is not one. */
static int64_t array_len(reader *r)
{
    uint8_t b = *r->p;
    if ((b & 0xf0) == 0x90) { r->p += 1; return b & 0x0f; }
    if (b == 0xdc && need(r, 3)) { int64_t n = (int64_t)be(r->p + 1, 2); r->p += 3; return n; }
    if (b == 0xdd && need(r, 5)) { int64_t n = (int64_t)be(r->p + 1, 4); r->p += 5; return n; }
    return -1;
}

static int skip(reader *r);

static int skip_n(reader *r, int64_t n)
{
    if (!need(r, n)) return 0;
    r->p += n;
    return 1;
}

/* Skip one value of any type; 0 if malformed or nested too deeply. */
static int skip(reader *r)
{
    if (!need(r, 1)) return 0;
    uint8_t b = *r->p;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) { r->p++; return 1; }
    if ((b & 0xe0) == 0xa0) return skip_n(r, 1 + (b & 0x1f));
    int64_t count = -1, pairs = 0;
    if ((b & 0xf0) == 0x90) { count = b & 0x0f; r->p++; }
    else if ((b & 0xf0) == 0x80) { count = b & 0x0f; pairs = 1; r->p++; }
    else switch (b) {
        case 0xc4: case 0xd9: return need(r, 2) && skip_n(r, 2 + (int64_t)r->p[1]);
        case 0xc5: case 0xda: return need(r, 3) && skip_n(r, 3 + (int64_t)be(r->p + 1, 2));
        case 0xc6: case 0xdb: return need(r, 5) && skip_n(r, 5 + (int64_t)be(r->p + 1, 4));
        case 0xc7: return need(r, 2) && skip_n(r, 3 + (int64_t)r->p[1]);
        case 0xc8: return need(r, 3) && skip_n(r, 4 + (int64_t)be(r->p + 1, 2));
        case 0xc9: return need(r, 5) && skip_n(r, 6 + (int64_t)be(r->p + 1, 4));
        case 0xca: return skip_n(r, 5);
        case 0xcb: return skip_n(r, 9);
        case 0xcc: case 0xd0: return skip_n(r, 2);
        case 0xcd: case 0xd1: return skip_n(r, 3);
        case 0xce: case 0xd2: return skip_n(r, 5);
        case 0xcf: case 0xd3: return skip_n(r, 9);
        case 0xd4: return skip_n(r, 3);
        case 0xd5: return skip_n(r, 4);
        case 0xd6: return skip_n(r, 6);
        case 0xd7: return skip_n(r, 10);
        case 0xd8: return skip_n(r, 18);
        case 0xdc: if (!need(r, 3)) return 0; count = (int64_t)be(r->p + 1, 2); r->p += 3; break;
        case 0xdd: if (!need(r, 5)) return 0; count = (int64_t)be(r->p + 1, 4); r->p += 5; break;
        case 0xde: if (!need(r, 3)) return 0; count = (int64_t)be(r->p + 1, 2); pairs = 1; r->p += 3; break;
        case 0xdf: if (!need(r, 5)) return 0; count = (int64_t)be(r->p + 1, 4); pairs = 1; r->p += 5; break;
        default: return 0;  /* 0xc1 is never used */
    }
    if (++r->depth > MAX_DEPTH) return 0;
    int64_t items = pairs ? 2 * count : count;
    if (items > r->end - r->p) return 0;  /* every item takes at least a byte */
    for (int64_t i = 0; i < items; i++)
        if (!skip(r)) return 0;
    r->depth--;
    return 1;
}

/* An int of any msgpack width; *negative tells the sign, *v the magnitude
 * bits for unsigned forms or the two's complement value for signed ones. */
static int read_int(reader *r, int64_t *sv, uint64_t *uv, int *is_unsigned)
{
    uint8_t b = *r->p;
    if (b <= 0x7f) { *uv = b; *is_unsigned = 1; r->p++; return 1; }
    if (b >= 0xe0) { *sv = (int8_t)b; *is_unsigned = 0; r->p++; return 1; }
    int n;
    switch (b) {
        case 0xcc: n = 1; break; case 0xcd: n = 2; break; case 0xce: n = 4; break; case 0xcf: n = 8; break;
        case 0xd0: n = 1; break; case 0xd1: n = 2; break; case 0xd2: n = 4; break; case 0xd3: n = 8; break;
        default: return 0;
    }
    if (!need(r, 1 + n)) return 0;
    uint64_t raw = be(r->p + 1, n);
    r->p += 1 + n;
    if (b <= 0xcf) { *uv = raw; *is_unsigned = 1; return 1; }
    *is_unsigned = 0;
    if (n == 1) *sv = (int8_t)raw;
    else if (n == 2) *sv = (int16_t)raw;
    else if (n == 4) *sv = (int32_t)raw;
    else *sv = (int64_t)raw;
    return 1;
}

typedef struct {
    const int64_t *tids;
    const int32_t *arity, *schema_at;
    const uint8_t *schema;
    int32_t ntypes;
} schema_table;

static int32_t find_type(const schema_table *s, int64_t tid)
{
    int32_t lo = 0, hi = s->ntypes - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (s->tids[mid] == tid) return mid;
        if (s->tids[mid] < tid) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

enum { OK = 1, BAD = 0, UNSUPPORTED = -1 };

/* Check one value against the spec at *spec (advanced past it). */
static int check_value(reader *r, const uint8_t **spec, const uint8_t *spec_end)
{
    if (*spec >= spec_end) return BAD;
    uint8_t s = *(*spec)++;
    int kind = s & 0x7f, optional = (s & K_OPT) != 0;
    const uint8_t *elem = NULL;
    if (kind == K_LIST_OF) {
        /* Remember where the element spec is and step over it. */
        elem = *spec;
        const uint8_t *q = *spec;
        while (q < spec_end && (*q & 0x7f) == K_LIST_OF) q++;
        if (q >= spec_end) return BAD;
        *spec = q + 1;
    }
    if (!need(r, 1)) return BAD;
    uint8_t b = *r->p;
    if (b == 0xc0 && (optional || kind == K_ANY)) { r->p++; return OK; }
    int64_t sv; uint64_t uv; int is_unsigned;
    switch (kind) {
        case K_ANY:
            return skip(r) ? OK : BAD;
        case K_INT:
            return read_int(r, &sv, &uv, &is_unsigned) ? OK : BAD;
        case K_GUID:
            if (!read_int(r, &sv, &uv, &is_unsigned)) return BAD;
            return (is_unsigned || sv >= 0) ? OK : BAD;
        case K_FLOAT:
            return (b == 0xca || b == 0xcb) && skip(r) ? OK : BAD;
        case K_BOOL:
            return (b == 0xc2 || b == 0xc3) ? (r->p++, OK) : BAD;
        case K_STR:
            return ((b & 0xe0) == 0xa0 || b == 0xd9 || b == 0xda || b == 0xdb) && skip(r) ? OK : BAD;
        case K_BYTES:
            return (b == 0xc4 || b == 0xc5 || b == 0xc6) && skip(r) ? OK : BAD;
        case K_LIST:
            return ((b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd) && skip(r) ? OK : BAD;
        case K_DICT:
            return ((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf) && skip(r) ? OK : BAD;
        case K_LIST_OF: {
            int64_t n = array_len(r);
            if (n < 0 || n > r->end - r->p) return BAD;
            if (++r->depth > MAX_DEPTH) return BAD;
            for (int64_t i = 0; i < n; i++) {
                const uint8_t *e = elem;
                int got = check_value(r, &e, spec_end);
                if (got != OK) return got;
            }
            r->depth--;
            return OK;
        }
        case K_MESSAGE:
            return UNSUPPORTED;
        default:
            return BAD;
    }
}

int64_t sp_check_batch(const uint8_t *data, int64_t len, const int64_t *tids, const int32_t *arity,
                       const int32_t *schema_at, int32_t ntypes, const uint8_t *schema,
                       int64_t schema_len, int64_t max_messages, int64_t *where)
{
    where[0] = -1; where[1] = -1;
    if (len < 0 || ntypes < 0 || schema_len < 0 || (ntypes > 0 && schema_at[ntypes] > schema_len))
        return SP_ERR_ARG;
    schema_table st = {tids, arity, schema_at, schema, ntypes};
    reader r = {data, data + len, 0};
    if (!need(&r, 1)) return SP_CHECK_BAD;
    int64_t n = array_len(&r);
    if (n < 0 || n > max_messages || n > r.end - r.p) return SP_CHECK_BAD;
    for (int64_t m = 0; m < n; m++) {
        where[0] = m; where[1] = -1;
        if (!need(&r, 1)) return SP_CHECK_BAD;
        int64_t fields = array_len(&r);
        if (fields < 1 || !need(&r, 1)) return SP_CHECK_BAD;
        int64_t sv; uint64_t uv; int is_unsigned;
        if (!read_int(&r, &sv, &uv, &is_unsigned)) return SP_CHECK_BAD;
        if (is_unsigned ? uv > (uint64_t)INT64_MAX : 0) return SP_CHECK_BAD;
        int32_t t = find_type(&st, is_unsigned ? (int64_t)uv : sv);
        if (t < 0 || fields != (int64_t)arity[t] + 1) return SP_CHECK_BAD;
        const uint8_t *spec = schema + schema_at[t], *spec_end = schema + schema_at[t + 1];
        for (int32_t f = 0; f < arity[t]; f++) {
            where[1] = f + 1;
            int got = check_value(&r, &spec, spec_end);
            if (got == UNSUPPORTED) return SP_CHECK_UNSUPPORTED;
            if (got != OK) return SP_CHECK_BAD;
        }
    }
    where[1] = -1;
    if (r.p != r.end) { where[0] = n; return SP_CHECK_BAD; }
    return n;
}
