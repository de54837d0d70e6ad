"""A player character's ObjectSpace: the character, its inventory and its skills.

The three objects live in one ObjectSpace (they call each other directly)
and persist together as one entity whose state is msgpack of
``{"character": {...}, "inventory": [...], "skills": {...}}``. The game
issue grows them; what is here is real persisted state::

    state = new_character_state("Ann")
    character, inventory, skills = build_character(space, state)
    character.move_to(1.0, 0.0, 2.5)
    blob = dump_character(character, inventory, skills)   # bytes for the entity cache
"""

from __future__ import annotations

import math
from typing import Any

import msgpack

from engine.objectspace import GameObject, ObjectSpace

ENTITY_CLASS = "Character"
START_REGION = "start"
MAX_HEALTH = 100
MAX_SKILL = 1000
WORLD_EXTENT = 100_000.0
"""Positions beyond +-this are refused: the world is finite."""


class Character(GameObject):
    """The avatar: a name, a position and health."""

    def __init__(self, name: str, position: list[float], health: int):
        super().__init__()
        self.name = name
        self.position = [float(p) for p in position]
        self.health = int(health)

    def move_to(self, x: float, y: float, z: float) -> bool:
        """Move if the target is a finite point inside the world; False (and no change) if not."""
        target = (x, y, z)
        if not all(isinstance(v, float) and math.isfinite(v) and abs(v) <= WORLD_EXTENT for v in target):
            return False
        self.position = [x, y, z]
        return True

    def to_state(self) -> dict[str, Any]:
        return {"name": self.name, "position": list(self.position), "health": self.health}


class Inventory(GameObject):
    """What the character carries: a list of item records."""

    def __init__(self, items: list[dict[str, Any]]):
        super().__init__()
        self.items = list(items)

    def to_state(self) -> list[dict[str, Any]]:
        return list(self.items)


class Skills(GameObject):
    """Skill name -> level (0..MAX_SKILL)."""

    def __init__(self, levels: dict[str, int]):
        super().__init__()
        self.levels = dict(levels)

    def train(self, skill: str, amount: int) -> bool:
        """Raise a known skill by 1..10 levels (capped); False (and no change) if not allowed."""
        if skill not in self.levels or type(amount) is not int or not 1 <= amount <= 10:
            return False
        self.levels[skill] = min(MAX_SKILL, self.levels[skill] + amount)
        return True

    def to_state(self) -> dict[str, int]:
        return dict(self.levels)


def new_character_state(name: str) -> bytes:
    """The entity state of a freshly created character."""
    return msgpack.packb({
        "character": {"name": name, "position": [0.0, 0.0, 0.0], "health": MAX_HEALTH},
        "inventory": [{"item": "bread", "count": 2}],
        "skills": {"swordsmanship": 0, "archery": 0, "cooking": 0},
    })


def character_state(blob: bytes) -> dict[str, Any]:
    """Decode an entity state."""
    return msgpack.unpackb(blob)  # type: ignore[no-any-return]


def build_character(space: ObjectSpace, blob: bytes) -> tuple[Character, Inventory, Skills]:
    """Add the three objects described by ``blob`` to ``space`` (they join at the tick boundary)."""
    state = character_state(blob)
    c = state["character"]
    character = Character(c["name"], c["position"], c["health"])
    inventory = Inventory(state["inventory"])
    skills = Skills(state["skills"])
    for obj in (character, inventory, skills):
        space.add(obj)
    return character, inventory, skills


def describe_character(character: Character, inventory: Inventory, skills: Skills) -> dict[str, Any]:
    return {"character": character.to_state(), "inventory": inventory.to_state(),
            "skills": skills.to_state()}


def dump_character(character: Character, inventory: Inventory, skills: Skills) -> bytes:
    """The entity state of the three objects, for the entity cache."""
    return msgpack.packb(describe_character(character, inventory, skills))  # type: ignore[no-any-return]
