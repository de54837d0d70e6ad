"""Update picking in C (native/picks.c) picks what its Python definition picks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import native
from engine.spatial import pick_updates, reference

coord = st.floats(-200, 200, allow_nan=False)


@st.composite
def scenes(draw):
    """Observers with views over a pool of Guids, some of which moved lately."""
    pool = draw(st.lists(st.integers(0, 2**64 - 1), unique=True, max_size=40))
    moved = draw(st.lists(st.sampled_from(pool), unique=True)) if pool else []
    if draw(st.booleans()):
        moved.sort()  # as the World keeps them; any order must pick the same
    ages = draw(st.lists(st.integers(0, 5), min_size=len(moved), max_size=len(moved)))
    moved_xy = draw(st.lists(st.tuples(coord, coord), min_size=len(moved), max_size=len(moved)))
    nobs = draw(st.integers(0, 8))
    views = []
    for _ in range(nobs):
        view = draw(st.lists(st.sampled_from(pool), unique=True, max_size=30)) if pool else []
        if draw(st.booleans()):
            view.sort()  # the usual case; an unsorted view must come out the same
        views.append(view)
    obs_xy = draw(st.lists(st.tuples(coord, coord), min_size=nobs, max_size=nobs))
    phase = draw(st.lists(st.integers(0, 3), min_size=nobs, max_size=nobs))
    bands = sorted(draw(st.lists(st.floats(0, 300, allow_nan=False), max_size=3)))
    masks = draw(st.lists(st.sampled_from([0, 1, 3]), min_size=len(bands) + 1, max_size=len(bands) + 1))
    return views, obs_xy, phase, moved, ages, moved_xy, bands, masks


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_c_picks_what_the_python_definition_picks(scene):
    views, obs_xy, phase, moved, ages, moved_xy, bands, masks = scene
    expected = reference.pick_updates(views, obs_xy, phase, moved, ages, moved_xy, bands, masks)
    picked, ends = pick_updates(
        [np.array(v, np.uint64) for v in views], np.array(obs_xy, np.float64).reshape(-1, 2),
        np.array(phase, np.int8), moved=np.array(moved, np.uint64), ages=np.array(ages, np.int8),
        moved_xy=np.array(moved_xy, np.float64).reshape(-1, 2), bands=bands, masks=masks)
    starts = [0, *ends.tolist()][: len(ends)]
    got = [picked[a:b].tolist() for a, b in zip(starts, ends.tolist(), strict=True)]
    assert expected == got


def test_the_bands_pick_near_every_tick_and_far_on_the_observers_own_ticks():
    moved = np.array([10, 20, 30], np.uint64)
    xy = np.array([[5.0, 0.0], [30.0, 0.0], [50.0, 0.0]])  # near, middle, far from (0, 0)
    fresh = np.zeros(3, np.int8)

    def picks(phase: int, ages: np.ndarray = fresh) -> list[int]:
        picked, _ = pick_updates([moved], np.zeros((1, 2)), np.array([phase], np.int8), moved=moved,
                                 ages=ages, moved_xy=xy, bands=(20.0, 40.0), masks=(0, 1, 3))
        return moved[picked].tolist()

    assert [[10, 20, 30], [10], [10, 20], [10]] == [picks(p) for p in range(4)]
    assert [20] == picks(2, ages=np.array([1, 1, 1], np.int8))  # the near one stopped a tick ago: sent then
    assert [10, 20, 30] == picks(0, ages=np.array([3, 3, 3], np.int8))  # catch-up: whatever moved lately


def test_bad_tables_are_named():
    one = np.array([1], np.uint64)
    args = dict(moved_xy=np.zeros((2, 2)), ages=np.zeros(2, np.int8), bands=(), masks=(0,))
    with pytest.raises(ValueError, match="moved .a Guid comes twice"):
        pick_updates([one], np.zeros((1, 2)), np.ones(1, np.int8), moved=np.array([2, 2], np.uint64), **args)
    with pytest.raises(ValueError, match="offsets of row 0"):
        native.pick_updates(one, np.array([0, 5], np.int64), np.zeros((1, 2)), np.ones(1, np.int8),
                            np.array([1, 2], np.uint64), np.zeros(2, np.int8), np.zeros((2, 2)),
                            np.zeros(0), np.zeros(1, np.int8))
    with pytest.raises(ValueError, match="moved_xy must have shape"):
        pick_updates([one], np.zeros((1, 2)), np.ones(1, np.int8), moved=one, ages=np.zeros(1, np.int8),
                     moved_xy=np.zeros((2, 2)), bands=(), masks=(0,))
