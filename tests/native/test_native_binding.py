"""Bad input to the C core is a Python exception naming the problem, never a crash."""

from __future__ import annotations

import numpy as np
import pytest

import native
from engine.spatial import WorldConfig

CFG = WorldConfig(width=100, height=100, cell_size=10, view_radii=(20,))


def _aoi_args(**over):
    n = 4
    nx, ny = CFG.grid
    args = dict(
        pos=np.zeros((n, 3), np.float32), alive=np.ones(n, np.uint8), view=np.zeros(n, np.int8), n=n,
        radii=np.array([20.0]), margins=np.array([1.0]), cell_size=10.0, grid=(nx, ny),
        scratch={"grid_start": np.zeros(nx * ny + 1, np.int32), "grid_ents": np.zeros(n, np.int32),
                 "grid_pos": np.zeros((n, 2), np.float32),
                 "cell_tmp": np.zeros(n, np.int32), "stamp": np.zeros(n, np.uint32),
                 "stamp_state": np.zeros(1, np.uint32)},
        prev=(np.zeros(1, np.int32), np.zeros(0, np.int32), 0),
        new=(np.zeros(n + 1, np.int32), np.zeros(64, np.int32)),
        enter=np.zeros((64, 2), np.int32), leave=np.zeros((64, 2), np.int32))
    args.update(over)
    return args


def test_valid_call_works():
    assert (12, 12, 0) == native.aoi_update(**_aoi_args())


@pytest.mark.parametrize(("over", "error", "text"), [
    ({"pos": np.zeros((4, 3), np.float64)}, TypeError, "pos must have dtype float32"),
    ({"pos": np.zeros((4, 2), np.float32)}, ValueError, r"pos must have shape \(\*, 3\)"),
    ({"pos": np.zeros((3, 3), np.float32)}, ValueError, "n = 4 must lie in 0..3"),
    ({"pos": np.zeros((4, 6), np.float32)[:, ::2]}, ValueError, "C-contiguous"),
    ({"pos": [[0, 0, 0]] * 4}, ValueError, "n = 4"),
    ({"alive": np.ones(4, np.int32)}, TypeError, "alive must have dtype uint8"),
    ({"alive": np.ones(3, np.uint8)}, ValueError, "alive must have at least 4 rows"),
    ({"view": np.array([0, 0, 1, 0], np.int8)}, IndexError, "position 2"),
    ({"radii": np.array([np.nan])}, ValueError, "radii"),
    ({"margins": np.array([-1.0])}, ValueError, "margins"),
    ({"cell_size": 0.0}, ValueError, "cell_size"),
    ({"grid": (0, 5)}, ValueError, "grid"),
    ({"prev": (np.array([0, 1, 1, 1, 1], np.int32), np.array([9], np.int32), 4)}, IndexError,
     "position 0"),
    ({"prev": (np.array([0, 2, 1, 1, 1], np.int32), np.array([1, 2], np.int32), 4)}, ValueError,
     "row 1"),
    ({"prev": (np.array([0, 5, 5, 5, 5], np.int32), np.array([1, 2], np.int32), 4)}, ValueError,
     "row 0"),
    ({"prev": (np.zeros(9, np.int32), np.zeros(1, np.int32), 8)}, ValueError, "prev rows"),
    ({"new": (np.zeros(2, np.int32), np.zeros(64, np.int32))}, ValueError, "new offsets"),
    ({"enter": np.zeros((64, 3), np.int32)}, ValueError, "enter must have shape"),
    ({"n": 2.5}, TypeError, "n must be an int"),
    ({"n": -1}, ValueError, "n = -1"),
])
def test_aoi_rejects(over, error, text):
    with pytest.raises(error, match=text):
        native.aoi_update(**_aoi_args(**over))


def test_read_only_output_is_refused():
    leave = np.zeros((64, 2), np.int32)
    leave.flags.writeable = False
    with pytest.raises(ValueError, match="leave must be writable"):
        native.aoi_update(**_aoi_args(leave=leave))


def test_capacity_error_reports_what_is_needed():
    with pytest.raises(native.CapacityError) as err:
        native.aoi_update(**_aoi_args(new=(np.zeros(5, np.int32), np.zeros(3, np.int32))))
    assert (12, 12, 0) == err.value.needed


@pytest.mark.parametrize(("kw", "text"), [
    ({"dt": -0.1}, "dt"), ({"dt": float("nan")}, "dt"), ({"max_speed": float("nan")}, "max_speed"),
    ({"world": (10, 10, 1, 0, 1)}, "world"), ({"world": (10, 10, 0, 1, 0)}, "world"),
    ({"grid": (0, 1)}, "world"),
])
def test_move_rejects_bad_scalars(kw, text):
    args = dict(pos=np.zeros((2, 3), np.float32), vel=np.zeros((2, 3), np.float32),
                alive=np.ones(2, np.uint8), cell=np.zeros(2, np.int32), n=2, dt=0.1, max_speed=1.0,
                world=(10, 10, 0, 1, 1), grid=(10, 10), changed=np.zeros(2, np.int32))
    args.update(kw)
    with pytest.raises(ValueError, match=text):
        native.move(**args)


def test_move_changed_buffer_too_small():
    with pytest.raises(ValueError, match="changed must have at least 2 rows"):
        native.move(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32), np.ones(2, np.uint8),
                    np.zeros(2, np.int32), 2, 0.1, 1.0, (10, 10, 0, 1, 1), (10, 10), np.zeros(1, np.int32))


def test_pack_rejects_wrong_guid_dtype():
    with pytest.raises(TypeError, match="guids must have dtype uint64"):
        native.pack_updates(np.zeros(1, np.int32), np.zeros(2, np.int32), np.zeros(0, np.int32), 1,
                            np.zeros(1, np.int64), np.zeros((1, 3), np.float32), 1, 100,
                            np.zeros(10, np.uint8), np.zeros(2, np.int64))
