"""``spenefett bots N``: headless players that create accounts, log in, and play the demo game.

Each bot is the game client without its window
(:class:`~nodes.client.headless_game.GameClient`: the same session and
world mirror the windowed client runs) with its own account and
character, over real TCP. All bots run in one process, stepped in one
loop; while the later ones log in, the earlier ones already play.
Scenarios:

- ``wander``: walk in a random direction, stop, walk again; each bot's
  directions scatter around a heading of its own (turned back inwards at
  the world's edge), so bots spread over the world as players do instead
  of milling around the spawn point;
- ``fight``: walk to the nearest pig or wolf and attack it (sword, or bow from afar);
- ``chat``: talk locally and on the global channel.

What is measured is *input to effect*: from sending an action to seeing
its effect come back (a move: the avatar's server position changes; an
attack: its Hit, Miss or refusal; a chat line: hearing it on the channel).
At the end: latency p50/p99 per action, frames received per second per
bot, and every error. Bots read the wall clock: they are the outside
world, not game code.

The loop (:class:`BotLoop`) steps a bot only when it has work: its socket
is readable (a frame arrived: the bot sees it at once, so latencies carry
no polling delay), one of its timers is due (its next decision, its
client's keepalive or pacing), or it has just sent something. Between
those it sleeps in one ``select`` over every bot's socket; stepping idle
bots on a fixed beat is what once made a bot cost a third of a
millisecond per server tick.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import os
import random
import selectors
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

import attrs

from engine.gc_tuning import tune_for_server
from gamelogic import operations as ops
from gamelogic.classes import ClassTree
from nodes.client.headless_game import GameClient
from nodes.client.mirror import WorldMirror
from nodes.headless import LinkSession

SCENARIOS = ("wander", "fight", "chat")
PASSWORD = "bots are people too"
WALK_SPEED = 4.0
MELEE_REACH = 2.2
BOW_RANGE = 25.0
SCATTER = math.pi / 3
"""How far (radians) a wandering bot's direction strays from its heading."""
EDGE = 30.0
"""Metres from the world's edge at which a wandering bot heads back inwards."""
RAMP_STEP = 0.05
"""Seconds the running bots play between two new bots logging in."""
ENTER_TIMEOUT = 60.0


@attrs.define
class BotReport:
    """What a run of bots measured."""

    bots: int
    in_world: int
    seconds: float
    latencies: dict[str, list[float]]
    frames: int
    errors: Counter[str]

    def percentile(self, action: str, q: float) -> float | None:
        values = sorted(self.latencies.get(action, []))
        if not values:
            return None
        return values[min(len(values) - 1, int(q / 100 * len(values)))]

    def frames_per_second(self) -> float:
        return self.frames / self.seconds / max(self.in_world, 1) if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        out = [f"{self.in_world}/{self.bots} bots played for {self.seconds:.1f} s"]
        for action in sorted(self.latencies):
            n = len(self.latencies[action])
            p50, p99 = self.percentile(action, 50), self.percentile(action, 99)
            out.append(f"  {action:<8} input to effect  p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms"
                       f"   ({n} samples)")
        out.append(f"  frames received  {self.frames_per_second():.1f} per second per bot")
        if self.errors:
            out.append("  errors: " + ", ".join(f"{k} x{v}" for k, v in sorted(self.errors.items())))
        else:
            out.append("  errors: none")
        return out


class Bot:
    """One headless player (a :class:`GameClient`) acting each step according to its scenario."""

    def __init__(self, index: int, login: str, scenario: str, rng: random.Random, tag: str, tree: ClassTree):
        self.index = index
        self.name = f"Bot {tag} {_letters(index)}"  # account names are letters and spaces
        self.scenario = scenario
        self.rng = rng
        self.client = GameClient(login, classes=tree, on_message=self._effect)
        self.pending: dict[str, tuple[float, Any]] = {}
        self.latencies: dict[str, list[float]] = {}
        self.errors: Counter[str] = Counter()
        self.refusals = 0
        self.next_decision = 0.0
        self.moving = False
        self.target = 0
        self.explore_until = 0.0
        self.heading = rng.uniform(0, 2 * math.pi)
        self.entered = False
        self.gone = False
        self.frames_at_entry = 0

    @property
    def mirror(self) -> WorldMirror:
        return self.client.mirror

    @property
    def in_world(self) -> bool:
        return self.client.in_world and not self.gone

    def start(self) -> None:
        """Log in (creating the account and character) and enter; progress comes with ``step``."""
        self.client.play(self.name, PASSWORD, f"{self.name} Hero")

    # -- playing -----------------------------------------------------------------------------

    def step(self, now: float) -> None:
        if self.gone:
            return
        self.client.pump(now)
        if not self.entered:
            if self.client.in_world:
                self.entered = True
                self.frames_at_entry = self._frames_in()
            elif self.client.error and not self.client.session.waiting:
                self._gone(f"could not enter: {self.client.error}")
            return
        if not self.client.in_world:
            self._gone(f"left the world: {self.client.error or self.mirror.lost or 'unknown'}")
            return
        self._check_move(now)
        if now >= self.next_decision:
            getattr(self, f"_{self.scenario}")(now)
            self.client.flush()  # the action leaves now: its latency is timed from now

    def wake_at(self, now: float) -> float:
        """When to step this bot if its socket stays quiet (inf: only on input, or never when gone)."""
        if self.gone:
            return math.inf
        due = self.client.due(now)
        return min(due, self.next_decision) if self.entered else due

    def _gone(self, why: str) -> None:
        self.gone = True
        self.errors[why] += 1

    def _frames_in(self) -> int:
        link = self.client.link
        return link.link.frames_in if link is not None else 0

    def frames(self) -> int:
        return self._frames_in() - self.frames_at_entry if self.entered else 0

    def _measured(self, action: str, now: float) -> None:
        started = self.pending.pop(action, None)
        if started is not None:
            self.latencies.setdefault(action, []).append(now - started[0])

    def _effect(self, m: Any, now: float) -> None:
        """Every message as it arrives: is it the effect of something we are waiting for?"""
        me = self.mirror.me
        if isinstance(m, (ops.Hit, ops.Miss)) and m.attacker == me and "attack" in self.pending:
            self._measured("attack", now)
        elif isinstance(m, ops.Info) and m.refno and m.refno == self.pending.get("attack", (0, -1))[1]:
            self._measured("attack", now)
            if m.text.startswith("refused"):
                self.refusals += 1  # an answer (too far, too tired), not an error
        elif isinstance(m, ops.Heard) and m.text == self.pending.get("chat", (0, None))[1]:
            self._measured("chat", now)

    def _check_move(self, now: float) -> None:
        started = self.pending.get("move")
        if started is None:
            return
        here = self.mirror.my_server_position()
        if here is not None and math.hypot(here[0] - started[1][0], here[1] - started[1][1]) > 0.05:
            self._measured("move", now)

    def _walk(self, now: float, vx: float, vy: float, *, measure: bool) -> None:
        here = self.mirror.my_server_position()
        self.client.move(vx, vy)
        if measure and here is not None and not self.moving and (vx or vy):
            self.pending["move"] = (now, here)
        self.moving = bool(vx or vy)

    def _wander(self, now: float) -> None:
        if self.moving:
            self._walk(now, 0.0, 0.0, measure=False)
            self.next_decision = now + self.rng.uniform(0.5, 1.5)
            self.pending.pop("move", None)
        else:
            here = self.mirror.my_server_position()
            size = self.mirror.world.get("size")
            if here is not None and size:
                w, d = float(size[0]), float(size[1])
                x, y = here[0], here[1]
                if not (EDGE <= x <= w - EDGE and EDGE <= y <= d - EDGE):  # at the edge: back inwards
                    self.heading = math.atan2(d / 2 - y, w / 2 - x)
            a = self.heading + self.rng.uniform(-SCATTER, SCATTER)
            self._walk(now, WALK_SPEED * math.cos(a), WALK_SPEED * math.sin(a), measure=True)
            self.next_decision = now + self.rng.uniform(1.0, 3.0)

    def _fight(self, now: float) -> None:
        self.next_decision = now + 0.25
        here = self.mirror.my_server_position()
        if here is None:
            return
        prey = self.mirror.entity(self.target) if self.target else None
        if prey is None or prey.dead:
            prey = (self.mirror.nearest(here[0], here[1], kind="pig", now=now)
                    or self.mirror.nearest(here[0], here[1], kind="wolf", now=now))
            self.target = prey.guid if prey is not None else 0
        if prey is None:  # nothing in sight: explore, a few seconds in one direction at a time
            if now >= self.explore_until:
                a = self.rng.uniform(0, 2 * math.pi)
                self._walk(now, WALK_SPEED * math.cos(a), WALK_SPEED * math.sin(a), measure=False)
                self.explore_until = now + self.rng.uniform(3.0, 6.0)
            return
        p = self.mirror.position(prey.guid, now)
        if p is None:
            return
        dx, dy = p[0] - here[0], p[1] - here[1]
        d = math.hypot(dx, dy)
        if d > MELEE_REACH:
            if d < BOW_RANGE and "attack" not in self.pending and self.rng.random() < 0.3:
                self._attack(now, prey.guid, "bow")
            self._walk(now, dx / d * WALK_SPEED, dy / d * WALK_SPEED, measure=False)
        else:
            if self.moving:
                self._walk(now, 0.0, 0.0, measure=False)
            if "attack" not in self.pending:
                self._attack(now, prey.guid, "sword")
            self.next_decision = now + 1.05  # the swing takes a second

    def _attack(self, now: float, target: int, weapon: str) -> None:
        if self.mirror.stats.get("wielded", "sword") != weapon:
            self.client.wield(weapon)
        self.pending["attack"] = (now, self.client.attack(target))

    def _chat(self, now: float) -> None:
        self.next_decision = now + self.rng.uniform(2.0, 4.0)
        if "chat" in self.pending and now - self.pending["chat"][0] > 10.0:
            self.errors["chat line never heard"] += 1
            self.pending.pop("chat")
        text = f"{self.name} says hello at {now:.3f}"
        if self.rng.random() < 0.5 or "chat" in self.pending:
            self.client.talk(text)
        else:
            self.client.chat(text)
            self.pending["chat"] = (now, text)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.client.close()


def _letters(n: int, width: int = 3) -> str:
    """``n`` written in letters (a, b, ... z, ba, ...), ``width`` wide: names may not hold digits."""
    out = ""
    for _ in range(width):
        n, r = divmod(n, 26)
        out = chr(ord("a") + r) + out
    return out


def _progress_line(out: TextIO) -> Callable[[str], None]:
    """One line rewritten in place on a terminal; a line a second otherwise (logs, CI)."""
    tty = out.isatty()
    last = [0.0]

    def show(text: str) -> None:
        if tty:
            print(f"\r{text:<78}", end="", file=out, flush=True)
        elif time.monotonic() - last[0] >= 1.0:
            last[0] = time.monotonic()
            print(text, file=out, flush=True)

    return show


class BotLoop:
    """Steps each bot when its socket is ready or its :meth:`Bot.wake_at` comes; sleeps between."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._watched: dict[Bot, tuple[LinkSession | None, int, int]] = {}
        """Bot -> (connection, fd, events) registered with the selector."""
        self._timers: list[tuple[float, int, Bot]] = []
        self._wake: dict[Bot, float] = {}
        """Bot -> the time its live entry in ``_timers`` holds (older entries are stale)."""
        self._order = itertools.count()
        self.steps = 0
        """Bot steps taken (each pumps that bot's client)."""

    def add(self, bot: Bot) -> None:
        """Take ``bot`` (started) into the loop; it is stepped at once."""
        self._schedule(bot, time.monotonic())

    def run_until(self, end: float) -> None:
        """Step bots as they need it until the monotonic time ``end`` (each due bot at least once)."""
        timers, select = self._timers, self._selector.select
        while True:
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                wake, _, bot = heapq.heappop(timers)
                if self._wake.get(bot) == wake:
                    del self._wake[bot]
                    self._step(bot)
            now = time.monotonic()
            if now >= end:
                return
            wait = min(end, timers[0][0]) - now if timers else end - now
            if not self._watched:
                time.sleep(max(wait, 0.0))
                continue
            for key, _ in select(max(wait, 0.0)):
                self._step(key.data)

    def close(self) -> None:
        self._selector.close()

    def _step(self, bot: Bot) -> None:
        now = time.monotonic()  # per bot: what it reads, it reads now, not when the batch woke
        bot.step(now)
        self.steps += 1
        self._watch(bot)
        wake = bot.wake_at(now)
        if wake != self._wake.get(bot):
            if wake == math.inf:
                self._wake.pop(bot, None)
            else:
                self._schedule(bot, wake)

    def _schedule(self, bot: Bot, wake: float) -> None:
        self._wake[bot] = wake
        heapq.heappush(self._timers, (wake, next(self._order), bot))

    def _watch(self, bot: Bot) -> None:
        """Keep the selector on the bot's current socket (a new connection may reuse an old fd)."""
        client = bot.client
        conn = client.link
        fd = -1 if bot.gone else client.fileno()
        events = selectors.EVENT_WRITE if client.connecting else selectors.EVENT_READ
        old = self._watched.get(bot)
        if old is not None and old[0] is conn and old[1] == fd and old[2] == events:
            return
        if old is not None:
            del self._watched[bot]
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(old[1])
        if fd >= 0:
            self._selector.register(fd, events, bot)
            self._watched[bot] = (conn, fd, events)


def run_bots(count: int, login: str, *, scenario: str = "wander", seconds: float = 30.0,
             seed: int | None = None, out: TextIO = sys.stdout,
             progress: Callable[[str], None] | None = None) -> BotReport:
    """Ramp ``count`` bots up one by one, let them play ``seconds`` after the last is in, report."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    rng = random.Random(seed if seed is not None else os.getpid())
    tag = _letters(rng.randrange(26 ** 5), width=5).capitalize()
    tree = ClassTree.load()
    tune_for_server()  # each bot's frames are thousands of short-lived objects a second (see gc_tuning)
    bots: list[Bot] = []
    errors: Counter[str] = Counter()
    show = progress or _progress_line(out)
    loop = BotLoop()
    try:
        for i in range(count):
            bot = Bot(i, login, scenario, random.Random(rng.random()), tag, tree)
            bots.append(bot)
            bot.start()
            loop.add(bot)
            loop.run_until(time.monotonic() + RAMP_STEP)
            playing = sum(b.in_world for b in bots)
            show(f"ramping up: {i + 1}/{count} bots started, {playing} in the world, "
                 f"{sum(sum(b.errors.values()) for b in bots)} errors")
        deadline = time.monotonic() + ENTER_TIMEOUT
        while time.monotonic() < deadline and not all(b.entered or b.gone for b in bots):
            loop.run_until(time.monotonic() + 0.2)
            show(f"ramping up: {count}/{count} bots started, {sum(b.in_world for b in bots)} in the world")
        for bot in bots:
            if not bot.entered and not bot.gone:
                bot._gone(f"not in the world after {ENTER_TIMEOUT:g} s")
        play_from = time.monotonic()
        for bot in bots:  # frames are counted over the play time only, as the report divides by it
            if bot.entered:
                bot.frames_at_entry = bot._frames_in()
        end = play_from + seconds
        next_show = 0.0
        while (now := time.monotonic()) < end:
            if now >= next_show:
                next_show = now + 1.0
                show(f"playing: {sum(b.in_world for b in bots)}/{count} bots in the world, "
                     f"{end - now:4.0f} s to go")
            loop.run_until(min(end, next_show))
        frames = sum(b.frames() for b in bots)
        in_world = sum(b.in_world for b in bots)
        latencies: dict[str, list[float]] = {}
        for bot in bots:
            errors.update(bot.errors)
            for action, values in bot.latencies.items():
                latencies.setdefault(action, []).extend(values)
        if progress is None:
            print(file=out)
        return BotReport(count, in_world, time.monotonic() - play_from, latencies, frames,
                         +errors)
    finally:
        loop.close()
        for bot in bots:
            bot.close()
