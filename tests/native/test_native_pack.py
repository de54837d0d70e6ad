"""Update packing in C writes exactly what Python msgpack writes, and the codec reads it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import native
from engine.codec.binary import decode_batch, encode_batch
from engine.spatial import (
    InterestGrid,
    NonFiniteError,
    PositionUpdate,
    SpatialTable,
    SpatialWorld,
    UpdatePacker,
    WorldConfig,
    position_updates,
    reference,
)

guids_st = st.one_of(st.integers(0, 2**64 - 1),
                     st.sampled_from([0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1]))


@st.composite
def views(draw):
    """Random CSR views over n entities, with random Guids and positions."""
    n = draw(st.integers(0, 30))
    guids = draw(st.lists(guids_st, min_size=n, max_size=n))
    coord = st.floats(-1e6, 1e6, width=32)
    pos = np.array(draw(st.lists(st.tuples(coord, coord, coord), min_size=n, max_size=n)),
                   np.float32).reshape(n, 3)
    rows = [draw(st.lists(st.integers(0, n - 1), max_size=20)) if n else [] for _ in range(n)]
    if n and draw(st.booleans()):
        rows[0] = list(range(n)) * draw(st.integers(1, 2200 // n + 1))   # a row needing array16/32
    clients = draw(st.lists(st.integers(0, n - 1), max_size=n + 3)) if n else []
    return np.array(guids, np.uint64), pos, rows, clients


def _csr(rows):
    off = np.zeros(len(rows) + 1, np.int32)
    off[1:] = np.cumsum([len(r) for r in rows])
    ents = np.array([e for r in rows for e in r], np.int32)
    return off, ents


def _pack(clients, rows, guids, pos, type_id=100, cap=None):
    off, ents = _csr(rows)
    clients = np.array(clients, np.int32)
    if cap is None:
        cap = 5 * len(clients) + 55 * sum(len(rows[c]) for c in clients if 0 <= c < len(rows))
    out = np.zeros(max(cap, 64), np.uint8)
    bounds = np.zeros(len(clients) + 1, np.int64)
    used = native.pack_updates(clients, off, ents, len(rows), guids, pos, len(guids), type_id, out, bounds)
    return [bytes(out[bounds[j]: bounds[j + 1]]) for j in range(len(clients))], used


@settings(max_examples=200, deadline=None)
@given(views(), st.sampled_from([100, 0, 127, 128, 70000, 2**31 - 1]))
def test_pack_matches_python_msgpack_bytes(view, type_id):
    guids, pos, rows, clients = view
    frames, used = _pack(clients, rows, guids, pos, type_id)
    expected = reference.pack_updates(clients, rows, guids.tolist(), pos.tolist(), type_id)
    assert expected == frames
    assert sum(map(len, expected)) == used


@settings(max_examples=100, deadline=None)
@given(views())
def test_frames_decode_to_the_python_built_messages(view):
    guids, pos, rows, clients = view
    frames, _ = _pack(clients, rows, guids, pos)
    g, p = guids.tolist(), pos.tolist()
    for c, frame in zip(clients, frames, strict=True):
        messages = position_updates(g[c], [(g[e], *p[e]) for e in rows[c]])
        assert encode_batch(messages) == frame
        assert messages == decode_batch(frame, max_messages=1 << 20)


def test_world_pack_round_trip():
    world = SpatialWorld(WorldConfig(view_radii=(50,)))
    world.add(0x1_0000_0000_0001, (10, 10, 1), view_class=0)
    world.add(0x1_0000_0000_0002, (20, 10, 2), view_class=0)
    world.add(0x1_0000_0000_0003, (10, 40, 3))
    world.step(0.0)
    frames = world.pack()
    assert 2 == len(frames)
    first = decode_batch(frames.frame(0))
    assert {(m.frm, m.x, m.y, m.z) for m in first} == {
        (0x1_0000_0000_0002, 20.0, 10.0, 2.0), (0x1_0000_0000_0003, 10.0, 40.0, 3.0)}
    assert all(type(m) is PositionUpdate and m.to == 0x1_0000_0000_0001 for m in first)
    assert frames.nbytes == sum(len(f) for f in frames)


def test_capacity_error_names_the_size_needed():
    guids = np.arange(3, dtype=np.uint64)
    pos = np.zeros((3, 3), np.float32)
    with pytest.raises(native.CapacityError) as err:
        _pack([0], [[1, 2], [], []], guids, pos, cap=0)
    assert err.value.needed[0] >= 2 * 55


def test_bad_indices_raise():
    guids = np.arange(3, dtype=np.uint64)
    pos = np.zeros((3, 3), np.float32)
    with pytest.raises(IndexError, match="position 0"):
        _pack([3], [[1], [], []], guids, pos)
    with pytest.raises(IndexError):
        _pack([0], [[7], [], []], guids, pos)
    off = np.array([0, 2, 1, 1], np.int32)
    with pytest.raises(ValueError, match="offsets"):
        native.pack_updates(np.array([1], np.int32), off, np.zeros(2, np.int32), 3, guids, pos, 3, 100,
                            np.zeros(100, np.uint8), np.zeros(2, np.int64))


def test_nonfinite_position_in_a_view_is_rejected():
    table = SpatialTable(WorldConfig())
    table.add(1, (0, 0, 0), view_class=0)
    table.add(2, (1, 1, 0))
    table.begin_tick()
    aoi = InterestGrid(table.config)
    aoi.update(table)
    table.pos[1, 2] = np.nan
    with pytest.raises(NonFiniteError, match=r"0:0:2 \(slot 1\)"):
        UpdatePacker().pack(table, aoi)


def test_client_outside_the_view_table():
    table = SpatialTable(WorldConfig())
    with pytest.raises(IndexError):
        UpdatePacker().pack(table, InterestGrid(table.config), np.array([0], np.int32))
