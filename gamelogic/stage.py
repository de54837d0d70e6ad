"""The stage: buildings, rooms, walls and doors as a graph of containers (WorldForge STAGE).

Every point of the world is in one container: a room of a building, or
``OUTDOORS``. Doors join two containers (a room and the outdoors, or two
rooms). What the graph decides:

- sight: two points see each other if they are in the same container, or in
  two containers joined by an *open* door (a shut door blocks sight);
- sound: heard at full range in the same container or through an open
  door, at a third of it through a shut door, not at all otherwise;
- walls: every room edge, merged where rooms share a wall, with a gap for
  each door; a shut door fills its gap. Physics gets these as boxes.

Buildings are axis-aligned rectangles (``size``); ``rooms`` splits one into
rectangles given relative to its centre. A door must stand on a wall::

    stage = Stage(world.entities, tree)
    stage.container_at(201.0, 205.0)        # 'village.inn/0'
    stage.can_see(a_xy, b_xy, open_doors)   # open_doors: ids of doors now open
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from gamelogic.classes import ClassTree
from gamelogic.worldfile import Problem, WorldEntity  # worldfile imports this module only inside validate

OUTDOORS = "outdoors"
WALL_THICKNESS = 0.3
DOOR_TOLERANCE = 0.4
"""How far (m) a door's position may be from its wall's line."""
SHUT_DOOR_HEARING = 1 / 3


@attrs.frozen
class Room:
    id: str
    building: str
    rect: tuple[float, float, float, float]  # x0, y0, x1, y1 in world coordinates

    def contains(self, x: float, y: float) -> bool:
        x0, y0, x1, y1 = self.rect
        return x0 <= x < x1 and y0 <= y < y1


@attrs.frozen
class Door:
    id: str
    pos: tuple[float, float]
    width: float
    height: float
    axis: str  # "x": the wall runs along x (a horizontal line y = const); "y": along y
    sides: tuple[str, str]


@attrs.frozen
class Wall:
    """A straight wall segment: from ``a`` to ``b`` along one axis."""

    a: tuple[float, float]
    b: tuple[float, float]
    height: float
    building: str


class Stage:
    """The containers of a world and how they connect."""

    def __init__(self, entities: Iterable[WorldEntity], tree: ClassTree):
        self.problems: list[Problem] = []
        self.rooms: list[Room] = []
        self.doors: dict[str, Door] = {}
        self._heights: dict[str, float] = {}
        self._building_rects: dict[str, tuple[float, float, float, float]] = {}
        entities = list(entities)
        for e in entities:
            if tree.is_a(e.cls, "building"):
                self._add_building(e, tree.properties(e.cls, e.props))
        self._lines = self._wall_lines()
        for e in entities:
            if tree.is_a(e.cls, "door"):
                self._add_door(e, tree.properties(e.cls, e.props))
        self.walls: list[Wall] = self._cut_walls()

    # -- queries ----------------------------------------------------------------------

    def container_at(self, x: float, y: float) -> str:
        for room in self.rooms:
            if room.contains(x, y):
                return room.id
        return OUTDOORS

    def containers_at(self, xy: np.ndarray) -> list[str]:
        """``container_at`` for each row of an (n, 2) array, in one numpy pass per room."""
        room, names = self.rooms_at(xy)
        return [names[i] if i >= 0 else OUTDOORS for i in room.tolist()]

    def rooms_at(self, xy: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """For each row of an (n, 2) array, the index of its room in the names given (-1: outdoors)."""
        out = np.full(len(xy), -1, np.int64)
        for i, room in enumerate(self.rooms):
            x0, y0, x1, y1 = room.rect
            inside = (out < 0) & (xy[:, 0] >= x0) & (xy[:, 0] < x1) & (xy[:, 1] >= y0) & (xy[:, 1] < y1)
            out[inside] = i
        return out, [room.id for room in self.rooms]

    def doors_between(self, a: str, b: str) -> list[Door]:
        return [d for d in self.doors.values() if set(d.sides) == {a, b}]

    def can_see(self, a: Sequence[float], b: Sequence[float], open_doors: set[str] | frozenset[str]) -> bool:
        ca, cb = self.container_at(a[0], a[1]), self.container_at(b[0], b[1])
        return ca == cb or any(d.id in open_doors for d in self.doors_between(ca, cb))

    def hearing_range(self, a: Sequence[float], b: Sequence[float], full: float,
                      open_doors: set[str] | frozenset[str]) -> float:
        """How far a sound made at ``a`` carries towards ``b`` (0: not at all)."""
        ca, cb = self.container_at(a[0], a[1]), self.container_at(b[0], b[1])
        if ca == cb:
            return full
        doors = self.doors_between(ca, cb)
        if not doors:
            return 0.0
        if any(d.id in open_doors for d in doors):
            return full
        return full * SHUT_DOOR_HEARING

    def wall_boxes(self) -> list[list[Any]]:
        """Every wall as a physics box ``[id, cx, cy, cz, hx, hy, hz, yaw]`` (z from 0 up)."""
        boxes = []
        for n, w in enumerate(self.walls):
            (ax, ay), (bx, by) = w.a, w.b
            hx = max(abs(bx - ax) / 2, WALL_THICKNESS / 2)
            hy = max(abs(by - ay) / 2, WALL_THICKNESS / 2)
            boxes.append([f"wall.{w.building}.{n}", (ax + bx) / 2, (ay + by) / 2, w.height / 2,
                          hx, hy, w.height / 2, 0.0])
        return boxes

    def door_box(self, door_id: str) -> list[Any]:
        """The box that fills a shut door's gap."""
        d = self.doors[door_id]
        half = d.width / 2
        hx, hy = (half, WALL_THICKNESS / 2) if d.axis == "x" else (WALL_THICKNESS / 2, half)
        return [f"door.{d.id}", d.pos[0], d.pos[1], d.height / 2, hx, hy, d.height / 2, 0.0]

    # -- building the graph --------------------------------------------------------------

    def _add_building(self, e: WorldEntity, props: dict[str, Any]) -> None:
        w, d = props["size"]
        cx, cy = e.pos
        outer = (cx - w / 2, cy - d / 2, cx + w / 2, cy + d / 2)
        self._building_rects[e.id] = outer
        self._heights[e.id] = float(props["height"])
        rects = props["rooms"] or [[-w / 2, -d / 2, w / 2, d / 2]]
        for n, r in enumerate(rects):
            if not (isinstance(r, list) and len(r) == 4 and all(isinstance(v, (int, float)) for v in r)):
                self.problems.append(Problem(e.line, f"{e.id}: a room must be [x0, y0, x1, y1], got {r!r}",
                                             e.id))
                continue
            x0, y0, x1, y1 = (float(v) for v in r)
            if not (x0 < x1 and y0 < y1):
                self.problems.append(Problem(e.line, f"{e.id}: room {n} is empty or inside out", e.id))
                continue
            if x0 < -w / 2 - 1e-6 or x1 > w / 2 + 1e-6 or y0 < -d / 2 - 1e-6 or y1 > d / 2 + 1e-6:
                self.problems.append(Problem(e.line, f"{e.id}: room {n} reaches outside the building", e.id))
                continue
            self.rooms.append(Room(f"{e.id}/{n}", e.id, (cx + x0, cy + y0, cx + x1, cy + y1)))

    def _wall_lines(self) -> dict[tuple[str, float, str], list[tuple[float, float]]]:
        """Merged wall intervals per (axis, coordinate, building)."""
        lines: dict[tuple[str, float, str], list[tuple[float, float]]] = {}
        for room in self.rooms:
            x0, y0, x1, y1 = room.rect
            for key, span in ((("x", round(y0, 3), room.building), (x0, x1)),
                              (("x", round(y1, 3), room.building), (x0, x1)),
                              (("y", round(x0, 3), room.building), (y0, y1)),
                              (("y", round(x1, 3), room.building), (y0, y1))):
                lines.setdefault(key, []).append(span)
        for key, spans in lines.items():
            spans.sort()
            merged = [list(spans[0])]
            for lo, hi in spans[1:]:
                if lo <= merged[-1][1] + 1e-6:
                    merged[-1][1] = max(merged[-1][1], hi)
                else:
                    merged.append([lo, hi])
            lines[key] = [(lo, hi) for lo, hi in merged]
        return lines

    def _add_door(self, e: WorldEntity, props: dict[str, Any]) -> None:
        x, y = e.pos
        width = float(props["width"])
        for (axis, coord, _building), spans in self._lines.items():
            along, across = (x, y) if axis == "x" else (y, x)
            if abs(across - coord) > DOOR_TOLERANCE:
                continue
            if any(lo + width / 2 - 1e-6 <= along <= hi - width / 2 + 1e-6 for lo, hi in spans):
                nx, ny = (0.0, 0.5) if axis == "x" else (0.5, 0.0)
                pos = (x, coord) if axis == "x" else (coord, y)
                sides = (self.container_at(pos[0] - nx, pos[1] - ny),
                         self.container_at(pos[0] + nx, pos[1] + ny))
                if sides[0] == sides[1]:
                    continue
                self.doors[e.id] = Door(e.id, pos, width, float(props["height"]), axis, sides)
                return
        self.problems.append(Problem(e.line, f"{e.id}: door at ({x:g}, {y:g}) is not in a wall", e.id))

    def _cut_walls(self) -> list[Wall]:
        walls = []
        for (axis, coord, building), spans in sorted(self._lines.items()):
            gaps = sorted(
                ((d.pos[0] if axis == "x" else d.pos[1]) - d.width / 2,
                 (d.pos[0] if axis == "x" else d.pos[1]) + d.width / 2)
                for d in self.doors.values()
                if d.axis == axis and abs((d.pos[1] if axis == "x" else d.pos[0]) - coord) < 1e-6)
            for lo, hi in spans:
                pieces = [(lo, hi)]
                for g0, g1 in gaps:
                    pieces = [p for a, b in pieces for p in ((a, min(b, g0)), (max(a, g1), b))
                              if p[1] - p[0] > 1e-6]
                for a, b in pieces:
                    ends = ((a, coord), (b, coord)) if axis == "x" else ((coord, a), (coord, b))
                    walls.append(Wall(ends[0], ends[1], self._heights[building], building))
        return walls
