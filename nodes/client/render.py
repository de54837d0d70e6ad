"""RenderModule: the client's window: a 3D view of the mirrored world and the screens over it.

Each tick draws one frame from the game module's state (it only reads it):

- the login and character screens while not in the world;
- in the world, a third-person camera behind the avatar; the terrain (a
  mesh rebuilt when the world Sight arrives), the buildings (floors and
  walls from the stage; rebuilt when buildings or doors change), every
  entity as simple lit boxes coloured by its class (creatures with a nose
  that shows their facing; dead ones lie flat; trees with a crown; shut
  doors fill their gap), the target marked on the ground;
- over it, name and health plates, floating damage numbers, and the HUD
  (:mod:`nodes.client.hud`): bars, skills, inventory, chat, minimap.

OpenGL 3.3 core through pyglet (:mod:`nodes.client._gl`); entity geometry
is built with numpy for all entities at once each frame. :meth:`pick`
answers which entity is under a mouse position, for the input module.
:attr:`frame_times` keeps recent frame durations (the benchmark reads
them). Settings: ``width``, ``height`` (1024 x 640), ``visible`` (true),
``game`` and ``input`` (module names).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.modules import Module
from nodes.client.session import Phase

__all__ = ["RenderModule"]

SKY = (0.55, 0.72, 0.9)
PLATE_RANGE = 45.0
PICK_PIXELS = 40.0
_UP = np.array([0.0, 0.0, 1.0])
_SUN = (0.45, -0.55, 0.7)


class RenderModule(Module):
    """Draws the game module's state each tick; see the module docstring."""

    kind = "client_render"

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        self.window: Any = None
        self.frame_times: deque[float] = deque(maxlen=2000)
        self.frames = 0
        self.capture = False
        """Set to keep the next frame in :attr:`last_image` (read before the buffers swap)."""
        self.last_image: Any = None
        self._game: Any = None
        self._input: Any = None
        self._program: Any = None
        self._terrain_mesh: Any = None
        self._static_mesh: Any = None
        self._dynamic_mesh: Any = None
        self._terrain_of: Any = None
        self._stage_version = -1
        self._mvp = np.identity(4)
        self._screen: list[tuple[int, float, float]] = []
        self._floaters: list[tuple[float, int, str, tuple[float, float, float]]] = []
        self._hud: Any = None

    def start(self) -> None:
        import pyglet

        from nodes.client import _gl
        from nodes.client.hud import Hud

        self._gl = _gl
        self._pyglet = pyglet
        s = self.settings
        self._game = self.engine.module(str(s.get("game", "game")))
        try:
            self._input = self.engine.module(str(s.get("input", "input")))
        except KeyError:
            self._input = None
        config = pyglet.gl.Config(double_buffer=True, depth_size=24, major_version=3, minor_version=3)
        self.window = pyglet.window.Window(int(s.get("width", 1024)), int(s.get("height", 640)),
                                           caption="Spenefett", visible=bool(s.get("visible", True)),
                                           vsync=False, config=config)
        self.window.on_close = self._closed
        self._program = _gl.lit_program()
        self._terrain_mesh = _gl.Mesh(self._program)
        self._static_mesh = _gl.Mesh(self._program)
        self._dynamic_mesh = _gl.Mesh(self._program)
        self._hud = Hud(self.window)

    def stop(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None

    def _closed(self) -> None:
        self.engine.request_stop()

    # -- the frame ------------------------------------------------------------------------

    def tick(self) -> None:
        if self.window is None:
            return
        t0 = time.perf_counter()
        gl = self._pyglet.gl
        window = self.window
        window.switch_to()
        gl.glClearColor(*SKY, 1.0)
        window.clear()
        game = self._game
        session = game.session
        now = self.engine.time
        if session is not None and session.phase is Phase.WORLD and game.mirror.me:
            self._draw_world(now)
            self._hud.world(game, self._input, self._plates(now), self._floating(now), now)
        else:
            self._screen = []
            self._hud.screens(session, self._input, now)
        if self.capture:
            self.capture = False
            buffer = self._pyglet.image.get_buffer_manager().get_color_buffer()
            self.last_image = buffer.get_image_data()
        window.flip()
        self.frames += 1
        self.frame_times.append(time.perf_counter() - t0)

    def _draw_world(self, now: float) -> None:
        gl = self._pyglet.gl
        _gl = self._gl
        mirror = self._game.mirror
        if mirror.terrain is not self._terrain_of and mirror.terrain is not None:
            self._terrain_of = mirror.terrain
            self._terrain_mesh.upload(_gl.terrain_mesh(mirror.terrain.heights, mirror.terrain.cell_size))
        if mirror.stage_version != self._stage_version:
            self._stage_version = mirror.stage_version
            self._static_mesh.upload(self._structures())
        self._dynamic_mesh.upload(self._entities(now))
        x, y, z, _ = mirror.my_position()
        yaw = math.radians(self._my_yaw())
        forward = np.array([math.cos(yaw), math.sin(yaw), 0.0])
        me = np.array([x, y, z])
        eye = me - forward * 9.0 + np.array([0.0, 0.0, 5.5])
        target = me + forward * 2.0 + np.array([0.0, 0.0, 1.2])
        w, h = self.window.get_framebuffer_size()
        self._mvp = _gl.perspective(60.0, w / max(h, 1), 0.3, 400.0) @ _gl.look_at(eye, target, _UP)
        gl.glViewport(0, 0, w, h)
        gl.glEnable(gl.GL_DEPTH_TEST)
        gl.glDisable(gl.GL_CULL_FACE)
        program = self._program
        program.use()
        program["mvp"] = _gl.gl_matrix(self._mvp)
        program["sun"] = tuple(v / math.sqrt(sum(c * c for c in _SUN)) for v in _SUN)
        program["fog"] = SKY
        self._terrain_mesh.draw()
        self._static_mesh.draw()
        self._dynamic_mesh.draw()
        program.stop()
        gl.glDisable(gl.GL_DEPTH_TEST)

    def _my_yaw(self) -> float:
        if self._input is not None and self._input.steering:
            return float(self._input.yaw)
        return self._game.mirror.my_position()[3]

    # -- geometry -------------------------------------------------------------------------

    def _structures(self) -> np.ndarray:
        """Building floors and walls (the stage's, with their door gaps)."""
        mirror = self._game.mirror
        base, half, yaw, colour = [], [], [], []
        for e in mirror.entities.values():
            if mirror.is_a(e, "building") and e.samples:
                size = e.props.get("size") or [12.0, 8.0]
                bx, by, _, _ = e.last
                base.append((bx, by, mirror.ground(bx, by) - 0.2))
                half.append((float(size[0]) / 2, float(size[1]) / 2, 0.32))
                yaw.append(0.0)
                colour.append(tuple(0.8 * c for c in e.colour))
        for wall in mirror.walls():
            (ax, ay), (bx, by) = wall.a, wall.b
            cx, cy = (ax + bx) / 2, (ay + by) / 2
            base.append((cx, cy, mirror.ground(cx, cy) - 0.2))
            half.append((max(abs(bx - ax) / 2, 0.15), max(abs(by - ay) / 2, 0.15), wall.height + 0.2))
            yaw.append(0.0)
            colour.append((0.72, 0.64, 0.5))
        if not base:
            return np.zeros((0, self._gl.FLOATS), np.float32)
        return self._gl.boxes(np.array(base), np.array(half), np.array(yaw), np.array(colour))

    def _entities(self, now: float) -> np.ndarray:
        mirror = self._game.mirror
        stage = mirror.stage()
        base, half, yaw, colour = [], [], [], []

        def box(b: tuple, h: tuple, y: float, c: tuple) -> None:
            base.append(b)
            half.append(h)
            yaw.append(y)
            colour.append(c)

        target = self._input.target if self._input is not None else 0
        for e in mirror.entities.values():
            p = mirror.position(e.guid, now)
            if p is None:
                continue
            x, y, z, facing = p
            if e.known_class:
                if mirror.is_a(e, "building") or mirror.is_a(e, "marker"):
                    continue
                if mirror.is_a(e, "door"):
                    self._door(e, stage, box)
                    continue
                if mirror.is_a(e, "tree"):
                    box((x, y, z), (0.25, 0.25, e.height * 0.5), 0.0, (0.4, 0.28, 0.15))
                    box((x, y, z + e.height * 0.35), (e.radius * 2.2, e.radius * 2.2, e.height * 0.65), 30.0,
                        e.colour)
                    continue
                if mirror.is_a(e, "creature"):
                    self._creature(x, y, z, facing, e.radius, e.height, e.colour, e.dead, box)
                    if e.guid == target:
                        box((x, y, z + 0.02), (e.radius + 0.35, e.radius + 0.35, 0.06), 45.0, (1.0, 0.9, 0.1))
                    continue
            r = max(e.radius, 0.15)
            box((x, y, z), (r, r, max(e.height, 0.1)), facing, e.colour)
        x, y, z, _ = mirror.my_position()
        stats = mirror.stats
        dead = stats.get("health", 1) <= 0
        self._creature(x, y, z, self._my_yaw(), 0.4, 1.8, (0.3, 0.55, 0.95), dead, box)
        if not base:
            return np.zeros((0, self._gl.FLOATS), np.float32)
        return self._gl.boxes(np.array(base), np.array(half), np.array(yaw), np.array(colour))

    @staticmethod
    def _creature(x: float, y: float, z: float, facing: float, r: float, h: float, c: tuple, dead: bool,
                  box: Any) -> None:
        if dead:
            box((x, y, z), (h * 0.5, r * 0.8, 0.3), facing, tuple(0.5 * v for v in c))
            return
        box((x, y, z), (r * 0.8, r * 0.6, h), facing, c)
        f = math.radians(facing)
        nose = (x + math.cos(f) * r * 0.85, y + math.sin(f) * r * 0.85, z + h * 0.62)
        box(nose, (0.14, 0.12, 0.16), facing, tuple(0.45 * v for v in c))

    @staticmethod
    def _door(e: Any, stage: Any, box: Any) -> None:
        door = stage.doors.get(e.wid) if stage is not None else None
        x, y, z, _ = e.last
        width = float(e.props.get("width", 1.6))
        height = float(e.props.get("height", 2.4))
        along = 0.0 if door is None or door.axis == "x" else 90.0
        if door is not None:
            x, y = door.pos
        if e.props.get("open"):
            r = math.radians(along)
            hx, hy = x - math.cos(r) * width / 2, y - math.sin(r) * width / 2
            box((hx - math.sin(r) * width / 2, hy + math.cos(r) * width / 2, z), (0.06, width / 2, height),
                along, e.colour)
        else:
            box((x, y, z), (width / 2, 0.12, height), along, e.colour)

    # -- plates, floating numbers, picking -------------------------------------------------

    def _plates(self, now: float) -> list[tuple[Any, ...]]:
        mirror = self._game.mirror
        mx, my, _, _ = mirror.my_position()
        rows, points = [], []
        for e in mirror.entities.values():
            if not mirror.is_a(e, "creature") and not (e.known_class and mirror.is_a(e, "corpse")):
                continue
            p = mirror.position(e.guid, now)
            if p is None or math.hypot(p[0] - mx, p[1] - my) > PLATE_RANGE:
                continue
            rows.append(e)
            points.append((p[0], p[1], p[2] + (e.height if not e.dead else 0.4) + 0.5))
        if not rows:
            self._screen = []
            return []
        w, h = self.window.get_size()
        xy, visible = self._gl.project(self._mvp, np.array(points), w, h)
        target = self._input.target if self._input is not None else 0
        plates, self._screen = [], []
        for e, (sx, sy), vis in zip(rows, xy.tolist(), visible.tolist(), strict=True):
            if vis:
                plates.append((e.guid, sx, sy, e.name or e.cls, e.health, e.max_health, e.guid == target,
                               e.dead))
                self._screen.append((e.guid, sx, sy - 25))
        return plates

    def _floating(self, now: float) -> list[tuple[float, float, str, float]]:
        """Damage numbers rising over whoever was hit, for a second."""
        mirror = self._game.mirror
        for ev in self._game.events:
            if ev.kind == "hit":
                self._floaters.append((now, ev.target, f"-{ev.amount}", (ev.x, ev.y, ev.z)))
            elif ev.kind == "miss":
                self._floaters.append((now, ev.target, "miss", (ev.x, ev.y, ev.z)))
        self._floaters = [f for f in self._floaters if now - f[0] < 1.2]
        if not self._floaters:
            return []
        points = []
        for t0, guid, _, at in self._floaters:
            p = mirror.position(guid, now)
            x, y, z = (p[0], p[1], p[2]) if p is not None else at
            points.append((x, y, z + 2.2 + (now - t0) * 1.5))
        w, h = self.window.get_size()
        xy, visible = self._gl.project(self._mvp, np.array(points), w, h)
        return [(sx, sy, f[2], now - f[0]) for f, (sx, sy), vis in
                zip(self._floaters, xy.tolist(), visible.tolist(), strict=True) if vis]

    def on_screen(self) -> list[tuple[int, float, float]]:
        """(guid, x, y) of each plate drawn in the last frame: where a click targets it."""
        return list(self._screen)

    def pick(self, x: float, y: float) -> int:
        """The entity whose plate or body is nearest the mouse at (x, y), within 40 pixels (0: none)."""
        best, best_d = 0, PICK_PIXELS
        for guid, sx, sy in self._screen:
            d = math.hypot(sx - x, sy - y)
            if d < best_d:
                best, best_d = guid, d
        return best

    def screenshot(self) -> np.ndarray:
        """The next frame, drawn now, as an (height, width, 3) uint8 array (row 0 at the bottom)."""
        self.capture = True
        self.tick()
        image = self.last_image
        data = image.get_data("RGB", image.width * 3)
        return np.frombuffer(data, np.uint8).reshape(image.height, image.width, 3)
