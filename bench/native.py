"""Benchmark of the native core: ``python -m bench native [--json]``.

Scenario (issue 3): a 4096 x 4096 world, every entity an observer with view
radius 100 (hysteresis margin 5), every entity moving about 3 units per
tick (60 units/s at 20 Hz) in a random direction. Each C figure is printed
beside its baseline, measured in the same run on the same data:

- AOI full update with enter/leave events, 10,000 and 50,000 entities,
  against the pure-Python reference (``engine.spatial.reference``), each
  at its own best cell size (C: 24, Python: 64, measured on this scenario;
  the Python reference pays a dict lookup per cell, so it wants big cells);
- movement integration through the engine face (``integrate``) against a
  per-object Python loop and against a plain C loop doing the same
  integration (speed limit, world bounds) with no checks or cell tracking;
- update packing, one frame per observer, against Python msgpack.

Medians of repeated runs; the machine is shared, so expect noise.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import native
from bench._report import Row
from engine.spatial import SpatialWorld, WorldConfig, integrate, pick_updates, reference, view_diffs

DT = 0.05
PICK_BANDS = (20.0, 40.0)
"""The demo game's distance bands (m): moves every tick, every second, every fourth beyond."""
REF_CELL = 64.0
SPEED = 60.0
CONFIG = WorldConfig(width=4096, height=4096, cell_size=24, view_radii=(100,), margins=(5,),
                     z_min=-100, z_max=100, max_speed=100)


def _world(n: int, seed: int = 1) -> SpatialWorld:
    rng = np.random.default_rng(seed)
    world = SpatialWorld(CONFIG, capacity=n)
    xy = rng.uniform(0, 4096, (n, 2))
    angle = rng.uniform(0, 2 * math.pi, n)
    for i in range(n):
        world.add(0x0800_0000_0010_0000 + i, (xy[i, 0], xy[i, 1], 0.0),
                  vel=(SPEED * math.cos(angle[i]), SPEED * math.sin(angle[i]), 0.0), view_class=0)
    world.step(DT)   # places everyone and fills the views (the first tick: all enter)
    return world


def _median_ms(fn: Callable[[], object], repeat: int, between: Callable[[], object] | None = None,
               inner: int = 1) -> float:
    """Median wall time of ``fn`` in ms (``inner`` calls per sample, averaged)."""
    samples = []
    for _ in range(repeat):
        if between is not None:
            between()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) * 1000.0 / inner)
    return statistics.median(samples)


def _bounce(world: SpatialWorld) -> Callable[[], object]:
    """Movement between timed AOI ticks; reflect velocities at the walls."""
    table = world.table

    def move() -> None:
        integrate(table, DT)
        n = table.n
        for axis in (0, 1):
            p, v = table.pos[:n, axis], table.vel[:n, axis]
            v[(p <= 0) | (p >= 4096)] *= -1
    return move


def _aoi_rows(n: int, progress: Callable[[str], None], ref_repeat: int,
              target_ms: float, target_speedup: float | None) -> list[Row]:
    progress(f"AOI: building a world of {n} entities")
    world = _world(n)
    table, aoi = world.table, world.aoi
    move = _bounce(world)
    progress(f"AOI: C, {n} entities")
    c_ms = _median_ms(lambda: aoi.update(table), repeat=30, between=move)
    per_observer = aoi.pairs() / n
    progress(f"AOI: Python reference, {n} entities ({ref_repeat} ticks)")
    off, ents = aoi.csr()
    flat = ents.tolist()
    prev = [flat[off[o]: off[o + 1]] for o in range(n)]
    radii, margins = CONFIG.view_radii, CONFIG.margins
    ref_grid = (math.ceil(CONFIG.width / REF_CELL), math.ceil(CONFIG.height / REF_CELL))

    def ref_tick() -> None:
        nonlocal prev
        prev = reference.aoi_update(table.pos[:n].tolist(), table.alive[:n].tolist(),
                                    table.view[:n].tolist(), radii, margins, REF_CELL,
                                    ref_grid, prev)[0]
    py_ms = _median_ms(ref_tick, repeat=ref_repeat, between=move)
    speedup = py_ms / c_ms
    met = c_ms <= target_ms and (target_speedup is None or speedup >= target_speedup)
    target = f"<= {target_ms:g} ms"
    if target_speedup is not None:
        target += f" and ratio <= {1 / target_speedup:.4g} (>= {target_speedup:g}x)"
    return [
        Row(f"AOI update, {n:,} entities (C vs Python ref)", c_ms, "ms/tick", py_ms, target, met),
        Row(f"AOI speedup over Python, {n:,}", speedup, "x"),
        Row(f"entities in view per observer, {n:,}", per_observer, "entities"),
    ]


class _Body:
    __slots__ = ("x", "y", "z", "vx", "vy", "vz", "cell")


def _python_move(bodies: list[_Body], dt: float, max_speed: float) -> list[int]:
    """What a per-object Python loop does for the same integration."""
    width, height, zmin, zmax, cs = CONFIG.world_box
    nx, ny = CONFIG.grid
    max2 = max_speed * max_speed
    changed = []
    for i, b in enumerate(bodies):
        s2 = b.vx * b.vx + b.vy * b.vy + b.vz * b.vz
        if s2 > max2:
            k = max_speed / math.sqrt(s2)
            b.vx *= k
            b.vy *= k
            b.vz *= k
        b.x = min(max(b.x + b.vx * dt, 0.0), width)
        b.y = min(max(b.y + b.vy * dt, 0.0), height)
        b.z = min(max(b.z + b.vz * dt, zmin), zmax)
        cx = min(max(int(b.x // cs), 0), nx - 1)
        cy = min(max(int(b.y // cs), 0), ny - 1)
        c = cy * nx + cx
        if c != b.cell:
            b.cell = c
            changed.append(i)
    return changed


def _movement_rows(n: int, progress: Callable[[str], None]) -> list[Row]:
    progress(f"movement: {n} entities")
    world = _world(n, seed=2)
    table = world.table
    c_us = 1000 * _median_ms(lambda: integrate(table, DT), repeat=41, inner=50)
    pos, vel = table.pos[:n].copy(), table.vel[:n].copy()
    box = (CONFIG.width, CONFIG.height, CONFIG.z_min, CONFIG.z_max)
    plain_us = 1000 * _median_ms(lambda: native.baseline_move(pos, vel, DT, CONFIG.max_speed, box),
                                 repeat=41, inner=50)
    bodies = []
    for (x, y, z), (vx, vy, vz), c in zip(table.pos[:n].tolist(), table.vel[:n].tolist(),
                                          table.cell[:n].tolist(), strict=True):
        b = _Body()
        b.x, b.y, b.z, b.vx, b.vy, b.vz, b.cell = x, y, z, vx, vy, vz, c
        bodies.append(b)
    py_us = 1000 * _median_ms(lambda: _python_move(bodies, DT, CONFIG.max_speed), repeat=7)
    return [
        Row(f"movement, {n:,} entities (C vs Python loop)", c_us, "us/tick", py_us,
            ">= 50x (ratio <= 0.02)", c_us * 50 <= py_us),
        Row(f"movement, {n:,} entities (C vs plain C loop)", c_us, "us/tick", plain_us,
            "within 3x (ratio <= 3)", c_us <= 3 * plain_us),
    ]


def _packing_rows(n: int, progress: Callable[[str], None]) -> list[Row]:
    progress(f"packing: world of {n} entities, one frame per observer")
    world = _world(n, seed=3)
    table, aoi, packer = world.table, world.aoi, world.packer
    world.step(DT)
    clients = table.observers()
    frames = packer.pack(table, aoi, clients)
    c_ms = _median_ms(lambda: packer.pack(table, aoi, clients), repeat=30)

    def python_pack() -> list[bytes]:
        off, ents = aoi.csr()
        flat = ents.tolist()
        o = off.tolist()
        rows = [flat[o[c]: o[c + 1]] for c in range(len(o) - 1)]
        return reference.pack_updates(clients.tolist(), rows, table.guids[: table.n].tolist(),
                                      table.pos[: table.n].tolist())
    expected = python_pack()
    same = all(bytes(f) == e for f, e in zip(frames, expected, strict=True))
    py_ms = _median_ms(python_pack, repeat=5)
    per_client = aoi.pairs() / max(1, len(clients))
    return [
        Row(f"update packing, {len(clients):,} clients (C vs Python msgpack)", c_ms, "ms/tick", py_ms,
            "<= 6 ms and >= 10x (ratio <= 0.1)", c_ms <= 6 and c_ms * 10 <= py_ms),
        Row(f"updates per client ({frames.nbytes / 1e6:.1f} MB/tick)", per_client, "entities"),
        Row("C frames identical to Python msgpack bytes", float(same), "bool", None, "1", same),
    ]


def _numpy_picks(views: list[np.ndarray], xy: np.ndarray, phase: np.ndarray, moved: np.ndarray,
                 ages: np.ndarray, moved_xy: np.ndarray) -> np.ndarray:
    """What the World did before ``pick_updates``: whole-array numpy passes over the pairs."""
    counts = np.fromiter((len(v) for v in views), np.int64, len(views))
    flat = np.concatenate(views)
    at = np.minimum(np.searchsorted(moved, flat), len(moved) - 1)
    hit = moved[at] == flat
    owner = np.repeat(np.arange(len(views), dtype=np.int32), counts)[hit]
    at = at[hit]
    dx = moved_xy[at, 0] - xy[owner, 0]
    dy = moved_xy[at, 1] - xy[owner, 1]
    d2 = dx * dx + dy * dy
    mask = (d2 >= PICK_BANDS[0] ** 2).astype(np.int8)
    mask[d2 >= PICK_BANDS[1] ** 2] = 3
    ph = phase[owner]
    due = ((ages[at] <= mask) & ((ph & mask) == 0)) | (ph == 0)
    return at[due]


def _picking_rows(observers: int, progress: Callable[[str], None]) -> list[Row]:
    """Update picking at bench game's size: 1,000 players seeing about 130 of 3,000 bodies."""
    progress(f"update picking: {observers} observers")
    rng = np.random.default_rng(4)
    bodies = np.sort(rng.choice(2**40, 3000, replace=False).astype(np.uint64))
    moved_at = np.sort(rng.choice(len(bodies), 2000, replace=False))
    moved, ages = bodies[moved_at], rng.integers(0, 4, len(moved_at)).astype(np.int8)
    moved_xy = rng.uniform(0, 120, (len(moved), 4))
    views = [np.sort(rng.choice(bodies, 130, replace=False)) for _ in range(observers)]
    xy = rng.uniform(0, 120, (observers, 2))
    phase = rng.integers(0, 4, observers).astype(np.int8)

    def c_picks() -> np.ndarray:
        return pick_updates(views, xy, phase, moved=moved, ages=ages, moved_xy=moved_xy, bands=PICK_BANDS,
                            masks=(0, 1, 3))[0]

    same = bool(np.array_equal(c_picks(), _numpy_picks(views, xy, phase, moved, ages, moved_xy)))
    c_ms = _median_ms(c_picks, repeat=30)
    np_ms = _median_ms(lambda: _numpy_picks(views, xy, phase, moved, ages, moved_xy), repeat=30)
    lists = [v.tolist() for v in views]
    given = (lists, xy.tolist(), phase.tolist(), moved.tolist(), ages.tolist(), moved_xy.tolist())
    py_ms = _median_ms(lambda: reference.pick_updates(*given, PICK_BANDS, (0, 1, 3)), repeat=3)
    return [
        Row(f"update picking, {observers:,} observers x 130 seen (C vs the numpy passes it replaced)", c_ms,
            "ms/tick", np_ms, ">= 2x (ratio <= 0.5)", c_ms * 2 <= np_ms),
        Row(f"update picking, {observers:,} observers (C vs the pure-Python reference)", c_ms, "ms/tick",
            py_ms, "reported", None),
        Row("C picks identical to the numpy passes", float(same), "bool", None, "1", same),
    ]


def _python_view_diffs(off: np.ndarray, ents: np.ndarray, may_see: np.ndarray, guids: np.ndarray,
                       slots: np.ndarray, old: list[np.ndarray]) -> list[tuple[list[int], list[int], Any]]:
    """What the World did before ``view_diffs``: per player a sorted array, a set and two set differences."""
    out = []
    for k, slot in enumerate(slots.tolist()):
        e = ents[off[slot]: off[slot + 1]]
        e = e[may_see[e] & (e != slot)]
        view = np.sort(guids[e])
        visible, seen = set(view.tolist()), set(old[k].tolist())
        kept = np.sort(np.fromiter(visible & seen, np.uint64))
        out.append((sorted(visible - seen), sorted(seen - visible), kept))
    return out


def _view_diff_rows(observers: int, progress: Callable[[str], None]) -> list[Row]:
    """Views recomputed at bench game's size: a quarter of 1,000 players a tick, 130 of 3,000 bodies each."""
    progress(f"view diffs: {observers} observers")
    rng = np.random.default_rng(5)
    n = 3000
    guids = rng.choice(2**40, n, replace=False).astype(np.uint64)
    rows = [rng.choice(n, 135, replace=False).astype(np.int32) for _ in range(n)]
    off = np.zeros(n + 1, np.int32)
    np.cumsum([len(r) for r in rows], out=off[1:])
    ents = np.concatenate(rows)
    may_see = rng.random(n) < 0.97
    slots = rng.choice(n, observers, replace=False).astype(np.int64)
    old = []
    for slot in slots.tolist():  # what each saw a cycle ago: its view now, two bodies left and two come
        e = ents[off[slot]: off[slot + 1]]
        view = guids[e[may_see[e] & (e != slot)]]
        old.append(np.sort(np.concatenate([view[2:], rng.choice(guids, 2)])))
    old = [np.unique(v) for v in old]

    def c_diffs() -> object:
        return view_diffs(off, ents, may_see, guids, slots, old)

    d = c_diffs()
    python = _python_view_diffs(off, ents, may_see, guids, slots, old)
    same = all(d.of(k)[1] == came and d.of(k)[3] == went and d.of(k)[2] == kept.tolist()
               for k, (came, went, kept) in enumerate(python))
    c_ms = _median_ms(c_diffs, repeat=30)
    py_ms = _median_ms(lambda: _python_view_diffs(off, ents, may_see, guids, slots, old), repeat=5)
    return [
        Row(f"view diffs, {observers:,} observers x 130 seen (C vs the Python sets it replaced)", c_ms,
            "ms/tick", py_ms, ">= 5x (ratio <= 0.2)", c_ms * 5 <= py_ms),
        Row("C view diffs identical to the Python sets", float(same), "bool", None, "1", same),
    ]


def run(progress: Callable[[str], None]) -> list[Row]:
    """Every figure of the native benchmark, each beside its baseline."""
    rows = []
    rows += _aoi_rows(10_000, progress, ref_repeat=3, target_ms=5, target_speedup=30)
    rows += _aoi_rows(50_000, progress, ref_repeat=1, target_ms=50, target_speedup=None)
    rows += _movement_rows(10_000, progress)
    rows += _packing_rows(10_000, progress)
    rows += _picking_rows(1000, progress)
    rows += _view_diff_rows(250, progress)
    return rows
