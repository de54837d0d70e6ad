"""WorldConfig: the extent of a spatial world, its grid and its view radii.

>>> cfg = WorldConfig(width=4096, height=4096, cell_size=32, view_radii=(50, 150))
>>> cfg.grid
(128, 128)
>>> cfg.cell_of(40.0, 10.0)
1
"""

from __future__ import annotations

import math

import attrs

MAX_CELLS = 1 << 24
"""Most grid cells a world may have (the grid costs 4 bytes a cell)."""


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a finite number > 0, got {value!r}")


def _finite(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a finite number, got {value!r}")


def _floats(value: object) -> tuple[float, ...]:
    if isinstance(value, (int, float)):
        return (float(value),)
    return tuple(float(v) for v in value)  # type: ignore[union-attr]


@attrs.frozen(slots=True)
class WorldConfig:
    """A rectangular world ``[0, width] x [0, height]`` (z in ``[z_min, z_max]``).

    The uniform AOI grid has square cells of ``cell_size``; ``view_radii``
    are the radius classes an observer can have (its class is an index into
    this tuple), ``margins`` the hysteresis of each class (one number
    applies to all). An entity enters a view at distance <= radius and
    leaves it only beyond radius + margin. ``max_speed`` caps velocities
    in movement integration (units per second).
    """

    width: float = attrs.field(default=4096.0, converter=float, validator=_positive)
    height: float = attrs.field(default=4096.0, converter=float, validator=_positive)
    cell_size: float = attrs.field(default=32.0, converter=float, validator=_positive)
    view_radii: tuple[float, ...] = attrs.field(default=(50.0, 150.0), converter=_floats)
    margins: tuple[float, ...] = attrs.field(default=(5.0,), converter=_floats)
    z_min: float = attrs.field(default=-1000.0, converter=float, validator=_finite)
    z_max: float = attrs.field(default=1000.0, converter=float, validator=_finite)
    max_speed: float = attrs.field(default=50.0, converter=float, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if not 1 <= len(self.view_radii) <= 127:
            raise ValueError("view_radii must hold 1..127 radius classes")
        if any(not math.isfinite(r) or r < 0 for r in self.view_radii):
            raise ValueError(f"view radii must be finite and >= 0, got {self.view_radii}")
        if len(self.margins) == 1 and len(self.view_radii) > 1:
            object.__setattr__(self, "margins", self.margins * len(self.view_radii))
        if len(self.margins) != len(self.view_radii):
            raise ValueError("give one margin, or one per view radius")
        if any(not math.isfinite(m) or m < 0 for m in self.margins):
            raise ValueError(f"margins must be finite and >= 0, got {self.margins}")
        if self.z_min > self.z_max:
            raise ValueError(f"z_min {self.z_min} is above z_max {self.z_max}")
        nx, ny = self.grid
        if nx * ny > MAX_CELLS:
            raise ValueError(f"a {nx} x {ny} grid has more than {MAX_CELLS} cells: use bigger cells")

    @property
    def grid(self) -> tuple[int, int]:
        """Cells along x and y (the last ones may stick out of the world)."""
        return max(1, math.ceil(self.width / self.cell_size)), max(1, math.ceil(self.height / self.cell_size))

    @property
    def world_box(self) -> tuple[float, float, float, float, float]:
        """(width, height, z_min, z_max, cell_size), as the C movement code wants it."""
        return (self.width, self.height, self.z_min, self.z_max, self.cell_size)

    def cell_of(self, x: float, y: float) -> int:
        """The grid cell (row-major ``cy * nx + cx``) of a point; outside points clamp."""
        nx, ny = self.grid
        return axis_cell(y, self.cell_size, ny) * nx + axis_cell(x, self.cell_size, nx)


def axis_cell(v: float, cell_size: float, n: int) -> int:
    """floor(v * (1 / cell_size)) clamped to 0..n-1: the same formula as the C core."""
    q = v * (1.0 / cell_size)
    if not q >= 0:  # negative or NaN
        return 0
    if q >= n - 1:  # floor(q) >= n - 1 exactly when q >= n - 1
        return n - 1
    return math.floor(q)
