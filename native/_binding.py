"""The one module that touches cffi's ``ffi`` and ``lib``.

Every function here takes numpy arrays, checks their dtype, shape,
contiguity and writability, hands them to C with ``ffi.from_buffer`` (no
copy), and turns the C return code into a Python exception naming the
problem. Nothing else in the code base imports ``_spenefett_native``.

>>> import numpy as np
>>> pos = np.zeros((2, 3), np.float32)
>>> find_nonfinite(pos, None)
-1
>>> pos[1, 2] = np.nan
>>> find_nonfinite(pos, None)
1
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from native._spenefett_native import ffi, lib
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "Spenefett's native core is not compiled: run `pip install -e .` (or "
        "`python native/_build.py`) from the repository root; it needs a C compiler. "
        f"({exc})"
    ) from exc

__all__ = [
    "CapacityError",
    "NonFiniteError",
    "aoi_update",
    "baseline_move",
    "check_batch",
    "find_nonfinite",
    "move",
    "pack_updates",
    "pick_updates",
    "view_diffs",
]


class NonFiniteError(ValueError):
    """A NaN or infinite coordinate; ``index`` is the entity slot that has it."""

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index


class CapacityError(RuntimeError):
    """An output buffer was too small; ``needed`` says what would have been enough."""

    def __init__(self, message: str, needed: tuple[int, ...]):
        super().__init__(message)
        self.needed = needed


_CTYPES_BY_TYPE = {
    np.float32: "float[]",
    np.float64: "double[]",
    np.int32: "int32_t[]",
    np.int64: "int64_t[]",
    np.uint8: "uint8_t[]",
    np.int8: "int8_t[]",
    np.uint32: "uint32_t[]",
    np.uint64: "uint64_t[]",
}
def _buf(name: str, a: Any, dtype: type, shape: tuple[int | None, ...], *,
         writable: bool = False, min_len: int | None = None) -> Any:
    """Check one array and return a C pointer to its data (no copy).

    ``shape`` entries of None match any size; ``min_len`` bounds the first
    dimension from below (for buffers that may be larger than needed).
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    ctype = _CTYPES_BY_TYPE[dtype]
    dt = a.dtype
    if dt.type is not dtype or not dt.isnative:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {dt}")
    got = a.shape
    ok = len(got) == len(shape)
    if ok:
        for s, d in zip(shape, got):  # noqa: B905 - lengths checked just above
            if s is not None and s != d:
                ok = False
    if not ok:
        shown = ", ".join("*" if s is None else str(s) for s in shape)
        shown = f"({shown},)" if len(shape) == 1 else f"({shown})"
        raise ValueError(f"{name} must have shape {shown}, got {got}")
    if min_len is not None and got[0] < min_len:
        raise ValueError(f"{name} must have at least {min_len} rows, got {got[0]}")
    flags = a.flags
    if not flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (use np.ascontiguousarray)")
    if writable and not flags.writeable:
        raise ValueError(f"{name} must be writable")
    if a.size == 0:
        # from_buffer of an empty array is fine, but keep a valid pointer anyway
        return ffi.new(ctype, 1)
    return ffi.from_buffer(ctype, a, require_writable=writable)


def _raise(code: int, bad: int, what: str, argnames: dict[int, str] | None = None) -> None:
    if code == lib.SP_ERR_NONFINITE:
        raise NonFiniteError(f"{what}: entity {bad} has a NaN or infinite coordinate", bad)
    if code == lib.SP_ERR_INDEX:
        raise IndexError(f"{what}: index out of range at position {bad}")
    if code == lib.SP_ERR_OFFSETS:
        raise ValueError(f"{what}: offsets of row {bad} decrease or run past the end")
    if code == lib.SP_ERR_ARG:
        name = (argnames or {}).get(bad, f"argument {bad}")
        raise ValueError(f"{what}: bad value for {name}")
    raise RuntimeError(f"{what}: native error code {code} (at {bad})")


def find_nonfinite(values: np.ndarray, alive: np.ndarray | None) -> int:
    """First live row of an (n, w) float32 array holding a NaN/inf, or -1."""
    if not isinstance(values, np.ndarray) or values.ndim != 2:
        raise ValueError("values must be a 2-d float32 array")
    n, w = values.shape
    vp = _buf("values", values, np.float32, (n, w))
    ap = ffi.NULL if alive is None else _buf("alive", alive, np.uint8, (n,))
    return int(lib.sp_find_nonfinite(vp, n, w, ap))


def move(pos: np.ndarray, vel: np.ndarray, alive: np.ndarray, cell: np.ndarray, n: int,
         dt: float, max_speed: float, world: tuple[float, float, float, float, float],
         grid: tuple[int, int], changed: np.ndarray) -> np.ndarray:
    """Integrate rows 0..n-1 in place; return the indices whose grid cell changed.

    ``world`` is (width, height, zmin, zmax, cell_size), ``grid`` (nx, ny);
    the result is a view of ``changed`` (capacity >= n). All-or-nothing.
    """
    n = _count(n, pos)
    pp = _buf("pos", pos, np.float32, (None, 3), writable=True, min_len=n)
    vp = _buf("vel", vel, np.float32, (None, 3), writable=True, min_len=n)
    ap = _buf("alive", alive, np.uint8, (None,), min_len=n)
    cp = _buf("cell", cell, np.int32, (None,), writable=True, min_len=n)
    chp = _buf("changed", changed, np.int32, (None,), writable=True, min_len=n)
    wp = ffi.new("double[5]", [float(v) for v in world])
    gp = ffi.new("int32_t[2]", [int(v) for v in grid])
    bad = ffi.new("int64_t *")
    got = lib.sp_move(pp, vp, ap, cp, n, float(dt), float(max_speed), wp, gp, chp, bad)
    if got < 0:
        _raise(got, bad[0], "move", {5: "dt (must be finite and >= 0)",
                                     6: "max_speed (must be >= 0)",
                                     7: "world (cell size > 0, grid >= 1x1, zmin <= zmax)"})
    return changed[:got]


def baseline_move(pos: np.ndarray, vel: np.ndarray, dt: float, max_speed: float,
                  world: tuple[float, float, float, float]) -> None:
    """The plain C loop (no checks, no cells): the movement benchmark's baseline."""
    n = pos.shape[0] if isinstance(pos, np.ndarray) else 0
    pp = _buf("pos", pos, np.float32, (n, 3), writable=True)
    vp = _buf("vel", vel, np.float32, (n, 3), writable=True)
    lib.sp_baseline_move(pp, vp, n, dt, max_speed, *world)


def aoi_update(pos: np.ndarray, alive: np.ndarray, view: np.ndarray, n: int,
               radii: np.ndarray, margins: np.ndarray, cell_size: float, grid: tuple[int, int],
               scratch: dict[str, np.ndarray], prev: tuple[np.ndarray, np.ndarray, int],
               new: tuple[np.ndarray, np.ndarray], enter: np.ndarray, leave: np.ndarray,
               due: np.ndarray | None = None) -> tuple[int, int, int]:
    """One AOI tick in C; returns (visible total, enters, leaves).

    ``due`` (uint8, >= n; None: every observer) names the observers to scan;
    the others keep their previous row, less entities no longer alive.

    ``scratch`` holds ``grid_start`` (nx*ny+1), ``grid_ents``, ``grid_pos``
    (n x 2 float32), ``cell_tmp``, ``stamp`` (>= n each) and ``stamp_state`` (1). ``prev`` is (offsets,
    entities, rows), ``new`` is (offsets, entities) to fill; ``enter`` and
    ``leave`` are (cap, 2) int32. Raises CapacityError with the sizes
    needed when an output is too small (the previous state is untouched).
    """
    n = _count(n, pos)
    nx, ny = int(grid[0]), int(grid[1])
    k = radii.shape[0] if isinstance(radii, np.ndarray) else 0
    prev_off, prev_ents, prev_rows = prev
    new_off, new_ents = new
    args = (
        _buf("pos", pos, np.float32, (None, 3), min_len=n),
        _buf("alive", alive, np.uint8, (None,), min_len=n),
        _buf("view", view, np.int8, (None,), min_len=n),
        ffi.NULL if due is None else _buf("due", due, np.uint8, (None,), min_len=n),
        n,
        _buf("radii", radii, np.float64, (k,)),
        _buf("margins", margins, np.float64, (k,)),
        k,
        float(cell_size),
        ffi.new("int32_t[2]", [nx, ny]),
        _buf("grid_start", scratch["grid_start"], np.int32, (None,), writable=True,
             min_len=nx * ny + 1),
        _buf("grid_ents", scratch["grid_ents"], np.int32, (None,), writable=True, min_len=n),
        _buf("grid_pos", scratch["grid_pos"], np.float32, (None, 2), writable=True, min_len=n),
        _buf("cell_tmp", scratch["cell_tmp"], np.int32, (None,), writable=True, min_len=n),
        _buf("stamp", scratch["stamp"], np.uint32, (None,), writable=True, min_len=n),
        _buf("stamp_state", scratch["stamp_state"], np.uint32, (1,), writable=True),
        _buf("prev offsets", prev_off, np.int32, (None,), min_len=int(prev_rows) + 1),
        _buf("prev entities", prev_ents, np.int32, (None,)),
        int(prev_rows),
        prev_ents.shape[0],
        _buf("new offsets", new_off, np.int32, (None,), writable=True, min_len=n + 1),
        _buf("new entities", new_ents, np.int32, (None,), writable=True),
        new_ents.shape[0],
        _buf("enter", enter, np.int32, (None, 2), writable=True),
        enter.shape[0],
        _buf("leave", leave, np.int32, (None, 2), writable=True),
        leave.shape[0],
    )
    counts = ffi.new("int64_t[3]")
    bad = ffi.new("int64_t *")
    code = lib.sp_aoi_update(*args, counts, bad)
    if code == lib.SP_ERR_CAPACITY:
        needed = (int(counts[0]), int(counts[1]), int(counts[2]))
        raise CapacityError(f"aoi_update: outputs too small, need {needed}", needed)
    if code < 0:
        _raise(code, bad[0], "aoi_update", {
            3: "n", 4: "radii (must be finite and >= 0)", 5: "margins (must be finite and >= 0)",
            7: "cell_size (must be finite and > 0)", 8: "grid (nx, ny >= 1)",
            14: "prev rows (must be <= n)"})
    return int(counts[0]), int(counts[1]), int(counts[2])


def pack_updates(clients: np.ndarray, offsets: np.ndarray, entities: np.ndarray, rows: int,
                 guids: np.ndarray, pos: np.ndarray, n: int, type_id: int,
                 out: np.ndarray, bounds: np.ndarray) -> int:
    """Pack every client's position-update frame into ``out``; return bytes used.

    ``bounds[j]:bounds[j+1]`` of ``out`` is client j's msgpack frame.
    Raises CapacityError(needed=(bytes,)) when ``out`` is too small.
    """
    n = _count(n, pos)
    nclients = clients.shape[0] if isinstance(clients, np.ndarray) else 0
    if not 0 <= int(rows) <= n:
        raise ValueError(f"pack_updates: rows {rows} must lie in 0..{n}")
    bad = ffi.new("int64_t *")
    got = lib.sp_pack_updates(
        _buf("clients", clients, np.int32, (nclients,)), nclients,
        _buf("offsets", offsets, np.int32, (None,), min_len=int(rows) + 1),
        _buf("entities", entities, np.int32, (None,)), int(rows), entities.shape[0],
        _buf("guids", guids, np.uint64, (None,), min_len=n),
        _buf("pos", pos, np.float32, (None, 3), min_len=n), n, int(type_id),
        _buf("out", out, np.uint8, (None,), writable=True), out.shape[0],
        _buf("bounds", bounds, np.int64, (None,), writable=True, min_len=nclients + 1),
        bad,
    )
    if got == lib.SP_ERR_CAPACITY:
        raise CapacityError(f"pack_updates: output too small, need {bad[0]} bytes", (int(bad[0]),))
    if got < 0:
        _raise(got, bad[0], "pack_updates", {9: "type_id (must be >= 0)"})
    return int(got)


def pick_updates(seen: np.ndarray, seen_off: np.ndarray, obs_xy: np.ndarray, phase: np.ndarray,
                 moved: np.ndarray, ages: np.ndarray, moved_xy: np.ndarray,
                 bands2: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``moved`` each observer gets this tick (``sp_pick_updates``).

    Returns ``(picked, ends)``: observer k's rows are ``picked[ends[k-1]:ends[k]]``.
    """
    nobs = phase.shape[0] if isinstance(phase, np.ndarray) else 0
    nseen = seen.shape[0] if isinstance(seen, np.ndarray) else 0
    nmoved = moved.shape[0] if isinstance(moved, np.ndarray) else 0
    nbands = bands2.shape[0] if isinstance(bands2, np.ndarray) else 0
    stride = moved_xy.shape[1] if isinstance(moved_xy, np.ndarray) and moved_xy.ndim == 2 else 0
    out = np.empty(nseen, np.int64)
    ends = np.empty(nobs, np.int64)
    bad = ffi.new("int64_t *")
    got = lib.sp_pick_updates(
        _buf("seen", seen, np.uint64, (nseen,)),
        _buf("seen_off", seen_off, np.int64, (nobs + 1,)), nobs, nseen,
        _buf("obs_xy", obs_xy, np.float64, (nobs, 2)),
        _buf("phase", phase, np.int8, (nobs,)),
        _buf("moved", moved, np.uint64, (nmoved,)),
        _buf("ages", ages, np.int8, (nmoved,)),
        _buf("moved_xy", moved_xy, np.float64, (nmoved, None)), stride, nmoved,
        _buf("bands2", bands2, np.float64, (nbands,)),
        _buf("masks", masks, np.int8, (nbands + 1,)), nbands,
        _buf("out", out, np.int64, (nseen,), writable=True), nseen,
        _buf("ends", ends, np.int64, (nobs,), writable=True),
        bad,
    )
    if got < 0:
        _raise(got, bad[0], "pick_updates", {
            6: "moved (a Guid comes twice)", 9: "moved_xy (needs x and y columns)",
            13: "bands2 (at most 16)"})
    return out[:got], ends



def view_diffs(off: np.ndarray, ents: np.ndarray, may_see: np.ndarray, rank: np.ndarray, by_rank: np.ndarray,
               obs_slot: np.ndarray, old: np.ndarray, old_off: np.ndarray) -> tuple[np.ndarray, ...]:
    """Views recomputed from the AOI rows and what changed (``sp_view_diffs``).

    Returns ``(view, view_end, added, added_end, kept, kept_end, removed,
    removed_end, seen)``: observer k's part of each is ``[end[k-1]:end[k]]``;
    ``seen`` is a bool per slot: in some observer's view.
    """
    nrows = off.shape[0] - 1 if isinstance(off, np.ndarray) and off.ndim == 1 and off.shape[0] else 0
    nents = ents.shape[0] if isinstance(ents, np.ndarray) else 0
    nslots = rank.shape[0] if isinstance(rank, np.ndarray) else 0
    nobs = obs_slot.shape[0] if isinstance(obs_slot, np.ndarray) else 0
    nold = old.shape[0] if isinstance(old, np.ndarray) else 0
    offp = _buf("off", off, np.int32, (nrows + 1,)) if nrows else ffi.new("int32_t[]", 1)
    cap = 0
    if nobs and nrows and isinstance(obs_slot, np.ndarray):  # out-of-range slots: C names them
        at = np.clip(obs_slot.astype(np.int64, copy=False), 0, nrows - 1)
        cap = int((off[at + 1].astype(np.int64) - off[at]).sum())
    view, added, kept = (np.empty(cap, np.uint64) for _ in range(3))
    removed = np.empty(nold, np.uint64)
    seen = np.zeros(nslots, np.uint8)
    ends = np.empty((4, nobs), np.int64)
    bad = ffi.new("int64_t *")
    got = lib.sp_view_diffs(
        offp, _buf("ents", ents, np.int32, (nents,)), nrows, nents,
        _buf("may_see", may_see, np.uint8, (nslots,)), _buf("rank", rank, np.int32, (nslots,)),
        _buf("by_rank", by_rank, np.uint64, (nslots,)), nslots,
        _buf("obs_slot", obs_slot, np.int64, (nobs,)), nobs,
        _buf("old", old, np.uint64, (nold,)), _buf("old_off", old_off, np.int64, (nobs + 1,)), nold,
        *(p for name, values, ends_k in (("view", view, 0), ("added", added, 1), ("kept", kept, 2))
          for p in (_buf(name, values, np.uint64, (cap,), writable=True),
                    _buf(f"{name}_end", ends[ends_k], np.int64, (nobs,), writable=True))), cap,
        _buf("removed", removed, np.uint64, (nold,), writable=True),
        _buf("removed_end", ends[3], np.int64, (nobs,), writable=True), nold,
        _buf("seen", seen, np.uint8, (nslots,), writable=True), bad,
    )
    if got < 0:
        _raise(got, bad[0], "view_diffs", {
            5: "rank (each must be a slot index)", 8: "obs_slot (each must be a row of off)",
            11: "old (each observer's must be strictly ascending)"})
    return (view[:got], ends[0], added, ends[1], kept, ends[2], removed, ends[3], seen.view(bool))


BATCH_BAD = -10
"""check_batch: the bytes are not a valid batch (the Python decoder says why)."""
BATCH_UNSUPPORTED = -11
"""check_batch: the batch holds fields only the Python decoder can check."""


def check_batch(data: bytes | bytearray | memoryview, tids: np.ndarray, arity: np.ndarray,
                schema_at: np.ndarray, schema: np.ndarray, max_messages: int) -> tuple[int, int, int]:
    """Validate a msgpack message batch against a schema table without unpacking it.

    Returns (code, message index, field index): code >= 0 is the message
    count of a valid batch, else BATCH_BAD or BATCH_UNSUPPORTED. The schema
    arrays come from ``engine.codec._native_check``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    k = tids.shape[0] if isinstance(tids, np.ndarray) else 0
    view = memoryview(data)
    if not view.c_contiguous or view.itemsize != 1:
        view = memoryview(bytes(view))
    dp = ffi.from_buffer("uint8_t[]", view) if len(view) else ffi.new("uint8_t[]", 1)
    where = ffi.new("int64_t[2]")
    code = lib.sp_check_batch(
        dp, len(view),
        _buf("tids", tids, np.int64, (k,)), _buf("arity", arity, np.int32, (k,)),
        _buf("schema_at", schema_at, np.int32, (k + 1,)), k,
        _buf("schema", schema, np.uint8, (None,)), schema.shape[0], int(max_messages), where)
    if code == lib.SP_ERR_ARG:
        raise ValueError("check_batch: inconsistent schema table")
    return int(code), int(where[0]), int(where[1])


def _count(n: int, pos: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    n = int(n)
    limit = pos.shape[0] if isinstance(pos, np.ndarray) and pos.ndim >= 1 else 0
    if not 0 <= n <= limit:
        raise ValueError(f"n = {n} must lie in 0..{limit} (the rows of pos)")
    return n
