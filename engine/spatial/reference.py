"""Pure-Python references for the C core: the definition the C code must match.

Each function does what one C function does, on plain lists, written for
clarity rather than speed (they are also the benchmark's "pure Python"
baselines, so they are not wilfully slow either). The tests run both on
random worlds and compare. Arithmetic follows the C code exactly: double
precision, values stored back to float32 rounded to nearest.

>>> pos, vel, cell = [[0.0, 0.0, 0.0]], [[3.0, 4.0, 0.0]], [0]
>>> move(pos, vel, [1], cell, dt=1.0, max_speed=2.5, world=(100, 100, -1, 1, 10), grid=(10, 10))
[]
>>> pos, vel
([[1.5, 2.0, 0.0]], [[1.5, 2.0, 0.0]])
>>> rows, enter, leave = aoi_update([[0, 0, 0], [3, 4, 0]], [1, 1], [0, -1], [5.0], [1.0],
...                                 10.0, (10, 10), [])
>>> rows, enter, leave
([[1], []], [(0, 1)], [])
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import msgpack

from engine.spatial._config import axis_cell

_F32 = struct.Struct("=f")

# The same padding of the AOI box query as native/aoi.c.
BOX_REL = 1e-9
BOX_ABS = 1e-6


class ReferenceInputError(ValueError):
    """A bad input, with ``index`` naming the entity (or row, or argument)."""

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index


def f32(v: float) -> float:
    """Round a double to the nearest float32, as C's ``(float)v`` does."""
    try:
        return _F32.unpack(_F32.pack(v))[0]
    except OverflowError:
        return math.copysign(math.inf, v)


def _finite3(p: Sequence[float]) -> bool:
    return math.isfinite(p[0]) and math.isfinite(p[1]) and math.isfinite(p[2])


def find_nonfinite(values: Sequence[Sequence[float]], alive: Sequence[int] | None) -> int:
    """First live row holding a NaN or infinity, or -1."""
    for i, row in enumerate(values):
        if alive is not None and not alive[i]:
            continue
        if not all(math.isfinite(v) for v in row):
            return i
    return -1


def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else (hi if v > hi else v)


def move(pos: list[list[float]], vel: list[list[float]], alive: Sequence[int], cell: list[int],
         dt: float, max_speed: float, world: Sequence[float], grid: Sequence[int]) -> list[int]:
    """Integrate in place like ``sp_move``; return the slots whose cell changed.

    float32 arithmetic, rounded after every operation as C does it
    (rounding a double result to float32 is exact emulation for + - * and
    sqrt of float32 inputs); the over-speed rescale is done in double.
    """
    width, height, zmin, zmax, cs = world
    nx, ny = grid
    for i in range(len(pos)):
        if alive[i] and not (_finite3(pos[i]) and _finite3(vel[i])):
            raise ReferenceInputError(f"entity {i} has a non-finite position or velocity", i)
    dtf, maxf = f32(dt), f32(max_speed)
    max2 = f32(maxf * maxf)
    width, height, zmin, zmax = f32(width), f32(height), f32(zmin), f32(zmax)
    changed = []
    for i in range(len(pos)):
        if not alive[i]:
            continue
        p, v = pos[i], vel[i]
        vx, vy, vz = v
        s2 = f32(f32(f32(vx * vx) + f32(vy * vy)) + f32(vz * vz))
        if s2 > max2:
            scale = max_speed / math.sqrt(vx * vx + vy * vy + vz * vz)
            vx, vy, vz = f32(vx * scale), f32(vy * scale), f32(vz * scale)
            v[0], v[1], v[2] = vx, vy, vz
        p[0] = _clamp(f32(p[0] + f32(vx * dtf)), 0.0, width)
        p[1] = _clamp(f32(p[1] + f32(vy * dtf)), 0.0, height)
        p[2] = _clamp(f32(p[2] + f32(vz * dtf)), zmin, zmax)
        c = axis_cell(p[1], cs, ny) * nx + axis_cell(p[0], cs, nx)
        if c != cell[i]:
            cell[i] = c
            changed.append(i)
    return changed


def aoi_update(pos: Sequence[Sequence[float]], alive: Sequence[int], view: Sequence[int],
               radii: Sequence[float], margins: Sequence[float], cell_size: float,
               grid: Sequence[int], prev: Sequence[Sequence[int]], due: Sequence[int] | None = None,
               ) -> tuple[list[list[int]], list[tuple[int, int]], list[tuple[int, int]]]:
    """One AOI tick like ``sp_aoi_update``: (rows, enter pairs, leave pairs).

    ``prev`` holds last tick's row of each slot (it may be shorter than
    ``pos``: newer slots had none). Each row lists the slots its observer
    sees; order within a row is unspecified, events come grouped by
    ascending observer. A live observer with a false ``due[o]`` is not
    scanned: it keeps its previous row (none: empty), less the entities no
    longer alive, which leave.
    """
    n = len(pos)
    nx, ny = grid
    if len(prev) > n:
        raise ReferenceInputError("more previous rows than entities", len(prev))
    for i in range(n):
        if not alive[i]:
            continue
        if not _finite3(pos[i]):
            raise ReferenceInputError(f"entity {i} has a non-finite position", i)
        if not -1 <= view[i] < len(radii):
            raise ReferenceInputError(f"entity {i} has view class {view[i]}", i)
    for row in prev:
        for e in row:
            if not 0 <= e < n:
                raise ReferenceInputError(f"previous view names slot {e}", e)
    cells: dict[tuple[int, int], list[int]] = {}
    for i in range(n):
        if alive[i]:
            key = (axis_cell(pos[i][0], cell_size, nx), axis_cell(pos[i][1], cell_size, ny))
            cells.setdefault(key, []).append(i)
    rows: list[list[int]] = []
    enter: list[tuple[int, int]] = []
    leave: list[tuple[int, int]] = []
    for o in range(n):
        before = prev[o] if o < len(prev) else []
        if not alive[o] or view[o] < 0:
            rows.append([])
            leave.extend((o, e) for e in before)
            continue
        if due is not None and not due[o]:
            rows.append([e for e in before if alive[e]])
            leave.extend((o, e) for e in before if not alive[e])
            continue
        was = set(before)
        k = view[o]
        r, rm = radii[k], radii[k] + margins[k]
        r2, rm2 = r * r, rm * rm
        reach = rm + rm * BOX_REL + BOX_ABS
        ox, oy = float(pos[o][0]), float(pos[o][1])
        x0, x1 = axis_cell(ox - reach, cell_size, nx), axis_cell(ox + reach, cell_size, nx)
        y0, y1 = axis_cell(oy - reach, cell_size, ny), axis_cell(oy + reach, cell_size, ny)
        row = []
        for cy in range(y0, y1 + 1):
            for cx in range(x0, x1 + 1):
                for e in cells.get((cx, cy), ()):
                    if e == o:
                        continue
                    dx, dy = pos[e][0] - ox, pos[e][1] - oy
                    d2 = dx * dx + dy * dy
                    if d2 <= r2 or (d2 <= rm2 and e in was):
                        row.append(e)
                        if e not in was:
                            enter.append((o, e))
        rows.append(row)
        now = set(row)
        gone = set()
        for e in before:
            if e not in now and e not in gone:
                leave.append((o, e))
                gone.add(e)
    return rows, enter, leave


def brute_force_views(pos: Sequence[Sequence[float]], alive: Sequence[int], view: Sequence[int],
                      radii: Sequence[float], margins: Sequence[float],
                      prev: Sequence[Sequence[int]]) -> list[set[int]]:
    """The views without any grid: every pair tested. What aoi_update must equal."""
    out = []
    for o in range(len(pos)):
        if not alive[o] or view[o] < 0:
            out.append(set())
            continue
        k = view[o]
        r, rm = radii[k], radii[k] + margins[k]
        r2, rm2 = r * r, rm * rm
        was = set(prev[o]) if o < len(prev) else set()
        seen = set()
        for e in range(len(pos)):
            if e != o and alive[e]:
                dx, dy = pos[e][0] - pos[o][0], pos[e][1] - pos[o][1]
                d2 = dx * dx + dy * dy
                if d2 <= r2 or (d2 <= rm2 and e in was):
                    seen.add(e)
        out.append(seen)
    return out


def pack_updates(clients: Sequence[int], rows: Sequence[Sequence[int]], guids: Sequence[int],
                 pos: Sequence[Sequence[float]], type_id: int = 100) -> list[bytes]:
    """Each client's frame, built with Python msgpack like ``sp_pack_updates``."""
    frames = []
    for c in clients:
        to = guids[c]
        batch = []
        for e in rows[c]:
            p = pos[e]
            if not _finite3(p):
                raise ReferenceInputError(f"entity {e} has a non-finite position", e)
            batch.append((type_id, to, guids[e], p[0], p[1], p[2]))
        frames.append(msgpack.packb(batch))
    return frames


def pick_updates(seen: Sequence[Sequence[int]], obs_xy: Sequence[Sequence[float]], phase: Sequence[int],
                 moved: Sequence[int], ages: Sequence[int], moved_xy: Sequence[Sequence[float]],
                 bands: Sequence[float], masks: Sequence[int]) -> list[list[int]]:
    """Per observer, the indexes into ``moved`` it gets this tick, as ``sp_pick_updates`` picks them.

    Observer k sees the Guids ``seen[k]``; of those that moved lately
    (``moved[j]``, ``ages[j]`` ticks ago, at ``moved_xy[j]``) it gets all on
    its catch-up tick (``phase[k] == 0``), else those whose ``age <= mask``
    and ``phase[k] & mask == 0``, where ``mask`` is ``masks[b]`` and ``b``
    the number of ``bands`` radii the body is at least as far as.
    """
    where = {g: j for j, g in enumerate(moved)}
    out = []
    for k, guids in enumerate(seen):
        ox, oy = obs_xy[k][0], obs_xy[k][1]
        picked = []
        for g in guids:
            j = where.get(g)
            if j is None:
                continue
            if phase[k] == 0:
                picked.append(j)
                continue
            dx, dy = moved_xy[j][0] - ox, moved_xy[j][1] - oy
            d2 = dx * dx + dy * dy
            band = sum(1 for r in bands if d2 >= r * r)
            mask = masks[band]
            if ages[j] <= mask and phase[k] & mask == 0:
                picked.append(j)
        out.append(picked)
    return out


def view_diffs(rows: Sequence[Sequence[int]], may_see: Sequence[bool], guids: Sequence[int],
               observers: Sequence[int], old: Sequence[Sequence[int]]) -> list[tuple[list[int], ...]]:
    """Per observer, (view, added, kept, removed) as ``sp_view_diffs`` computes them.

    Observer k stands in slot ``observers[k]`` and sees the Guids of the
    slots of its row ``rows[slot]`` that ``may_see`` lets through, other
    than its own, sorted; ``old[k]`` is what it saw before.
    """
    out = []
    for k, me in enumerate(observers):
        view = sorted({guids[s] for s in rows[me] if may_see[s] and s != me})
        before = set(old[k])
        now = set(view)
        out.append((view, [g for g in view if g not in before], [g for g in view if g in before],
                    sorted(before - now)))
    return out
