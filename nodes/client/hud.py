"""The 2D layer of the client: login and character screens, plates, HUD, chat box and minimap.

Drawn after the 3D view, in window pixels, from one pyglet batch. Labels
and rectangles are pooled and reused frame to frame (a label is laid out
again only when its text changes), so a frame with 200 plates costs
moves, not allocations. It reads the game and input modules' state and
changes nothing.
"""

from __future__ import annotations

import math
from typing import Any

import pyglet

from nodes.client.session import Phase

WHITE = (255, 255, 255, 255)
GREY = (200, 200, 200, 255)
RED = (255, 90, 80, 255)
GREEN = (120, 240, 120, 255)
YELLOW = (255, 230, 90, 255)
PANEL = (15, 20, 30, 170)
MINIMAP_METRES = 120.0
SKILL_GAIN_SHOWN = 3.0
CHAT_LINES = 8
_KIND_COLOUR = {"chat": (170, 210, 255, 255), "talk": WHITE, "info": YELLOW, "combat": (255, 170, 150, 255),
                "system": GREY}


class _Pool:
    """Labels and rectangles reused frame to frame: ``begin``, ask for what this frame needs, ``end``."""

    def __init__(self, batch: pyglet.graphics.Batch):
        self.batch = batch
        self._back = pyglet.graphics.Group(order=0)
        self._front = pyglet.graphics.Group(order=1)
        self._labels: list[pyglet.text.Label] = []
        self._rects: list[pyglet.shapes.Rectangle] = []
        self._shape: list[tuple] = []
        self._nl = self._nr = 0

    def begin(self) -> None:
        self._nl = self._nr = 0

    def label(self, text: str, x: float, y: float, size: int = 11, colour: tuple = WHITE,
              anchor_x: str = "left", anchor_y: str = "baseline", bold: bool = False) -> None:
        if self._nl == len(self._labels):
            self._labels.append(pyglet.text.Label("", font_size=size, batch=self.batch, group=self._front))
        lab = self._labels[self._nl]
        self._nl += 1
        if lab.text != text:
            lab.text = text
        if lab.font_size != size:
            lab.font_size = size
        weight = "bold" if bold else "normal"
        if lab.weight != weight:
            lab.weight = weight
        if lab.anchor_x != anchor_x:
            lab.anchor_x = anchor_x
        if lab.anchor_y != anchor_y:
            lab.anchor_y = anchor_y
        if tuple(lab.color) != colour:
            lab.color = colour
        if (lab.x, lab.y) != (int(x), int(y)):
            lab.position = (int(x), int(y), 0)
        if not lab.visible:
            lab.visible = True

    def rect(self, x: float, y: float, w: float, h: float, colour: tuple) -> None:
        if self._nr == len(self._rects):
            self._rects.append(pyglet.shapes.Rectangle(0, 0, 1, 1, batch=self.batch, group=self._back))
        r = self._rects[self._nr]
        self._nr += 1
        shape = self._shape
        if len(shape) < self._nr:
            shape.append((None, None, None))
        was = shape[self._nr - 1]
        if was[0] != (x, y):
            r.position = (x, y)
        if was[1] != (w, h):
            r.width, r.height = w, h
        if was[2] != colour:
            r.color = colour
        shape[self._nr - 1] = ((x, y), (w, h), colour)
        if not r.visible:
            r.visible = True

    def end(self) -> None:
        for lab in self._labels[self._nl:]:
            if lab.visible:
                lab.visible = False
        for r in self._rects[self._nr:]:
            if r.visible:
                r.visible = False


class Hud:
    """The 2D layer; ``screens`` before the world, ``world`` in it."""

    def __init__(self, window: Any):
        self.window = window
        self.batch = pyglet.graphics.Batch()
        self.pool = _Pool(self.batch)

    # -- before the world -------------------------------------------------------------------

    def screens(self, session: Any, keys: Any, now: float) -> None:
        pool = self.pool
        pool.begin()
        w, h = self.window.get_size()
        cx = w // 2
        pool.label("SPENEFETT", cx, h - 90, 36, (250, 240, 210, 255), "center", bold=True)
        pool.rect(cx - 240, h // 2 - 170, 480, 290, PANEL)
        phase = session.phase if session is not None else Phase.OFFLINE
        y = h // 2 + 80
        if phase in (Phase.LOGIN, Phase.OFFLINE):
            pool.label(f"Server {session.login_address}" if session else "", cx, y, 11, GREY, "center")
            fields = keys.fields if keys is not None else {"account": "", "password": ""}
            focus = keys.focus if keys is not None else ""
            for n, (key, title) in enumerate((("account", "Account"), ("password", "Password"))):
                text = fields[key] if key == "account" else "*" * len(fields[key])
                caret = "_" if focus == key and int(now * 2) % 2 == 0 else " "
                yy = y - 50 - n * 40
                pool.rect(cx - 90, yy - 8, 290, 28, (40, 50, 70, 230) if focus == key else (30, 35, 45, 230))
                pool.label(title, cx - 200, yy, 13, WHITE)
                pool.label(text + caret, cx - 84, yy, 13, WHITE)
            pool.label("Enter: log in    F2: create the account    Tab: next field", cx, y - 150, 10, GREY,
                       "center")
        elif phase is Phase.CHARACTERS:
            pool.label(f"Characters of {session.account}", cx, y, 15, WHITE, "center", bold=True)
            selected = keys.selected if keys is not None else 0
            rows = session.characters or []
            if not rows:
                pool.label("no characters yet: press N to make one", cx, y - 40, 12, GREY, "center")
            for n, (_cid, name) in enumerate(rows[:6]):
                yy = y - 40 - n * 28
                if n == selected:
                    pool.rect(cx - 150, yy - 8, 300, 26, (60, 80, 120, 230))
                pool.label(str(name), cx, yy, 13, WHITE, "center")
            if keys is not None and keys.focus == "new":
                caret = "_" if int(now * 2) % 2 == 0 else " "
                pool.rect(cx - 150, y - 225, 300, 28, (40, 50, 70, 230))
                pool.label("New character: " + keys.fields["new"] + caret, cx - 144, y - 217, 12, WHITE)
                pool.label("Enter: create    Esc: cancel", cx, y - 245, 10, GREY, "center")
            else:
                hint = "press Delete again to delete" if keys is not None and keys.confirm_delete else \
                    "Enter: play    N: new character    Delete: delete    Up/Down: pick"
                pool.label(hint, cx, y - 245, 10, YELLOW if "again" in hint else GREY, "center")
        else:
            pool.label(session.status or "entering the world...", cx, y - 40, 14, WHITE, "center")
        if session is not None:
            if session.status and phase is not Phase.ENTERING:
                pool.label(session.status, cx, h // 2 - 200, 12, GREY, "center")
            if session.error:
                pool.label(session.error, cx, h // 2 - 225, 12, RED, "center")
        pool.end()
        self.batch.draw()

    # -- in the world ----------------------------------------------------------------------------

    def world(self, game: Any, keys: Any, plates: list[tuple[Any, ...]], floaters: list[tuple[Any, ...]],
              now: float) -> None:
        pool = self.pool
        pool.begin()
        mirror = game.mirror
        w, h = self.window.get_size()
        for _guid, sx, sy, name, health, max_health, targeted, dead in plates:
            pool.label(name, sx, sy + 8, 10, YELLOW if targeted else (GREY if dead else WHITE), "center")
            if max_health > 0 and not dead:
                frac = max(0.0, min(1.0, health / max_health))
                pool.rect(sx - 21, sy - 1, 42, 7, (0, 0, 0, 200))
                bar = (220, 50, 40, 255) if frac < 0.35 else (60, 200, 70, 255)
                pool.rect(sx - 20, sy, 40 * frac, 5, bar)
        for sx, sy, text, age in floaters:
            alpha = int(255 * max(0.0, 1.0 - age / 1.2))
            pool.label(text, sx, sy, 14, (255, 80, 60, alpha) if text != "miss" else (220, 220, 220, alpha),
                       "center", bold=True)
        self._bars(mirror.stats, w, h)
        self._skills(mirror, now, h)
        self._inventory(mirror.stats, h)
        self._chat(mirror, keys)
        self._minimap(game, keys, w, h, now)
        self._target(mirror, keys, w, h)
        if mirror.stats.get("health", 1) <= 0:
            pool.label("You died", w // 2, h // 2 + 40, 30, RED, "center", bold=True)
            pool.label("you rise again at the bind point", w // 2, h // 2, 13, WHITE, "center")
        pool.label("WASD move  Q/E turn  Tab target  F attack  R spark  1/2/3 weapon  G use  Enter talk "
                   "(/g global)  Esc leave", w // 2, 8, 9, (230, 230, 230, 200), "center")
        pool.end()
        self.batch.draw()

    def _bars(self, stats: dict, w: int, h: int) -> None:
        pool = self.pool
        rows = (("health", (200, 40, 40, 255)), ("stamina", (220, 190, 40, 255)),
                ("mana", (60, 110, 230, 255)))
        x, y = w - 250, 86
        pool.rect(x - 8, 22, 246, 90, PANEL)
        for n, (key, colour) in enumerate(rows):
            value = stats.get(key, 0)
            top = stats.get("max_" + key, 0) or 1
            yy = y - n * 24
            frac = max(0.0, min(1.0, float(value) / float(top))) if isinstance(value, (int, float)) else 0.0
            pool.rect(x, yy, 230, 16, (40, 40, 40, 230))
            pool.rect(x, yy, 230 * frac, 16, colour)
            pool.label(f"{key} {value}/{top}", x + 6, yy + 4, 9, WHITE)

    def _skills(self, mirror: Any, now: float, h: int) -> None:
        pool = self.pool
        skills = mirror.stats.get("skills") or {}
        pool.rect(8, h - 30 - 18 * max(len(skills), 1) - 12, 190, 18 * max(len(skills), 1) + 36, PANEL)
        pool.label("Skills", 16, h - 24, 11, WHITE, bold=True)
        for n, (name, level) in enumerate(sorted(skills.items())):
            y = h - 46 - n * 18
            gain = mirror.skill_gains.get(name)
            rising = gain is not None and now - gain[1] < SKILL_GAIN_SHOWN
            pool.label(f"{name}", 16, y, 10, GREEN if rising else GREY)
            text = f"{float(level):.1f}" + (f"  +{gain[0]:.2f}" if rising else "")
            pool.label(text, 190, y, 10, GREEN if rising else WHITE, "right")

    def _inventory(self, stats: dict, h: int) -> None:
        pool = self.pool
        items = stats.get("inventory") or []
        top = h - 40 - 18 * max(len(stats.get("skills") or {}), 1) - 30
        pool.rect(8, top - 18 * len(items) - 52, 190, 18 * len(items) + 66, PANEL)
        pool.label("Inventory", 16, top, 11, WHITE, bold=True)
        for n, record in enumerate(items):
            if isinstance(record, dict):
                pool.label(f"{record.get('count', 1)} x {record.get('item', '?')}", 16, top - 20 - n * 18, 10,
                           GREY)
        y = top - 20 - len(items) * 18
        pool.label(f"in hand: {stats.get('wielded') or 'fists'}", 16, y, 10, WHITE)
        pool.label(f"coins: {stats.get('coins', 0)}", 16, y - 18, 10, YELLOW)

    def _chat(self, mirror: Any, keys: Any) -> None:
        pool = self.pool
        lines = list(mirror.log)[-CHAT_LINES:]
        if lines:
            pool.rect(8, 22, 470, 20 * len(lines) + 30, (15, 20, 30, 110))
        for n, line in enumerate(reversed(lines)):
            pool.label(line.text[:90], 14, 52 + n * 20, 10, _KIND_COLOUR.get(line.kind, WHITE))
        if keys is not None and keys.typing:
            pool.rect(8, 24, 470, 22, (40, 50, 80, 230))
            pool.label("say: " + keys.chat_text + "_", 14, 30, 11, WHITE)

    def _minimap(self, game: Any, keys: Any, w: int, h: int, now: float) -> None:
        pool = self.pool
        mirror = game.mirror
        size = 170
        left, bottom = w - size - 10, h - size - 10
        pool.rect(left - 2, bottom - 2, size + 4, size + 4, (0, 0, 0, 200))
        pool.rect(left, bottom, size, size, (60, 100, 55, 230))
        mx, my, _, _ = mirror.my_position()
        scale = size / MINIMAP_METRES
        cx, cy = left + size / 2, bottom + size / 2
        target = keys.target if keys is not None else 0
        for e in mirror.entities.values():
            if not e.samples or (e.known_class and mirror.is_a(e, "marker")):
                continue
            x, y = e.last[0], e.last[1]
            dx, dy = (x - mx) * scale, (y - my) * scale
            if e.known_class and mirror.is_a(e, "building"):
                sw, sd = (float(v) * scale for v in (e.props.get("size") or [12.0, 8.0]))
                x0, y0 = max(cx + dx - sw / 2, left), max(cy + dy - sd / 2, bottom)
                x1, y1 = min(cx + dx + sw / 2, left + size), min(cy + dy + sd / 2, bottom + size)
                if x1 > x0 and y1 > y0:
                    pool.rect(x0, y0, x1 - x0, y1 - y0, (150, 130, 100, 255))
                continue
            if abs(dx) > size / 2 - 2 or abs(dy) > size / 2 - 2:
                continue
            c = tuple(int(255 * v) for v in e.colour) + (255,)
            dot = 5 if e.guid == target else 3
            pool.rect(cx + dx - dot / 2, cy + dy - dot / 2, dot, dot, YELLOW if e.guid == target else c)
        pool.rect(cx - 3, cy - 3, 6, 6, WHITE)
        yaw = math.radians(keys.yaw if keys is not None and keys.steering
                           else mirror.my_position()[3])
        pool.rect(cx + math.cos(yaw) * 7 - 1.5, cy + math.sin(yaw) * 7 - 1.5, 3, 3, WHITE)
        pool.label(f"{mx:.0f}, {my:.0f}", left + size / 2, bottom - 16, 9, WHITE, "center")

    def _target(self, mirror: Any, keys: Any, w: int, h: int) -> None:
        target = mirror.entity(keys.target) if keys is not None and keys.target else None
        if target is None:
            return
        pool = self.pool
        pool.rect(w // 2 - 130, h - 54, 260, 44, PANEL)
        state = "dead" if target.dead else f"{target.health}/{target.max_health}"
        pool.label(f"{target.name or target.cls}  ({target.cls})", w // 2, h - 28, 11, YELLOW, "center")
        pool.label(state, w // 2, h - 46, 10, WHITE, "center")
