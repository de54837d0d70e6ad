"""Movement integration in C equals the pure-Python reference, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from native_strategies import worlds

import native
from engine.spatial import NonFiniteError, SpatialTable, WorldConfig, integrate, reference


def _cells(cfg: WorldConfig, pos: np.ndarray) -> np.ndarray:
    return np.array([cfg.cell_of(float(x), float(y)) for x, y, _ in pos.tolist()], np.int32)


@st.composite
def moving_worlds(draw):
    cfg, pos, alive, _view = draw(worlds())
    n = pos.shape[0]
    speed = st.one_of(st.floats(-200, 200, width=32), st.sampled_from([0.0, -0.0, 1.0, 1e30, -1e30]))
    vel = np.array(draw(st.lists(st.tuples(speed, speed, speed), min_size=n, max_size=n)),
                   np.float32).reshape(n, 3)
    cell = _cells(cfg, pos)
    if n and draw(st.booleans()):
        cell[draw(st.integers(0, n - 1))] = -7   # a stale cell: must be reported as changed
    dt = draw(st.sampled_from([0.0, 0.05, 0.5, 1.0, 3.25]))
    return cfg, pos, vel, alive, cell, dt


@settings(max_examples=300, deadline=None)
@given(moving_worlds())
def test_move_matches_reference(world):
    cfg, pos, vel, alive, cell, dt = world
    n = pos.shape[0]
    rpos, rvel, rcell = pos.tolist(), vel.tolist(), cell.tolist()
    expected = reference.move(rpos, rvel, alive.tolist(), rcell, dt, cfg.max_speed, cfg.world_box, cfg.grid)
    changed = native.move(pos, vel, alive, cell, n, dt, cfg.max_speed, cfg.world_box, cfg.grid,
                          np.empty(max(n, 1), np.int32))
    assert expected == changed.tolist()
    assert rpos == pos.tolist()
    assert rvel == vel.tolist()
    assert rcell == cell.tolist()


@settings(max_examples=100, deadline=None)
@given(moving_worlds(), st.data())
def test_nonfinite_is_rejected_and_nothing_moves(world, data):
    cfg, pos, vel, alive, cell, dt = world
    n = pos.shape[0]
    if n == 0:
        return
    i = data.draw(st.integers(0, n - 1))
    target = data.draw(st.sampled_from([pos, vel]))
    target[i, data.draw(st.integers(0, 2))] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    before = (pos.copy(), vel.copy(), cell.copy())
    if not alive[i]:
        alive[i] = 1
    expected = reference.find_nonfinite(np.hstack([pos, vel]).tolist(), alive.tolist())
    with pytest.raises(native.NonFiniteError) as err:
        native.move(pos, vel, alive, cell, n, dt, cfg.max_speed, cfg.world_box, cfg.grid,
                    np.empty(n, np.int32))
    assert expected == err.value.index
    np.testing.assert_array_equal(before[0], pos)
    np.testing.assert_array_equal(before[1], vel)
    np.testing.assert_array_equal(before[2], cell)


def test_dead_slots_may_hold_garbage():
    cfg = WorldConfig()
    pos = np.array([[np.nan, 0, 0], [1, 1, 1]], np.float32)
    vel = np.zeros((2, 3), np.float32)
    alive = np.array([0, 1], np.uint8)
    cell = np.zeros(2, np.int32)
    assert [] == native.move(pos, vel, alive, cell, 2, 0.1, 1.0, cfg.world_box, cfg.grid,
                             np.empty(2, np.int32)).tolist()


def test_integrate_names_the_entity():
    table = SpatialTable(WorldConfig())
    table.add(0x0005_0000_0010_0003, (1, 2, 3))
    table.begin_tick()
    table.vel[0, 1] = np.inf
    with pytest.raises(NonFiniteError, match=r"5:1:3 \(slot 0\)"):
        integrate(table, 0.05)


def test_speed_limit_and_world_bounds():
    table = SpatialTable(WorldConfig(width=100, height=50, z_min=0, z_max=5, max_speed=10, cell_size=10))
    table.add(1, (95, 45, 4), vel=(30, 40, 0))     # speed 50 -> 10: (6, 8, 0)
    table.add(2, (10.05, 5, 1), vel=(-1, 0, -100))     # speed ~100 -> 10: (-0.1, 0, -10)
    table.begin_tick()
    changed = integrate(table, 1.0)
    assert [100.0, 50.0, 4.0] == table.pos[0].tolist()
    assert pytest.approx([9.95, 5.0, 0.0], abs=1e-5) == table.pos[1].tolist()
    assert [6.0, 8.0, 0.0] == table.vel[0].tolist()
    assert [1] == changed.tolist()   # entity 0 is clamped inside its edge cell


@pytest.mark.parametrize("dt", [-1.0, float("nan"), float("inf")])
def test_bad_dt(dt):
    table = SpatialTable(WorldConfig())
    with pytest.raises(ValueError, match="dt"):
        integrate(table, dt)


def test_zero_and_one_entity():
    cfg = WorldConfig()
    for n in (0, 1):
        pos = np.full((n, 3), 7.0, np.float32)
        vel = np.ones((n, 3), np.float32)
        cell = np.zeros(n, np.int32)
        got = native.move(pos, vel, np.ones(n, np.uint8), cell, n, 1.0, 10.0, cfg.world_box, cfg.grid,
                          np.empty(max(n, 1), np.int32))
        assert [] == got.tolist()
        assert [[8.0, 8.0, 8.0]] * n == pos.tolist()
