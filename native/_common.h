/* _common.h -- small inline helpers shared by the C sources (not part of the API). */
#ifndef SP_COMMON_H
#define SP_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "spenefett.h"

/* Grid coordinate of v along one axis: floor(v * inv_cell) clamped to
 * [0, n - 1], where inv_cell = 1.0 / cell_size (a multiplication, not a
 * division: this runs for every entity every tick). Monotone in v, which is
 * what makes the AOI scan exact. The clamp happens in double, before the
 * cast, so huge values are safe. engine/spatial/_config.py:axis_cell is the
 * same formula in Python. */
static inline int32_t sp_axis_cell(double v, double inv_cell, int32_t n)
{
    double q = v * inv_cell;
    if (!(q >= 0.0)) return 0;               /* negative or NaN */
    if (q >= (double)(n - 1)) return n - 1;  /* floor(q) >= n - 1 exactly when q >= n - 1 */
    return (int32_t)q;                       /* truncation is floor for q >= 0 */
}

static inline int sp_finite3(const float *p)
{
    return isfinite(p[0]) && isfinite(p[1]) && isfinite(p[2]);
}

#endif
