/* picks.c -- which recent updates each observer gets this tick, by distance band.
 *
 * A game with many observers sends the moves of near bodies every tick
 * and of far ones less often. The caller keeps each observer's view as a
 * list of Guids and the bodies that moved lately as a table
 * (Guid, age in ticks, x, y); this walks every (observer, seen body) pair
 * once, with no temporaries, and writes the table rows each observer gets.
 * The pure-Python definition is engine.spatial.reference.pick_updates.
 */
#include <stdlib.h>
#include <string.h>

#include "_common.h"

/* Where each moved Guid sits: open addressing over a power-of-two table of
 * at least twice the Guids, Fibonacci hashing, -1 for an empty place. A
 * pair costs one multiply and (mostly) one probe in a table that stays in
 * the first-level cache; a binary search cost about 30 ns a pair in
 * mispredicted branches. */
typedef struct {
    uint64_t *keys;
    int32_t *at;
    uint64_t mask;
    int shift;
} guid_index;

static inline uint64_t place_of(const guid_index *ix, uint64_t g)
{
    return (g * 0x9E3779B97F4A7C15ull) >> ix->shift;
}

/* 0, or SP_ERR_NOMEM, or SP_ERR_ARG when a Guid comes twice (*dup = its index). */
static int index_build(guid_index *ix, const uint64_t *moved, int64_t n, int64_t *dup)
{
    int bits = 4;
    while (((int64_t)1 << bits) < 2 * n)
        bits++;
    uint64_t size = (uint64_t)1 << bits;
    ix->mask = size - 1;
    ix->shift = 64 - bits;
    ix->keys = malloc(size * sizeof *ix->keys);
    ix->at = malloc(size * sizeof *ix->at);
    if (ix->keys == NULL || ix->at == NULL)
        return SP_ERR_NOMEM;
    memset(ix->at, 0xff, size * sizeof *ix->at);
    for (int64_t j = 0; j < n; j++) {
        uint64_t p = place_of(ix, moved[j]);
        while (ix->at[p] >= 0) {
            if (ix->keys[p] == moved[j]) {
                *dup = j;
                return SP_ERR_ARG;
            }
            p = (p + 1) & ix->mask;
        }
        ix->keys[p] = moved[j];
        ix->at[p] = (int32_t)j;
    }
    return 0;
}

static inline int32_t index_find(const guid_index *ix, uint64_t g)
{
    uint64_t p = place_of(ix, g);
    int32_t j;
    while ((j = ix->at[p]) >= 0) {
        if (ix->keys[p] == g)
            return j;
        p = (p + 1) & ix->mask;
    }
    return -1;
}

int64_t sp_pick_updates(const uint64_t *seen, const int64_t *seen_off, int64_t nobs, int64_t nseen,
                        const double *obs_xy, const int8_t *phase,
                        const uint64_t *moved, const int8_t *ages, const double *moved_xy,
                        int64_t xy_stride, int64_t nmoved,
                        const double *bands2, const int8_t *masks, int32_t nbands,
                        int64_t *out, int64_t out_cap, int64_t *ends, int64_t *bad)
{
    *bad = 0;
    if (nobs < 0) { *bad = 2; return SP_ERR_ARG; }
    if (nseen < 0) { *bad = 3; return SP_ERR_ARG; }
    if (xy_stride < 2) { *bad = 9; return SP_ERR_ARG; }
    if (nmoved < 0) { *bad = 10; return SP_ERR_ARG; }
    if (nbands < 0 || nbands > 16) { *bad = 13; return SP_ERR_ARG; }
    if (nmoved > INT32_MAX / 2) { *bad = 10; return SP_ERR_ARG; }
    if (seen_off[0] != 0) { *bad = 0; return SP_ERR_OFFSETS; }
    for (int64_t k = 0; k < nobs; k++)
        if (seen_off[k + 1] < seen_off[k] || seen_off[k + 1] > nseen) { *bad = k; return SP_ERR_OFFSETS; }
    if (out_cap < seen_off[nobs]) { *bad = seen_off[nobs]; return SP_ERR_CAPACITY; }

    guid_index ix = {NULL, NULL, 0, 0};
    int64_t dup = 0;
    int rc = index_build(&ix, moved, nmoved, &dup);
    if (rc != 0) {
        free(ix.keys);
        free(ix.at);
        *bad = rc == SP_ERR_ARG ? 6 : 0;
        return rc;
    }
    int64_t w = 0;
    for (int64_t k = 0; k < nobs; k++) {
        const double ox = obs_xy[2 * k], oy = obs_xy[2 * k + 1];
        const int8_t ph = phase[k];
        for (int64_t s = seen_off[k]; s < seen_off[k + 1]; s++) {
            int64_t j = index_find(&ix, seen[s]);
            if (j < 0)
                continue;
            int8_t take;
            if (ph == 0) {
                take = 1;  /* the observer's catch-up tick: every seen body that moved lately */
            } else {
                double dx = moved_xy[j * xy_stride] - ox;
                double dy = moved_xy[j * xy_stride + 1] - oy;
                double d2 = dx * dx + dy * dy;
                int32_t band = 0;
                while (band < nbands && d2 >= bands2[band])
                    band++;
                int8_t mask = masks[band];
                take = ages[j] <= mask && (ph & mask) == 0;
            }
            if (take)
                out[w++] = j;
        }
        ends[k] = w;
    }
    free(ix.keys);
    free(ix.at);
    return w;
}
