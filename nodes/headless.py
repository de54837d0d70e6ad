"""A scripted headless client: log in, pick a character, enter the world, act, leave.

Each server connection is a :class:`LinkSession`: a small in-process Engine
with a :class:`~engine.modules.client_link.ClientLinkModule` and an inbox,
ticked by the caller. :class:`HeadlessClient` drives the whole login flow
with blocking, timeout-bounded calls, for tests, benchmarks and bots::

    client = HeadlessClient("127.0.0.1:7001")
    client.create_account("Ann", "correct horse battery")
    ok = client.login("Ann", "correct horse battery")        # LoginOk
    client.create_character("Annika")                        # CharacterList
    entered = client.enter_world(ok.characters[0][0])        # EnteredWorld
    client.set_position(1.0, 2.0, 3.0)                       # AvatarState
    client.close()

Every call returns the server's answer message, or a ``Refused`` /
``ConnectionLost`` saying why not.

A program that runs many links from one loop (the bots) need not tick an
idle one: :meth:`LinkSession.fileno` and :attr:`LinkSession.connecting`
say what to wait for on its socket, and :meth:`LinkSession.quiet_for` how
long it may go unticked while that socket stays quiet.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from typing import Any

from engine.engine import Engine
from engine.guid import NodeKind
from engine.login.messages import (
    AccountCreated,
    AvatarState,
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
    LogoutRequest,
    Refused,
    SetPosition,
    Train,
)
from engine.modules import Module
from engine.modules.client_link import ClientLinkModule, LinkState
from engine.modules.network_messages import ConnectionLost

_FAIL = (Refused, ConnectionLost)


class _Inbox(Module):
    def __init__(self, name: str):
        super().__init__(name)
        self.messages: list[Any] = []

    def receive(self, messages: list[Any]) -> None:
        self.messages.extend(messages)


class LinkSession:
    """One connection to a server, in its own Engine; ``pump`` ticks it."""

    _NUDGE = 0.002
    """Seconds added to a deadline so that the tick at it finds it passed, not a hair early."""

    def __init__(self, address: str, *, token: str | None = None, tick_rate: float = 200.0):
        host, _, port = address.rpartition(":")
        node = random.randint(NodeKind.CLIENT.first, NodeKind.CLIENT.last)
        self.engine = Engine(node, tick_rate=tick_rate, seed=os.getpid())
        settings: dict[str, Any] = {"host": host, "port": int(port), "deliver_to": "inbox"}
        if token is not None:
            settings["token"] = token
        self.link = ClientLinkModule("link", settings)
        self.inbox = _Inbox("inbox")
        self.engine.add_module(self.link)
        self.engine.add_module(self.inbox)
        self.engine.connect("link", "inbox")
        self.engine.connect("inbox", "link")
        self.engine.set_transport("link")
        self._clock = self.engine.clock.now
        self._unsent = False  # something was sent to the link that no frame has carried yet
        self.engine.start()
        self._closed = False

    @property
    def open(self) -> bool:
        return self.link.link_state is not LinkState.CLOSED

    @property
    def connecting(self) -> bool:
        """The TCP connect is in progress: the socket's writability, not its input, is what to wait for."""
        return self.link.link_state is LinkState.CONNECTING

    def fileno(self) -> int:
        """The connection's socket, to wait on; -1 when closed."""
        return self.link.fileno() if self.open else -1

    def quiet_for(self) -> float:
        """Seconds this link may go unticked while its socket stays quiet (inf: as long as it likes).

        Ticks are owed for what the link does on time rather than on input
        (:meth:`ClientLinkModule.next_due`): sending what it was given, a
        keepalive, and the connect and handshake timeouts.
        """
        due = self.link.next_due(queued=self._unsent)
        return max(0.0, due + self._NUDGE - self._clock()) if due != math.inf else math.inf

    def send(self, message: Any) -> None:
        self.inbox.send_to_module("link", message)
        self._unsent = True

    def pump(self) -> None:
        frames = self.link.frames_out
        self.engine.tick_once()
        if self.link.frames_out != frames:
            self._unsent = False

    def flush(self) -> None:
        """Tick now if something sent waits to go out; what arrives stays in the inbox."""
        if self._unsent:
            self.pump()

    def wait_for(self, wanted: tuple[type, ...], timeout: float = 10.0) -> Any:
        """The first message of a ``wanted`` type (taken from the inbox), or None at the timeout."""
        return self.wait(lambda m: isinstance(m, wanted), timeout)

    def wait(self, test: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        end = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.inbox.messages):
                if test(m):
                    del self.inbox.messages[i]
                    return m
            if time.monotonic() > end:
                return None
            self.pump()
            time.sleep(0.002)

    def request(self, message: Any, answers: tuple[type, ...], timeout: float = 10.0) -> Any:
        self.send(message)
        return self.wait_for(answers + _FAIL, timeout)

    def close(self) -> None:
        """Close the link (a close frame to the server) and stop the engine; idempotent."""
        if not self._closed:
            self._closed = True
            self.engine.stop()


class HeadlessClient:
    """The login flow, one blocking call per step; see the module docstring."""

    def __init__(self, login_address: str, *, timeout: float = 15.0):
        self.login_address = login_address
        self.timeout = timeout
        self.login_link: LinkSession | None = None
        self.world: LinkSession | None = None
        self.resume_token = ""
        self.avatar = 0

    # -- the login node -------------------------------------------------------------------

    def connect(self, token: str | None = None) -> LinkSession:
        if self.login_link is not None:
            self.login_link.close()
        self.login_link = LinkSession(self.login_address, token=token)
        return self.login_link

    def _login(self) -> LinkSession:
        if self.login_link is None or not self.login_link.open:
            self.connect()
        assert self.login_link is not None
        return self.login_link

    def create_account(self, name: str, password: str) -> Any:
        return self._login().request(CreateAccountRequest(0, 0, name, password), (AccountCreated,),
                                     self.timeout)

    def login(self, name: Any, password: Any) -> Any:
        answer = self._login().request(LoginRequest(0, 0, name, password), (LoginOk,), self.timeout)
        if isinstance(answer, LoginOk):
            self.resume_token = answer.resume_token
        return answer

    def resume(self, token: str | None = None) -> Any:
        """Reconnect to the login node with the resume token instead of the password."""
        link = self.connect(token or self.resume_token)
        return link.wait_for((LoginOk,) + _FAIL, self.timeout)

    def create_character(self, name: Any) -> Any:
        return self._login().request(CreateCharacterRequest(0, 0, name), (CharacterList,), self.timeout)

    def delete_character(self, character_id: int) -> Any:
        return self._login().request(DeleteCharacterRequest(0, 0, character_id), (CharacterList,),
                                     self.timeout)

    def log_out_of_login(self) -> Any:
        return self._login().request(LogoutRequest(0, 0), (), self.timeout)

    # -- the world -----------------------------------------------------------------------------

    def enter_world(self, character_id: int) -> Any:
        """Ask the login node for a place, then connect there with the entry token."""
        go = self._login().request(EnterWorldRequest(0, 0, character_id), (GoTo,), self.timeout)
        if not isinstance(go, GoTo):
            return go
        return self.connect_world(go.address, go.token)

    def connect_world(self, address: str, token: str) -> Any:
        if self.world is not None:
            self.world.close()
        self.world = LinkSession(address, token=token)
        entered = self.world.wait_for((EnteredWorld,) + _FAIL, self.timeout)
        if isinstance(entered, EnteredWorld):
            self.avatar = entered.avatar
        return entered

    def set_position(self, x: float, y: float, z: float) -> Any:
        assert self.world is not None
        return self.world.request(SetPosition(0, self.avatar, x, y, z), (AvatarState,), self.timeout)

    def train(self, skill: str, amount: int) -> Any:
        assert self.world is not None
        return self.world.request(Train(0, self.avatar, skill, amount), (AvatarState,), self.timeout)

    def logout(self) -> Any:
        """Leave the world; returns the ConnectionLost with the server's reason."""
        assert self.world is not None
        return self.world.request(Logout(0, self.avatar), (), self.timeout)

    def pump(self, seconds: float = 0.0) -> None:
        """Tick both links for ``seconds`` (keepalives, pending messages)."""
        end = time.monotonic() + seconds
        while True:
            for link in (self.login_link, self.world):
                if link is not None:
                    link.pump()
            if time.monotonic() >= end:
                return
            time.sleep(0.005)

    def close(self) -> None:
        for link in (self.world, self.login_link):
            if link is not None:
                link.close()
        self.world = self.login_link = None
