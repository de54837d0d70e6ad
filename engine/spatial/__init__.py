"""The spatial core: entity positions, interest management, movement, update frames.

The per-entity loops run in C (:mod:`native`); this package owns the numpy
arrays they work on and the Python faces around them. A typical tick::

    world = SpatialWorld(WorldConfig(width=4096, height=4096, view_radii=(50, 150)))
    world.add(guid, (x, y, z), vel=(vx, vy, 0), view_class=1)   # queued
    result = world.step(0.05)          # adds/removes applied, moved, views updated
    result.events.enter                # (observer slot, entity slot) pairs
    frames = world.pack()              # every observer's msgpack frame, one buffer

:mod:`engine.spatial.reference` holds the pure-Python definition of each C
function, which the tests compare the C results with.
"""

from engine.spatial._aoi import AoiEvents, InterestGrid, NonFiniteError
from engine.spatial._config import WorldConfig
from engine.spatial._movement import integrate
from engine.spatial._picks import pick_updates
from engine.spatial._table import Compaction, SpatialTable
from engine.spatial._updates import Frames, PositionUpdate, UpdatePacker, position_updates
from engine.spatial._views import ViewDiffs, view_diffs
from engine.spatial._world import SpatialWorld, TickResult

__all__ = [
    "AoiEvents",
    "Compaction",
    "Frames",
    "InterestGrid",
    "NonFiniteError",
    "PositionUpdate",
    "SpatialTable",
    "SpatialWorld",
    "TickResult",
    "UpdatePacker",
    "ViewDiffs",
    "WorldConfig",
    "integrate",
    "pick_updates",
    "position_updates",
    "view_diffs",
]
