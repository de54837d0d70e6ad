"""Interest management in C equals the pure-Python reference on random worlds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from native_strategies import positions, worlds

import native
from engine.spatial import InterestGrid, NonFiniteError, SpatialTable, WorldConfig, reference


def _table(cfg, pos, alive, view) -> SpatialTable:
    """A table whose slot i holds entity i (Guid i + 1), then alive/view forced."""
    table = SpatialTable(cfg, capacity=max(16, pos.shape[0]))
    for i, p in enumerate(pos.tolist()):
        table.add(i + 1, (0.0, 0.0, 0.0), view_class=None)
        table.begin_tick()
        table.pos[i] = p
    n = pos.shape[0]
    table.alive[:n] = alive
    table.view[:n] = view
    return table


def _rows(aoi: InterestGrid) -> list[list[int]]:
    off, ents = aoi.csr()
    return [ents[off[o]: off[o + 1]].tolist() for o in range(aoi.rows)]


def _pairs(a: np.ndarray) -> list[tuple[int, int]]:
    return [tuple(p) for p in a.tolist()]


@st.composite
def ticks(draw):
    """A world and a few later position sets (small steps, some jumps)."""
    cfg, pos, alive, view = draw(worlds())
    n = pos.shape[0]
    frames = [pos]
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            step = draw(st.sampled_from([0.5, 2.5, 5.0]))
            jitter = np.array(draw(st.lists(st.floats(-step, step, width=32), min_size=3 * n,
                                            max_size=3 * n)), np.float32).reshape(n, 3)
            frames.append((frames[-1] + jitter).astype(np.float32))
        else:
            frames.append(draw(positions(cfg, n)))
    return cfg, frames, alive, view


@settings(max_examples=200, deadline=None)
@given(ticks())
def test_aoi_matches_reference_tick_after_tick(world):
    cfg, frames, alive, view = world
    table = _table(cfg, frames[0], alive, view)
    aoi = InterestGrid(cfg)
    prev: list[list[int]] = []
    for pos in frames:
        table.pos[: pos.shape[0]] = pos
        rows, enter, leave = reference.aoi_update(pos.tolist(), alive.tolist(), view.tolist(),
                                                  cfg.view_radii, cfg.margins, cfg.cell_size,
                                                  cfg.grid, prev)
        events = aoi.update(table)
        assert rows == _rows(aoi)
        assert enter == _pairs(events.enter)
        assert leave == _pairs(events.leave)
        brute = reference.brute_force_views(pos.tolist(), alive.tolist(), view.tolist(),
                                            cfg.view_radii, cfg.margins, prev)
        assert brute == [set(r) for r in rows]
        prev = rows


@settings(max_examples=50, deadline=None)
@given(ticks())
def test_stamp_counter_wrap_around_changes_nothing(world):
    cfg, frames, alive, view = world
    table = _table(cfg, frames[0], alive, view)
    aoi = InterestGrid(cfg)
    prev: list[list[int]] = []
    for pos in frames:
        aoi._scratch["stamp"][:] = 0                      # stamps never exceed the counter...
        aoi._scratch["stamp_state"][0] = 0xFFFFFFF0 - 2   # ...which is about to wrap around
        table.pos[: pos.shape[0]] = pos
        rows, enter, leave = reference.aoi_update(pos.tolist(), alive.tolist(), view.tolist(),
                                                  cfg.view_radii, cfg.margins, cfg.cell_size,
                                                  cfg.grid, prev)
        events = aoi.update(table)
        assert (rows, enter, leave) == (_rows(aoi), _pairs(events.enter), _pairs(events.leave))
        prev = rows


@settings(max_examples=100, deadline=None)
@given(ticks(), st.data())
def test_nonfinite_position_is_rejected_with_its_guid(world, data):
    cfg, frames, alive, view = world
    n = frames[0].shape[0]
    if n == 0:
        return
    table = _table(cfg, frames[0], alive, view)
    aoi = InterestGrid(cfg)
    aoi.update(table)
    before = _rows(aoi)
    i = data.draw(st.integers(0, n - 1))
    table.alive[i] = 1
    table.pos[i, data.draw(st.integers(0, 1))] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    expected = reference.find_nonfinite(table.pos[:n].tolist(), table.alive[:n].tolist())
    with pytest.raises(NonFiniteError, match=rf"entity 0:0:{expected + 1} \(slot {expected}\)"):
        aoi.update(table)
    assert before == _rows(aoi)   # the state is untouched


def test_hysteresis_border_does_not_flicker():
    cfg = WorldConfig(view_radii=(50,), margins=(5,), cell_size=16)
    table = _table(cfg, np.array([[100, 100, 0], [152, 100, 0]], np.float32),
                   np.array([1, 1], np.uint8), np.array([0, -1], np.int8))
    aoi = InterestGrid(cfg)
    assert [] == aoi.update(table).enter.tolist()          # 52 > 50: not yet
    table.pos[1, 0] = 150.0
    assert [[0, 1]] == aoi.update(table).enter.tolist()    # exactly on the radius: enters
    for x in (152.0, 154.9, 155.0, 151.0):                 # inside the margin: stays
        table.pos[1, 0] = x
        events = aoi.update(table)
        assert ([], []) == (events.enter.tolist(), events.leave.tolist())
    table.pos[1, 0] = 155.01
    assert [[0, 1]] == aoi.update(table).leave.tolist()    # beyond radius + margin: leaves
    table.pos[1, 0] = 152.0
    assert [] == aoi.update(table).enter.tolist()          # and needs the radius to come back


def test_radius_classes_and_non_observers():
    cfg = WorldConfig(view_radii=(50, 150), margins=(0, 0), cell_size=32)
    pos = np.array([[0, 0, 0], [100, 0, 0], [200, 0, 0]], np.float32)
    table = _table(cfg, pos, np.ones(3, np.uint8), np.array([0, 1, -1], np.int8))
    aoi = InterestGrid(cfg)
    events = aoi.update(table)
    assert [[1, 0], [1, 2]] == events.enter.tolist()
    assert ([], [0, 2], []) == tuple(sorted(aoi.visible(o).tolist()) for o in range(3))


def test_zero_and_one_entity():
    cfg = WorldConfig()
    aoi = InterestGrid(cfg)
    empty = SpatialTable(cfg)
    assert (0, 0) == (len(aoi.update(empty).enter), aoi.pairs())
    one = _table(cfg, np.array([[5, 5, 5]], np.float32), np.ones(1, np.uint8), np.zeros(1, np.int8))
    assert (0, 0) == (len(aoi.update(one).enter), aoi.pairs())


def test_everyone_in_one_cell_sees_everyone():
    cfg = WorldConfig(cell_size=64, view_radii=(10,))
    n = 300
    rng = np.random.default_rng(1)
    pos = np.zeros((n, 3), np.float32)
    pos[:, :2] = rng.uniform(0, 5, (n, 2))
    table = _table(cfg, pos, np.ones(n, np.uint8), np.zeros(n, np.int8))
    aoi = InterestGrid(cfg)
    assert n * (n - 1) == len(aoi.update(table).enter)
    assert n * (n - 1) == aoi.pairs()


def test_world_bounds_and_outside_points():
    cfg = WorldConfig(width=100, height=100, cell_size=10, view_radii=(15,), margins=(0,))
    pos = np.array([[0, 0, 0], [100, 100, 0], [-30, -30, 0], [130, 130, 0], [0, 10, 0], [100, 90, 0]],
                   np.float32)
    table = _table(cfg, pos, np.ones(6, np.uint8), np.zeros(6, np.int8))
    aoi = InterestGrid(cfg)
    aoi.update(table)
    assert [[4], [5], [], [], [0], [1]] == [sorted(aoi.visible(o).tolist()) for o in range(6)]


# -- a due mask: only some observers scanned ------------------------------------------------


@st.composite
def churn(draw, max_n: int = 30):
    """A world whose slots come and go: per tick positions, alive flags, the slot count, a due mask."""
    cfg, pos, alive, view = draw(worlds(max_n))
    n = pos.shape[0]
    ticks = []
    count = draw(st.integers(0, n))
    for t in range(draw(st.integers(2, 6))):
        if t and draw(st.booleans()):
            step = draw(st.sampled_from([0.5, 2.5, 5.0]))
            jitter = np.array(draw(st.lists(st.floats(-step, step, width=32), min_size=3 * n,
                                            max_size=3 * n)), np.float32).reshape(n, 3)
            pos = (pos + jitter).astype(np.float32)
        elif t:
            pos = draw(positions(cfg, n))
        if t:
            flips = draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=n // 3 + 1)) if n else []
            alive = alive.copy()
            alive[flips] ^= 1                                  # removals, and slots taken again
            count = draw(st.integers(count, n))                # additions at the end
        due = np.array(draw(st.lists(st.booleans(), min_size=count, max_size=count)), bool)
        ticks.append((pos, alive, count, due, draw(st.booleans())))
    return cfg, view, ticks


def _as_sets(rows: list[list[int]]) -> list[list[int]]:
    return [sorted(r) for r in rows]


@settings(max_examples=300, deadline=None)
@given(churn())
def test_aoi_with_a_due_mask_matches_reference_tick_after_tick(world):
    cfg, view, ticks = world
    pos0 = ticks[0][0]
    table = _table(cfg, pos0, ticks[0][1], view)
    aoi = InterestGrid(cfg)
    prev: list[list[int]] = []
    for pos, alive, n, due, tight in ticks:
        table.n = n
        table.pos[:n] = pos[:n]
        table.alive[:n] = alive[:n]
        if tight:  # buffers too small: the update must grow them and call again, mask and all
            aoi._spare_ents = np.zeros(1, np.int32)
            aoi._enter = np.zeros((1, 2), np.int32)
            aoi._leave = np.zeros((1, 2), np.int32)
        rows, enter, leave = reference.aoi_update(pos[:n].tolist(), alive[:n].tolist(), view[:n].tolist(),
                                                  cfg.view_radii, cfg.margins, cfg.cell_size,
                                                  cfg.grid, prev, due.tolist())
        events = aoi.update(table, due)
        assert _as_sets(rows) == _as_sets(_rows(aoi))
        assert enter == _pairs(events.enter)
        assert leave == _pairs(events.leave)
        for o in np.flatnonzero(~due).tolist():   # not scanned: the old row less the dead, nothing new
            before = prev[o] if o < len(prev) else []
            assert sorted(rows[o]) == sorted(e for e in before if alive[e] and alive[o] and view[o] >= 0)
        prev = rows


@settings(max_examples=100, deadline=None)
@given(ticks())
def test_no_mask_is_every_observer_due(world):
    cfg, frames, alive, view = world
    plain, masked = InterestGrid(cfg), InterestGrid(cfg)
    table = _table(cfg, frames[0], alive, view)
    for pos in frames:
        table.pos[: pos.shape[0]] = pos
        a = plain.update(table)
        b = masked.update(table, np.ones(table.n, bool))
        assert _rows(plain) == _rows(masked)
        assert (a.enter.tolist(), a.leave.tolist()) == (b.enter.tolist(), b.leave.tolist())


def test_a_view_not_due_waits_but_loses_the_dead_at_once():
    cfg = WorldConfig(view_radii=(50,), margins=(5,), cell_size=16)
    pos = np.array([[100, 100, 0], [120, 100, 0], [300, 100, 0]], np.float32)
    table = _table(cfg, pos, np.ones(3, np.uint8), np.array([0, -1, -1], np.int8))
    aoi = InterestGrid(cfg)
    idle = np.zeros(3, bool)
    assert [] == aoi.update(table, idle).enter.tolist()      # never scanned: nothing seen yet
    assert [[0, 1]] == aoi.update(table).enter.tolist()
    table.pos[2, 0] = 110.0                                   # walks in
    table.pos[1, 0] = 200.0                                   # walks out
    events = aoi.update(table, idle)
    assert ([], [], [1]) == (events.enter.tolist(), events.leave.tolist(), aoi.visible(0).tolist())
    table.alive[1] = 0                                        # gone: it leaves even a view not due
    assert [[0, 1]] == aoi.update(table, idle).leave.tolist()
    assert [[0, 2]] == aoi.update(table, np.array([1, 0, 0], np.uint8)).enter.tolist()


@pytest.mark.parametrize(("due", "error", "text"), [
    ([1, 1, 1], TypeError, "due must be a numpy array of bool or uint8, got list"),
    (np.ones(3, np.int64), TypeError, "due must have dtype bool or uint8, got int64"),
    (np.ones(3, np.float32), TypeError, "dtype bool or uint8, got float32"),
    (np.ones(2, bool), ValueError, r"one flag per table slot, shape \(3,\), got \(2,\)"),
    (np.ones(4, bool), ValueError, r"shape \(3,\), got \(4,\)"),
    (np.ones((3, 1), np.uint8), ValueError, r"got \(3, 1\)"),
])
def test_a_bad_due_mask_is_refused_and_changes_nothing(due, error, text):
    cfg = WorldConfig(view_radii=(50,))
    table = _table(cfg, np.array([[10, 10, 0], [20, 10, 0], [30, 10, 0]], np.float32),
                   np.ones(3, np.uint8), np.zeros(3, np.int8))
    aoi = InterestGrid(cfg)
    aoi.update(table)
    before = _rows(aoi)
    with pytest.raises(error, match=text):
        aoi.update(table, due)
    assert before == _rows(aoi)


def test_the_binding_checks_due_too():
    cfg = WorldConfig(view_radii=(50,))
    table = _table(cfg, np.array([[10, 10, 0], [20, 10, 0]], np.float32), np.ones(2, np.uint8),
                   np.zeros(2, np.int8))
    aoi = InterestGrid(cfg)
    aoi._fit_scratch(2)
    args = (table.pos, table.alive, table.view, 2, aoi._radii, aoi._margins, cfg.cell_size, cfg.grid,
            aoi._scratch, (aoi._off, aoi._ents, 0), (np.zeros(3, np.int32), np.zeros(8, np.int32)),
            np.zeros((8, 2), np.int32), np.zeros((8, 2), np.int32))
    with pytest.raises(TypeError, match="due must have dtype uint8, got bool"):
        native.aoi_update(*args, np.ones(2, bool))
    with pytest.raises(ValueError, match="due must have at least 2 rows"):
        native.aoi_update(*args, np.ones(1, np.uint8))
    assert (2, 2, 0) == native.aoi_update(*args, np.ones(2, np.uint8))
