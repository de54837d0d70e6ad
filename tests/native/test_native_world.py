"""The spatial table and world: queued structural changes, free list, compaction, views by Guid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from engine.spatial import SpatialTable, SpatialWorld, WorldConfig, reference

CFG = WorldConfig(width=200, height=200, cell_size=20, view_radii=(30, 60), margins=(5, 0), max_speed=30)


def test_adds_and_removes_wait_for_the_tick_boundary():
    table = SpatialTable(CFG)
    table.add(1, (1, 2, 3))
    assert (0, 1, False) == (len(table), table.pending, 1 in table)
    table.begin_tick()
    assert (1, 0, 0) == (len(table), table.pending, table.slot(1))
    table.remove(1)
    assert 1 in table
    table.begin_tick()
    assert (0, 1) == (len(table), table.n)        # dying: its slot is not free yet
    assert 1 == int(table.guids[0])               # its Guid is still readable this tick
    table.add(2, (0, 0, 0))
    table.begin_tick()
    assert (0, 1) == (table.slot(2), table.n)     # the freed slot was reused


def test_remove_of_a_pending_add_cancels_it():
    table = SpatialTable(CFG)
    table.add(1, (0, 0, 0))
    table.remove(1)
    table.begin_tick()
    assert (0, 0) == (len(table), table.n)


@pytest.mark.parametrize("bad", [(np.nan, 0, 0), (0, np.inf, 0), (1, 2)])
def test_bad_positions_are_refused_at_the_door(bad):
    table = SpatialTable(CFG)
    with pytest.raises(ValueError, match="position"):
        table.add(1, bad)


def test_duplicates_and_unknowns():
    table = SpatialTable(CFG)
    table.add(1, (0, 0, 0))
    with pytest.raises(KeyError):
        table.add(1, (0, 0, 0))
    with pytest.raises(KeyError):
        table.remove(99)
    with pytest.raises(ValueError, match="view_class"):
        table.add(2, (0, 0, 0), view_class=5)


def test_compaction_moves_tail_entities_into_holes():
    table = SpatialTable(CFG)
    for g in range(1, 201):
        table.add(g, (g % 200, 5, 0), view_class=0, tag=1000 + g)
    table.begin_tick()
    for g in range(1, 101):
        table.remove(g)
    table.begin_tick()
    moved = table.begin_tick()       # the 100 freed slots are too many: compact
    assert moved is not None and (200, 100) == (moved.old_n, moved.new_n)
    assert 100 == table.n == len(table)
    for g in range(101, 201):
        assert g == int(table.guids[table.slot(g)])
        assert 1000 + g == int(table.tag[table.slot(g)])  # the caller's number follows its entity
        assert moved.remap[g - 1] == table.slot(g)
    assert not table.tag[table.n:].any()


@st.composite
def scripts(draw):
    """A sequence of ticks: each adds, removes, retargets velocities or teleports."""
    steps = []
    for _ in range(draw(st.integers(1, 12))):
        steps.append(draw(st.lists(st.tuples(
            st.sampled_from(["add", "add", "remove", "vel", "jump"]),
            st.integers(1, 15),
            st.floats(0, 200, width=32), st.floats(0, 200, width=32),
            st.sampled_from([None, 0, 1])), max_size=25)))
    return steps


@settings(max_examples=150, deadline=None)
@given(scripts(), st.sampled_from([0, 1, 3, None]))
def test_world_views_follow_the_model_through_adds_removes_and_compaction(script, compact_min):
    world = SpatialWorld(CFG, capacity=16, compact_min=compact_min)
    compactions = 0
    live: set[int] = set()
    pending_add: set[int] = set()
    seen: dict[tuple[int, int], int] = {}         # (observer Guid, entity Guid) pairs in view
    for ops in script:
        for op, g, x, y, klass in ops:
            if op == "add" and g not in live | pending_add:
                world.add(g, (x, y, 0), vel=(y - 100, x - 100, 0), view_class=klass)
                pending_add.add(g)
            elif op == "remove" and g in live | pending_add:
                world.remove(g)
                live.discard(g)
                pending_add.discard(g)
            elif op == "vel" and g in live:
                world.table.set_velocity(g, (x - 100, y - 100, 0))
            elif op == "jump" and g in live:
                world.table.set_position(g, (x, y, 0))
        live |= pending_add
        pending_add.clear()
        result = world.step(0.25)
        compactions += result.moved is not None
        enter, leave = result.events.as_guids(world.table.guids)
        for o, e in leave.tolist():
            assert seen.pop((o, e), None) is not None, "a leave without an enter"
        for o, e in enter.tolist():
            assert (o, e) not in seen, "an enter while already in view"
            seen[(o, e)] = 1
        # every current view, in Guids, equals the brute-force definition
        t = world.table
        n = t.n
        off, ents = world.aoi.csr()
        rows = [ents[off[o]: off[o + 1]].tolist() for o in range(n)]
        assert set(seen) == {(int(t.guids[o]), int(t.guids[e])) for o in range(n) for e in rows[o]}
        assert {int(t.guids[i]) for i in range(n) if t.alive[i]} == live
        brute = reference.brute_force_views(t.pos[:n].tolist(), t.alive[:n].tolist(), t.view[:n].tolist(),
                                            CFG.view_radii, CFG.margins, rows)
        # hysteresis makes the brute force depend on the previous rows; with the rows themselves
        # as "previous" it must reproduce them exactly (a fixed point)
        assert brute == [set(r) for r in rows]
    event("compacted" if compactions else "never compacted")


def test_a_failed_step_loses_no_events():
    world = SpatialWorld(CFG, compact_min=0)
    world.add(1, (10, 10, 0), view_class=0)
    world.add(2, (20, 10, 0))
    assert [[0, 1]] == world.step(0.0).events.enter.tolist()
    world.remove(2)
    world.table.vel[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        world.step(0.1)
    world.table.set_velocity(1, (0, 0, 0))
    world.add(3, (30, 10, 0))
    events = world.step(0.1).events
    enter, leave = events.as_guids(world.table.guids)
    assert ([[1, 2]], [[1, 3]]) == (leave.tolist(), enter.tolist())
    world.add(4, (12, 10, 0))
    result = world.step(0.1)        # slot of 2 is free now: 4 may take it, and must enter
    assert [[1, 4]] == result.events.as_guids(world.table.guids)[0].tolist()
    assert [] == result.events.leave.tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-100, 700), st.floats(-100, 700), st.floats(-5, 5)),
                min_size=1, max_size=60))
def test_set_positions_is_set_position_for_each(points):
    cfg = WorldConfig(width=512, height=512, cell_size=32)
    one, many = SpatialTable(cfg), SpatialTable(cfg)
    guids = list(range(1, len(points) + 1))
    for table in (one, many):
        for g in guids:
            table.add(g, (1.0, 1.0, 0.0))
        table.begin_tick()
    for g, p in zip(guids, points, strict=True):
        one.set_position(g, p)
    many.set_positions(guids, np.array(points))
    assert (one.pos == many.pos).all() and (one.cell == many.cell).all()
    with pytest.raises(ValueError, match="not finite"):
        many.set_positions(guids[:1], np.array([[np.nan, 0.0, 0.0]]))


@settings(max_examples=150, deadline=None)
@given(scripts(), st.sampled_from([0, 1, 3, None]), st.data())
def test_world_views_with_a_due_list_follow_the_reference(script, compact_min, data):
    """Only the named observers (and the new ones) are scanned, across adds, removes and compaction."""
    world = SpatialWorld(CFG, capacity=16, compact_min=compact_min)
    live: set[int] = set()
    views: dict[int, set[int]] = {}               # observer Guid -> Guids it saw after the last step
    for ops in script:
        added, removed = set(), set()
        for op, g, x, y, klass in ops:
            if op == "add" and g not in live | added | removed:  # a Guid is not reused within a tick
                world.add(g, (x, y, 0), vel=(y - 100, x - 100, 0), view_class=klass)
                added.add(g)
            elif op == "remove" and g in live | added:
                world.remove(g)
                live.discard(g)
                added.discard(g)
                removed.add(g)
            elif op == "vel" and g in live:
                world.table.set_velocity(g, (x - 100, y - 100, 0))
            elif op == "jump" and g in live:
                world.table.set_position(g, (x, y, 0))
        due = data.draw(st.sets(st.integers(1, 15)))
        live |= added
        result = world.step(0.25, np.array(sorted(due), np.uint64) if data.draw(st.booleans()) else due)
        t = world.table
        n = t.n
        guids = t.guids[:n].tolist()
        slot = {g: i for i, g in enumerate(guids) if g}
        prev = [sorted(slot[e] for e in views.get(g, ())) for g in guids]
        rows, enter, leave = reference.aoi_update(
            t.pos[:n].tolist(), t.alive[:n].tolist(), t.view[:n].tolist(), CFG.view_radii, CFG.margins,
            CFG.cell_size, CFG.grid, prev, [g in due or g in added for g in guids])
        off, ents = world.aoi.csr()
        assert [sorted(r) for r in rows] == [sorted(ents[off[o]: off[o + 1]].tolist()) for o in range(n)]
        assert (sorted(enter), sorted(leave)) == (sorted(_pairs(result.events.enter)),
                                                  sorted(_pairs(result.events.leave)))
        views = {guids[o]: {guids[e] for e in rows[o]} for o in range(n) if rows[o]}


def _pairs(a: np.ndarray) -> list[tuple[int, int]]:
    return [tuple(p) for p in a.tolist()]


def test_a_new_observer_is_scanned_once_even_when_not_due_and_after_a_failed_step():
    world = SpatialWorld(CFG)
    world.add(1, (10, 10, 0), view_class=0)
    world.add(2, (20, 10, 0))
    assert [[0, 1]] == world.step(0.0, due=[]).events.enter.tolist()   # new: its first view is made
    world.add(3, (15, 10, 0), view_class=0)
    world.table.vel[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        world.step(0.1, due=[])
    world.table.set_velocity(1, (0, 0, 0))
    enter = world.step(0.1, due=[]).events.as_guids(world.table.guids)[0]
    assert [[3, 1], [3, 2]] == enter.tolist()                           # 3 is still new after the failure
    world.table.set_position(2, (150, 10, 0))
    leave = world.step(0.1, due=[3]).events.as_guids(world.table.guids)[1]
    assert [[3, 2]] == leave.tolist()                                   # 1 not due: 2 stays in its view
    assert [2] == world.table.guids[world.aoi.visible(world.table.slot(1))].tolist()
    leave = world.step(0.1, due=[1]).events.as_guids(world.table.guids)[1]
    assert [[1, 2]] == leave.tolist()
