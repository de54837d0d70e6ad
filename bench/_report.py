"""One benchmark figure and the table/JSON it is printed as."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import attrs

KEYS = ("figure", "value", "unit", "baseline", "ratio", "target", "met")


def ratio(value: float, baseline: float | None) -> float | None:
    """value / baseline, or None when there is no usable baseline."""
    if baseline is None or baseline == 0 or not math.isfinite(baseline):
        return None
    return value / baseline


@attrs.frozen
class Row:
    """A measured figure.

    ``target`` is a readable statement such as ``">= 1500000 msg/s and ratio
    >= 0.125"``; ``met`` says whether this run met it (None when the figure
    is reported without a target).
    """

    figure: str
    value: float
    unit: str
    baseline: float | None = None
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return ratio(self.value, self.baseline)

    def as_dict(self) -> dict[str, Any]:
        r = self.ratio
        return {
            "figure": self.figure,
            "value": _num(self.value),
            "unit": self.unit,
            "baseline": _num(self.baseline),
            "ratio": None if r is None else round(r, 4),
            "target": self.target,
            "met": self.met,
        }


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return float(f"{x:.6g}")


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "NO"
    if isinstance(x, float):
        return f"{x:,.4g}" if abs(x) < 1e5 else f"{x:,.0f}"
    return str(x)


def to_json(rows: Sequence[Row]) -> str:
    return json.dumps([r.as_dict() for r in rows], indent=2)


def to_table(rows: Sequence[Row]) -> str:
    cells = [list(KEYS)] + [[_fmt(r.as_dict()[k]) for k in KEYS] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(KEYS))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i in (0, 2, 5) else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
