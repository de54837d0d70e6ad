"""SceneConfig: the fixed numbers of a physics world (clock, gravity, controller limits)."""

from __future__ import annotations

import math

import attrs


class SceneError(ValueError):
    """Scene input that cannot be used (a malformed terrain, box or body); the scene is unchanged."""


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a finite number > 0, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


@attrs.frozen(slots=True)
class SceneConfig:
    """How a world steps. Every field is fixed for the world's life.

    One engine tick (``1 / tick_rate`` s) is ``substeps`` pybullet steps of
    equal length; the capsule controller moves once per tick, projectiles
    and loose bodies every sub-step. ``step_height`` is the tallest ledge a
    capsule walks onto whatever its speed; ``max_intent_speed`` is the
    speed above which an intent is refused as absurd rather than capped.
    """

    tick_rate: float = attrs.field(default=20.0, converter=float, validator=_positive)
    substeps: int = attrs.field(default=4, converter=int)
    gravity: float = attrs.field(default=9.81, converter=float, validator=_non_negative)
    step_height: float = attrs.field(default=0.35, converter=float, validator=_non_negative)
    skin: float = attrs.field(default=0.02, converter=float, validator=_positive)
    max_fall_speed: float = attrs.field(default=50.0, converter=float, validator=_positive)
    max_intent_speed: float = attrs.field(default=1000.0, converter=float, validator=_positive)
    max_bodies: int = attrs.field(default=100_000, converter=int)
    max_projectiles: int = attrs.field(default=20_000, converter=int)
    projectile_lifetime: float = attrs.field(default=10.0, converter=float, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.substeps <= 64:
            raise ValueError(f"substeps must be in 1..64, got {self.substeps}")
        if self.max_bodies < 1 or self.max_projectiles < 1:
            raise ValueError("max_bodies and max_projectiles must be >= 1")

    @property
    def tick_dt(self) -> float:
        """Seconds of simulated time per engine tick."""
        return 1.0 / self.tick_rate

    @property
    def substep_dt(self) -> float:
        return self.tick_dt / self.substeps
