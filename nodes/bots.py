"""``spenefett bots N``: headless players that create accounts, log in, and play the demo game.

Each bot is a real client: its own account and character, the login flow
of :class:`~nodes.headless.HeadlessClient` over TCP, and a
:class:`~nodes.client.mirror.WorldMirror` fed with what the server sends
(the same mirror the game client draws). All bots run in one process, one
after another in a loop; while the later ones log in, the earlier ones
already play. Scenarios:

- ``wander``: walk in a random direction, stop, walk again;
- ``fight``: walk to the nearest pig or wolf and attack it (sword, or bow from afar);
- ``chat``: talk locally and on the global channel.

What is measured is *input to effect*: from sending an action to seeing
its effect come back (a move: the avatar's server position changes; an
attack: its Hit, Miss or refusal; a chat line: hearing it on the channel).
At the end: latency p50/p99 per action, frames received per second per
bot, and every error. Bots read the wall clock: they are the outside
world, not game code.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

import attrs

from engine.login.messages import AccountCreated, CharacterList, EnteredWorld, LoginOk
from engine.modules.network_messages import ConnectionLost
from gamelogic import operations as ops
from gamelogic.classes import ClassTree
from nodes.client.mirror import WorldMirror
from nodes.headless import HeadlessClient

SCENARIOS = ("wander", "fight", "chat")
PASSWORD = "bots are people too"
WALK_SPEED = 4.0
MELEE_REACH = 2.2
BOW_RANGE = 25.0


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
    """One headless player: logs in, then acts each step according to its scenario."""

    def __init__(self, index: int, login: str, scenario: str, rng: random.Random, tag: str, tree: ClassTree):
        self.index = index
        self.name = f"bot-{tag}-{index}"
        self.login = login
        self.scenario = scenario
        self.rng = rng
        self.client = HeadlessClient(login)
        self.mirror = WorldMirror(tree)
        self.serial = 0
        self.pending: dict[str, tuple[float, Any]] = {}
        self.latencies: dict[str, list[float]] = {}
        self.errors: Counter[str] = Counter()
        self.next_decision = 0.0
        self.moving = False
        self.target = 0
        self.in_world = False
        self.frames_at_entry = 0
        self.refusals = 0

    # -- getting in ------------------------------------------------------------------------

    def enter(self) -> bool:
        """Create the account and character, log in, enter the world (blocking, a few seconds)."""
        c = self.client
        created = c.create_account(self.name, PASSWORD)
        if not isinstance(created, AccountCreated) and "taken" not in str(getattr(created, "reason", "")):
            return self._fail("create_account", created)
        ok = c.login(self.name, PASSWORD)
        if not isinstance(ok, LoginOk):
            return self._fail("login", ok)
        characters = ok.characters
        if not characters:
            listed = c.create_character(f"{self.name} hero")
            if not isinstance(listed, CharacterList) or not listed.characters:
                return self._fail("create_character", listed)
            characters = listed.characters
        entered = c.enter_world(characters[0][0])
        if not isinstance(entered, EnteredWorld):
            return self._fail("enter_world", entered)
        self.mirror.apply([entered], time.monotonic())
        if c.login_link is not None:
            c.login_link.close()
            c.login_link = None
        self.in_world = True
        self.frames_at_entry = c.world.link.frames_in if c.world else 0
        return True

    def _fail(self, step: str, answer: Any) -> bool:
        reason = getattr(answer, "reason", None) or type(answer).__name__
        self.errors[f"{step}: {reason}"] += 1
        return False

    # -- playing -----------------------------------------------------------------------------

    def step(self, now: float) -> None:
        world = self.client.world
        if world is None or not self.in_world:
            return
        world.pump()
        messages, world.inbox.messages = world.inbox.messages, []
        if messages:
            self._effects(messages, now)
            self.mirror.apply(messages, now)
        if self.mirror.lost:
            self.in_world = False
            self.errors[f"disconnected: {self.mirror.lost}"] += 1
            return
        self._check_move(now)
        if now >= self.next_decision:
            getattr(self, f"_{self.scenario}")(now)

    def frames(self) -> int:
        world = self.client.world
        return (world.link.frames_in - self.frames_at_entry) if world is not None else 0

    def _act(self, operation: Any) -> int:
        self.serial += 1
        self.client.world.send(operation.replace(serialno=self.serial))  # type: ignore[union-attr]
        return self.serial

    def _measured(self, action: str, now: float) -> None:
        started = self.pending.pop(action, None)
        if started is not None:
            self.latencies.setdefault(action, []).append(now - started[0])

    def _effects(self, messages: list[Any], now: float) -> None:
        me = self.mirror.me
        for m in messages:
            if isinstance(m, (ops.Hit, ops.Miss)) and m.attacker == me and "attack" in self.pending:
                self._measured("attack", now)
            elif isinstance(m, ops.Info) and m.refno == self.pending.get("attack", (0, -1))[1]:
                self._measured("attack", now)
                if m.text.startswith("refused"):
                    self.refusals += 1  # an answer (too far, too tired), not an error
            elif isinstance(m, ops.Heard) and "chat" in self.pending and m.text == self.pending["chat"][1]:
                self._measured("chat", now)
            elif isinstance(m, ConnectionLost):
                self.errors[f"connection lost: {m.reason}"] += 1

    def _check_move(self, now: float) -> None:
        started = self.pending.get("move")
        if started is None:
            return
        here = self.mirror.my_server_position()
        if here is not None and math.hypot(here[0] - started[1][0], here[1] - started[1][1]) > 0.05:
            self._measured("move", now)

    def _walk(self, now: float, vx: float, vy: float, *, measure: bool) -> None:
        here = self.mirror.my_server_position()
        self._act(ops.Move(0, self.mirror.me, vx=float(vx), vy=float(vy)))
        if measure and here is not None and not self.moving and (vx or vy):
            self.pending["move"] = (now, here)
        self.moving = bool(vx or vy)

    def _wander(self, now: float) -> None:
        if self.moving:
            self._walk(now, 0.0, 0.0, measure=False)
            self.next_decision = now + self.rng.uniform(0.5, 1.5)
            self.pending.pop("move", None)
        else:
            a = self.rng.uniform(0, 2 * math.pi)
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
        if prey is None:
            return self._wander(now) if now >= self.next_decision else None
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
            self._act(ops.Wield(0, self.mirror.me, item=weapon))
        serial = self._act(ops.Attack(0, self.mirror.me, target=target))
        self.pending["attack"] = (now, serial)

    def _chat(self, now: float) -> None:
        self.next_decision = now + self.rng.uniform(2.0, 4.0)
        if "chat" in self.pending and now - self.pending["chat"][0] > 10.0:
            self.errors["chat line never heard"] += 1
            self.pending.pop("chat")
        text = f"{self.name} says hello #{self.serial + 1}"
        if self.rng.random() < 0.5 or "chat" in self.pending:
            self._act(ops.Talk(0, self.mirror.me, text=text))
        else:
            self._act(ops.Chat(0, self.mirror.me, channel="global", text=text))
            self.pending["chat"] = (now, text)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.client.close()


def run_bots(count: int, login: str, *, scenario: str = "wander", seconds: float = 30.0,
             seed: int | None = None, out: TextIO = sys.stdout,
             progress: Callable[[str], None] | None = None) -> BotReport:
    """Ramp ``count`` bots up one by one, let them play ``seconds`` after the last is in, report."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    rng = random.Random(seed if seed is not None else os.getpid())
    tag = f"{rng.randrange(36 ** 5):05x}"
    tree = ClassTree.load()
    bots: list[Bot] = []
    errors: Counter[str] = Counter()
    show = progress or (lambda text: print(f"\r{text:<78}", end="", file=out, flush=True))
    try:
        for i in range(count):
            bot = Bot(i, login, scenario, random.Random(rng.random()), tag, tree)
            bots.append(bot)
            bot.enter()
            now = time.monotonic()
            for other in bots:
                other.step(now)
            playing = sum(b.in_world for b in bots)
            show(f"ramping up: {i + 1}/{count} bots started, {playing} in the world, "
                 f"{sum(sum(b.errors.values()) for b in bots)} errors")
        play_from = time.monotonic()
        end = play_from + seconds
        next_show = 0.0
        while (now := time.monotonic()) < end:
            for bot in bots:
                bot.step(now)
            if now >= next_show:
                next_show = now + 1.0
                show(f"playing: {sum(b.in_world for b in bots)}/{count} bots in the world, "
                     f"{end - now:4.0f} s to go")
            time.sleep(0.005)
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
        for bot in bots:
            bot.close()
