"""NPC brains: pigs wander and flee, wolves hunt by sight, the trader buys pigs led to him.

A brain is a pure function of what its NPC perceives (a row of the
``Perceive`` operation), its own memory and the engine's RNG; it returns
actions (rows of the ``Act`` operation). Brains run on the AI node
(:class:`gamelogic.brain_host.BrainHost`), so nothing here may touch the
world directly::

    view = NpcView.from_row(row)        # [npc, class, x, y, health, hurt_by, leader, home, seen]
    actions = think(view, memory, rng, now)   # [[npc, "move", vx, vy], [npc, "attack", target], ...]
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import attrs

PIG_SPEED, PIG_FLEE_SPEED = 1.5, 3.0
WOLF_SPEED = 6.0
WOLF_BITE_RANGE = 1.6
FLEE_FROM = 8.0
WANDER_RADIUS = 12.0
FOLLOW_DISTANCE = 2.5
TRADER_REACH = 4.5


@attrs.frozen
class Seen:
    guid: int
    cls: str
    x: float
    y: float
    health: int
    leader: int


@attrs.frozen
class NpcView:
    """One NPC's perception this round."""

    guid: int
    cls: str
    x: float
    y: float
    health: int
    hurt_by: int
    leader: int
    home: tuple[float, float]
    seen: tuple[Seen, ...]

    @classmethod
    def from_row(cls, row: list[Any]) -> NpcView:
        guid, klass, x, y, health, hurt_by, leader, home, seen = row
        return cls(
            int(guid),
            str(klass),
            float(x),
            float(y),
            int(health),
            int(hurt_by),
            int(leader),
            (float(home[0]), float(home[1])),
            tuple(Seen(int(s[0]), str(s[1]), float(s[2]), float(s[3]), int(s[4]), int(s[5])) for s in seen),
        )

    def distance(self, other: Seen) -> float:
        return math.hypot(other.x - self.x, other.y - self.y)


def _towards(view: NpcView, x: float, y: float, speed: float) -> list[Any]:
    dx, dy = x - view.x, y - view.y
    d = math.hypot(dx, dy)
    if d < 1e-6:
        return [view.guid, "move", 0.0, 0.0]
    return [view.guid, "move", dx / d * speed, dy / d * speed]


def _wander(
    view: NpcView, memory: dict[str, Any], rng: random.Random, now: float, speed: float
) -> list[list[Any]]:
    target = memory.get("target")
    if (
        target is None
        or now >= memory.get("until", 0.0)
        or math.hypot(target[0] - view.x, target[1] - view.y) < 1.0
    ):
        if target is not None and rng.random() < 0.5:  # rest a while before the next stroll
            memory["target"], memory["until"] = None, now + rng.uniform(1.0, 4.0)
            return [[view.guid, "move", 0.0, 0.0]]
        a = rng.uniform(0, 2 * math.pi)
        r = WANDER_RADIUS * math.sqrt(rng.random())
        memory["target"] = (view.home[0] + r * math.cos(a), view.home[1] + r * math.sin(a))
        memory["until"] = now + rng.uniform(4.0, 10.0)
    target = memory.get("target")
    if target is None:
        return [[view.guid, "move", 0.0, 0.0]]
    return [_towards(view, target[0], target[1], speed)]


def pig(view: NpcView, memory: dict[str, Any], rng: random.Random, now: float) -> list[list[Any]]:
    """Flee wolves and whoever hurt it; follow a leader; otherwise wander near home."""
    threats = [
        s
        for s in view.seen
        if (s.cls == "wolf" or s.guid == view.hurt_by or s.guid == memory.get("enemy"))
        and view.distance(s) < FLEE_FROM
    ]
    if view.hurt_by:
        memory["enemy"] = view.hurt_by
    if threats:
        t = min(threats, key=view.distance)
        memory["target"] = None
        return [_towards(view, 2 * view.x - t.x, 2 * view.y - t.y, PIG_FLEE_SPEED)]
    if view.leader:
        leader = next((s for s in view.seen if s.guid == view.leader), None)
        if leader is not None:
            if view.distance(leader) > FOLLOW_DISTANCE:
                return [_towards(view, leader.x, leader.y, PIG_FLEE_SPEED)]
            return [[view.guid, "move", 0.0, 0.0]]
    return _wander(view, memory, rng, now, PIG_SPEED)


def wolf(view: NpcView, memory: dict[str, Any], rng: random.Random, now: float) -> list[list[Any]]:
    """Hunt what hurt it, else the nearest pig or player in sight; bite in reach."""
    prey = [s for s in view.seen if s.cls in ("pig", "player") and s.health > 0]
    if not prey:
        return _wander(view, memory, rng, now, WOLF_SPEED / 3)
    target = next((s for s in prey if s.guid == view.hurt_by), None) or min(prey, key=view.distance)
    memory["target"] = None
    if view.distance(target) > WOLF_BITE_RANGE:
        return [_towards(view, target.x, target.y, WOLF_SPEED)]
    return [[view.guid, "move", 0.0, 0.0], [view.guid, "attack", target.guid]]


def trader(view: NpcView, memory: dict[str, Any], rng: random.Random, now: float) -> list[list[Any]]:
    """Buy any pig led within reach; now and then call out to players nearby."""
    actions: list[list[Any]] = [
        [view.guid, "buy", s.guid]
        for s in view.seen
        if s.cls == "pig" and s.leader and view.distance(s) <= TRADER_REACH
    ]
    players = [s for s in view.seen if s.cls == "player"]
    if players and now >= memory.get("next_call", 0.0):
        memory["next_call"] = now + rng.uniform(20.0, 40.0)
        actions.append(
            [
                view.guid,
                "say",
                rng.choice(["Pigs! I buy pigs!", "Bring me ham and pelts!", "Fine coins for fine pigs."]),
            ]
        )
    return actions


BRAINS: dict[str, Callable[[NpcView, dict[str, Any], random.Random, float], list[list[Any]]]] = {
    "pig": pig,
    "wolf": wolf,
    "trader": trader,
}


def think(
    cls_brain: str, view: NpcView, memory: dict[str, Any], rng: random.Random, now: float
) -> list[list[Any]]:
    """Run the brain named ``cls_brain`` (a class's ``brain`` property); unknown brains do nothing."""
    brain = BRAINS.get(cls_brain)
    return brain(view, memory, rng, now) if brain is not None else []
