"""The heightfield in numpy finds the ground a pybullet ray finds, on random terrains."""

import numpy as np
import pytest

from engine.physics import PhysicsScene
from engine.physics._scene import _GROUND
from engine.physics._terrain import Heightfield


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_ground_is_what_a_downward_ray_finds(seed):
    rng = np.random.default_rng(seed)
    nx, ny = int(rng.integers(2, 40)), int(rng.integers(2, 40))
    cell = float(rng.uniform(0.5, 8.0))
    origin = (float(rng.uniform(-50, 50)), float(rng.uniform(-50, 50)))
    heights = (rng.random(nx * ny) * rng.uniform(0.1, 30.0) - 5.0).astype(np.float32)
    scene = PhysicsScene()
    try:
        scene.set_terrain(nx, ny, cell, origin, heights.tobytes())
        k = 3000
        span = np.array([(nx - 1) * cell, (ny - 1) * cell])
        xy = np.array(origin) + (rng.random((k, 2)) * 1.2 - 0.1) * span  # some points off the edge
        top = rng.uniform(-10.0, 40.0, k)  # some starts below the ground
        starts = np.column_stack((xy, top))
        ends = np.column_stack((xy, np.full(k, -1000.0)))
        _frac, body, point, normal = scene._rays(starts, ends, _GROUND)
        z, nz, has = Heightfield(nx, ny, cell, origin, heights).ground(xy, top)
        low, high = np.array(origin), np.array(origin) + span
        edge = np.isclose(xy, low, atol=1e-9) | np.isclose(xy, high, atol=1e-9)
        sure = ~np.any(edge, axis=1) & (np.abs(z - top) > 1e-9)
        assert ((body >= 0) == has)[sure].all()
        found = (body >= 0) & has
        assert found.sum() > k // 4
        assert np.abs(point[found, 2] - z[found]).max() < 1e-9
        assert np.abs(normal[found, 2] - nz[found]).max() < 1e-9
    finally:
        scene.close()
