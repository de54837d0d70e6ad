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
_REACH = 2.0
"""Widest capsule radius the grid reach allows for (m); wider ones are still pushed, near their centre."""


class BoxTable:
    """Static boxes ``id -> (cx, cy, cz, hx, hy, hz, yaw)`` and their grid."""

    def __init__(self, cell: float = 16.0):
        self.cell = cell
        self._boxes: dict[int, tuple[float, ...]] = {}
        self._grid: dict[tuple[int, int], np.ndarray] = {}
        self._params = np.zeros((0, 9))  # cx cy zlo zhi hx hy cos sin, unused

    def set(self, boxes: dict[int, tuple[float, ...]]) -> None:
        """Replace the whole table (the scene keeps the dict; this rebuilds the arrays)."""
        self._boxes = dict(boxes)
        rows = []
        grid: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, (cx, cy, cz, hx, hy, hz, yaw) in enumerate(self._boxes.values()):
            c, s = math.cos(yaw), math.sin(yaw)
            rows.append((cx, cy, cz - hz, cz + hz, hx, hy, c, s, 0.0))
            ex = abs(c) * hx + abs(s) * hy + _REACH
            ey = abs(s) * hx + abs(c) * hy + _REACH
            for gx in range(math.floor((cx - ex) / self.cell), math.floor((cx + ex) / self.cell) + 1):
                for gy in range(math.floor((cy - ey) / self.cell), math.floor((cy + ey) / self.cell) + 1):
                    grid[(gx, gy)].append(i)
        self._params = np.array(rows, dtype=np.float64).reshape(-1, 9)
        self._grid = {k: np.array(v, dtype=np.int64) for k, v in grid.items()}

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

    def _pairs(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(capsule index, box index) for every box listed in the grid cell of each capsule."""
        cells = np.floor(xy / self.cell).astype(np.int64)
        caps_out, boxes_out = [], []
        keys, inverse = np.unique(cells, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        counts = np.bincount(inverse, minlength=len(keys))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        for k, (gx, gy) in enumerate(keys.tolist()):
            listed = self._grid.get((gx, gy))
            if listed is None:
                continue
            members = order[starts[k]:starts[k] + counts[k]]
            caps_out.append(np.repeat(members, listed.size))
            boxes_out.append(np.tile(listed, members.size))
        if not caps_out:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(caps_out), np.concatenate(boxes_out)
