"""Checks of untrusted scene and body values: each failure is a BodyRefused with a reason word."""

from __future__ import annotations

import math
from typing import Any

from engine.physics._config import SceneError

MAX_COORD = 1e7
"""Farthest a coordinate may lie from the origin (m)."""
MAX_SIZE = 1e4
"""Largest box half extent or terrain cell (m)."""


class BodyRefused(SceneError):
    """A body request refused; ``reason`` is a short word counted by the module."""

    def __init__(self, reason: str, text: str):
        super().__init__(text)
        self.reason = reason


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def check_number(name: str, value: Any, lo: float, hi: float) -> None:
    if not _is_number(value) or not math.isfinite(value) or not lo <= value <= hi:
        raise BodyRefused("malformed", f"{name} must be a finite number in [{lo:g}, {hi:g}], got {value!r}")


def check_guid(name: str, value: Any) -> None:
    if type(value) is not int or not 0 <= value < 1 << 64:
        raise BodyRefused("malformed", f"{name} must be a Guid, got {value!r}")


def vector(name: str, value: Any, limit: float) -> tuple[float, float, float]:
    if type(value) not in (list, tuple) or len(value) != 3:
        raise BodyRefused("malformed", f"{name} must be three numbers, got {value!r}")
    for v in value:
        if not _is_number(v) or not math.isfinite(v):
            raise BodyRefused("non_finite" if _is_number(v) else "malformed",
                              f"{name} must be finite numbers, got {value!r}")
        if abs(v) > limit:
            raise BodyRefused("absurd", f"{name} {value!r} is beyond {limit:g}")
    return float(value[0]), float(value[1]), float(value[2])


def box_row(row: Any, i: int) -> tuple[int, float, float, float, float, float, float, float]:
    if type(row) not in (list, tuple) or len(row) != 8:
        raise SceneError(f"static box {i}: want [id, cx, cy, cz, hx, hy, hz, yaw], got {row!r:.80}")
    ident = row[0]
    if type(ident) is not int:
        raise SceneError(f"static box {i}: id must be an int, got {ident!r}")
    values = row[1:]
    if not all(_is_number(v) and math.isfinite(v) for v in values):
        raise SceneError(f"static box {ident}: every number must be finite, got {row!r:.80}")
    cx, cy, cz, hx, hy, hz, yaw = (float(v) for v in values)
    if max(abs(cx), abs(cy), abs(cz)) > MAX_COORD:
        raise SceneError(f"static box {ident}: centre out of range")
    if not all(0 < e <= MAX_SIZE for e in (hx, hy, hz)):
        raise SceneError(f"static box {ident}: half extents must be in (0, {MAX_SIZE:g}]")
    return ident, cx, cy, cz, hx, hy, hz, yaw
