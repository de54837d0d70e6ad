"""Drawing the map with pyglet shapes: terrain, buildings, entities by class, the live world, overlays.

:class:`MapPainter` rebuilds one batch whenever what it shows changed (the
document's or the live world's ``version``, the view, the overlays): cheap
for the few thousand entities of a designer's view, and nothing is kept in
sync by hand. Importing this module needs a display (pyglet's shapes make
a GL context).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyglet
from pyglet import shapes
from pyglet.math import Mat4, Vec3

from gamelogic.stage import Stage
from gamelogic.worldfile import WorldEntity
from worldbuilder._document import Document
from worldbuilder._live import EditState, LiveWorld, pending_ghosts
from worldbuilder._mesh import Mesh
from worldbuilder._view import View

SELECTED = (255, 230, 40, 255)
PROBLEM = (235, 40, 40, 255)
FOCUS = (255, 90, 90, 255)
GHOST = (255, 160, 40, 200)
QUEUED = (170, 170, 170, 220)
BOX = (90, 200, 255, 255)
WALL = (60, 45, 35, 255)
MAX_LABELS = 150


def class_colour(doc: Document, cls: str, props: dict[str, Any] | None = None) -> tuple[int, int, int]:
    """The class tree's ``colour`` as bytes; magenta for an unknown class or a bad colour."""
    colour = (props or {}).get("colour")
    if colour is None and cls in doc.tree:
        colour = doc.tree.defaults(cls).get("colour")
    if isinstance(colour, list) and len(colour) == 3 and all(isinstance(c, (int, float)) for c in colour):
        return tuple(int(max(0.0, min(1.0, float(c))) * 255) for c in colour)  # type: ignore[return-value]
    return (255, 0, 255)


def terrain_image(heights: np.ndarray) -> Any:
    """The heightfield as an RGB image, one pixel per grid point: green lowland, brown hills, shaded."""
    h = heights.astype(np.float64)
    lo, hi = float(h.min()), float(h.max())
    t = (h - lo) / (hi - lo) if hi > lo else np.zeros_like(h)
    low = np.array([88.0, 132.0, 72.0])
    high = np.array([176.0, 156.0, 112.0])
    rgb = low + t[..., None] * (high - low)
    gy, gx = np.gradient(h)
    shade = np.clip(1.0 + 0.08 * (gx - gy), 0.7, 1.25)  # light from the north-west
    rgb = np.clip(rgb * shade[..., None], 0, 255).astype(np.uint8)
    ny, nx = h.shape
    return pyglet.image.ImageData(nx, ny, "RGB", rgb.tobytes(), pitch=nx * 3)


class MapPainter:
    """Draws a document (and a live world) through a view, in layers each rebuilt only when needed.

    The terrain and the world's entities are built once per edit and zoom level, in pixels from the
    world's origin, and moved into place with the window's view matrix: panning redraws nothing.
    The grid and the labels (only what is in view), the live layer (what the server says) and the
    overlay (selection, a drag, the box, the placing preview; every mouse move) are in window pixels.
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._layers: dict[str, tuple[Any, Any, list[Any]]] = {}  # name -> (key, batch, shapes)
        self._b = pyglet.graphics.Batch()
        self._items: list[Any] = []
        self._terrain_key: Any = None
        self._terrain: Any = None
        self._groups = [pyglet.graphics.Group(order=n) for n in range(6)]

    def draw(self, view: View, live: LiveWorld | None, overlay: dict[str, Any], window: Any) -> None:
        frame = (view.scale, view.origin, view.viewport, view.grid)
        doc = self.doc
        flat = View((0, 0, view.viewport[2], view.viewport[3]))  # world (0, 0) at pixel (0, 0)
        flat.scale = view.scale
        world = doc.world
        self._layer("terrain", (world.size, world.cell_size, world.base, tuple(world.hills), view.scale),
                    lambda: self._draw_terrain(flat))
        self._layer("world", (doc.revision, id(world), view.scale), lambda: self._draw_world(flat))
        self._layer("grid", (frame, world.size), lambda: self._draw_grid(view))
        self._layer("labels", (doc.revision, id(world), frame), lambda: self._draw_labels(view))
        if live is not None:
            self._layer("live", (live.version, overlay.get("live_selected"), frame),
                        lambda: self._draw_live(view, live, overlay.get("live_selected")))
        self._layer("overlay", (doc.version, repr(sorted(overlay.items())), frame),
                    lambda: self._draw_overlay(view, overlay))
        shift = Mat4.from_translation(Vec3(*view.to_screen(0.0, 0.0), 0.0))
        plain = window.view
        for name, moved in (("terrain", True), ("grid", False), ("world", True), ("labels", False),
                            ("live", False), ("overlay", False)):
            if name in self._layers:
                window.view = shift if moved else plain
                self._layers[name][1].draw()
        window.view = plain

    def _layer(self, name: str, key: Any, build: Any) -> None:
        if name in self._layers and self._layers[name][0] == key:
            return
        self._b, self._items = pyglet.graphics.Batch(), []
        build()
        self._layers[name] = (key, self._b, self._items)

    # -- building the batches ----------------------------------------------------------------------------

    def _visible(self, view: View) -> list[WorldEntity]:
        vx, vy, vw, vh = view.viewport
        x0, y0 = view.to_world(vx, vy)
        x1, y1 = view.to_world(vx + vw, vy + vh)
        out = []
        for e in self.doc.world.entities:
            fx0, fy0, fx1, fy1 = self.doc.footprint(e)
            spread = self._spawn_radius(e)
            if fx1 + spread >= x0 and fx0 - spread <= x1 and fy1 + spread >= y0 and fy0 - spread <= y1:
                out.append(e)
        return out

    def _draw_world(self, flat: View) -> None:
        entities = self.doc.world.entities
        meshes = {2: Mesh(), 3: Mesh(), 4: Mesh()}
        self._draw_buildings(flat, entities, meshes[3])
        for e in entities:
            self._draw_entity(flat, e, (0.0, 0.0), meshes)
        self._build(meshes)
        problems = self.doc.problem_ids()
        for e in entities:
            if e.id in problems:
                self._outline(flat, e, PROBLEM, 4, 2)
        self._border(flat)

    def _draw_labels(self, view: View) -> None:
        if view.scale < 5.0:
            return
        for e in self._visible(view)[:MAX_LABELS]:
            sx, sy = view.to_screen(*e.pos)
            self._add(pyglet.text.Label(e.id, x=sx + 8, y=sy + 6, font_size=8, color=(15, 15, 15, 230),
                                        batch=self._b, group=self._groups[5]))

    def _draw_overlay(self, view: View, overlay: dict[str, Any]) -> None:
        doc = self.doc
        moving = overlay.get("move_offset") or (0.0, 0.0)
        meshes = {2: Mesh(), 3: Mesh(), 4: Mesh()}
        for e in doc.selected():
            if moving != (0.0, 0.0):
                self._draw_entity(view, e, moving, meshes)  # where it would land
            self._outline(view, e, SELECTED, 3, 2, moving)
        self._build(meshes)
        focus = doc.entity(overlay["focus"]) if overlay.get("focus") else None
        if focus is not None:
            self._outline(view, focus, FOCUS, 8, 3)
        box = overlay.get("box")
        if box:
            (ax, ay), (bx, by) = view.to_screen(*box[0]), view.to_screen(*box[1])
            self._add(shapes.Box(min(ax, bx), min(ay, by), abs(bx - ax), abs(by - ay), thickness=1,
                                 color=BOX, batch=self._b, group=self._groups[5]))
        preview = overlay.get("preview")
        if preview:
            cls, (px, py) = preview
            sx, sy = view.to_screen(px, py)
            r, g, b = class_colour(doc, cls)
            top = self._groups[5]
            self._add(shapes.Circle(sx, sy, 7, color=(r, g, b, 150), batch=self._b, group=top))
            self._add(shapes.Arc(sx, sy, 8, thickness=1, color=GHOST, batch=self._b, group=top))

    def _add(self, shape: Any) -> Any:
        self._items.append(shape)
        return shape

    def _build(self, meshes: dict[int, Mesh]) -> None:
        for order, mesh in meshes.items():
            if len(mesh):
                self._add(mesh.build(self._b, order))

    def _draw_terrain(self, view: View) -> None:
        world = self.doc.world
        tkey = (world.size, world.cell_size, world.base, tuple(world.hills))
        if tkey != self._terrain_key:
            self._terrain_key = tkey
            try:
                self._terrain = terrain_image(world.terrain().heights)
            except (ValueError, MemoryError):  # a world of an absurd size: no terrain picture, still a map
                self._terrain = None
        if self._terrain is None:
            return
        cell = world.cell_size
        sx, sy = view.to_screen(-cell / 2, -cell / 2)
        sprite = pyglet.sprite.Sprite(self._terrain, sx, sy, batch=self._b, group=self._groups[0])
        sprite.scale = cell * view.scale
        self._add(sprite)

    def _draw_grid(self, view: View) -> None:
        step = view.grid
        while step * view.scale < 12:
            step *= 4
        vx, vy, vw, vh = view.viewport
        x0, y0 = view.to_world(vx, vy)
        x1, y1 = view.to_world(vx + vw, vy + vh)
        width, depth = self.doc.world.size
        colour = (255, 255, 255, 28)
        x = max(math.floor(x0 / step) * step, 0.0)
        while x <= min(x1, width):
            sx, _ = view.to_screen(x, 0)
            _, a = view.to_screen(0, max(y0, 0))
            _, b = view.to_screen(0, min(y1, depth))
            self._add(shapes.Line(sx, a, sx, b, color=colour, batch=self._b, group=self._groups[1]))
            x += step
        y = max(math.floor(y0 / step) * step, 0.0)
        while y <= min(y1, depth):
            _, sy = view.to_screen(0, y)
            a, _ = view.to_screen(max(x0, 0), 0)
            b, _ = view.to_screen(min(x1, width), 0)
            self._add(shapes.Line(a, sy, b, sy, color=colour, batch=self._b, group=self._groups[1]))
            y += step

    def _border(self, view: View) -> None:
        width, depth = self.doc.world.size
        (ax, ay), (bx, by) = view.to_screen(0, 0), view.to_screen(width, depth)
        self._add(shapes.Box(ax, ay, bx - ax, by - ay, thickness=2, color=(20, 20, 20, 255), batch=self._b,
                             group=self._groups[1]))

    def _spawn_radius(self, e: WorldEntity) -> float:
        if e.cls in self.doc.tree and self.doc.tree.is_a(e.cls, "spawner"):
            r = self.doc.props_of(e).get("spawn_radius", 0.0)
            return float(r) if isinstance(r, (int, float)) and math.isfinite(r) else 0.0
        return 0.0

    def _draw_buildings(self, view: View, entities: list[WorldEntity], mesh: Mesh) -> None:
        doc = self.doc
        good = [e for e in entities if e.cls in doc.tree and not doc.tree.check_properties(e.cls, e.props)]
        try:
            stage = Stage(good, doc.tree)
        except Exception:  # a room list the stage cannot read: buildings drawn as plain boxes
            return
        thick = max(2.0, 0.3 * view.scale)
        for wall in stage.walls:
            (ax, ay), (bx, by) = view.to_screen(*wall.a), view.to_screen(*wall.b)
            mesh.line(ax, ay, bx, by, thick, WALL)
        for door in stage.doors.values():
            e = doc.entity(door.id)
            dx, dy = (door.width / 2, 0.0) if door.axis == "x" else (0.0, door.width / 2)
            (ax, ay), (bx, by) = (view.to_screen(door.pos[0] - dx, door.pos[1] - dy),
                                  view.to_screen(door.pos[0] + dx, door.pos[1] + dy))
            is_open = bool(doc.props_of(e).get("open")) if e else False
            r, g, b = class_colour(doc, "door", doc.props_of(e) if e else None)
            colour = (r, g, b, 110) if is_open else (r, g, b, 255)
            mesh.line(ax, ay, bx, by, thick + 2, colour)

    def _draw_entity(self, view: View, e: WorldEntity, offset: tuple[float, float],
                     meshes: dict[int, Mesh]) -> None:
        """One entity by its class: into the meshes by draw order (2 under 3 under 4)."""
        doc, tree = self.doc, self.doc.tree
        props = doc.props_of(e)
        r, g, b = class_colour(doc, e.cls, props)
        colour = (r, g, b, 255)
        sx, sy = view.to_screen(e.pos[0] + offset[0], e.pos[1] + offset[1])
        known = e.cls in tree
        if known and tree.is_a(e.cls, "building"):
            fx0, fy0, fx1, fy1 = doc.footprint(e)
            (ax, ay), (bx, by) = (view.to_screen(fx0 + offset[0], fy0 + offset[1]),
                                  view.to_screen(fx1 + offset[0], fy1 + offset[1]))
            meshes[2].rect(ax, ay, bx, by, (r, g, b, 235))
        elif known and tree.is_a(e.cls, "door"):
            meshes[3].rect(sx - 3, sy - 3, sx + 3, sy + 3, colour)
        elif known and tree.is_a(e.cls, "spawner"):
            spread = self._spawn_radius(e) * view.scale
            if spread > 2:
                meshes[2].ring(sx, sy, spread, 1.2, (r, g, b, 200))
            meshes[4].polygon([(sx, sy + 7), (sx + 7, sy), (sx, sy - 7), (sx - 7, sy)], colour)
        elif known and tree.is_a(e.cls, "marker"):
            meshes[4].polygon([(sx - 6, sy - 5), (sx + 6, sy - 5), (sx, sy + 7)], colour)
        elif known and tree.is_a(e.cls, "item"):
            radius = props.get("radius", 0.3)
            half = max(2.5, float(radius) * view.scale) if isinstance(radius, (int, float)) else 2.5
            meshes[4].rect(sx - half, sy - half, sx + half, sy + half, colour)
        elif known:
            radius = props.get("radius", 0.5)
            radius = max(3.0, float(radius) * view.scale) if isinstance(radius, (int, float)) else 3.0
            meshes[4].disc(sx, sy, radius, colour)
            if tree.is_a(e.cls, "creature"):  # a dark rim, and a tick the way it faces
                meshes[3].disc(sx, sy, radius + 1.5, (30, 30, 30, 255))
                yaw = math.radians(e.yaw)
                tip = radius + 5
                meshes[4].line(sx, sy, sx + math.cos(yaw) * tip, sy + math.sin(yaw) * tip, 2,
                               (30, 30, 30, 255))
        else:  # an unknown class: a magenta cross, so it is found and fixed
            for dx in (-1, 1):
                meshes[4].line(sx - 6, sy - 6 * dx, sx + 6, sy + 6 * dx, 2, (255, 0, 255, 255))

    def _outline(self, view: View, e: WorldEntity, colour: tuple[int, int, int, int], pad: float,
                 thickness: float, offset: tuple[float, float] = (0.0, 0.0)) -> None:
        fx0, fy0, fx1, fy1 = self.doc.footprint(e)
        (ax, ay), (bx, by) = (view.to_screen(fx0 + offset[0], fy0 + offset[1]),
                              view.to_screen(fx1 + offset[0], fy1 + offset[1]))
        cx, cy = (ax + bx) / 2, (ay + by) / 2
        w, h = max(bx - ax, 8) + 2 * pad, max(by - ay, 8) + 2 * pad
        self._add(shapes.Box(cx - w / 2, cy - h / 2, w, h, thickness=thickness, color=colour,
                             batch=self._b, group=self._groups[5]))

    def _draw_live(self, view: View, live: LiveWorld, selected: int | None) -> None:
        doc, groups = self.doc, self._groups
        deleting = {e.target for e in live.open_edits() if e.kind == "delete"}
        meshes = {5: Mesh(), 6: Mesh()}
        labels = 0
        for e in live.entities.values():
            sx, sy = view.to_screen(e.pos[0], e.pos[1])
            if not view.contains(sx, sy):
                continue
            in_file = doc.entity(e.id) if e.id else None
            if in_file is not None and abs(in_file.pos[0] - e.pos[0]) + abs(in_file.pos[1] - e.pos[1]) < 0.05:
                meshes[6].disc(sx, sy, 2.5, (255, 255, 255, 230))  # live, where the file has it: a dot
            else:
                r, g, b = class_colour(doc, e.cls)
                meshes[5].disc(sx, sy, 6.5, (255, 255, 255, 255))
                meshes[6].disc(sx, sy, 5, (r, g, b, 255))
                if view.scale >= 2.0 and (e.name or e.id) and labels < MAX_LABELS:
                    labels += 1
                    self._add(pyglet.text.Label(e.name or e.id, x=sx + 8, y=sy - 10, font_size=8,
                                                color=(255, 255, 255, 230), batch=self._b, group=groups[5]))
            if e.guid == selected:
                self._add(shapes.Box(sx - 9, sy - 9, 18, 18, thickness=2, color=SELECTED, batch=self._b,
                                     group=groups[5]))
            if e.guid in deleting:
                for dx in (-1, 1):
                    meshes[6].line(sx - 7, sy - 7 * dx, sx + 7, sy + 7 * dx, 2, PROBLEM)
        self._build(meshes)
        for edit, pos in pending_ghosts(live.edits):
            if pos is None:
                continue
            sx, sy = view.to_screen(*pos)
            colour = GHOST if edit.state is EditState.PENDING else QUEUED
            r, g, b = class_colour(doc, edit.cls) if edit.cls else (200, 200, 200)
            self._add(shapes.Circle(sx, sy, 6, color=(r, g, b, 120), batch=self._b, group=groups[5]))
            self._add(shapes.Arc(sx, sy, 9, thickness=2, color=colour, batch=self._b, group=groups[5]))
