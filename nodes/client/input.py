"""InputModule: keyboard and mouse become the player's intents, sent to the game module.

Each tick it pumps the window's events (the render module owns the
window) and turns them into messages for the game module: the login
requests on the login and character screens, game operations in the
world. Holding keys is state; a ``Move`` goes out only when the wanted
velocity or facing changes (facing alone at most 10 times a second).

==========================  ====================================================
login screen                Tab next field, Enter log in, F2 create the account
character screen            Up/Down pick, Enter play, N name a new one (Enter
                            creates), Delete twice deletes, Esc back
world                       W/S forward/back, A/D sideways, Q/E or Left/Right
                            turn, right-drag turn, Shift walk slowly
                            Tab target the nearest creature, click to target
                            F attack, R cast a spark, 1 sword, 2 bow, 3 fists
                            G use: open/shut a door, loot a corpse, sell to
                            the trader, lead a pig (the target, or the nearest)
                            Enter type: plain text is said aloud, "/g text"
                            goes to the global chat; Esc leaves the world
==========================  ====================================================

The screen fields, the selection, the target and the chat line being
typed are this module's state; the render module draws them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from engine.login.messages import (
    CreateAccountRequest,
    CreateCharacterRequest,
    DeleteCharacterRequest,
    EnterWorldRequest,
    LoginRequest,
    Logout,
)
from engine.modules import Module
from gamelogic import operations as ops
from nodes.client.session import Phase

__all__ = ["InputModule"]

TURN_SPEED = 120.0
"""Degrees per second that Q/E and the arrow keys turn."""
MOUSE_TURN = 0.3
"""Degrees per pixel of a right-button drag."""
YAW_SEND_INTERVAL = 0.1
"""Seconds between two Moves that only change the facing."""
USE_RANGE = 4.0


class InputModule(Module):
    """Keyboard and mouse to intents; see the module docstring."""

    kind = "client_input"

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        self.fields = {"account": str(self.settings.get("account", "")), "password": "", "new": ""}
        self.focus = "account"
        self.selected = 0
        self.target = 0
        self.typing = False
        self.chat_text = ""
        self.confirm_delete = False
        self.yaw = 0.0
        """The facing the player steers (drawn at once; the server hears it with the next Move)."""
        self.steering = False
        """True while in the world: :attr:`yaw` is the facing to draw."""
        self._keys: set[int] = set()
        self._turn_drag = 0.0
        self._sent = ((0.0, 0.0), 0.0)
        self._sent_at = -math.inf
        self._window: Any = None
        self._game: Any = None
        self._render: Any = None
        self._intents: list[Any] = []
        self._key: Any = None
        self._mouse: Any = None

    def start(self) -> None:
        from pyglet.window import key, mouse

        self._key, self._mouse = key, mouse
        self._game = self.engine.module(str(self.settings.get("game", "game")))
        self._render = self.engine.module(str(self.settings.get("render", "render")))

    # -- the tick -------------------------------------------------------------------------

    def tick(self) -> None:
        if self._window is None:
            self._window = getattr(self._render, "window", None)
            if self._window is None:
                return
            self._window.push_handlers(self.on_key_press, self.on_key_release, self.on_text,
                                       self.on_mouse_press, self.on_mouse_drag)
        self._window.dispatch_events()
        session = self._game.session
        if session is not None and session.phase is Phase.WORLD:
            self._steer(session)
        else:
            self._not_steering()
        intents, self._intents = self._intents, []
        for message in intents:
            self.send_to_module(self._game.name, message)

    def _intent(self, message: Any) -> None:
        self._intents.append(message.replace(frm=self.guid))

    def _not_steering(self) -> None:
        self.target = 0
        self.steering = False
        self._sent = ((0.0, 0.0), self._sent[1])

    def _steer(self, session: Any) -> None:
        k = self._key
        keys = self._keys
        dt = self.engine.period
        game = self._game
        if not self.steering:
            self.steering = True
            self.yaw = game.mirror.my_position()[3]
        yaw = self.yaw
        turn = ((k.Q in keys or k.LEFT in keys) - (k.E in keys or k.RIGHT in keys)) * TURN_SPEED * dt
        yaw = self.yaw = (yaw + turn - self._turn_drag) % 360.0
        self._turn_drag = 0.0
        if self.typing:
            forward = side = 0
        else:
            forward = (k.W in keys or k.UP in keys) - (k.S in keys or k.DOWN in keys)
            side = (k.A in keys) - (k.D in keys)
        speed = 2.0 if (k.LSHIFT in keys or k.RSHIFT in keys) else 5.5
        r = math.radians(yaw)
        vx = (forward * math.cos(r) - side * math.sin(r)) * speed
        vy = (forward * math.sin(r) + side * math.cos(r)) * speed
        norm = math.hypot(vx, vy)
        if norm > speed:
            vx, vy = vx * speed / norm, vy * speed / norm
        now = self.engine.time
        velocity = (round(vx, 3), round(vy, 3))
        moved = velocity != self._sent[0]
        turned = abs((yaw - self._sent[1] + 180.0) % 360.0 - 180.0) > 0.5
        if moved or (turned and now - self._sent_at >= YAW_SEND_INTERVAL):
            self._intent(ops.Move(0, 0, vx=float(velocity[0]), vy=float(velocity[1]), yaw=float(yaw)))
            self._sent, self._sent_at = (velocity, yaw), now
        if self.target and game.mirror.entity(self.target) is None:
            self.target = 0

    # -- window events --------------------------------------------------------------------

    def on_key_press(self, symbol: int, modifiers: int) -> bool:
        self._keys.add(symbol)
        session = self._game.session
        if session is None:
            return True
        phase = session.phase
        if phase in (Phase.LOGIN, Phase.OFFLINE):
            self._login_key(symbol, session)
        elif phase is Phase.CHARACTERS:
            self._characters_key(symbol, session)
        elif phase is Phase.WORLD:
            self._world_key(symbol, modifiers)
        return True  # keep pyglet's default (Esc closes the window) away

    def on_key_release(self, symbol: int, modifiers: int) -> bool:
        self._keys.discard(symbol)
        return True

    def on_text(self, text: str) -> bool:
        text = "".join(ch for ch in text if ch.isprintable())
        if not text:
            return True
        session = self._game.session
        phase = session.phase if session is not None else None
        if phase in (Phase.LOGIN, Phase.OFFLINE) and self.focus in ("account", "password"):
            self.fields[self.focus] = (self.fields[self.focus] + text)[:64]
        elif phase is Phase.CHARACTERS and self.focus == "new":
            self.fields["new"] = (self.fields["new"] + text)[:32]
        elif phase is Phase.WORLD and self.typing:
            self.chat_text = (self.chat_text + text)[:200]
        return True

    def on_mouse_press(self, x: int, y: int, button: int, modifiers: int) -> bool:
        session = self._game.session
        if session is None or session.phase is not Phase.WORLD or button != self._mouse.LEFT:
            return True
        picked = self._render.pick(x, y)
        if picked:
            self.target = picked
        return True

    def on_mouse_drag(self, x: int, y: int, dx: int, dy: int, buttons: int, modifiers: int) -> bool:
        if buttons & self._mouse.RIGHT:
            self._turn_drag += dx * MOUSE_TURN
        return True

    # -- screens --------------------------------------------------------------------------

    def _login_key(self, symbol: int, session: Any) -> None:
        k = self._key
        if symbol == k.TAB:
            self.focus = "password" if self.focus == "account" else "account"
        elif symbol == k.BACKSPACE:
            self.fields[self.focus] = self.fields[self.focus][:-1]
        elif symbol in (k.ENTER, k.RETURN, k.F2):
            name, password = self.fields["account"].strip(), self.fields["password"]
            if not name or not password:
                session.error = "type an account name and a password (Tab switches)"
                return
            make = CreateAccountRequest if symbol == k.F2 else LoginRequest
            self._intent(make(0, 0, name, password))

    def _characters_key(self, symbol: int, session: Any) -> None:
        k = self._key
        rows = session.characters
        if self.focus == "new":
            if symbol == k.BACKSPACE:
                self.fields["new"] = self.fields["new"][:-1]
            elif symbol in (k.ENTER, k.RETURN):
                if self.fields["new"].strip():
                    self._intent(CreateCharacterRequest(0, 0, self.fields["new"].strip()))
                self.fields["new"] = ""
                self.focus = ""
            elif symbol == k.ESCAPE:
                self.fields["new"], self.focus = "", ""
            return
        if symbol != k.DELETE:
            self.confirm_delete = False
        if symbol == k.UP:
            self.selected = max(0, self.selected - 1)
        elif symbol == k.DOWN:
            self.selected = min(max(len(rows) - 1, 0), self.selected + 1)
        elif symbol == k.N:
            self.focus = "new"
        elif symbol in (k.ENTER, k.RETURN) and rows:
            self._intent(EnterWorldRequest(0, 0, int(rows[min(self.selected, len(rows) - 1)][0])))
        elif symbol == k.DELETE and rows:
            if self.confirm_delete:
                self._intent(DeleteCharacterRequest(0, 0, int(rows[min(self.selected, len(rows) - 1)][0])))
                self.selected = 0
                self.confirm_delete = False
            else:
                self.confirm_delete = True

    def _world_key(self, symbol: int, modifiers: int) -> None:
        k = self._key
        if self.typing:
            if symbol in (k.ENTER, k.RETURN):
                self._say(self.chat_text.strip())
                self.chat_text, self.typing = "", False
            elif symbol == k.BACKSPACE:
                self.chat_text = self.chat_text[:-1]
            elif symbol == k.ESCAPE:
                self.chat_text, self.typing = "", False
            self._keys.discard(symbol)
            return
        if symbol in (k.ENTER, k.RETURN):
            self.typing = True
        elif symbol == k.TAB:
            self.target = self._next_target()
        elif symbol == k.F and self.target:
            self._intent(ops.Attack(0, 0, target=self.target))
        elif symbol == k.R and self.target:
            self._intent(ops.Cast(0, 0, spell="spark", target=self.target))
        elif symbol in (k._1, k._2, k._3):
            self._intent(ops.Wield(0, 0, item={k._1: "sword", k._2: "bow", k._3: ""}[symbol]))
        elif symbol == k.G:
            used = self.target or self._nearest_usable()
            if used:
                self._intent(ops.Touch(0, 0, target=used))
        elif symbol == k.ESCAPE:
            self._intent(Logout(0, 0))

    def _say(self, text: str) -> None:
        if not text:
            return
        if text.startswith("/g "):
            if text[3:].strip():
                self._intent(ops.Chat(0, 0, channel="global", text=text[3:].strip()))
        else:
            self._intent(ops.Talk(0, 0, text=text))

    def _next_target(self) -> int:
        """Creatures by distance: each Tab the next one further away, then round again."""
        mirror = self._game.mirror
        x, y = mirror.my_position()[:2]
        now = self.engine.time
        found = []
        for e in mirror.entities.values():
            if e.dead or not mirror.is_a(e, "creature"):
                continue
            p = mirror.position(e.guid, now)
            if p is not None:
                found.append((math.hypot(p[0] - x, p[1] - y), e.guid))
        found.sort()
        guids = [g for _, g in found]
        if not guids:
            return 0
        if self.target in guids:
            return guids[(guids.index(self.target) + 1) % len(guids)]
        return guids[0]

    def _nearest_usable(self) -> int:
        mirror = self._game.mirror
        x, y = mirror.my_position()[:2]
        best, best_d = 0, USE_RANGE
        for cls in ("door", "corpse", "trader"):
            e = mirror.nearest(x, y, kind=cls, alive=False, now=self.engine.time, within=best_d)
            if e is not None:
                p = mirror.position(e.guid, self.engine.time)
                best, best_d = e.guid, math.hypot(p[0] - x, p[1] - y)
        return best
