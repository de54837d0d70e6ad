/* baseline.c -- the plain C loop the movement benchmark compares sp_move with.
 *
 * The same integration as sp_move (speed limit, world box) written as the
 * straightforward loop: float arithmetic, no validation, no liveness flags,
 * no grid cells. Clamps are plain comparisons (fminf/fmaxf would be libm
 * calls here, which would make this baseline needlessly slow).
 */
#include "_common.h"

static inline float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

void sp_baseline_move(float *pos, float *vel, int64_t n, float dt, float max_speed,
                      float width, float height, float zmin, float zmax)
{
    float max2 = max_speed * max_speed;
    for (int64_t i = 0; i < n; i++) {
        float *p = pos + 3 * i, *v = vel + 3 * i;
        float s2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
        if (s2 > max2) {
            float scale = max_speed / sqrtf(s2);
            v[0] *= scale; v[1] *= scale; v[2] *= scale;
        }
        p[0] = clampf(p[0] + v[0] * dt, 0.0f, width);
        p[1] = clampf(p[1] + v[1] * dt, 0.0f, height);
        p[2] = clampf(p[2] + v[2] * dt, zmin, zmax);
    }
}
