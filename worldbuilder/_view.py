"""The map's view: world metres <-> window pixels, pan, zoom about a point, grid snapping.

World y grows north and window y grows up, so the map is not mirrored::

    view = View(viewport=(200, 0, 760, 600))     # x, y, width, height in pixels
    view.fit((512.0, 512.0))                     # the whole world in the viewport
    view.to_world(*view.to_screen(300.0, 300.0)) # (300.0, 300.0)
    view.zoom_at(2.0, 480, 300)                  # the point under (480, 300) stays put
    view.snap((301.3, 298.9))                    # (302.0, 298.0) on a 2 m grid
"""

from __future__ import annotations

import math

MIN_SCALE = 0.05
MAX_SCALE = 200.0
GRID_STEPS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


class View:
    """Pixels per metre (``scale``) and the world point at the viewport's lower-left corner."""

    def __init__(self, viewport: tuple[int, int, int, int] = (0, 0, 800, 600)):
        self.viewport = viewport
        self.scale = 1.0
        self.origin = (0.0, 0.0)
        self.grid = 2.0
        self.snapping = True

    def to_screen(self, x: float, y: float) -> tuple[float, float]:
        vx, vy, _, _ = self.viewport
        return vx + (x - self.origin[0]) * self.scale, vy + (y - self.origin[1]) * self.scale

    def to_world(self, sx: float, sy: float) -> tuple[float, float]:
        vx, vy, _, _ = self.viewport
        return self.origin[0] + (sx - vx) / self.scale, self.origin[1] + (sy - vy) / self.scale

    def contains(self, sx: float, sy: float) -> bool:
        """Whether a window pixel is on the map (not on a panel)."""
        vx, vy, w, h = self.viewport
        return vx <= sx < vx + w and vy <= sy < vy + h

    def pan(self, dx_pixels: float, dy_pixels: float) -> None:
        """Drag the map by pixels: what was under the mouse stays under it."""
        self.origin = (self.origin[0] - dx_pixels / self.scale, self.origin[1] - dy_pixels / self.scale)

    def zoom_at(self, factor: float, sx: float, sy: float) -> None:
        """Zoom by ``factor`` keeping the world point under pixel (sx, sy) where it is."""
        if not (math.isfinite(factor) and factor > 0):
            return
        wx, wy = self.to_world(sx, sy)
        self.scale = min(max(self.scale * factor, MIN_SCALE), MAX_SCALE)
        vx, vy, _, _ = self.viewport
        self.origin = (wx - (sx - vx) / self.scale, wy - (sy - vy) / self.scale)

    def fit(self, size: tuple[float, float], margin: float = 0.04) -> None:
        """Show a world of ``size`` metres whole, centred, with a small margin."""
        _, _, w, h = self.viewport
        width, depth = max(size[0], 1e-3), max(size[1], 1e-3)
        self.scale = min(max(min(w / width, h / depth) * (1 - 2 * margin), MIN_SCALE), MAX_SCALE)
        self.centre_on(width / 2, depth / 2)

    def centre_on(self, x: float, y: float) -> None:
        _, _, w, h = self.viewport
        self.origin = (x - w / 2 / self.scale, y - h / 2 / self.scale)

    def snap(self, pos: tuple[float, float]) -> tuple[float, float]:
        """``pos`` on the grid if snapping is on (rounded to the nearest grid point)."""
        if not self.snapping:
            return (round(pos[0], 3), round(pos[1], 3))
        g = self.grid
        return (round(pos[0] / g) * g, round(pos[1] / g) * g)

    def snap_delta(self, dx: float, dy: float) -> tuple[float, float]:
        """A drag distance in whole grid steps (so dragged things keep their offset from the grid)."""
        return self.snap((dx, dy))

    def finer_grid(self) -> None:
        i = GRID_STEPS.index(self.grid) if self.grid in GRID_STEPS else 3
        self.grid = GRID_STEPS[max(i - 1, 0)]

    def coarser_grid(self) -> None:
        i = GRID_STEPS.index(self.grid) if self.grid in GRID_STEPS else 3
        self.grid = GRID_STEPS[min(i + 1, len(GRID_STEPS) - 1)]

    def metres(self, pixels: float) -> float:
        return pixels / self.scale
