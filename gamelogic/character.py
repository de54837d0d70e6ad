"""A player character's ObjectSpace: the character, its inventory (backpack), skills and spells.

The four objects live in one ObjectSpace and call each other directly (an
attack asks the skills for a level and the inventory for the weapon);
anything else reaches them only by message (a ``Hit`` from a wolf, a
``Give`` from a corpse). They persist together as one entity whose state is
msgpack of ``{"character": {...}, "inventory": [...], "skills": {...},
"spells": [...]}``::

    state = new_character_state("Ann")
    character, inventory, skills = build_character(space, state)
    character.move_to(1.0, 0.0, 2.5)
    blob = dump_character(character, inventory, skills)   # bytes for the entity cache

The rules that need the world (reach, sight, arrows) are in
:mod:`gamelogic.world`; here is what a character is and what it can afford.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import msgpack

from engine.dispatch import handles
from engine.objectspace import GameObject, ObjectSpace
from gamelogic import skills as rules
from gamelogic.operations import Give, Hit

if TYPE_CHECKING:
    from gamelogic.world import World

ENTITY_CLASS = "Character"
START_REGION = "start"
MAX_HEALTH = 100
MAX_STAMINA = 100
MAX_MANA = 50
MAX_SKILL = rules.SKILL_CAP
WORLD_EXTENT = 100_000.0
"""Positions beyond +-this are refused: the world is finite."""
STAMINA_REGEN = 8.0
"""Per second."""
MANA_REGEN = 2.0
HEALTH_REGEN = 1.0
"""Per second, once 10 s have passed since the last hit."""
WEAPONS = ("sword", "bow")


class Character(GameObject):
    """The avatar: name, position, health, stamina, mana, what it wields, its coins."""

    def __init__(
        self,
        name: str,
        position: list[float],
        health: int,
        *,
        stamina: float = MAX_STAMINA,
        mana: float = MAX_MANA,
        wielded: str = "sword",
        coins: int = 0,
        yaw: float = 0.0,
    ):
        super().__init__()
        self.name = name
        self.position = [float(p) for p in position]
        self.yaw = float(yaw)
        self.health = int(health)
        self.stamina = float(stamina)
        self.mana = float(mana)
        self.wielded = wielded
        self.coins = int(coins)
        self.last_hurt = -1e9
        self.fresh = False
        """Never in the world yet: placed at the spawn point on entry."""
        self._regen_health = 0.0  # health regenerates in whole points; the fraction waits here
        self.next_action = 0.0
        """Game time before which a new attack or spell is refused (the swing is still going)."""
        self.inventory: Inventory | None = None
        self.skills: Skills | None = None
        self.spells: Spells | None = None
        self.world: World | None = None
        self.dirty = True
        """The client's Stats are out of date."""

    def move_to(self, x: float, y: float, z: float) -> bool:
        """Move if the target is a finite point inside the world; False (and no change) if not."""
        target = (x, y, z)
        if not all(isinstance(v, float) and math.isfinite(v) and abs(v) <= WORLD_EXTENT for v in target):
            return False
        self.position = [x, y, z]
        return True

    # -- what it can afford ----------------------------------------------------------

    def spend_stamina(self, amount: float) -> bool:
        if self.stamina < amount:
            return False
        self.stamina -= amount
        self.dirty = True
        return True

    def spend_mana(self, amount: float) -> bool:
        if self.mana < amount:
            return False
        self.mana -= amount
        self.dirty = True
        return True

    def regenerate(self, dt: float, now: float) -> None:
        """Stamina, mana and (10 s after the last blow) health grow back; at the top nothing does.

        Every player regenerates every tick, and most are full: that case
        returns at once (a thousand players paid about 2 ms a tick for the
        arithmetic below). The health fraction waiting for its whole point
        is not kept at full health.
        """
        if self.health >= MAX_HEALTH and self.stamina >= MAX_STAMINA and self.mana >= MAX_MANA:
            self._regen_health = 0.0
            return
        before = (self.stamina, self.mana, self.health)
        self.stamina = min(MAX_STAMINA, self.stamina + STAMINA_REGEN * dt)
        self.mana = min(MAX_MANA, self.mana + MANA_REGEN * dt)
        if now - self.last_hurt > 10.0 and self.health > 0:
            self._regen_health += HEALTH_REGEN * dt
            whole = int(self._regen_health)
            if whole:
                self._regen_health -= whole
                self.health = min(MAX_HEALTH, self.health + whole)
        if (int(self.stamina), int(self.mana), self.health) != tuple(int(v) for v in before):
            self.dirty = True

    def weapon(self) -> str:
        """The weapon class in hand if the backpack still holds it, else "" (fists)."""
        if self.wielded and self.inventory is not None and self.inventory.count(self.wielded):
            return self.wielded
        return ""

    def wield(self, item: str) -> bool:
        if item and (item not in WEAPONS or self.inventory is None or not self.inventory.count(item)):
            return False
        self.wielded = item
        self.dirty = True
        return True

    # -- messages from other spaces ----------------------------------------------------

    @handles(Hit)
    def on_hit(self, msg: Hit) -> None:
        """A blow, arrow or spell from someone else: the world applies it (death, respawn)."""
        if self.world is not None:
            self.world.hurt(self.guid, msg)

    @handles(Give)
    def on_give(self, msg: Give) -> None:
        for item, count in msg.items or []:
            if item == "coin":
                self.coins += int(count)
            elif self.inventory is not None:
                self.inventory.add(str(item), int(count))
        self.dirty = True

    def to_state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "position": list(self.position),
            "yaw": self.yaw,
            "health": self.health,
            "stamina": round(self.stamina, 2),
            "mana": round(self.mana, 2),
            "wielded": self.wielded,
            "coins": self.coins,
        }


class Inventory(GameObject):
    """The backpack: a list of ``{"item": class, "count": n}`` records."""

    def __init__(self, items: list[dict[str, Any]]):
        super().__init__()
        self.items = [dict(i) for i in items]

    def count(self, item: str) -> int:
        return sum(int(i["count"]) for i in self.items if i["item"] == item)

    def add(self, item: str, count: int = 1) -> None:
        for record in self.items:
            if record["item"] == item:
                record["count"] = int(record["count"]) + count
                return
        self.items.append({"item": item, "count": count})

    def take(self, item: str, count: int = 1) -> bool:
        for record in self.items:
            if record["item"] == item and int(record["count"]) >= count:
                record["count"] = int(record["count"]) - count
                if record["count"] == 0:
                    self.items.remove(record)
                return True
        return False

    def to_state(self) -> list[dict[str, Any]]:
        return [dict(i) for i in self.items]


class Skills(GameObject):
    """Skill name -> level (0..MAX_SKILL); using a skill raises it (see gamelogic.skills)."""

    def __init__(self, levels: dict[str, float]):
        super().__init__()
        self.levels = {k: float(v) for k, v in levels.items()}
        for name in rules.SKILLS:
            self.levels.setdefault(name, 0.0)

    def level(self, skill: str) -> float:
        return self.levels.get(skill, 0.0)

    def use(self, skill: str, succeeded: bool) -> float:
        """Practise ``skill`` once; returns the new level."""
        self.levels[skill] = rules.raised(self.levels.get(skill, 0.0), succeeded)
        return self.levels[skill]

    def train(self, skill: str, amount: int) -> bool:
        """Raise a known skill by 1..10 levels (capped); False (and no change) if not allowed."""
        if skill not in self.levels or type(amount) is not int or not 1 <= amount <= 10:
            return False
        self.levels[skill] = min(MAX_SKILL, self.levels[skill] + amount)
        return True

    def to_state(self) -> dict[str, float]:
        return {k: (int(v) if float(v).is_integer() else round(v, 3)) for k, v in self.levels.items()}


class Spells(GameObject):
    """The spells a character knows; each has a mana cost, a range and a base damage."""

    BOOK = {"spark": {"mana": 10.0, "range": 25.0, "damage": 9, "skill": "magic"}}

    def __init__(self, known: list[str]):
        super().__init__()
        self.known = [s for s in known if s in self.BOOK]

    def spell(self, name: str) -> dict[str, Any] | None:
        return self.BOOK[name] if name in self.known else None

    def to_state(self) -> list[str]:
        return list(self.known)


def new_character_state(name: str, position: list[float] | None = None) -> bytes:
    """The entity state of a freshly created character (placed at the spawn point on entry)."""
    return msgpack.packb(
        {
            "character": {
                "name": name,
                "position": list(position or [0.0, 0.0, 0.0]),
                "health": MAX_HEALTH,
                "fresh": True,
            },
            "inventory": [
                {"item": "bread", "count": 2},
                {"item": "sword", "count": 1},
                {"item": "bow", "count": 1},
            ],
            "skills": {name: 0 for name in rules.SKILLS},
            "spells": ["spark"],
        }
    )


def character_state(blob: bytes) -> dict[str, Any]:
    """Decode an entity state."""
    return msgpack.unpackb(blob)  # type: ignore[no-any-return]


def build_character(space: ObjectSpace, blob: bytes) -> tuple[Character, Inventory, Skills]:
    """Add the character's objects described by ``blob`` to ``space`` (they join at the tick boundary)."""
    state = character_state(blob)
    c = state["character"]
    character = Character(
        c["name"],
        c["position"],
        c["health"],
        stamina=c.get("stamina", MAX_STAMINA),
        mana=c.get("mana", MAX_MANA),
        wielded=c.get("wielded", "sword"),
        coins=c.get("coins", 0),
        yaw=c.get("yaw", 0.0),
    )
    character.fresh = bool(c.get("fresh", False))
    inventory = Inventory(state["inventory"])
    skills = Skills(state["skills"])
    spells = Spells(state.get("spells", ["spark"]))
    character.inventory, character.skills, character.spells = inventory, skills, spells
    for obj in (character, inventory, skills, spells):
        space.add(obj)
    return character, inventory, skills


def describe_character(character: Character, inventory: Inventory, skills: Skills) -> dict[str, Any]:
    state = {
        "character": character.to_state(),
        "inventory": inventory.to_state(),
        "skills": skills.to_state(),
    }
    if character.spells is not None:
        state["spells"] = character.spells.to_state()
    return state


def dump_character(character: Character, inventory: Inventory, skills: Skills) -> bytes:
    """The entity state of the character's objects, for the entity cache."""
    return msgpack.packb(describe_character(character, inventory, skills))  # type: ignore[no-any-return]
