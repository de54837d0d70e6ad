"""InterestGrid: who sees whom, and who entered or left whose view this tick.

Each tick one C call (``native.aoi_update``) buckets the live entities
of a :class:`SpatialTable` into a uniform grid and computes, for every
observer, the entities within its view radius (x/y distance), with
hysteresis: an entity enters at ``radius`` and leaves beyond
``radius + margin``, so one standing on the border does not flicker.
The result is a CSR table (``offsets``, ``entities``) of every observer's
view plus enter and leave events, as (observer slot, entity slot) pairs
grouped by ascending observer. An observer never sees itself. A caller
that reads only some views in a tick passes ``due`` and pays for the
scans of those only; the others keep their previous view, less the
entities gone.

>>> from engine.spatial import SpatialTable, WorldConfig
>>> cfg = WorldConfig(view_radii=(50,), margins=(5,))
>>> table = SpatialTable(cfg)
>>> table.add(1, (100, 100, 0), view_class=0)
>>> table.add(2, (130, 100, 0))               # a prop: seen, sees nothing
>>> _ = table.begin_tick()
>>> aoi = InterestGrid(cfg)
>>> aoi.update(table).enter.tolist()
[[0, 1]]
>>> aoi.visible(0).tolist(), aoi.visible(1).tolist()
([1], [])
"""

from __future__ import annotations

import attrs
import numpy as np

import native
from engine.guid import format_guid
from engine.spatial._config import WorldConfig
from engine.spatial._table import Compaction, SpatialTable


class NonFiniteError(native.NonFiniteError):
    """An entity's position or velocity is NaN or infinite; the text names its Guid."""


@attrs.frozen(slots=True)
class AoiEvents:
    """One tick's view changes: (k, 2) int32 arrays of (observer slot, entity slot)."""

    enter: np.ndarray
    leave: np.ndarray

    def as_guids(self, guids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same pairs as (k, 2) uint64 Guids, looked up in a table's ``guids``."""
        return guids[self.enter], guids[self.leave]


def _empty_pairs() -> np.ndarray:
    return np.zeros((0, 2), np.int32)


class InterestGrid:
    """AOI state between ticks: last tick's views, scratch buffers, stamps."""

    def __init__(self, config: WorldConfig):
        self.config = config
        self._radii = np.array(config.view_radii, np.float64)
        self._margins = np.array(config.margins, np.float64)
        nx, ny = config.grid
        self._scratch = {
            "grid_start": np.zeros(nx * ny + 1, np.int32),
            "grid_ents": np.zeros(0, np.int32),
            "grid_pos": np.zeros((0, 2), np.float32),
            "cell_tmp": np.zeros(0, np.int32),
            "stamp": np.zeros(0, np.uint32),
            "stamp_state": np.zeros(1, np.uint32),
        }
        self._off = np.zeros(1, np.int32)   # current views (CSR), rows 0.._rows-1
        self._ents = np.zeros(0, np.int32)
        self._rows = 0
        self._spare_off = np.zeros(1, np.int32)
        self._spare_ents = np.zeros(1024, np.int32)
        self._enter = np.zeros((1024, 2), np.int32)
        self._leave = np.zeros((1024, 2), np.int32)

    # -- reading ----------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Observer rows in the current view table (the table's n at the last update)."""
        return self._rows

    def csr(self) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, entities) of every view, read-only views valid until the next update."""
        off = self._off[: self._rows + 1]
        ents = self._ents[: int(off[-1])]
        off = off.view()
        ents = ents.view()
        off.flags.writeable = False
        ents.flags.writeable = False
        return off, ents

    def visible(self, slot: int) -> np.ndarray:
        """Slots that observer ``slot`` sees (a copy; order unspecified)."""
        if not 0 <= slot < self._rows:
            return np.zeros(0, np.int32)
        return self._ents[self._off[slot]: self._off[slot + 1]].copy()

    def pairs(self) -> int:
        """How many (observer, entity) pairs are currently in view."""
        return int(self._off[self._rows])

    # -- the tick ---------------------------------------------------------------

    def update(self, table: SpatialTable, due: np.ndarray | None = None) -> AoiEvents:
        """Recompute the views from the table's positions; return the changes.

        ``due`` (one bool or uint8 flag per table slot, ``table.n`` of them;
        None: all) limits the scan to the observers whose views the caller
        reads this tick: a caller that reads each view every few ticks need
        not pay for the others. An observer not due keeps its previous view
        (empty if it had none), less the entities no longer alive, which
        leave. Hysteresis then holds between the updates that scan a view:
        an entity beyond the radius but within the margin stays in a view
        if it was in the view last scanned.
        """
        n = table.n
        if due is not None:
            due = _due_flags(due, n)
        self._fit_scratch(n)
        if self._spare_off.shape[0] < n + 1:
            self._spare_off = np.zeros(max(n + 1, 2 * self._spare_off.shape[0]), np.int32)
        for _attempt in range(3):
            try:
                total, ne, nl = native.aoi_update(
                    table.pos, table.alive, table.view, n, self._radii, self._margins,
                    self.config.cell_size, self.config.grid, self._scratch,
                    (self._off, self._ents, self._rows), (self._spare_off, self._spare_ents),
                    self._enter, self._leave, due)
                break
            except native.CapacityError as exc:
                total, ne, nl = exc.needed
                self._spare_ents = _grown(self._spare_ents, total)
                self._enter = _grown(self._enter, ne)
                self._leave = _grown(self._leave, nl)
            except native.NonFiniteError as exc:
                raise _named(exc, table) from None
        else:  # pragma: no cover - the second attempt always has room
            raise RuntimeError("aoi_update: buffers kept growing")
        self._off, self._spare_off = self._spare_off, self._off
        self._ents, self._spare_ents = self._spare_ents, self._ents
        self._rows = n
        return AoiEvents(self._enter[:ne].copy(), self._leave[:nl].copy())

    def remap(self, moved: Compaction) -> None:
        """Follow a table compaction: renumber rows and entries (freed slots vanish)."""
        remap = moved.remap
        rows = min(self._rows, moved.old_n)
        off = self._off[: rows + 1].astype(np.int64)
        inv = np.full(moved.new_n, -1, np.int64)
        kept = np.flatnonzero(remap[:rows] >= 0)
        inv[remap[kept]] = kept
        has = inv >= 0
        lengths = np.zeros(moved.new_n, np.int64)
        lengths[has] = off[inv[has] + 1] - off[inv[has]]
        starts = np.zeros(moved.new_n, np.int64)
        starts[has] = off[inv[has]]
        total = int(lengths.sum())
        row_of = np.repeat(np.arange(moved.new_n), lengths)
        first = np.cumsum(lengths) - lengths
        src = starts[row_of] + (np.arange(total) - first[row_of])
        ents = remap[self._ents[src]] if total else np.zeros(0, np.int32)
        keep = ents >= 0
        counts = np.bincount(row_of[keep], minlength=moved.new_n)
        new_off = np.zeros(max(moved.new_n + 1, self._off.shape[0]), np.int32)
        new_off[1: moved.new_n + 1] = np.cumsum(counts)
        new_ents = np.zeros(max(int(keep.sum()), self._ents.shape[0]), np.int32)
        new_ents[: int(keep.sum())] = ents[keep]
        self._off, self._ents, self._rows = new_off, new_ents, moved.new_n

    def _fit_scratch(self, n: int) -> None:
        for name in ("grid_ents", "grid_pos", "cell_tmp", "stamp"):
            a = self._scratch[name]
            if a.shape[0] < n:
                self._scratch[name] = np.zeros((max(n, 2 * a.shape[0], 1024),) + a.shape[1:], a.dtype)


def _due_flags(due: object, n: int) -> np.ndarray:
    """``due`` as the uint8 flags the C reads (no copy), or an error saying what is wrong with it."""
    if not isinstance(due, np.ndarray):
        raise TypeError(f"due must be a numpy array of bool or uint8, got {type(due).__name__}")
    if due.dtype not in (np.bool_, np.uint8):
        raise TypeError(f"due must have dtype bool or uint8, got {due.dtype}")
    if due.shape != (n,):
        raise ValueError(f"due must hold one flag per table slot, shape ({n},), got {due.shape}")
    return np.ascontiguousarray(due).view(np.uint8)


def _grown(a: np.ndarray, needed: int) -> np.ndarray:
    if a.shape[0] >= needed:
        return a
    return np.zeros((needed + needed // 4 + 1024,) + a.shape[1:], a.dtype)


def _named(exc: native.NonFiniteError, table: SpatialTable) -> NonFiniteError:
    i = exc.index
    guid = format_guid(int(table.guids[i])) if 0 <= i < table.n else "?"
    where = table.pos[i].tolist() if 0 <= i < table.n else None
    return NonFiniteError(f"entity {guid} (slot {i}) has a non-finite position {where}", i)
