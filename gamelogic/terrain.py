"""Terrain: a heightfield made from a short description (base height plus hills).

A world file describes terrain in a few lines that diff well
(``hills = [{at = [400, 380], radius = 90, height = 14}]``); this module
samples it onto a grid, which is what physics gets and what
:meth:`Terrain.height_at` interpolates, so game and physics agree::

    terrain = Terrain(width=512, depth=512, cell_size=8, base=0, hills=[Hill((400, 380), 90, 14)])
    terrain.height_at(400.0, 380.0)     # about 14
    terrain.heights.shape               # (65, 65): rows along y, columns along x
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np


@attrs.frozen
class Hill:
    """A smooth bump: ``height`` at ``at``, falling off as exp(-(d / radius)^2)."""

    at: tuple[float, float] = attrs.field(converter=lambda v: (float(v[0]), float(v[1])))
    radius: float = attrs.field(converter=float)
    height: float = attrs.field(converter=float)


class Terrain:
    """Heights sampled every ``cell_size`` metres over ``[0, width] x [0, depth]``."""

    def __init__(self, width: float, depth: float, cell_size: float = 8.0, base: float = 0.0,
                 hills: Sequence[Hill] = ()):
        if not (cell_size > 0 and width > 0 and depth > 0):
            raise ValueError("terrain width, depth and cell_size must be positive")
        self.width = float(width)
        self.depth = float(depth)
        self.cell_size = float(cell_size)
        self.base = float(base)
        self.hills = tuple(hills)
        nx = int(math.ceil(self.width / self.cell_size)) + 1
        ny = int(math.ceil(self.depth / self.cell_size)) + 1
        xs = np.arange(nx, dtype=np.float64) * self.cell_size
        ys = np.arange(ny, dtype=np.float64) * self.cell_size
        gx, gy = np.meshgrid(xs, ys)
        h = np.full((ny, nx), self.base, np.float64)
        for hill in self.hills:
            d2 = (gx - hill.at[0]) ** 2 + (gy - hill.at[1]) ** 2
            h += hill.height * np.exp(-d2 / max(hill.radius, 1e-6) ** 2)
        self.heights: np.ndarray = h.astype(np.float32)
        """Rows along y, columns along x; ``heights[j, i]`` is the height at (i, j) * cell_size."""

    def height_at(self, x: float, y: float) -> float:
        """The ground height at (x, y), bilinear between grid points; clamped at the edges."""
        ny, nx = self.heights.shape
        fx = min(max(x / self.cell_size, 0.0), nx - 1.0)
        fy = min(max(y / self.cell_size, 0.0), ny - 1.0)
        i = min(int(fx), nx - 2) if nx > 1 else 0
        j = min(int(fy), ny - 2) if ny > 1 else 0
        tx, ty = fx - i, fy - j
        h = self.heights
        i1, j1 = min(i + 1, nx - 1), min(j + 1, ny - 1)
        top = h[j, i] * (1 - tx) + h[j, i1] * tx
        bottom = h[j1, i] * (1 - tx) + h[j1, i1] * tx
        return float(top * (1 - ty) + bottom * ty)

    def slope_at(self, x: float, y: float) -> float:
        """Steepest slope at (x, y) in degrees (central differences, half a cell apart)."""
        e = self.cell_size / 2
        dx = (self.height_at(x + e, y) - self.height_at(x - e, y)) / (2 * e)
        dy = (self.height_at(x, y + e) - self.height_at(x, y - e)) / (2 * e)
        return math.degrees(math.atan(math.hypot(dx, dy)))
