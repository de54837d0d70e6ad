"""Movement: integrate every live entity's velocity over one tick, in C.

``integrate(table, dt)`` clamps each velocity to ``config.max_speed``
(writing the clamped value back), moves the entity, clamps it to the
world box and returns the slots whose grid cell changed. One C call for
the whole table; nothing is written if any live entity has a non-finite
position or velocity.

>>> from engine.spatial import SpatialTable, WorldConfig
>>> table = SpatialTable(WorldConfig(cell_size=32, max_speed=10))
>>> table.add(5, (30, 0, 0), vel=(100, 0, 0))
>>> _ = table.begin_tick()
>>> integrate(table, 0.5).tolist(), table.pos[0].tolist(), table.vel[0].tolist()
([0], [35.0, 0.0, 0.0], [10.0, 0.0, 0.0])
"""

from __future__ import annotations

import math

import numpy as np

import native
from engine.guid import format_guid
from engine.spatial._aoi import NonFiniteError
from engine.spatial._table import SpatialTable


def integrate(table: SpatialTable, dt: float) -> np.ndarray:
    """Move every live entity by ``vel * dt``; return the slots that changed cell."""
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt >= 0):
        raise ValueError(f"dt must be a finite number >= 0, got {dt!r}")
    cfg = table.config
    n = table.n
    changed = np.empty(max(n, 1), np.int32)
    try:
        return native.move(table.pos, table.vel, table.alive, table.cell, n, dt, cfg.max_speed,
                           cfg.world_box, cfg.grid, changed)
    except native.NonFiniteError as exc:
        i = exc.index
        raise NonFiniteError(
            f"entity {format_guid(int(table.guids[i]))} (slot {i}) has a non-finite position "
            f"{table.pos[i].tolist()} or velocity {table.vel[i].tolist()}", i) from None
