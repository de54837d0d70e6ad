"""GameClient: the game client without a window, for bots, tests and scripts.

The same :class:`~nodes.client.session.Session` and
:class:`~nodes.client.mirror.WorldMirror` as the windowed client, over
:class:`~nodes.headless.LinkSession` connections (one small engine per
server connection, ticked by :meth:`GameClient.pump`). Nothing blocks
unless asked to: a bot program creates many clients, calls ``play`` on
each, and pumps them all from one loop::

    bot = GameClient("127.0.0.1:7001")
    bot.play("ann", "correct horse battery", "Annika")   # account and character made if new
    while not bot.in_world and not bot.error:
        bot.pump()                                        # or bot.wait_in_world(timeout=15)
    pig = bot.mirror.nearest(*bot.position[:2], kind="pig")
    bot.move(1.0, 0.0); bot.attack(pig.guid); bot.chat("hello")
    bot.pump(now)                                         # every loop: messages in, prediction
    bot.close()

Each action returns the operation's ``serialno`` (0 when not in the
world); a refusal comes back as an ``Info`` whose ``refno`` is that number
(``on_message`` sees every message with its arrival time, for latency
figures).

A loop over many clients pumps one only when it has work: when its socket
(:meth:`GameClient.fileno`; writability while :attr:`GameClient.connecting`)
is ready, or at :meth:`GameClient.due`, whichever comes first. Pumping an
idle client more often changes nothing but the CPU it costs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from gamelogic import operations as ops
from gamelogic.classes import ClassTree
from nodes.client.mirror import WorldMirror
from nodes.client.session import Phase, Session
from nodes.headless import LinkSession

__all__ = ["GameClient"]


class _Links:
    """The session's Link over LinkSessions: a fresh one for each server it connects to."""

    def __init__(self) -> None:
        self.current: LinkSession | None = None

    def open(self, address: str, token: str | None) -> None:
        self.close("moving on")
        self.current = LinkSession(address, token=token)

    def send(self, message: Any) -> None:
        if self.current is not None:
            self.current.send(message)

    def close(self, reason: str) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None

    def pump(self) -> list[Any]:
        link = self.current
        if link is None:
            return []
        link.pump()
        messages, link.inbox.messages = link.inbox.messages, []
        return messages

    def flush(self) -> None:
        if self.current is not None:
            self.current.flush()

    def quiet_for(self) -> float:
        link = self.current
        if link is None:
            return math.inf
        return 0.0 if link.inbox.messages else link.quiet_for()


class GameClient:
    """One headless player; see the module docstring."""

    def __init__(self, login_address: str, *, classes: ClassTree | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 on_message: Callable[[Any, float], None] | None = None):
        self.clock = clock
        self.mirror = WorldMirror(classes)
        self._links = _Links()
        self.session = Session(login_address, self._links, self.mirror)
        self.on_message = on_message
        self.velocity = (0.0, 0.0)
        self.yaw = 0.0
        self._last = clock()
        self.session.start(self._last)

    # -- state ---------------------------------------------------------------------------

    @property
    def in_world(self) -> bool:
        return self.session.phase is Phase.WORLD

    @property
    def phase(self) -> Phase:
        return self.session.phase

    @property
    def error(self) -> str:
        return self.session.error

    @property
    def me(self) -> int:
        return self.mirror.me

    @property
    def position(self) -> tuple[float, float, float, float]:
        """The avatar's (predicted) x, y, z and yaw."""
        return self.mirror.my_position()

    @property
    def link(self) -> LinkSession | None:
        """The current server connection (a new one for each server the session moves to)."""
        return self._links.current

    @property
    def connecting(self) -> bool:
        """The connection is being made: wait for the socket's writability, not its input."""
        link = self._links.current
        return link is not None and link.connecting

    def fileno(self) -> int:
        """The current connection's socket, to wait on (-1: none); it changes as the session moves."""
        link = self._links.current
        return link.fileno() if link is not None else -1

    def due(self, now: float) -> float:
        """The latest time of the next ``pump`` if the socket stays quiet (inf: none needed)."""
        due = now + self._links.quiet_for()
        retry = self.session.retry_at
        return min(due, retry) if retry else due

    # -- driving -------------------------------------------------------------------------

    def play(self, account: str, password: str, character: str) -> None:
        """Log in (creating the account if new), pick or create ``character``, enter the world."""
        self.session.play(account, password, character)

    def pump(self, now: float | None = None) -> int:
        """Tick the connection, apply what arrived, advance the prediction; returns messages handled."""
        now = self.clock() if now is None else now
        dt = max(0.0, now - self._last)
        self._last = now
        messages = self._links.pump()
        self.session.handle(messages, now)
        if self.on_message is not None:
            for m in messages:
                self.on_message(m, now)
        self.session.tick(now)
        if self.in_world:
            self.mirror.predict(self.velocity[0], self.velocity[1], dt, self.yaw)
        return len(messages)

    def flush(self) -> None:
        """Send the actions asked since the last ``pump`` now, not at the next one."""
        self._links.flush()

    def wait_in_world(self, timeout: float = 15.0) -> bool:
        """Pump until in the world, an error, or ``timeout`` seconds (blocking; for scripts)."""
        end = time.monotonic() + timeout
        while not self.in_world and time.monotonic() < end:
            if self.session.error and not self.session.waiting and self.session.phase is not Phase.ENTERING:
                return False
            self.pump()
            time.sleep(0.005)
        return self.in_world

    def wait(self, test: Callable[[GameClient], bool], timeout: float = 10.0) -> bool:
        """Pump until ``test(self)`` holds or ``timeout`` seconds pass (blocking; for scripts)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump()
            if test(self):
                return True
            time.sleep(0.005)
        return False

    # -- actions (operations to the server) ------------------------------------------------

    def move(self, vx: float, vy: float, yaw: float | None = None) -> int:
        """Walk at (vx, vy) m/s (0, 0 stops), facing ``yaw`` degrees (default: the way walked)."""
        vx, vy = float(vx), float(vy)
        if yaw is None:
            yaw = math.degrees(math.atan2(vy, vx)) % 360.0 if (vx or vy) else self.yaw
        self.velocity, self.yaw = (vx, vy), float(yaw)
        return self.session.act(ops.Move(0, 0, vx=vx, vy=vy, yaw=float(yaw)))

    def stop(self) -> int:
        return self.move(0.0, 0.0)

    def attack(self, target: int) -> int:
        return self.session.act(ops.Attack(0, 0, target=target))

    def wield(self, item: str) -> int:
        """Take "sword", "bow" or "" (fists) in hand."""
        return self.session.act(ops.Wield(0, 0, item=item))

    def cast(self, target: int, spell: str = "spark") -> int:
        return self.session.act(ops.Cast(0, 0, spell=spell, target=target))

    def touch(self, target: int) -> int:
        """Open or shut a door, loot a corpse, sell to the trader, lead a pig."""
        return self.session.act(ops.Touch(0, 0, target=target))

    def look(self, target: int) -> int:
        return self.session.act(ops.Look(0, 0, target=target))

    def talk(self, text: str) -> int:
        """Say ``text`` aloud (heard nearby)."""
        return self.session.act(ops.Talk(0, 0, text=text))

    def chat(self, text: str, channel: str = "global") -> int:
        """Say ``text`` on a global channel."""
        return self.session.act(ops.Chat(0, 0, channel=channel, text=text))

    def leave(self) -> None:
        """Leave the world (saved) and return to the character list."""
        self.session.leave()

    def close(self) -> None:
        """Drop the connection (the server saves the character as for any lost client)."""
        self._links.close("bye")
