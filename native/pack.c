/* pack.c -- msgpack frames of position updates, one buffer for all clients.
 *
 * The bytes are exactly what msgpack-python's packb writes for the same
 * list of messages (smallest int form, float64 floats), so the codec's
 * decode_batch reads each client's slice and a test can compare bytes.
 */
#include "_common.h"

static inline uint8_t *put_be16(uint8_t *w, uint16_t v)
{
    w[0] = (uint8_t)(v >> 8); w[1] = (uint8_t)v;
    return w + 2;
}

static inline uint8_t *put_be32(uint8_t *w, uint32_t v)
{
    w[0] = (uint8_t)(v >> 24); w[1] = (uint8_t)(v >> 16);
    w[2] = (uint8_t)(v >> 8); w[3] = (uint8_t)v;
    return w + 4;
}

static inline uint8_t *put_be64(uint8_t *w, uint64_t v)
{
    w = put_be32(w, (uint32_t)(v >> 32));
    return put_be32(w, (uint32_t)v);
}

static inline uint8_t *put_uint(uint8_t *w, uint64_t v)
{
    if (v < 0x80) { *w = (uint8_t)v; return w + 1; }
    if (v <= 0xff) { w[0] = 0xcc; w[1] = (uint8_t)v; return w + 2; }
    if (v <= 0xffff) { *w = 0xcd; return put_be16(w + 1, (uint16_t)v); }
    if (v <= 0xffffffffu) { *w = 0xce; return put_be32(w + 1, (uint32_t)v); }
    *w = 0xcf;
    return put_be64(w + 1, v);
}

static inline uint8_t *put_f64(uint8_t *w, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    *w = 0xcb;
    return put_be64(w + 1, bits);
}

static inline uint8_t *put_array_header(uint8_t *w, uint64_t count)
{
    if (count < 16) { *w = (uint8_t)(0x90 | count); return w + 1; }
    if (count <= 0xffff) { *w = 0xdc; return put_be16(w + 1, (uint16_t)count); }
    *w = 0xdd;
    return put_be32(w + 1, (uint32_t)count);
}

/* Largest encoding of one message: fixarray(1) + type id(9) + 2 guids(18) + 3 floats(27). */
#define SP_MAX_UPDATE 55
#define SP_MAX_HEADER 5

int64_t sp_pack_updates(const int32_t *clients, int64_t nclients,
                        const int32_t *off, const int32_t *ents, int64_t rows, int64_t len,
                        const uint64_t *guids, const float *pos, int64_t n, int64_t type_id,
                        uint8_t *out, int64_t out_cap, int64_t *bounds, int64_t *bad)
{
    *bad = -1;
    if (nclients < 0) { *bad = 1; return SP_ERR_ARG; }
    if (rows < 0 || rows > n) { *bad = 4; return SP_ERR_ARG; }
    if (len < 0) { *bad = 5; return SP_ERR_ARG; }
    if (type_id < 0) { *bad = 9; return SP_ERR_ARG; }
    if (out_cap < 0) { *bad = 11; return SP_ERR_ARG; }
    uint8_t tid[9];
    uint8_t *tid_end = put_uint(tid, (uint64_t)type_id);
    size_t tid_len = (size_t)(tid_end - tid);
    uint8_t *w = out, *end = out + out_cap;
    bounds[0] = 0;
    for (int64_t j = 0; j < nclients; j++) {
        int32_t c = clients[j];
        if (c < 0 || c >= rows) { *bad = j; return SP_ERR_INDEX; }
        int32_t a = off[c], b = off[c + 1];
        if (a < 0 || b < a || b > len) { *bad = c; return SP_ERR_OFFSETS; }
        if (end - w < SP_MAX_HEADER + (int64_t)(b - a) * SP_MAX_UPDATE) {
            /* Report a size that is surely enough for the rest. */
            int64_t need = (w - out) + SP_MAX_HEADER + (int64_t)(b - a) * SP_MAX_UPDATE;
            for (int64_t r = j + 1; r < nclients; r++) {
                int32_t cr = clients[r];
                need += SP_MAX_HEADER;
                if (cr >= 0 && cr < rows) need += (int64_t)(off[cr + 1] - off[cr]) * SP_MAX_UPDATE;
            }
            *bad = need;
            return SP_ERR_CAPACITY;
        }
        uint64_t to = guids[c];
        w = put_array_header(w, (uint64_t)(b - a));
        for (int32_t t = a; t < b; t++) {
            int32_t e = ents[t];
            if (e < 0 || e >= n) { *bad = t; return SP_ERR_INDEX; }
            const float *p = pos + 3 * (int64_t)e;
            if (!sp_finite3(p)) { *bad = e; return SP_ERR_NONFINITE; }
            *w++ = 0x96;
            memcpy(w, tid, tid_len);
            w += tid_len;
            w = put_uint(w, to);
            w = put_uint(w, guids[e]);
            w = put_f64(w, p[0]);
            w = put_f64(w, p[1]);
            w = put_f64(w, p[2]);
        }
        bounds[j + 1] = w - out;
    }
    return w - out;
}
