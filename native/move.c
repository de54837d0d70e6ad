/* move.c -- batched movement integration and finiteness checks. */
#include "_common.h"

int64_t sp_find_nonfinite(const float *values, int64_t n, int64_t width, const uint8_t *alive)
{
    for (int64_t i = 0; i < n; i++) {
        if (alive && !alive[i]) continue;
        const float *v = values + i * width;
        for (int64_t k = 0; k < width; k++)
            if (!isfinite(v[k])) return i;
    }
    return -1;
}

/* A fast, branch-free scan for "anything non-finite at all" (live or not);
 * only when it fires does the caller pay for the precise, liveness-aware
 * sp_find_nonfinite. Exponent bits all ones means inf or NaN. */
static int any_nonfinite(const float *values, int64_t count)
{
    uint32_t acc = 0;
    for (int64_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, values + i, sizeof bits);
        acc |= ((bits & 0x7f800000u) == 0x7f800000u);
    }
    return acc != 0;
}

static inline float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

int64_t sp_move(float *pos, float *vel, const uint8_t *alive, int32_t *cell, int64_t n,
                double dt, double max_speed, const double *world, const int32_t *grid,
                int32_t *changed, int64_t *bad)
{
    *bad = -1;
    if (n < 0) { *bad = 4; return SP_ERR_ARG; }
    if (!isfinite(dt) || dt < 0) { *bad = 5; return SP_ERR_ARG; }
    if (!(max_speed >= 0) || isnan(max_speed)) { *bad = 6; return SP_ERR_ARG; }
    double cs = world[4];
    int32_t nx = grid[0], ny = grid[1];
    if (!(cs > 0) || !isfinite(cs) || nx < 1 || ny < 1 || !(world[2] <= world[3])) {
        *bad = 7;
        return SP_ERR_ARG;
    }

    /* All-or-nothing: reject before writing anything. */
    if (any_nonfinite(pos, n * 3) || any_nonfinite(vel, n * 3)) {
        int64_t i = sp_find_nonfinite(pos, n, 3, alive);
        int64_t j = sp_find_nonfinite(vel, n, 3, alive);
        if (i >= 0 || j >= 0) {
            *bad = (i < 0) ? j : (j < 0 ? i : (i < j ? i : j));
            return SP_ERR_NONFINITE;
        }
    }
    /* float32 arithmetic, one rounding per operation (the reference
     * reproduces it exactly); only the rare over-speed rescale and the grid
     * cell work in double. */
    float dtf = (float)dt, maxf = (float)max_speed, max2 = maxf * maxf;
    float width = (float)world[0], height = (float)world[1];
    float zmin = (float)world[2], zmax = (float)world[3];
    double inv = 1.0 / cs;
    int64_t nchanged = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!alive[i]) continue;
        float *p = pos + 3 * i, *v = vel + 3 * i;
        float vx = v[0], vy = v[1], vz = v[2];
        float s2 = vx * vx + vy * vy + vz * vz;
        if (s2 > max2) {
            double dx = vx, dy = vy, dz = vz;
            double scale = max_speed / sqrt(dx * dx + dy * dy + dz * dz);
            v[0] = vx = (float)(dx * scale);
            v[1] = vy = (float)(dy * scale);
            v[2] = vz = (float)(dz * scale);
        }
        float x = clampf(p[0] + vx * dtf, 0.0f, width);
        float y = clampf(p[1] + vy * dtf, 0.0f, height);
        p[0] = x;
        p[1] = y;
        p[2] = clampf(p[2] + vz * dtf, zmin, zmax);
        int32_t c = sp_axis_cell(y, inv, ny) * nx + sp_axis_cell(x, inv, nx);
        /* Append without a branch: cell changes are frequent and random. */
        changed[nchanged] = (int32_t)i;
        nchanged += c != cell[i];
        cell[i] = c;
    }
    return nchanged;
}
