"""Skill-based progression: using a skill raises it, less the higher it is; skill decides outcomes.

Levels run from 0 to :data:`SKILL_CAP`. Every use gains ``GAIN * (1 -
level / cap) ** 2`` (a success gains more than a failure), so a novice
learns fast and a master barely moves. The level sets the chance to hit,
the damage dealt and an archer's aim::

    level = raised(level, succeeded=True)
    hits = rng.random() < hit_chance(level)
    dmg = damage(weapon_damage=12, level=level, rng=rng)

All randomness comes from the caller's RNG (the engine's seeded one), so a
recorded game replays exactly.
"""

from __future__ import annotations

import random

SKILL_CAP = 100.0
GAIN = 2.0
"""Levels a novice gains from one successful use."""
FAILURE_GAIN = 0.4
"""Share of the gain a failed use still teaches."""
SKILLS = ("swordsmanship", "archery", "magic", "unarmed", "cooking")


def raised(level: float, succeeded: bool = True) -> float:
    """The level after one use: diminishing returns, never past the cap."""
    level = min(max(float(level), 0.0), SKILL_CAP)
    gain = GAIN * (1.0 - level / SKILL_CAP) ** 2
    if not succeeded:
        gain *= FAILURE_GAIN
    return min(SKILL_CAP, level + gain)


def hit_chance(level: float) -> float:
    """Chance that an attack at this level lands: 40% for a novice, 95% for a master."""
    return round(0.40 + 0.55 * min(max(level, 0.0), SKILL_CAP) / SKILL_CAP, 6)


def damage(weapon_damage: int, level: float, rng: random.Random) -> int:
    """Damage of a landed blow: half the weapon's for a novice, 1.5x for a master, +-20%."""
    scale = 0.5 + min(max(level, 0.0), SKILL_CAP) / SKILL_CAP
    return max(1, round(weapon_damage * scale * rng.uniform(0.8, 1.2)))


def aim_error(level: float) -> float:
    """Radius (m) within which an arrow's aim point strays: 2.5 m for a novice, 0.1 m for a master."""
    return 0.1 + 2.4 * (1.0 - min(max(level, 0.0), SKILL_CAP) / SKILL_CAP)
