"""The static boxes as arrays, for the controller's exact push-out at corners.

The wall sweep casts three rays per capsule; a box corner that passes
between two rays can cut into the capsule's flank by a few centimetres.
After the sweep every moved capsule is pushed out of any box it overlaps
(circle against a yaw-rotated rectangle, in the horizontal plane), found
through a uniform grid so the cost follows the boxes near each capsule.

>>> boxes = BoxTable(cell=16.0)
>>> boxes.set({1: (10.0, 0.0, 1.0, 1.0, 5.0, 1.0, 0.0)})
>>> xy = np.array([[8.9, 0.0]])
>>> boxes.push_out(xy, np.zeros(1), np.full(1, 0.4), np.full(1, 1.8), 0.35, 0.02).round(3).tolist()
[[8.58, 0.0]]
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

_EPS = 1e-9
REACH = 2.0
"""Widest capsule radius the grid reach allows for (m); wider ones are still pushed, near their centre."""


class BoxTable:
    """Static boxes ``id -> (cx, cy, cz, hx, hy, hz, yaw)`` and their grid."""

    def __init__(self, cell: float = 16.0):
        self.cell = cell
        self._boxes: dict[int, tuple[float, ...]] = {}
        self._keys = np.zeros(0, np.int64)  # sorted cell keys, and for each its slice of _members
        self._counts = np.zeros(0, np.int64)
        self._starts = np.zeros(0, np.int64)
        self._members = np.zeros(0, np.int64)
        self._params = np.zeros((0, 9))  # cx cy zlo zhi hx hy cos sin, unused

    def set(self, boxes: dict[int, tuple[float, ...]]) -> None:
        """Replace the whole table (the scene keeps the dict; this rebuilds the arrays)."""
        self._boxes = dict(boxes)
        rows = []
        grid: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, (cx, cy, cz, hx, hy, hz, yaw) in enumerate(self._boxes.values()):
            c, s = math.cos(yaw), math.sin(yaw)
            rows.append((cx, cy, cz - hz, cz + hz, hx, hy, c, s, 0.0))
            ex = abs(c) * hx + abs(s) * hy + REACH
            ey = abs(s) * hx + abs(c) * hy + REACH
            for gx in range(math.floor((cx - ex) / self.cell), math.floor((cx + ex) / self.cell) + 1):
                for gy in range(math.floor((cy - ey) / self.cell), math.floor((cy + ey) / self.cell) + 1):
                    grid[(gx, gy)].append(i)
        self._params = np.array(rows, dtype=np.float64).reshape(-1, 9)
        cells = sorted(grid)
        self._keys = _key(np.array([c[0] for c in cells], np.int64),
                          np.array([c[1] for c in cells], np.int64))
        order = np.argsort(self._keys)
        self._keys = self._keys[order]
        lists = [grid[cells[i]] for i in order.tolist()]
        self._counts = np.array([len(v) for v in lists], np.int64)
        self._starts = np.concatenate(([0], np.cumsum(self._counts)[:-1])).astype(np.int64)
        self._members = np.array([b for v in lists for b in v], np.int64)

    def __len__(self) -> int:
        return len(self._boxes)

    def push_out(self, xy: np.ndarray, feet: np.ndarray, radius: np.ndarray, height: np.ndarray,
                 step_height: float, skin: float, rounds: int = 2) -> np.ndarray:
        """``xy`` moved out of every box that overlaps a capsule above its step height."""
        if not self._boxes or len(xy) == 0:
            return xy
        xy = xy.copy()
        for _ in range(rounds):
            caps, boxes = self._pairs(xy)
            if caps.size == 0:
                return xy
            p = self._params[boxes]
            lo = feet[caps] + step_height
            hi = feet[caps] + height[caps]
            overlap_z = (p[:, 2] < hi) & (p[:, 3] > lo)
            dx = xy[caps, 0] - p[:, 0]
            dy = xy[caps, 1] - p[:, 1]
            c, s = p[:, 6], p[:, 7]
            lx = dx * c + dy * s
            ly = -dx * s + dy * c
            qx = np.clip(lx, -p[:, 4], p[:, 4])
            qy = np.clip(ly, -p[:, 5], p[:, 5])
            ex, ey = lx - qx, ly - qy
            dist = np.hypot(ex, ey)
            r = radius[caps]
            hit = overlap_z & (dist < r - _EPS)
            if not hit.any():
                return xy
            caps, p, lx, ly, qx, qy, ex, ey, dist, r, c, s = (
                a[hit] for a in (caps, p, lx, ly, qx, qy, ex, ey, dist, r, c, s))
            target = r + skin
            outside = dist > _EPS
            # outside the box: straight out from the nearest point
            nx = np.where(outside, qx + ex / np.maximum(dist, _EPS) * target, lx)
            ny = np.where(outside, qy + ey / np.maximum(dist, _EPS) * target, ly)
            # centre inside the box: out through the nearest face
            inside = ~outside
            if inside.any():
                gap_x = p[inside, 4] - np.abs(lx[inside])
                gap_y = p[inside, 5] - np.abs(ly[inside])
                along_x = gap_x <= gap_y
                sx = np.where(lx[inside] >= 0, 1.0, -1.0)
                sy = np.where(ly[inside] >= 0, 1.0, -1.0)
                nx[inside] = np.where(along_x, sx * (p[inside, 4] + target[inside]), lx[inside])
                ny[inside] = np.where(along_x, ly[inside], sy * (p[inside, 5] + target[inside]))
            moved = np.column_stack((p[:, 0] + nx * c - ny * s, p[:, 1] + nx * s + ny * c))
            # one push per capsule per round (the deepest), so two boxes do not fight in one round
            depth = r - dist
            order = np.lexsort((-depth, caps))
            first = np.ones(order.size, bool)
            first[1:] = caps[order][1:] != caps[order][:-1]
            chosen = order[first]
            xy[caps[chosen]] = moved[chosen]
        return xy

    def near(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """True where a box may be within ``REACH`` of the segment start -> end (conservative).

        The corners of the segment's bounding rectangle are looked up; a
        segment longer than a cell is always near.
        """
        if self._keys.size == 0:
            return np.zeros(len(start), bool)
        a = np.floor(start / self.cell).astype(np.int64)
        b = np.floor(end / self.cell).astype(np.int64)
        out = np.any(np.abs(end - start) >= self.cell, axis=1)
        for gx, gy in ((a[:, 0], a[:, 1]), (b[:, 0], b[:, 1]), (a[:, 0], b[:, 1]), (b[:, 0], a[:, 1])):
            keys = _key(gx, gy)
            at = np.minimum(np.searchsorted(self._keys, keys), self._keys.size - 1)
            out |= self._keys[at] == keys
        return out

    def _pairs(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(capsule index, box index) for every box listed in the grid cell of each capsule."""
        if self._keys.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        cells = np.floor(xy / self.cell).astype(np.int64)
        keys = _key(cells[:, 0], cells[:, 1])
        at = np.minimum(np.searchsorted(self._keys, keys), self._keys.size - 1)
        counts = np.where(self._keys[at] == keys, self._counts[at], 0)
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        caps = np.repeat(np.arange(len(xy)), counts)
        first = np.repeat(self._starts[at] - (np.cumsum(counts) - counts), counts)
        return caps, self._members[first + np.arange(total)]


def _key(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """One int64 per grid cell (cells within +-2**31 of the origin)."""
    return (gx << 32) + (gy & 0xFFFFFFFF)
