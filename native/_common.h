/* _common.h -- small inline helpers shared by the C sources (not part of the API). */
#ifndef SP_COMMON_H
#define SP_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "spenefett.h"

/* Grid coordinate of v along one axis: floor(v / cell_size) clamped to
 * [0, n - 1]. Monotone in v, which is what makes the AOI box query exact.
 * The clamp happens in double, before the cast, so huge values are safe. */
static inline int32_t sp_axis_cell(double v, double cell_size, int32_t n)
{
    double q = v / cell_size;
    if (!(q >= 0.0)) return 0;               /* negative or NaN */
    if (q >= (double)(n - 1)) return n - 1;  /* floor(q) >= n - 1 exactly when q >= n - 1 */
    return (int32_t)q;                       /* truncation is floor for q >= 0 */
}

static inline int sp_finite3(const float *p)
{
    return isfinite(p[0]) && isfinite(p[1]) && isfinite(p[2]);
}

#endif
