/* views.c -- observers' views recomputed from the AOI rows, and what entered and left.
 *
 * Every few ticks a game recomputes what each observer sees: its AOI row
 * (table slots) less itself and the slots it may not see, as Guids in
 * ascending order, compared with the view it had to find the bodies that
 * came into view (a Sight each), those that left (a Disappear each) and
 * those that stayed (their moves). In Python that was a set per observer
 * and a sort; here it is one pass per observer with no sort: the caller
 * ranks the table's slots by Guid once per call, the row's ranks are set
 * in a bitmap, and the bitmap read in order is the sorted view, merged
 * with the old one as it is read. The pure-Python definition is
 * engine.spatial.reference.view_diffs.
 */
#include <stdlib.h>
#include <string.h>

#include "_common.h"

int64_t sp_view_diffs(const int32_t *off, const int32_t *ents, int64_t nrows, int64_t nents,
                      const uint8_t *may_see, const int32_t *rank, const uint64_t *by_rank, int64_t nslots,
                      const int64_t *obs_slot, int64_t nobs,
                      const uint64_t *old, const int64_t *old_off, int64_t nold,
                      uint64_t *view, int64_t *view_end, uint64_t *added, int64_t *added_end,
                      uint64_t *kept, int64_t *kept_end, int64_t new_cap,
                      uint64_t *removed, int64_t *removed_end, int64_t removed_cap, uint8_t *seen, int64_t *bad)
{
    *bad = 0;
    if (nrows < 0) { *bad = 2; return SP_ERR_ARG; }
    if (nslots < 0) { *bad = 7; return SP_ERR_ARG; }
    if (nobs < 0) { *bad = 9; return SP_ERR_ARG; }
    if (off[0] != 0) { *bad = 0; return SP_ERR_OFFSETS; }
    for (int64_t r = 0; r < nrows; r++)
        if (off[r + 1] < off[r] || off[r + 1] > nents) { *bad = r; return SP_ERR_OFFSETS; }
    if (old_off[0] != 0) { *bad = 0; return SP_ERR_OFFSETS; }
    for (int64_t k = 0; k < nobs; k++)
        if (old_off[k + 1] < old_off[k] || old_off[k + 1] > nold) { *bad = k; return SP_ERR_OFFSETS; }
    for (int64_t s = 0; s < nslots; s++)
        if (rank[s] < 0 || rank[s] >= nslots) { *bad = 5; return SP_ERR_ARG; }
    int64_t need = 0;
    for (int64_t k = 0; k < nobs; k++) {
        int64_t s = obs_slot[k];
        if (s < 0 || s >= nrows) { *bad = 8; return SP_ERR_ARG; }
        need += off[s + 1] - off[s];
    }
    if (new_cap < need) { *bad = need; return SP_ERR_CAPACITY; }
    if (removed_cap < nold) { *bad = nold; return SP_ERR_CAPACITY; }

    const int64_t nwords = (nslots + 63) / 64;
    uint64_t *bits = calloc(nwords > 0 ? (size_t)nwords : 1, sizeof *bits);
    if (bits == NULL)
        return SP_ERR_NOMEM;
    int64_t nv = 0, na = 0, nk = 0, nr = 0;
    for (int64_t k = 0; k < nobs; k++) {
        const int64_t me = obs_slot[k];
        int64_t lo = nwords, hi = -1;  /* the words touched, so reading and clearing skip the rest */
        for (int64_t i = off[me]; i < off[me + 1]; i++) {
            const int32_t s = ents[i];
            if (s < 0 || s >= nslots) {  /* only the rows read are checked: most are not */
                free(bits);
                *bad = i;
                return SP_ERR_INDEX;
            }
            if (!may_see[s] || s == me)
                continue;
            seen[s] = 1;
            const int32_t r = rank[s];
            const int64_t w = r >> 6;
            bits[w] |= (uint64_t)1 << (r & 63);
            if (w < lo) lo = w;
            if (w > hi) hi = w;
        }
        const uint64_t *o = old + old_off[k], *o_end = old + old_off[k + 1];
        uint64_t prev = 0;
        int first = 1;
        for (const uint64_t *p = o; p < o_end; p++) {  /* old must ascend: the merge relies on it */
            if (!first && *p <= prev) {
                free(bits);
                *bad = 11;
                return SP_ERR_ARG;
            }
            prev = *p;
            first = 0;
        }
        for (int64_t w = lo; w <= hi; w++) {
            uint64_t word = bits[w];
            bits[w] = 0;
            while (word) {
                const int b = __builtin_ctzll(word);
                word &= word - 1;
                const uint64_t g = by_rank[(w << 6) | b];
                while (o < o_end && *o < g)
                    removed[nr++] = *o++;
                if (o < o_end && *o == g) {
                    kept[nk++] = g;
                    o++;
                } else {
                    added[na++] = g;
                }
                view[nv++] = g;
            }
        }
        while (o < o_end)
            removed[nr++] = *o++;
        view_end[k] = nv;
        added_end[k] = na;
        kept_end[k] = nk;
        removed_end[k] = nr;
    }
    free(bits);
    return nv;
}
