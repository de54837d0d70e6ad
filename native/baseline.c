/* baseline.c -- the plain C loop the movement benchmark compares sp_move with. */
#include "_common.h"

void sp_baseline_move(float *pos, float *vel, int64_t n, float dt, float max_speed,
                      float width, float height, float zmin, float zmax)
{
    for (int64_t i = 0; i < n; i++) {
        float *p = pos + 3 * i, *v = vel + 3 * i;
        float s2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
        if (s2 > max_speed * max_speed) {
            float scale = max_speed / sqrtf(s2);
            v[0] *= scale; v[1] *= scale; v[2] *= scale;
        }
        p[0] = fminf(fmaxf(p[0] + v[0] * dt, 0.0f), width);
        p[1] = fminf(fmaxf(p[1] + v[1] * dt, 0.0f), height);
        p[2] = fminf(fmaxf(p[2] + v[2] * dt, zmin), zmax);
    }
}
