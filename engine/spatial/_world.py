"""SpatialWorld: a table, its AOI and its packer, stepped once per tick.

``step(dt)`` is the tick boundary and the tick's spatial work: apply the
queued adds and removes (compacting slots when fragmented), integrate
movement, update every view. A few C calls, whatever the entity count.

>>> from engine.spatial import WorldConfig
>>> world = SpatialWorld(WorldConfig(view_radii=(50,)))
>>> world.add(1, (0, 0, 0), view_class=0)
>>> world.add(2, (60, 0, 0), vel=(-10, 0, 0))
>>> [world.step(0.5).events.enter.tolist() for _ in range(3)]
[[], [[0, 1]], []]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import attrs
import numpy as np

from engine.spatial._aoi import AoiEvents, InterestGrid
from engine.spatial._config import WorldConfig
from engine.spatial._movement import integrate
from engine.spatial._table import Compaction, SpatialTable
from engine.spatial._updates import Frames, UpdatePacker


@attrs.frozen(slots=True)
class TickResult:
    """What one step did: slots that changed cell, view events, and any compaction."""

    changed: np.ndarray
    events: AoiEvents
    moved: Compaction | None


class SpatialWorld:
    """The spatial side of one region: positions, views and update frames."""

    def __init__(self, config: WorldConfig, capacity: int = 1024, compact_min: int | None = None):
        self.config = config
        self.table = SpatialTable(config, capacity, compact_min)
        self.aoi = InterestGrid(config)
        self.packer = UpdatePacker()
        self._views_current = True
        self._fresh: set[int] = set()
        """Guids added since the last update of the views: due whatever the caller says."""

    def add(self, guid: int, pos: Sequence[float], vel: Sequence[float] = (0.0, 0.0, 0.0),
            view_class: int | None = None, tag: int = 0) -> None:
        """Queue an entity for the next step (see SpatialTable.add)."""
        self.table.add(guid, pos, vel, view_class, tag)

    def remove(self, guid: int) -> None:
        """Queue a removal for the next step; its leave events come with that step."""
        self.table.remove(guid)

    def step(self, dt: float, due: Iterable[int] | np.ndarray | None = None) -> TickResult:
        """Apply queued changes, move everyone, update the views.

        ``due`` (Guids; None: every observer) names the observers whose
        views the caller reads after this step: only those, and those
        added since the last step (they have no view yet), are scanned;
        the others keep their last view, less the entities gone (see
        InterestGrid.update). If a step raises (a non-finite position,
        say), fix the entity and step again: entities removed meanwhile
        keep their slots until the views have reported them leaving, so no
        event is lost.
        """
        self._fresh.update(self.table._adds)
        moved = self.table.begin_tick(retire=self._views_current)
        self._views_current = False
        if moved is not None:
            self.aoi.remap(moved)
        changed = integrate(self.table, dt)
        mask = None if due is None else self._due_mask(due)
        events = self.aoi.update(self.table, mask)
        self._fresh.clear()
        self._views_current = True
        return TickResult(changed, events, moved)

    def _due_mask(self, due: Iterable[int] | np.ndarray) -> np.ndarray:
        """Per table slot: is it named in ``due`` or new? (Guids not in the table are ignored.)"""
        slot_of = self.table._slot
        guids = due.tolist() if isinstance(due, np.ndarray) else due
        slots = [s for s in map(slot_of.get, itertools.chain(guids, self._fresh)) if s is not None]
        mask = np.zeros(self.table.n, bool)
        mask[slots] = True
        return mask

    def pack(self, clients: np.ndarray | None = None) -> Frames:
        """Every client's position-update frame for the current views."""
        return self.packer.pack(self.table, self.aoi, clients)
