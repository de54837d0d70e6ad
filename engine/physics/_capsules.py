"""The kinematic capsules and the controller that moves them, in contiguous numpy arrays.

Rules, applied once per engine tick to every capsule that wants to move,
is in the air or was just placed (docs/physics.md has the figures):

1. **Speed.** The desired horizontal velocity is capped at ``max_speed``.
2. **Walls.** Three horizontal rays (centre and both flanks, at ledge
   height) sweep the move against static boxes; the capsule stops ``skin``
   short of the first hit and slides along it once (a second sweep of the
   rest of the move, projected onto the wall). Then it is pushed out of any
   box it still overlaps (a corner that slipped between two rays).
3. **Ground.** One ray down at the destination, from head height, finds the
   highest surface (terrain or a box top). The move is refused (the capsule
   stays) if there is no ground, or if it rises and the surface is steeper
   than ``max_slope``, or rises more than ``step_height`` and more than the
   slope allows over the distance moved.
4. **Gravity.** A capsule whose ground drops away beyond what walking down
   a slope explains falls (``gravity``, capped at ``max_fall_speed``) and
   lands on the ground below. ``vz > 0`` on the ground is a jump.

All of it is arithmetic on arrays plus batched pybullet ray tests, so the
same inputs give the same poses every time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.physics._boxes import REACH, BoxTable
from engine.physics._terrain import Heightfield

RayFn = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
"""``rays(starts (k,3), ends (k,3), mask) -> (fraction, body, point, normal)``; body -1: no hit."""

_LATERAL = (-0.7, 0.0, 0.7)
"""Flank offsets of the wall rays, as fractions of the radius."""
_EPS = 1e-6


class Capsules:
    """Slot arrays for kinematic capsules; a removed slot is filled by the last one."""

    def __init__(self, capacity: int = 64):
        self.n = 0
        self.slot: dict[int, int] = {}
        """entity -> slot"""
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        old = self.__dict__.copy()
        self.capacity = capacity
        self.entity = np.zeros(capacity, np.uint64)
        self.owner = np.zeros(capacity, np.uint64)
        self.body = np.full(capacity, -1, np.int64)
        self.pos = np.zeros((capacity, 3))
        self.vel = np.zeros((capacity, 3))
        self.vz = np.zeros(capacity)
        self.ground = np.zeros(capacity, bool)
        self.settle = np.zeros(capacity, bool)
        self.radius = np.zeros(capacity)
        self.height = np.zeros(capacity)
        self.max_speed = np.zeros(capacity)
        self.cos_slope = np.zeros(capacity)
        self.tan_slope = np.zeros(capacity)
        self.sent_pos = np.full((capacity, 3), np.nan)
        self.sent_ground = np.zeros(capacity, bool)
        self.unsynced = np.zeros(capacity, bool)
        """Moved since its pybullet body was last placed (see PhysicsScene._sync_bodies)."""
        n = old.get("n", 0)
        for name in self._ARRAYS:
            if name in old:
                getattr(self, name)[:n] = old[name][:n]

    _ARRAYS = ("entity", "owner", "body", "pos", "vel", "vz", "ground", "settle", "radius", "height",
               "max_speed", "cos_slope", "tan_slope", "sent_pos", "sent_ground", "unsynced")

    def add(self, entity: int, owner: int, body: int, pos: tuple[float, float, float], radius: float,
            height: float, max_speed: float, max_slope: float) -> None:
        if self.n == self.capacity:
            self._alloc(self.capacity * 2)
        i = self.n
        self.n += 1
        self.slot[entity] = i
        self.entity[i] = entity
        self.owner[i] = owner
        self.body[i] = body
        self.pos[i] = pos
        self.vel[i] = 0.0
        self.vz[i] = 0.0
        self.ground[i] = False
        self.settle[i] = True
        self.radius[i] = radius
        self.height[i] = height
        self.max_speed[i] = max_speed
        self.cos_slope[i] = np.cos(max_slope)
        self.tan_slope[i] = np.tan(max_slope)
        self.sent_pos[i] = np.nan  # a new capsule's first pose is always sent
        self.sent_ground[i] = False
        self.unsynced[i] = False  # its body is created (or placed) where it stands

    def remove(self, entity: int) -> int:
        """Drop ``entity``; returns its pybullet body id."""
        i = self.slot.pop(entity)
        last = self.n - 1
        body = int(self.body[i])
        if i != last:
            for name in self._ARRAYS:
                array = getattr(self, name)
                array[i] = array[last]
            self.slot[int(self.entity[i])] = i
        self.n = last
        return body


def move(caps: Capsules, rays: RayFn, *, dt: float, gravity: float, step_height: float, skin: float,
         max_fall_speed: float, z_floor: float, z_ceiling: float, wall_mask: int,
         ground_mask: int, boxes: BoxTable | None = None, terrain: Heightfield | None = None) -> np.ndarray:
    """Run the controller for one tick; returns the slots whose position or ground contact changed.

    With ``terrain`` (and ``boxes``: the static boxes are all the ground
    besides it), the ground under a point no box is near is computed from
    the heightfield instead of by a ray.
    """
    n = caps.n
    if n == 0:
        return np.zeros(0, np.int64)
    vel = caps.vel[:n]
    ground_now = caps.ground[:n]
    active = (vel[:, 0] != 0) | (vel[:, 1] != 0) | (vel[:, 2] > 0) | ~ground_now | caps.settle[:n]
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return idx
    pos = caps.pos[idx]
    r, h, vmax = caps.radius[idx], caps.height[idx], caps.max_speed[idx]
    v = vel[idx]
    on_ground, settle, vz = caps.ground[idx], caps.settle[idx], caps.vz[idx]

    # 1. speed cap
    speed = np.hypot(v[:, 0], v[:, 1])
    scale = np.where(speed > vmax, vmax / np.maximum(speed, _EPS), 1.0) * dt
    d = v[:, :2] * scale[:, None]

    # 2. walls (only static boxes stop a capsule sideways; the terrain is rule 3)
    ray_z = pos[:, 2] + np.minimum(step_height + skin, np.maximum(h - skin, 0.0))
    disp = d.copy()
    if boxes is not None and len(boxes):
        # only capsules with a box near their path sweep for walls (rays cost; most meet none)
        near = np.flatnonzero(boxes.near(pos[:, :2], pos[:, :2] + d) & (r + skin <= REACH))
        far_reach = np.flatnonzero(r + skin > REACH)  # too wide for the grid's reach: always sweep
        sweep = np.union1d(near, far_reach)
        if sweep.size:
            disp[sweep] = _sweep(pos[sweep, :2], ray_z[sweep], d[sweep], r[sweep], skin, rays, wall_mask)
            # a box corner between two rays: push the capsule out of it exactly
            disp[sweep] = boxes.push_out(pos[sweep, :2] + disp[sweep], pos[sweep, 2], r[sweep], h[sweep],
                                         step_height, skin) - pos[sweep, :2]
    elif boxes is None:
        disp = _sweep(pos[:, :2], ray_z, d, r, skin, rays, wall_mask)
    dist = np.hypot(disp[:, 0], disp[:, 1])

    # 4a. the vertical: jumps start, the airborne fall
    jump = on_ground & (v[:, 2] > 0) & ~settle
    air = ~on_ground | jump | settle
    vz = np.where(jump, np.minimum(v[:, 2], vmax), vz)
    vz = np.where(air & ~settle, np.maximum(vz - gravity * dt, -max_fall_speed), 0.0)
    feet = np.where(air, pos[:, 2] + vz * dt, pos[:, 2])
    caps.vel[idx[jump], 2] = 0.0  # a jump is used once

    # 3. ground under the destination
    dest = pos[:, :2] + disp
    gz, gn, has = _ground(rays, dest, np.maximum(feet, pos[:, 2]) + h, z_floor, ground_mask, terrain, boxes)
    lost = settle & ~has  # placed under the ground: look from above everything
    if lost.any():
        gz[lost], gn[lost], has[lost] = _ground(rays, dest[lost], np.full(int(lost.sum()), z_ceiling),
                                                z_floor, ground_mask, terrain, boxes)
    rise = gz - feet
    climb = np.maximum(step_height, dist * caps.tan_slope[idx]) + _EPS
    walkable = gn >= caps.cos_slope[idx]
    ok = has & ((rise <= _EPS) | (walkable & (rise <= climb)) | settle)
    stay = ~air & ~ok  # a refused walk: nothing changes
    if stay.any():
        dest[stay] = pos[stay, :2]
        gz[stay], has[stay] = pos[stay, 2], True
    refused = air & ~ok & (dist > 0)  # a refused move in the air: fall straight down instead
    if refused.any():
        dest[refused] = pos[refused, :2]
        gz2, _gn2, has2 = _ground(rays, dest[refused],
                                  np.maximum(feet[refused], pos[refused, 2]) + h[refused],
                                  z_floor, ground_mask, terrain, boxes)
        gz[refused], has[refused] = gz2, has2

    new_z = feet.copy()
    new_ground = np.zeros(idx.size, bool)
    # settling onto the ground found under a new capsule
    snap = settle & has
    new_z[snap] = gz[snap]
    new_ground[snap] = True
    # walking: follow the ground down a slope, or step off a ledge and fall
    walk = ~air
    follow = walk & has & (gz >= feet - np.maximum(step_height, dist * caps.tan_slope[idx]) - _EPS)
    new_z[follow] = gz[follow]
    new_ground[follow] = True
    off = walk & ~follow
    new_z[off] = feet[off]
    # falling or jumping: land when the feet reach the ground
    flying = air & ~settle
    land = flying & has & (feet <= gz + _EPS) & (vz <= 0)
    new_z[land] = gz[land]
    new_ground[land] = True
    vz[land | new_ground] = 0.0
    floor = new_z < z_floor
    new_z[floor] = z_floor
    vz[floor] = 0.0

    old = caps.pos[idx].copy()
    caps.pos[idx, 0:2] = dest
    caps.pos[idx, 2] = new_z
    caps.vz[idx] = vz
    changed_ground = caps.ground[idx] != new_ground
    caps.ground[idx] = new_ground
    caps.settle[idx] = False
    moved = np.any(caps.pos[idx] != old, axis=1) | changed_ground
    return idx[moved]


def _sweep(xy: np.ndarray, ray_z: np.ndarray, d: np.ndarray, r: np.ndarray, skin: float, rays: RayFn,
           mask: int) -> np.ndarray:
    """The horizontal displacement allowed by the walls, with one slide along the first wall hit."""
    out = np.zeros_like(d)
    dist = np.hypot(d[:, 0], d[:, 1])
    go = np.flatnonzero(dist > _EPS)
    if go.size == 0:
        return out
    dirn = d[go] / dist[go, None]
    allowed, normal = _cast(xy[go], ray_z[go], dirn, dist[go], r[go], skin, rays, mask)
    out[go] = dirn * allowed[:, None]
    blocked = allowed < dist[go] - _EPS
    if blocked.any():
        b = go[blocked]
        n = normal[blocked]
        rest = d[b] - out[b]
        slide = rest - np.sum(rest * n, axis=1)[:, None] * n
        sd = np.hypot(slide[:, 0], slide[:, 1])
        more = sd > _EPS
        if more.any():
            bb = b[more]
            sdir = slide[more] / sd[more, None]
            allowed2, _ = _cast(xy[bb] + out[bb], ray_z[bb], sdir, sd[more], r[bb], skin, rays, mask)
            out[bb] += sdir * allowed2[:, None]
    return out


def _cast(xy: np.ndarray, ray_z: np.ndarray, dirn: np.ndarray, dist: np.ndarray, r: np.ndarray,
          skin: float, rays: RayFn, mask: int) -> tuple[np.ndarray, np.ndarray]:
    """How far each capsule may go along ``dirn`` (<= dist), and the horizontal normal of what stops it."""
    k = xy.shape[0]
    perp = np.column_stack((-dirn[:, 1], dirn[:, 0]))
    starts, ends, fronts, lengths = [], [], [], []
    for w in _LATERAL:
        front = r * np.sqrt(1.0 - w * w)
        length = dist + front + skin
        s = np.column_stack((xy + perp * (w * r)[:, None], ray_z))
        e = s.copy()
        e[:, :2] += dirn * length[:, None]
        starts.append(s)
        ends.append(e)
        fronts.append(front)
        lengths.append(length)
    frac, body, _point, normal = rays(np.concatenate(starts), np.concatenate(ends), mask)
    frac = frac.reshape(len(_LATERAL), k)
    hit = body.reshape(len(_LATERAL), k) >= 0
    allowed = np.where(hit, frac * np.stack(lengths) - np.stack(fronts) - skin, np.inf)
    best = np.argmin(allowed, axis=0)
    cols = np.arange(k)
    limit = np.clip(allowed[best, cols], 0.0, dist)
    nrm = normal.reshape(len(_LATERAL), k, 3)[best, cols, :2]
    length = np.hypot(nrm[:, 0], nrm[:, 1])
    nrm = np.where(length[:, None] > _EPS, nrm / np.maximum(length, _EPS)[:, None], -dirn)
    return limit, nrm


def _ground(rays: RayFn, xy: np.ndarray, top: np.ndarray, z_floor: float, mask: int,
            terrain: Heightfield | None = None,
            boxes: BoxTable | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Height, normal z and found-flag of the highest surface under each point, below ``top``."""
    if terrain is not None and boxes is not None:
        cast = boxes.near(xy, xy)
        if not cast.all():
            gz, gn, has = terrain.ground(xy, top)
            gz[~has], gn[~has] = z_floor, 1.0
            if cast.any():
                gz[cast], gn[cast], has[cast] = _ground(rays, xy[cast], top[cast], z_floor, mask)
            return gz, gn, has
    starts = np.column_stack((xy, top))
    ends = np.column_stack((xy, np.full(len(top), z_floor - 1.0)))
    _frac, body, point, normal = rays(starts, ends, mask)
    has = body >= 0
    return np.where(has, point[:, 2], z_floor), np.where(has, normal[:, 2], 1.0), has
