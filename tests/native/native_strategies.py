"""Hypothesis strategies for random spatial worlds (shared by the native tests).

Positions are float32 values and favour the awkward places: exact cell
borders, the world's edges, everyone in one cell.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from engine.spatial import WorldConfig


@st.composite
def configs(draw: st.DrawFn) -> WorldConfig:
    cell = draw(st.sampled_from([8.0, 10.0, 16.0, 25.0, 32.5]))
    width = draw(st.sampled_from([8.0, 64.0, 100.0, 250.0]))
    height = draw(st.sampled_from([8.0, 64.0, 100.0, 250.0]))
    nclasses = draw(st.integers(1, 3))
    radii = draw(st.lists(st.sampled_from([0.0, 5.0, 10.0, 20.0, 50.0, 75.5]),
                          min_size=nclasses, max_size=nclasses))
    margins = draw(st.lists(st.sampled_from([0.0, 2.5, 5.0]), min_size=nclasses, max_size=nclasses))
    return WorldConfig(width=width, height=height, cell_size=cell, view_radii=tuple(radii),
                       margins=tuple(margins), z_min=-10.0, z_max=10.0,
                       max_speed=draw(st.sampled_from([1.0, 20.0, 100.0])))


def coordinate(extent: float, cell: float) -> st.SearchStrategy[float]:
    """A float32 coordinate, often on a cell border or a world edge."""
    borders = [k * cell for k in range(int(extent // cell) + 2)] + [0.0, extent, -0.0]
    return st.one_of(
        st.floats(-5.0, extent + 5.0, width=32),
        st.sampled_from(borders),
        st.floats(0.0, extent, width=32),
        st.sampled_from([-3.0e38, -1e9, 1e9, 3.0e38]),   # far outside: clamps into edge cells
    )


@st.composite
def positions(draw: st.DrawFn, cfg: WorldConfig, n: int) -> np.ndarray:
    if n and draw(st.booleans()) and draw(st.booleans()):
        # everyone in one cell
        x0, y0 = draw(coordinate(cfg.width, cfg.cell_size)), draw(coordinate(cfg.height, cfg.cell_size))
        pts = [(x0 + draw(st.floats(0, 1, width=32)), y0 + draw(st.floats(0, 1, width=32)), 0.0)
               for _ in range(n)]
    else:
        xs = st.tuples(coordinate(cfg.width, cfg.cell_size), coordinate(cfg.height, cfg.cell_size),
                       st.floats(-20, 20, width=32))
        pts = draw(st.lists(xs, min_size=n, max_size=n))
    return np.array(pts, np.float32).reshape(n, 3)


@st.composite
def worlds(draw: st.DrawFn, max_n: int = 40):
    """(config, pos, alive, view) for a random world of 0..max_n entities."""
    cfg = draw(configs())
    n = draw(st.integers(0, max_n))
    pos = draw(positions(cfg, n))
    alive = np.array(draw(st.lists(st.sampled_from([1, 1, 1, 0]), min_size=n, max_size=n)), np.uint8)
    view = np.array(draw(st.lists(st.integers(-1, len(cfg.view_radii) - 1), min_size=n, max_size=n)),
                    np.int8)
    return cfg, pos, alive, view
