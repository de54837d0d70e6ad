"""Session: a player's way from the login screen into the world and back, as a state machine.

One object drives the whole flow over a :class:`Link` (an open connection
to one server at a time) and feeds a :class:`~nodes.client.mirror.WorldMirror`;
the windowed client and the headless bots share it, so the flow is
written once. The caller hands it what arrived and calls the steps::

    session = Session("127.0.0.1:7001", link, mirror)
    session.start(now)                        # connects to the login node
    session.login("ann", "pw")                # -> CHARACTERS (LoginOk) or an error
    session.create_character("Annika")        # the list refreshes
    session.enter(character_id)               # GoTo: the link moves to the gamelogic node -> WORLD
    session.handle(messages, now)             # every tick, whatever the link delivered
    session.act(Move(0, 0, vx=1.0, vy=0.0))   # in the world: operations to the server

``play(account, password, character)`` scripts the steps (create the
account if new, else log in; create the character if missing; enter), for
``spenefett client --account`` and the bots. Everything the server refuses,
and a lost connection, lands in :attr:`Session.error` as text for a person;
losing the world (the server gone, a malformed frame) goes back to the
login screen. The login node serves one request at a time per connection,
so a step asked while another waits for its answer is refused locally.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

from engine.login.messages import (
    AccountCreated,
    CharacterList,
    CreateAccountRequest,
    CreateCharacterRequest,
    DeleteCharacterRequest,
    EnteredWorld,
    EnterWorldRequest,
    GoTo,
    LoginOk,
    LoginRequest,
    Logout,
    Refused,
)
from engine.modules.network_messages import ConnectionLost, Welcome
from nodes.client.mirror import WorldMirror

__all__ = ["Link", "Phase", "Session"]

RETRY_SECONDS = 2.0
"""How long after losing the login node the session connects again."""
_NAME_TAKEN = "taken"


class Link(Protocol):
    """One connection at a time to a server: what the session needs of the network."""

    def open(self, address: str, token: str | None) -> None:
        """Drop any current connection and connect to ``address`` (host:port) with ``token``."""

    def send(self, message: Any) -> None:
        """Send to the server at the other end (queued until the connection is open)."""

    def close(self, reason: str) -> None:
        """Leave the current server (no ConnectionLost follows)."""


class Phase(enum.Enum):
    LOGIN = "login"  # connected (or connecting) to the login node, not logged in
    CHARACTERS = "characters"  # logged in: pick, create or delete a character
    ENTERING = "entering"  # on the way to the gamelogic node
    WORLD = "world"  # playing
    OFFLINE = "offline"  # the login node cannot be reached; retrying


class Session:
    """The login flow and the world connection; see the module docstring."""

    def __init__(self, login_address: str, link: Link, mirror: WorldMirror):
        self.login_address = login_address
        self.link = link
        self.mirror = mirror
        self.phase = Phase.OFFLINE
        self.error = ""
        """The latest problem, in words for the player ('' when none)."""
        self.status = ""
        """What is going on ('logging in...'), for the screen."""
        self.account = ""
        self.account_id = 0
        self.characters: list[list[Any]] = []
        """``[character_id, name]`` rows of the logged-in account."""
        self.character = ""
        self.waiting = ""
        """The login request whose answer is awaited ('' = none)."""
        self.entered = 0
        """How many times this session entered the world."""
        self._resume_token = ""
        self._password = ""
        self._retry_at = 0.0
        self._plan: tuple[str, str, str] | None = None
        self._plan_created = False
        self._leaving = False
        self._serial = 0

    # -- the steps ------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Connect to the login node (the login screen)."""
        self._connect_login(now, token=None)

    def login(self, account: str, password: str) -> bool:
        self.account, self._password = account, password
        return self._request("login", LoginRequest(0, 0, account, password), "logging in...")

    def create_account(self, account: str, password: str) -> bool:
        self.account, self._password = account, password
        return self._request("create_account", CreateAccountRequest(0, 0, account, password),
                             "creating the account...")

    def create_character(self, name: str) -> bool:
        self.character = name
        return self._request("create_character", CreateCharacterRequest(0, 0, name),
                             "creating the character...")

    def delete_character(self, character_id: int) -> bool:
        return self._request("delete_character", DeleteCharacterRequest(0, 0, int(character_id)),
                             "deleting the character...")

    def enter(self, character_id: int) -> bool:
        for cid, name in self.characters:
            if cid == character_id:
                self.character = str(name)
        return self._request("enter_world", EnterWorldRequest(0, 0, int(character_id)),
                             "entering the world...")

    def play(self, account: str, password: str, character: str) -> None:
        """Script the steps: account (created if new), character (created if missing), enter."""
        self._plan = (account, password, character)
        self._plan_created = False
        if self.phase is Phase.LOGIN and not self.waiting:
            self.create_account(account, password)

    def leave(self) -> None:
        """Leave the world (saved by the server) and go back to the character list."""
        if self.phase is Phase.WORLD:
            self._leaving = True
            self.status = "leaving the world..."
            self.link.send(Logout(0, self.mirror.me))

    def act(self, operation: Any) -> int:
        """Send a game operation (Move, Attack, Talk...) in the world; returns its serialno (0: not sent)."""
        if self.phase is not Phase.WORLD or self._leaving:
            return 0
        self._serial += 1
        if hasattr(operation, "serialno"):
            operation = operation.replace(frm=self.mirror.me, serialno=self._serial)
        self.link.send(operation)
        return self._serial

    @property
    def retry_at(self) -> float:
        """When ``tick`` connects to the login node again (0: no retry pending)."""
        return self._retry_at if self.phase is Phase.OFFLINE else 0.0

    # -- what arrives ---------------------------------------------------------------------

    def handle(self, messages: list[Any], now: float) -> None:
        """Everything the link delivered this tick, in order."""
        for m in messages:
            kind = type(m)
            if kind is ConnectionLost:
                self._lost(m.reason, now)
            elif self.phase in (Phase.WORLD, Phase.ENTERING):
                if kind is EnteredWorld:
                    self.phase = Phase.WORLD
                    self.entered += 1
                    self.status = self.error = ""
                self.mirror.apply((m,), now)
            elif kind is Welcome:
                if self.status == "connecting...":
                    self.status = ""
            else:
                self._login_answer(m, now)

    def tick(self, now: float) -> None:
        """Retry the login node when it was unreachable."""
        if self.phase is Phase.OFFLINE and self._retry_at and now >= self._retry_at:
            self._connect_login(now, token=self._resume_token or None)

    # -- internals ------------------------------------------------------------------------

    def _connect_login(self, now: float, token: str | None) -> None:
        self.mirror.clear()
        self.phase = Phase.LOGIN
        self.waiting = ""
        self._leaving = False
        self._retry_at = 0.0
        self.status = "connecting..."
        self.link.open(self.login_address, token)
        if token:
            self.waiting = "resume"
        elif self._plan is not None:
            self.create_account(self._plan[0], self._plan[1])

    def _request(self, name: str, message: Any, status: str) -> bool:
        if self.phase not in (Phase.LOGIN, Phase.CHARACTERS):
            self.error = "not connected to the login server"
            return False
        if self.waiting:
            self.error = f"wait: {self.waiting.replace('_', ' ')} is not answered yet"
            return False
        self.waiting = name
        self.status = status
        self.error = ""
        self.link.send(message)
        return True

    def _login_answer(self, m: Any, now: float) -> None:
        kind = type(m)
        asked, self.waiting = self.waiting, ""
        self.status = ""
        if kind is LoginOk:
            self.account_id = int(m.account_id)
            self._resume_token = str(m.resume_token)
            self.characters = [list(row) for row in m.characters]
            self.phase = Phase.CHARACTERS
            self._follow_plan()
        elif kind is CharacterList:
            self.characters = [list(row) for row in m.characters]
            self._follow_plan()
        elif kind is AccountCreated:
            self.login(self.account, self._password)
        elif kind is GoTo:
            self.phase = Phase.ENTERING
            self.status = "entering the world..."
            self.mirror.clear()
            self.link.open(str(m.address), str(m.token))
        elif kind is Refused:
            self._refused(str(m.request), str(m.reason), asked)
        else:
            self.waiting = asked  # not an answer (a stray message): keep waiting

    def _refused(self, request: str, reason: str, asked: str) -> None:
        plan = self._plan
        if plan is not None and request == "create_account" and _NAME_TAKEN in reason:
            self.login(plan[0], plan[1])  # the account exists: log in to it
            return
        if request == "resume":
            self._resume_token = ""
            self.phase = Phase.LOGIN
        self.error = reason
        self._plan = None  # a script that met a refusal stops, showing why

    def _follow_plan(self) -> None:
        if self._plan is None:
            return
        wanted = self._plan[2]
        for cid, name in self.characters:
            if name == wanted:
                self._plan = None
                self.enter(cid)
                return
        if self._plan_created:
            self.error = f"the character {wanted!r} was not created"
            self._plan = None
            return
        self._plan_created = True
        self.create_character(wanted)

    def _lost(self, reason: str, now: float) -> None:
        was = self.phase
        if was in (Phase.WORLD, Phase.ENTERING):
            if self._leaving:  # we asked to leave: back to the character list
                self.error = ""
                self._connect_login(now, token=self._resume_token or None)
                return
            self.error = f"disconnected from the world: {reason}"
            self._connect_login(now, token=None)
            self.status = ""
            return
        self.error = f"login server: {reason}"
        self.phase = Phase.OFFLINE
        self.waiting = ""
        self.status = f"retrying in {RETRY_SECONDS:g} s..."
        self._retry_at = now + RETRY_SECONDS
