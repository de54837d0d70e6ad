"""Many simple shapes as one vertex list: discs, rectangles, polygons and thick lines as triangles.

A pyglet shape costs about 100 microseconds to make (a vertex list each);
a world of 5,000 trees would take a second to draw after every edit. A
:class:`Mesh` collects the shapes of a layer in plain lists, turns them
into triangles with numpy in one go and uploads one vertex list, with
pyglet's own shape shader, so it mixes with pyglet shapes::

    mesh = Mesh()
    mesh.disc(100.0, 120.0, 6.0, (200, 150, 160, 255))
    mesh.line(0.0, 0.0, 50.0, 50.0, 2.0, (30, 30, 30, 255))
    keep = mesh.build(batch, order=4)      # hold on to it as long as it is drawn
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyglet
from pyglet.gl import (
    GL_BLEND,
    GL_ONE_MINUS_SRC_ALPHA,
    GL_SRC_ALPHA,
    GL_TRIANGLES,
    glBlendFunc,
    glDisable,
    glEnable,
)

SEGMENTS = 16
Colour = tuple[int, int, int, int]


class _Blended(pyglet.graphics.Group):
    """Pyglet's shape shader with alpha blending, at a draw order."""

    def __init__(self, program: Any, order: int) -> None:
        super().__init__(order=order)
        self.program = program

    def set_state(self) -> None:
        self.program.use()
        glEnable(GL_BLEND)
        glBlendFunc(GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA)

    def unset_state(self) -> None:
        glDisable(GL_BLEND)
        self.program.stop()


class Mesh:
    """Shapes collected and built into one vertex list: discs first, then polygons and lines in order."""

    def __init__(self) -> None:
        self._discs: list[tuple[float, float, float, Colour]] = []
        self._triangles: list[tuple[float, float, float, float, float, float, Colour]] = []

    def __len__(self) -> int:
        return len(self._discs) + len(self._triangles)

    def disc(self, x: float, y: float, radius: float, colour: Colour) -> None:
        self._discs.append((x, y, radius, colour))

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: Colour) -> None:
        self.polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour)

    def polygon(self, points: list[tuple[float, float]], colour: Colour) -> None:
        """A convex polygon, as a fan of triangles."""
        (ax, ay) = points[0]
        for (bx, by), (cx, cy) in zip(points[1:], points[2:], strict=False):
            self._triangles.append((ax, ay, bx, by, cx, cy, colour))

    def line(self, x0: float, y0: float, x1: float, y1: float, thickness: float, colour: Colour) -> None:
        """A straight stroke ``thickness`` pixels wide (square ends)."""
        dx, dy = x1 - x0, y1 - y0
        length = (dx * dx + dy * dy) ** 0.5
        if length == 0:
            return
        nx, ny = -dy / length * thickness / 2, dx / length * thickness / 2
        self.polygon([(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny)], colour)

    def ring(self, x: float, y: float, radius: float, thickness: float, colour: Colour) -> None:
        """A circle's outline, ``thickness`` pixels wide."""
        n = max(24, min(128, int(radius / 2)))
        points = [(x + radius * np.cos(2 * np.pi * k / n), y + radius * np.sin(2 * np.pi * k / n))
                  for k in range(n + 1)]
        for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
            self.line(float(ax), float(ay), float(bx), float(by), thickness, colour)

    def build(self, batch: Any, order: int) -> Any:
        """Upload the triangles into ``batch``; returns the vertex list (None if there is nothing)."""
        parts_pos, parts_col = [], []
        if self._discs:
            d = np.array([(x, y, r) for x, y, r, _ in self._discs], np.float32)
            c = np.array([col for *_, col in self._discs], np.uint8)
            angles = np.linspace(0.0, 2 * np.pi, SEGMENTS + 1, dtype=np.float32)
            cos, sin = np.cos(angles), np.sin(angles)
            n = len(d)
            pos = np.empty((n, SEGMENTS, 3, 2), np.float32)
            pos[:, :, 0, 0], pos[:, :, 0, 1] = d[:, :1], d[:, 1:2]
            pos[:, :, 1, 0] = d[:, :1] + d[:, 2:3] * cos[:-1]
            pos[:, :, 1, 1] = d[:, 1:2] + d[:, 2:3] * sin[:-1]
            pos[:, :, 2, 0] = d[:, :1] + d[:, 2:3] * cos[1:]
            pos[:, :, 2, 1] = d[:, 1:2] + d[:, 2:3] * sin[1:]
            parts_pos.append(pos.reshape(-1, 2))
            parts_col.append(np.repeat(c, SEGMENTS * 3, axis=0))
        if self._triangles:
            t = np.array([row[:6] for row in self._triangles], np.float32)
            c = np.array([row[6] for row in self._triangles], np.uint8)
            parts_pos.append(t.reshape(-1, 2))
            parts_col.append(np.repeat(c, 3, axis=0))
        if not parts_pos:
            return None
        pos = np.concatenate(parts_pos)
        col = np.concatenate(parts_col)
        count = len(pos)
        program = pyglet.shapes.get_default_shader()
        return program.vertex_list(count, GL_TRIANGLES, batch, _Blended(program, order),
                                   position=("f", pos.ravel().tolist()),
                                   colors=("Bn", col.ravel().tolist()),
                                   translation=("f", [0.0] * (2 * count)),
                                   rotation=("f", [0.0] * count))
