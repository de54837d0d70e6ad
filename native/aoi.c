/* aoi.c -- interest management on a uniform grid, with enter/leave events.
 *
 * One call per tick: bucket the live entities into grid cells (a counting
 * sort, so each cell's entities are contiguous and in index order), then for
 * each observer scan the cells its radius class can reach (a per-class
 * pattern of row widths, see build_pattern). Last tick's row of the observer
 * is marked in a stamp array, so "was it visible before?" (for hysteresis
 * and for enter events) and "is it still visible?" (for leave events) are
 * single array reads: no sorting, no hashing. Stamps are indexed by grid
 * order, not entity index, so the scan reads them in sequence too.
 *
 * A caller that reads only some observers' views in a tick passes `due`:
 * the others keep their previous row, less the entities no longer alive,
 * without a scan (the grid is still built: due observers need all of it).
 */
#include <stdlib.h>

#include "_common.h"

/* Relative and absolute padding of the box query, so that rounding in the
 * double-precision distance test can never place a visible entity in a cell
 * just outside the box (the test itself stays exact). */
#define SP_BOX_REL 1e-9
#define SP_BOX_ABS 1e-6
/* Grid rows whose ranges are looked up together. */
#define SP_ROW_BATCH 64

static int64_t validate(const float *pos, const uint8_t *alive, const int8_t *view, int64_t n,
                        const double *radii, const double *margins, int32_t nclasses,
                        double cell_size, const int32_t *grid,
                        const int32_t *prev_off, const int32_t *prev_ents,
                        int64_t prev_rows, int64_t prev_len, int64_t *bad)
{
    if (n < 0 || n > INT32_MAX - 1) { *bad = 3; return SP_ERR_ARG; }
    if (nclasses < 0 || nclasses > 127) { *bad = 6; return SP_ERR_ARG; }
    for (int32_t k = 0; k < nclasses; k++) {
        if (!isfinite(radii[k]) || radii[k] < 0) { *bad = 4; return SP_ERR_ARG; }
        if (!isfinite(margins[k]) || margins[k] < 0) { *bad = 5; return SP_ERR_ARG; }
    }
    if (!isfinite(cell_size) || !(cell_size > 0)) { *bad = 7; return SP_ERR_ARG; }
    if (grid[0] < 1 || grid[1] < 1 || (int64_t)grid[0] * grid[1] > INT32_MAX - 1) {
        *bad = 8; return SP_ERR_ARG;
    }
    if (prev_rows < 0 || prev_rows > n || prev_len < 0) { *bad = 14; return SP_ERR_ARG; }
    for (int64_t i = 0; i < n; i++) {
        if (!alive[i]) continue;
        if (!sp_finite3(pos + 3 * i)) { *bad = i; return SP_ERR_NONFINITE; }
        if (view[i] < -1 || view[i] >= nclasses) { *bad = i; return SP_ERR_INDEX; }
    }
    if (prev_rows > 0 && prev_off[0] != 0) { *bad = 0; return SP_ERR_OFFSETS; }
    for (int64_t o = 0; o < prev_rows; o++) {
        if (prev_off[o + 1] < prev_off[o] || prev_off[o + 1] > prev_len) { *bad = o; return SP_ERR_OFFSETS; }
    }
    int64_t used = prev_rows > 0 ? prev_off[prev_rows] : 0;
    for (int64_t j = 0; j < used; j++) {
        if (prev_ents[j] < 0 || prev_ents[j] >= n) { *bad = j; return SP_ERR_INDEX; }
    }
    return SP_OK;
}

/* Counting sort of live entities into cells: grid_start[c] .. grid_start[c+1]
 * indexes grid_ents, ascending entity order within each cell; grid_pos holds
 * their x, y in the same order, so the scan below reads memory in sequence.
 * On return cell_tmp[i] is live entity i's index in that order. */
static void build_grid(const float *pos, const uint8_t *alive, int64_t n, double cs,
                       int32_t nx, int32_t ny, int32_t *grid_start, int32_t *grid_ents,
                       float *grid_pos, int32_t *cell_tmp)
{
    int64_t ncells = (int64_t)nx * ny;
    double inv = 1.0 / cs;
    memset(grid_start, 0, (size_t)(ncells + 1) * sizeof *grid_start);
    for (int64_t i = 0; i < n; i++) {
        if (!alive[i]) { cell_tmp[i] = -1; continue; }
        const float *p = pos + 3 * i;
        int32_t c = sp_axis_cell(p[1], inv, ny) * nx + sp_axis_cell(p[0], inv, nx);
        cell_tmp[i] = c;
        grid_start[c + 1]++;
    }
    for (int64_t c = 0; c < ncells; c++) grid_start[c + 1] += grid_start[c];
    /* Fill with grid_start[c] as a moving cursor, then shift it back. */
    for (int64_t i = 0; i < n; i++) {
        int32_t c = cell_tmp[i];
        if (c >= 0) {
            int32_t t = grid_start[c]++;
            grid_ents[t] = (int32_t)i;
            grid_pos[2 * t] = pos[3 * i];
            grid_pos[2 * t + 1] = pos[3 * i + 1];
            cell_tmp[i] = t;  /* from here on: where entity i sits in grid order */
        }
    }
    memmove(grid_start + 1, grid_start, (size_t)ncells * sizeof *grid_start);
    grid_start[0] = 0;
}

/* For radius class k, pattern[pattern_at[k] + d] (d = 0 .. rows) is how many
 * cells to either side an observer scans in the grid row d rows away from
 * its own: every cell whose nearest point to the observer's cell lies within
 * the padded reach. It depends on the observer's cell only, so it is built
 * once per call and the per-observer loop does no floating-point box maths.
 * Clamped edge cells (which also hold out-of-world points) only ever lie
 * farther away than this assumes, so the pattern stays conservative.
 * Returns NULL if out of memory. */
static int32_t *build_pattern(const double *radii, const double *margins, int32_t nclasses,
                              double cs, int32_t nx, int32_t ny, int32_t *pattern_at)
{
    int64_t total = 0;
    for (int32_t k = 0; k < nclasses; k++) {
        double rm = radii[k] + margins[k];
        double reach = rm + rm * SP_BOX_REL + SP_BOX_ABS;
        double q = reach / cs;
        int32_t rows = q >= (double)(ny - 1) ? ny - 1 : (int32_t)q + 1;
        if (rows > ny - 1) rows = ny - 1;
        pattern_at[k] = (int32_t)total;
        total += rows + 1;
    }
    pattern_at[nclasses] = (int32_t)total;
    int32_t *pattern = malloc((size_t)(total > 0 ? total : 1) * sizeof *pattern);
    if (!pattern) return NULL;
    for (int32_t k = 0; k < nclasses; k++) {
        double rm = radii[k] + margins[k];
        double reach = rm + rm * SP_BOX_REL + SP_BOX_ABS;
        for (int32_t d = 0; d < pattern_at[k + 1] - pattern_at[k]; d++) {
            double gap = d <= 1 ? 0.0 : (d - 1) * cs;
            double rem = reach * reach - gap * gap;
            double w = rem > 0 ? sqrt(rem) / cs + 1.0 : 1.0;
            pattern[pattern_at[k] + d] = w >= (double)(nx - 1) ? nx - 1 : (int32_t)w;
        }
    }
    return pattern;
}

/* Where the scan writes: the new views and enter events, with their
 * capacities; counts keep running past a capacity so the caller learns the
 * size it needs. */
typedef struct {
    const int32_t *grid_ents;
    const float *grid_pos;
    uint32_t *stamp;
    int32_t *new_ents;
    int32_t *enter;
    int64_t new_cap, enter_cap, nvis, nenter;
    int64_t nkept;  /* entities of the previous row seen again */
} scan_state;

/* Test candidates grid_ents[a .. b-1] against observer o. */
static inline void scan_range(scan_state *sc, int32_t a, int32_t b, int32_t o, double ox, double oy,
                              double r2, double rm2, uint32_t was, uint32_t kept)
{
    const int32_t *grid_ents = sc->grid_ents;
    const float *grid_pos = sc->grid_pos;
    uint32_t *stamp = sc->stamp;
    int32_t *new_ents = sc->new_ents, *enter = sc->enter;
    int64_t nvis = sc->nvis, nenter = sc->nenter, nkept = sc->nkept;
    if (nvis + (b - a) <= sc->new_cap && nenter + (b - a) <= sc->enter_cap) {
        /* Room for every candidate: append without a branch on visibility
         * (unpredictable); enters are rare after the first tick, so that
         * branch predicts well. The observer's own x is +inf meanwhile. */
        for (int32_t t = a; t < b; t++) {
            int32_t e = grid_ents[t];
            double dx = (double)grid_pos[2 * t] - ox, dy = (double)grid_pos[2 * t + 1] - oy;
            double d2 = dx * dx + dy * dy;
            int was_in = stamp[t] == was;
            int vis = (d2 <= r2) | ((d2 <= rm2) & was_in);
            new_ents[nvis] = e;
            nvis += vis;
            nkept += vis & was_in;
            if (vis & !was_in) {
                enter[2 * nenter] = o;
                enter[2 * nenter + 1] = e;
                nenter++;
            }
        }
    } else {
        for (int32_t t = a; t < b; t++) {
            int32_t e = grid_ents[t];
            if (e == o) continue;
            double dx = (double)grid_pos[2 * t] - ox, dy = (double)grid_pos[2 * t + 1] - oy;
            double d2 = dx * dx + dy * dy;
            uint32_t st = stamp[t];
            if (d2 <= r2 || (d2 <= rm2 && st == was)) {
                if (nvis < sc->new_cap) new_ents[nvis] = e;
                nvis++;
                nkept += st == was;
                if (st != was) {
                    if (nenter < sc->enter_cap) {
                        enter[2 * nenter] = o;
                        enter[2 * nenter + 1] = e;
                    }
                    nenter++;
                }
                if (nvis > sc->new_cap) stamp[t] = kept;  /* not in new_ents: mark it here */
            }
        }
    }
    sc->nvis = nvis;
    sc->nenter = nenter;
    sc->nkept = nkept;
}

int64_t sp_aoi_update(const float *pos, const uint8_t *alive, const int8_t *view, const uint8_t *due, int64_t n,
                      const double *radii, const double *margins, int32_t nclasses,
                      double cell_size, const int32_t *grid,
                      int32_t *grid_start, int32_t *grid_ents, float *grid_pos, int32_t *cell_tmp,
                      uint32_t *stamp, uint32_t *stamp_state,
                      const int32_t *prev_off, const int32_t *prev_ents,
                      int64_t prev_rows, int64_t prev_len,
                      int32_t *new_off, int32_t *new_ents, int64_t new_cap,
                      int32_t *enter, int64_t enter_cap, int32_t *leave, int64_t leave_cap,
                      int64_t *counts, int64_t *bad)
{
    *bad = -1;
    counts[0] = counts[1] = counts[2] = 0;
    int64_t err = validate(pos, alive, view, n, radii, margins, nclasses, cell_size, grid,
                           prev_off, prev_ents, prev_rows, prev_len, bad);
    if (err) return err;
    int32_t nx = grid[0], ny = grid[1];
    double cs = cell_size, inv_cs = 1.0 / cell_size;
    build_grid(pos, alive, n, cs, nx, ny, grid_start, grid_ents, grid_pos, cell_tmp);
    int32_t pattern_at[128];
    int32_t *pattern = build_pattern(radii, margins, nclasses, cs, nx, ny, pattern_at);
    if (!pattern) { *bad = 0; return SP_ERR_NOMEM; }

    scan_state sc = {grid_ents, grid_pos, stamp, new_ents, enter, new_cap, enter_cap, 0, 0, 0};
    int64_t nleave = 0;
    uint32_t s = *stamp_state;
    new_off[0] = 0;
    for (int64_t o = 0; o < n; o++) {
        const int32_t *prow = prev_ents;
        int64_t plen = 0;
        if (o < prev_rows) {
            prow = prev_ents + prev_off[o];
            plen = prev_off[o + 1] - prev_off[o];
        }
        if (!alive[o] || view[o] < 0) {
            /* Not (or no longer) an observer: everything it saw leaves. */
            for (int64_t j = 0; j < plen; j++, nleave++) {
                if (nleave < leave_cap) {
                    leave[2 * nleave] = (int32_t)o;
                    leave[2 * nleave + 1] = prow[j];
                }
            }
            new_off[o + 1] = (int32_t)(sc.nvis < new_cap ? sc.nvis : new_cap);
            continue;
        }
        if (due && !due[o]) {
            /* Not due this tick: the previous row (none: empty) stands, less the dead. */
            for (int64_t j = 0; j < plen; j++) {
                int32_t e = prow[j];
                if (alive[e]) {
                    if (sc.nvis < new_cap) new_ents[sc.nvis] = e;
                    sc.nvis++;
                } else {
                    if (nleave < leave_cap) {
                        leave[2 * nleave] = (int32_t)o;
                        leave[2 * nleave + 1] = e;
                    }
                    nleave++;
                }
            }
            new_off[o + 1] = (int32_t)(sc.nvis < new_cap ? sc.nvis : new_cap);
            continue;
        }
        if (s > 0xFFFFFFF0u) {
            memset(stamp, 0, (size_t)n * sizeof *stamp);
            s = 0;
        }
        uint32_t was = s + 1, kept = s + 2;
        s += 2;
        for (int64_t j = 0; j < plen; j++) {
            int32_t t = cell_tmp[prow[j]];
            if (t >= 0) stamp[t] = was;  /* dead entities are not in the grid */
        }

        int k = view[o];
        double r = radii[k], rm = radii[k] + margins[k];
        double r2 = r * r, rm2 = rm * rm;
        double ox = pos[3 * o], oy = pos[3 * o + 1];
        int32_t ocx = sp_axis_cell(ox, inv_cs, nx), ocy = sp_axis_cell(oy, inv_cs, ny);
        int32_t self_t = cell_tmp[o];
        grid_pos[2 * self_t] = INFINITY;  /* so the observer never sees itself */
        int64_t row0 = sc.nvis;
        sc.nkept = 0;
        const int32_t *reach_x = pattern + pattern_at[k];
        int32_t rows = pattern_at[k + 1] - pattern_at[k] - 1;
        int32_t cy0 = ocy - rows < 0 ? 0 : ocy - rows;
        int32_t cy1 = ocy + rows > ny - 1 ? ny - 1 : ocy + rows;
        for (int32_t cyb = cy0; cyb <= cy1; cyb += SP_ROW_BATCH) {
            /* Look up a batch of row ranges first: their loads overlap
             * instead of each row waiting for its own. */
            int32_t ra[SP_ROW_BATCH], rb[SP_ROW_BATCH], nr = 0;
            for (int32_t cy = cyb; cy <= cy1 && nr < SP_ROW_BATCH; cy++, nr++) {
                int32_t w = reach_x[cy > ocy ? cy - ocy : ocy - cy];
                int32_t cx0 = ocx - w < 0 ? 0 : ocx - w;
                int32_t cx1 = ocx + w > nx - 1 ? nx - 1 : ocx + w;
                const int32_t *row_start = grid_start + (int64_t)cy * nx;
                /* Cells cx0..cx1 of one grid row are contiguous in grid_ents. */
                ra[nr] = row_start[cx0];
                rb[nr] = row_start[cx1 + 1];
            }
            for (int32_t ri = 0; ri < nr; ri++)
                scan_range(&sc, ra[ri], rb[ri], (int32_t)o, ox, oy, r2, rm2, was, kept);
        }
        grid_pos[2 * self_t] = (float)ox;
        if (sc.nkept != plen) {
            /* Something left: mark what is visible now; what stays marked
             * "was" has left. (When every old entity was seen again, as in
             * most ticks, there is nothing to do.) */
            int64_t row1 = sc.nvis < new_cap ? sc.nvis : new_cap;
            for (int64_t j = row0; j < row1; j++) stamp[cell_tmp[new_ents[j]]] = kept;
            for (int64_t j = 0; j < plen; j++) {
                int32_t e = prow[j];
                int32_t t = cell_tmp[e];
                if (t < 0 || stamp[t] == was) {
                    if (nleave < leave_cap) {
                        leave[2 * nleave] = (int32_t)o;
                        leave[2 * nleave + 1] = e;
                    }
                    nleave++;
                    if (t >= 0) stamp[t] = kept;  /* a duplicate in a tampered row leaves once */
                }
            }
        }
        new_off[o + 1] = (int32_t)(sc.nvis < new_cap ? sc.nvis : new_cap);
    }
    free(pattern);
    *stamp_state = s;
    counts[0] = sc.nvis; counts[1] = sc.nenter; counts[2] = nleave;
    if (sc.nvis > new_cap || sc.nenter > enter_cap || nleave > leave_cap) {
        *bad = sc.nvis;
        return SP_ERR_CAPACITY;
    }
    if (sc.nvis > INT32_MAX) { *bad = sc.nvis; return SP_ERR_CAPACITY; }
    return SP_OK;
}
