"""View diffs in C (native/views.c) compute what their Python definition computes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.spatial import reference, view_diffs


@st.composite
def scenes(draw):
    """A table of slots with distinct Guids, AOI rows over them, observers with old views."""
    nslots = draw(st.integers(0, 70))  # past one 64-bit word of the bitmap
    guids = draw(st.lists(st.integers(0, 2**64 - 1), unique=True, min_size=nslots, max_size=nslots))
    may_see = draw(st.lists(st.booleans(), min_size=nslots, max_size=nslots))
    rows = [draw(st.lists(st.integers(0, nslots - 1), max_size=40)) if nslots else [] for _ in range(nslots)]
    observers = draw(st.lists(st.integers(0, nslots - 1), max_size=10)) if nslots else []
    pool = guids + draw(st.lists(st.integers(0, 2**64 - 1), max_size=5))  # old views may hold gone Guids
    old = [sorted(set(draw(st.lists(st.sampled_from(pool), max_size=30)))) if pool else [] for _ in observers]
    return guids, may_see, rows, observers, old


def _csr(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(rows) + 1, np.int32)
    np.cumsum([len(r) for r in rows], out=off[1:])
    ents = np.array([s for r in rows for s in r], np.int32)
    return off, ents


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_c_computes_what_the_python_definition_computes(scene):
    guids, may_see, rows, observers, old = scene
    expected = reference.view_diffs(rows, may_see, guids, observers, old)
    off, ents = _csr(rows)
    got = view_diffs(off, ents, np.array(may_see, bool), np.array(guids, np.uint64),
                     np.array(observers, np.int64), [np.array(v, np.uint64) for v in old])
    assert [got.of(k) for k in range(len(observers))] == [tuple(e) for e in expected]
    in_a_view = {g for view, *_ in expected for g in view}
    assert set(np.array(guids, np.uint64)[got.seen].tolist()) == in_a_view


def test_an_observer_never_sees_itself_nor_what_it_may_not_see():
    off, ents = _csr([[0, 1, 2], [], []])
    d = view_diffs(off, ents, np.array([True, True, False]), np.array([30, 20, 10], np.uint64),
                   np.array([0]), [np.array([10, 30], np.uint64)])
    assert d.of(0) == ([20], [20], [], [10, 30])


def test_bad_input_is_named():
    off, ents = _csr([[0, 1], [0]])
    guids = np.array([1, 2], np.uint64)
    see = np.ones(2, bool)
    with pytest.raises(ValueError, match="strictly ascending"):
        view_diffs(off, ents, see, guids, np.array([0]), [np.array([5, 5], np.uint64)])
    with pytest.raises(ValueError, match="obs_slot"):
        view_diffs(off, ents, see, guids, np.array([2]), [np.array([], np.uint64)])
    with pytest.raises(IndexError, match="view_diffs"):
        view_diffs(off, np.array([0, 7, 0], np.int32), see, guids, np.array([0]), [np.array([], np.uint64)])
    with pytest.raises(ValueError, match="offsets"):
        view_diffs(np.array([0, 3, 1], np.int32), ents, see, guids, np.array([0]), [np.array([], np.uint64)])
