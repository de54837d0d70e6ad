"""The live connection: log in as a designer, enter the world, and pump the link from the GUI's clock.

The login flow is :class:`nodes.headless.HeadlessClient`'s (the same code
bots and tests use). Its calls block, so logging in and entering the world
run on a worker thread; once in, the GUI thread owns the link and calls
:meth:`LiveLink.poll` every frame, which moves messages between the world
link and a :class:`~worldbuilder.LiveWorld`. A lost connection, or an
attempt that fails for want of a server, is retried every ``retry_after``
seconds (a refused login is not: the designer retries with F5); edits
meanwhile wait in the LiveWorld::

    link = LiveLink("127.0.0.1:7001", "builder", "secret words", live)
    link.start()
    while True:
        link.poll(now=time.monotonic())      # in the GUI's clock callback
        link.send(live.create("pig", (300.0, 300.0), world_id="meadow.pig"))
"""

from __future__ import annotations

import threading
from typing import Any

from engine.login.messages import Refused
from engine.modules.network_messages import ConnectionLost
from gamelogic import operations  # noqa: F401  (registers the game's message types for decoding)
from nodes.headless import HeadlessClient
from worldbuilder._live import LiveWorld


class LiveLink:
    """One designer's connection; ``state`` is connecting, connected, lost or failed."""

    def __init__(self, address: str, account: str, password: str, live: LiveWorld, *,
                 character: str | None = None, timeout: float = 15.0, retry_after: float = 5.0):
        self.address = address
        self.account = account
        self._password = password
        self.character = character
        self.live = live
        self.timeout = timeout
        self.retry_after = retry_after
        self.state = "idle"
        self.reason = ""
        self._client: HeadlessClient | None = None
        self._worker: threading.Thread | None = None
        self._entered: HeadlessClient | None = None  # set by the worker once in the world
        self._lost_at: float | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Log in and enter the world on a worker thread; :meth:`poll` takes over when it is done."""
        if self._worker is not None and self._worker.is_alive():
            return
        self.state = "connecting"
        self.reason = ""
        self._worker = threading.Thread(target=self._connect, name="worldbuilder-login", daemon=True)
        self._worker.start()

    def _connect(self) -> None:
        client = HeadlessClient(self.address, timeout=self.timeout)
        try:
            why, final = self._enter(client)
        except Exception as exc:  # an unreachable host and the like: shown, retried, never a crash
            why, final = f"{type(exc).__name__}: {exc}", False
        with self._lock:
            if why is None:
                self._entered = client
            else:
                client.close()
                self.state = "failed" if final else "lost"  # lost: tried again after retry_after
                self.reason = why
                self._lost_at = None

    def _enter(self, client: HeadlessClient) -> tuple[str | None, bool]:
        """Log in and enter: (None, _) when in, else (why not, whether trying again is pointless)."""
        ok = client.login(self.account, self._password)
        if not hasattr(ok, "characters"):
            return f"login: {_why(ok)}", isinstance(ok, Refused)  # a wrong password stays wrong
        rows = ok.characters
        if self.character:
            rows = [r for r in rows if r[1] == self.character]
        if not rows:
            listed = client.create_character(self.character or self.account)
            if not hasattr(listed, "characters"):
                return f"creating a character: {_why(listed)}", isinstance(listed, Refused)
            name = self.character or self.account
            rows = [r for r in listed.characters if r[1] == name] or listed.characters
        entered = client.enter_world(rows[0][0])
        if not hasattr(entered, "avatar"):
            return f"entering the world: {_why(entered)}", False  # e.g. no gamelogic node up yet
        return None, False

    def poll(self, now: float) -> None:
        """Move messages between the world link and the LiveWorld; notice losses, retry."""
        with self._lock:
            entered, self._entered = self._entered, None
        if entered is not None:
            self._client = entered
            self.state = "connected"
            self._lost_at = None
            for op in self.live.attach(entered.avatar):
                self.send(op)
        if self.state == "lost" and self._lost_at is None:
            self._lost_at = now  # a failed attempt from the worker: count from here
        if self.state == "lost" and now - self._lost_at >= self.retry_after:
            self._lost_at = None
            self.start()
        if self.state != "connected" or self._client is None or self._client.world is None:
            return
        world = self._client.world
        world.pump()
        messages, world.inbox.messages = world.inbox.messages, []
        for message in messages:
            if isinstance(message, ConnectionLost):
                self._lose(message.reason, now)
                return
            self.live.receive(message)
        if not world.open:
            self._lose("the world link closed", now)

    def send(self, op: Any) -> None:
        """Send one operation if connected; otherwise the LiveWorld keeps it queued."""
        if op is None or self.state != "connected" or self._client is None or self._client.world is None:
            return
        self._client.world.send(op)

    def _lose(self, reason: str, now: float) -> None:
        self.state = "lost"
        self.reason = reason
        self._lost_at = now
        self.live.detach(reason)
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        """Leave: close the links (the server saves the designer's character as for any player)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self.state = "closed"


def _why(answer: Any) -> str:
    if answer is None:
        return "no answer (timed out)"
    return str(getattr(answer, "reason", answer))
