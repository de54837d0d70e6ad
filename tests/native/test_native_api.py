"""Public surface of the native core and the spatial package; determinism of a seeded run."""

from __future__ import annotations

import contextlib

import numpy as np

import engine.spatial
import native
from engine.spatial import SpatialWorld, WorldConfig


def test_every_public_name_is_exported_once_and_exists():
    for module in (engine.spatial, native):
        assert len(module.__all__) == len(set(module.__all__))
        for name in module.__all__:
            assert getattr(module, name) is not None


def _trace(seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    world = SpatialWorld(WorldConfig(width=500, height=500, cell_size=16, view_radii=(30, 80)),
                         capacity=16, compact_min=4)
    trace = []
    for tick in range(30):
        for _ in range(20):
            g = int(rng.integers(1, 200))
            if g in world.table and rng.random() < 0.3:
                world.remove(g)
            elif g not in world.table:
                with contextlib.suppress(KeyError):   # already queued this tick
                    world.add(g, rng.uniform(0, 500, 3) * [1, 1, 0], rng.uniform(-40, 40, 3) * [1, 1, 0],
                              view_class=int(rng.integers(-1, 2)) if tick % 3 else None)
        result = world.step(0.05)
        trace += [result.changed.tobytes(), result.events.enter.tobytes(), result.events.leave.tobytes(),
                  world.pack().nbytes.to_bytes(8, "little")]
    return trace


def test_a_seeded_run_gives_the_same_trace_twice():
    assert _trace(7) == _trace(7)
