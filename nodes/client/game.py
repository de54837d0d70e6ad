"""ClientGameModule: the client node's game state: the Session, the WorldMirror, the player's intent.

The module between the link and the screen. The link delivers the
server's messages here; the input module sends the player's intents here
(the login requests, and game operations such as ``Move`` and ``Attack``),
marked by coming from the input module's Guid. This module hands them to
the :class:`~nodes.client.session.Session`, which talks to the server
through the link, and keeps the avatar's prediction going every tick::

    link --server messages--> game --Session/WorldMirror--> (read by render, sound, input)
    input --LoginRequest, Move, Attack, Chat...--> game --> link

Render, sound and input read :attr:`session`, :attr:`mirror` and
:attr:`events` (this tick's hits, sounds and deaths) directly: they are
views of this module's state and never change it. Time is the engine's
tick clock (``engine.time``).

Settings: ``login`` (host:port of the login node; default the link's
address), ``link`` (the link module's name, "link"), ``account``,
``password``, ``character`` (all three: log in and enter without the
screens), ``render_delay`` (seconds remote entities are drawn behind, 0.1).
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
from engine.modules.client_link import ClientLinkModule, LinkState
from gamelogic import operations as ops
from nodes.client.mirror import Event, WorldMirror
from nodes.client.session import Phase, Session

__all__ = ["ClientGameModule"]


class _ModuleLink:
    """The Session's Link over the node's ClientLinkModule: the same socket module, re-aimed."""

    def __init__(self, game: ClientGameModule, link: ClientLinkModule):
        self._game = game
        self._link = link
        self._opened = False

    def open(self, address: str, token: str | None) -> None:
        host, _, port = address.rpartition(":")
        link = self._link
        first, self._opened = not self._opened, True
        if (first and token is None and link.host == host and link.port == int(port)
                and link.link_state is not LinkState.CLOSED):
            return  # the link connected there at its start: keep that connection
        link.close("moving on")
        link.host, link.port, link.token = host, int(port), token
        link.connect()

    def send(self, message: Any) -> None:
        self._game.send_to_module(self._link.name, message)

    def close(self, reason: str) -> None:
        self._link.close(reason)


_INTENTS = frozenset((LoginRequest, CreateAccountRequest, CreateCharacterRequest, DeleteCharacterRequest,
                      EnterWorldRequest, Logout, ops.Move, ops.Attack, ops.Wield, ops.Cast, ops.Touch,
                      ops.Talk, ops.Chat, ops.Look))


class ClientGameModule(Module):
    """The client's game state; see the module docstring."""

    kind = "client_game"

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        self.mirror = WorldMirror(render_delay=float(self.settings.get("render_delay", 0.1)))
        self.session: Session | None = None
        self.events: list[Event] = []
        """This tick's one-off perceptions (hits, sounds, deaths), for render and sound."""
        self.velocity = (0.0, 0.0)
        self.yaw = 0.0
        self._server: list[Any] = []
        self._last = 0.0
        self._input_guid = -1
        self._told_error = ""
        self._told_line: Any = None

    def start(self) -> None:
        link = self.engine.module(str(self.settings.get("link", "link")))
        if not isinstance(link, ClientLinkModule):
            raise ValueError(f"{self.name}: module {link.name!r} is not a client link")
        try:
            self._input_guid = self.engine.module(str(self.settings.get("input", "input"))).guid
        except KeyError:
            self._input_guid = -1  # headless: no input module, every message is the server's
        login = str(self.settings.get("login") or f"{link.host}:{link.port}")
        self.session = Session(login, _ModuleLink(self, link), self.mirror)
        self._last = self.engine.time
        self.session.start(self._last)
        account = self.settings.get("account")
        if account:
            self.session.play(str(account), str(self.settings.get("password", "")),
                              str(self.settings.get("character", "")))

    def receive(self, messages: list[Any]) -> None:
        for m in messages:
            if type(m) in _INTENTS and m.frm == self._input_guid:
                self._intent(m)
            else:
                self._server.append(m)

    def _intent(self, m: Any) -> None:
        session = self.session
        assert session is not None
        kind = type(m)
        if kind is LoginRequest:
            session.login(m.name, m.password)
        elif kind is CreateAccountRequest:
            session.create_account(m.name, m.password)
        elif kind is CreateCharacterRequest:
            session.create_character(m.name)
        elif kind is DeleteCharacterRequest:
            session.delete_character(m.character_id)
        elif kind is EnterWorldRequest:
            session.enter(m.character_id)
        elif kind is Logout:
            session.leave()
        else:
            if kind is ops.Move:
                self.velocity = (float(m.vx), float(m.vy))
                self.yaw = float(m.yaw) % 360.0 if math.isfinite(m.yaw) else self.yaw
            session.act(m)

    def tick(self) -> None:
        session = self.session
        assert session is not None
        now = self.engine.time
        dt, self._last = max(0.0, now - self._last), now
        messages, self._server = self._server, []
        was = session.phase
        session.handle(messages, now)
        session.tick(now)
        if session.phase is Phase.WORLD:
            if was is not Phase.WORLD:
                self.velocity, self.yaw = (0.0, 0.0), self.mirror.my_position()[3]
            self.mirror.predict(self.velocity[0], self.velocity[1], dt, self.yaw)
        self.events = self.mirror.take_events()
        self._tell(session)

    def _tell(self, session: Session) -> None:
        """Errors and new log lines to the node's log (what a headless client shows)."""
        if session.error != self._told_error:
            self._told_error = session.error
            if session.error:
                self.log.warning("%s", session.error)
        log = self.mirror.log
        last = log[-1] if log else None
        if last is not None and last is not self._told_line:
            fresh = []
            for line in reversed(log):
                if line is self._told_line:
                    break
                fresh.append(line)
            for line in reversed(fresh):
                self.log.info("%s: %s", line.kind, line.text)
            self._told_line = last

    def status(self) -> dict[str, Any]:
        out = super().status()
        s = self.session
        out.update(phase=s.phase.value if s else None, error=s.error if s else "", me=self.mirror.me,
                   entities=len(self.mirror.entities), counts=dict(self.mirror.counts))
        return out
