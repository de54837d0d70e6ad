"""SpatialTable: entity positions and velocities in contiguous numpy arrays.

Each entity owns a *slot*: row ``i`` of ``pos`` (n x 3 float32), ``vel``
(n x 3 float32), ``alive`` (uint8), ``view`` (int8 radius class, -1 for
entities that are seen but do not see), ``cell`` (int32 grid cell),
``guids`` (uint64) and ``tag`` (int32, the caller's: a kind or class as a
small number, so a filter over AOI rows is one array read per entity, not a
dict lookup). The C core reads and writes these arrays in place.

Adding and removing entities changes slots, so both are *queued* and
applied at the tick boundary (``begin_tick``), like pymunk's space does
during a step: indices handed out during a tick stay valid until the next.
A removed entity is *dying* for one tick (dead, so the AOI reports it
leaving every view), then its slot joins the free list; new entities reuse
free slots, and when too many are free the table compacts, moving live
entities from the end into the holes.

>>> from engine.spatial import WorldConfig
>>> table = SpatialTable(WorldConfig())
>>> table.add(7, (10.0, 20.0, 0.0), view_class=0)
>>> len(table), table.pending
(0, 1)
>>> _ = table.begin_tick()
>>> len(table), table.slot(7), table.pos[0].tolist()
(1, 0, [10.0, 20.0, 0.0])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs
import numpy as np

from engine.guid import MAX_GUID, format_guid
from engine.spatial._config import WorldConfig


@attrs.frozen(slots=True)
class Compaction:
    """How a compaction moved slots: ``remap[old]`` is the new slot, or -1 if freed."""

    remap: np.ndarray
    old_n: int
    new_n: int


@attrs.define(slots=True)
class _Pending:
    pos: tuple[float, float, float]
    vel: tuple[float, float, float]
    view_class: int
    tag: int = 0


class SpatialTable:
    """Slots of entity state in float32 arrays, with queued structural changes."""

    def __init__(self, config: WorldConfig, capacity: int = 1024, compact_min: int | None = None):
        """``compact_min``: free slots tolerated before a compaction (default: 32 or n/8)."""
        self.config = config
        self.compact_min = compact_min
        capacity = max(16, int(capacity))
        self.pos = np.zeros((capacity, 3), np.float32)
        self.vel = np.zeros((capacity, 3), np.float32)
        self.alive = np.zeros(capacity, np.uint8)
        self.view = np.full(capacity, -1, np.int8)
        self.cell = np.zeros(capacity, np.int32)
        self.guids = np.zeros(capacity, np.uint64)
        self.tag = np.zeros(capacity, np.int32)
        self.n = 0
        """High-water mark: slots 0..n-1 are live, dying or free."""
        self._slot: dict[int, int] = {}
        self._free: list[int] = []
        self._dying: list[int] = []
        self._adds: dict[int, _Pending] = {}
        self._removes: dict[int, None] = {}

    # -- reading ----------------------------------------------------------------

    def __len__(self) -> int:
        """Live entities (pending adds not counted until the tick boundary)."""
        return len(self._slot)

    def __contains__(self, guid: object) -> bool:
        return guid in self._slot

    @property
    def capacity(self) -> int:
        return self.pos.shape[0]

    @property
    def pending(self) -> int:
        """Structural changes waiting for the next tick boundary."""
        return len(self._adds) + len(self._removes)

    def slot(self, guid: int) -> int:
        """The slot of a live entity (KeyError if it is not in the table)."""
        try:
            return self._slot[guid]
        except KeyError:
            raise KeyError(f"entity {_show(guid)} is not in the spatial table") from None

    def slots(self, guids: Iterable[int]) -> np.ndarray:
        """Slots of several live entities, as an int32 array."""
        return np.fromiter((self.slot(g) for g in guids), np.int32)

    def observers(self) -> np.ndarray:
        """Slots of every live observer, ascending."""
        n = self.n
        return np.flatnonzero(self.alive[:n].astype(bool) & (self.view[:n] >= 0)).astype(np.int32)

    # -- structural changes (queued) ----------------------------------------------

    def add(self, guid: int, pos: Sequence[float], vel: Sequence[float] = (0.0, 0.0, 0.0),
            view_class: int | None = None, tag: int = 0) -> None:
        """Queue an entity; it gets a slot at the next tick boundary.

        ``view_class`` indexes ``config.view_radii``; None makes an entity
        that is seen but sees nothing (a prop, an item). ``tag``: the
        caller's number for it (0 when free or not given).
        """
        if type(guid) is not int or not 0 <= guid <= MAX_GUID:
            raise ValueError(f"not a Guid: {guid!r}")
        if guid in self._adds or (guid in self._slot and guid not in self._removes):
            raise KeyError(f"entity {_show(guid)} is already in the spatial table")
        klass = -1 if view_class is None else int(view_class)
        if not -1 <= klass < len(self.config.view_radii):
            raise ValueError(f"view_class {view_class!r} is not an index of view_radii "
                             f"{self.config.view_radii}")
        self._adds[guid] = _Pending(_vec3("position", guid, pos), _vec3("velocity", guid, vel), klass,
                                    int(tag))

    def remove(self, guid: int) -> None:
        """Queue a removal; at the next tick boundary the entity leaves every view."""
        if self._adds.pop(guid, None) is not None:
            return
        if guid not in self._slot:
            raise KeyError(f"entity {_show(guid)} is not in the spatial table")
        self._removes[guid] = None

    # -- per-entity writes (immediate; not for hot paths) ---------------------------

    def set_position(self, guid: int, pos: Sequence[float]) -> None:
        """Teleport an entity (or change a pending one's start)."""
        p = _vec3("position", guid, pos)
        pending = self._adds.get(guid)
        if pending is not None:
            pending.pos = p
            return
        i = self.slot(guid)
        self.pos[i] = p
        self.cell[i] = self.config.cell_of(float(self.pos[i, 0]), float(self.pos[i, 1]))

    def set_positions(self, guids: Sequence[int], positions: np.ndarray) -> None:
        """Teleport many live entities at once: ``positions`` is (len(guids), 3); one numpy pass.

        For hosts whose positions come from elsewhere each tick (physics):
        the same as ``set_position`` for each, without a Python call per entity.
        Pending (not yet placed) entities are not allowed here.
        """
        positions = np.asarray(positions, np.float64).reshape(-1, 3)
        if len(guids) != len(positions):
            raise ValueError(f"{len(guids)} guids but {len(positions)} positions")
        if not np.isfinite(positions).all():
            bad = int(np.flatnonzero(~np.isfinite(positions).all(axis=1))[0])
            raise ValueError(f"position of entity {_show(guids[bad])} is not finite: "
                             f"{positions[bad].tolist()}")
        try:
            slots = np.fromiter(map(self._slot.__getitem__, guids), np.int64, len(guids))
        except KeyError as exc:
            raise KeyError(f"entity {_show(exc.args[0])} is not in the spatial table") from None
        self.pos[slots] = positions
        cfg = self.config
        nx, ny = cfg.grid
        q = self.pos[slots, :2].astype(np.float64) * (1.0 / cfg.cell_size)  # as axis_cell, from the float32s
        cx = np.clip(np.floor(np.nan_to_num(q[:, 0], nan=0.0)), 0, nx - 1).astype(np.int64)
        cy = np.clip(np.floor(np.nan_to_num(q[:, 1], nan=0.0)), 0, ny - 1).astype(np.int64)
        self.cell[slots] = (cy * nx + cx).astype(np.int32)

    def set_velocity(self, guid: int, vel: Sequence[float]) -> None:
        """Set an entity's velocity (units per second)."""
        v = _vec3("velocity", guid, vel)
        pending = self._adds.get(guid)
        if pending is not None:
            pending.vel = v
            return
        self.vel[self.slot(guid)] = v

    # -- the tick boundary ----------------------------------------------------------

    def begin_tick(self, retire: bool = True) -> Compaction | None:
        """Apply queued changes: compact if fragmented, retire removals, place adds.

        Returns the Compaction when slots moved (the AOI must remap its
        state), else None. Removed entities stay in their slots, dead, until
        the next ``begin_tick``, so this tick's AOI reports them leaving and
        their Guids can still be read from ``guids`` until then. Pass
        ``retire=False`` when last tick's views were not updated (its step
        failed): the dead then keep their slots until their leaving has been
        reported.
        """
        if retire:
            self._retire()
        moved = self._compact() if self._fragmented() else None
        for guid in self._removes:
            i = self._slot.pop(guid)
            self.alive[i] = 0
            self._dying.append(i)
        self._removes.clear()
        for guid, p in self._adds.items():
            self._place(guid, p)
        self._adds.clear()
        return moved

    def _retire(self) -> None:
        """Free the slots of entities removed last tick (they have left every view)."""
        for i in self._dying:
            self.pos[i] = 0.0
            self.vel[i] = 0.0
            self.view[i] = -1
            self.guids[i] = 0
            self.tag[i] = 0
            self._free.append(i)
        self._dying.clear()

    def _fragmented(self) -> bool:
        limit = max(32, self.n // 8) if self.compact_min is None else self.compact_min
        return len(self._free) > limit

    def _place(self, guid: int, p: _Pending) -> None:
        if self._free:
            i = self._free.pop()
        else:
            if self.n == self.capacity:
                self._grow(self.capacity * 2)
            i = self.n
            self.n += 1
        self.pos[i] = p.pos
        self.vel[i] = p.vel
        self.alive[i] = 1
        self.view[i] = p.view_class
        self.cell[i] = self.config.cell_of(float(self.pos[i, 0]), float(self.pos[i, 1]))
        self.guids[i] = guid
        self.tag[i] = p.tag
        self._slot[guid] = i

    def _grow(self, capacity: int) -> None:
        for name in ("pos", "vel", "alive", "view", "cell", "guids", "tag"):
            old = getattr(self, name)
            new = np.zeros((capacity,) + old.shape[1:], old.dtype)
            if name == "view":
                new[:] = -1
            new[: old.shape[0]] = old
            setattr(self, name, new)

    def _compact(self) -> Compaction:
        """Move live entities from the end into free slots; n becomes the live count."""
        old_n = self.n
        holes = np.array(sorted(self._free), np.int64)
        live = np.flatnonzero(self.alive[:old_n])
        new_n = live.size
        dst = holes[holes < new_n]
        src = live[live >= new_n]
        assert dst.size == src.size, "every hole below n must receive a tail entity"
        for name in ("pos", "vel", "alive", "view", "cell", "guids", "tag"):
            a = getattr(self, name)
            a[dst] = a[src]
        self.pos[new_n:old_n] = 0.0
        self.vel[new_n:old_n] = 0.0
        self.alive[new_n:old_n] = 0
        self.view[new_n:old_n] = -1
        self.guids[new_n:old_n] = 0
        self.tag[new_n:old_n] = 0
        remap = np.arange(old_n, dtype=np.int32)
        remap[holes] = -1
        remap[src] = dst
        for d in dst.tolist():
            self._slot[int(self.guids[d])] = d
        self._free.clear()
        self.n = new_n
        return Compaction(remap, old_n, new_n)


def _vec3(what: str, guid: int, v: Sequence[float]) -> tuple[float, float, float]:
    try:
        x, y, z = (float(c) for c in v)
    except (TypeError, ValueError):
        raise ValueError(f"{what} of entity {_show(guid)} must be three numbers, got {v!r}") from None
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        raise ValueError(f"{what} of entity {_show(guid)} is not finite: {(x, y, z)}")
    return x, y, z


def _show(guid: object) -> str:
    try:
        return format_guid(guid)  # type: ignore[arg-type]
    except ValueError:
        return repr(guid)
