"""PhysicsScene: one pybullet world (DIRECT mode, its own client), stepped by hand.

No sockets, no clock, no messages: feed it a terrain, boxes, bodies and
intents, call :meth:`PhysicsScene.step` once per engine tick, read what
changed. Several scenes live side by side in one process, each with its own
pybullet client::

    scene = PhysicsScene(SceneConfig(tick_rate=20, substeps=4))
    scene.set_terrain(nx=65, ny=65, cell_size=2.0, origin=(0.0, 0.0), heights=np.zeros(65 * 65))
    scene.add_body(entity=7, owner=1, kind="capsule", pos=(10.0, 10.0, 0.0), radius=0.4, height=1.8)
    scene.set_intents([[7, 3.0, 0.0, 0.0]], sender=1)
    result = scene.step()
    result.poses[1]       # [[7, 10.15, 10.0, 0.0, True]]: only bodies that changed

Collision groups: terrain, static boxes, capsules, loose bodies and
projectiles each have a bit. Capsules are moved by the controller
(:mod:`engine.physics._capsules`), never by the solver; projectiles touch
nothing in the solver and find their hits with a ray along each sub-step's
path, so a fast arrow cannot pass through a thin target between sub-steps.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np
import pybullet

from engine.physics import _capsules
from engine.physics._boxes import BoxTable
from engine.physics._checks import MAX_COORD, MAX_SIZE, BodyRefused, box_row, check_guid, check_number, vector
from engine.physics._config import SceneConfig, SceneError
from engine.physics._terrain import Heightfield

__all__ = ["PhysicsScene", "StepResult"]

_RAY = 1  # rays belong to group 1: a body is seen by rays only if its mask has this bit
TERRAIN, STATIC, CAPSULE, LOOSE, PROJECTILE = 2, 4, 8, 16, 32
_WALLS = STATIC
_GROUND = TERRAIN | STATIC
_TARGETS = TERRAIN | STATIC | CAPSULE | LOOSE
_RAY_BATCH = int(getattr(pybullet, "MAX_RAY_INTERSECTION_BATCH_SIZE", 16384)) - 1
_UPRIGHT = (0.0, 0.0, 0.0, 1.0)
_PARKING = (0.0, 0.0, -1e6)
_ARROW_MASS = 0.1
_MAX_GRID = 1 << 24


@attrs.frozen(slots=True)
class StepResult:
    """What one step produced, grouped by the owner each part goes to."""

    tick: int
    poses: dict[int, list[list[Any]]]
    """owner -> rows ``[entity, x, y, z, on_ground]`` of bodies that changed."""
    hits: dict[int, list[list[Any]]]
    """owner -> rows ``[projectile, target entity or 0, x, y, z]``."""
    expired: dict[int, list[int]]
    """owner -> projectiles that ran out of lifetime."""


@attrs.define(slots=True)
class _Projectile:
    body: int
    sender: int
    skip_body: int
    pos: tuple[float, float, float]
    age: int
    life: int
    radius: float


@attrs.define(slots=True)
class _Loose:
    body: int
    owner: int
    sent: tuple[float, float, float, bool] | None = None


class PhysicsScene:
    """One physics world; see the module docstring."""

    def __init__(self, config: SceneConfig | None = None):
        self.config = config or SceneConfig()
        self._cid = pybullet.connect(pybullet.DIRECT)
        if self._cid < 0:
            raise RuntimeError("pybullet could not open a DIRECT client")
        self._finalizer = weakref.finalize(self, _disconnect, self._cid)
        self.tick = 0
        """Steps taken since the scene was made or reset."""
        self._init_world()

    # -- life ---------------------------------------------------------------------------

    def _init_world(self) -> None:
        cid, cfg = self._cid, self.config
        pybullet.setGravity(0.0, 0.0, -cfg.gravity, physicsClientId=cid)
        pybullet.setPhysicsEngineParameter(fixedTimeStep=cfg.substep_dt, numSubSteps=0,
                                           deterministicOverlappingPairs=1, physicsClientId=cid)
        self._terrain: tuple[int, int] | None = None  # (body, shape)
        self._heightfield: Heightfield | None = None  # the same heights, for the ground without rays
        self._terrain_info: dict[str, Any] | None = None
        self._z_floor = -1000.0
        self._z_ceiling = 1000.0
        self._statics: dict[int, tuple[int, int]] = {}
        self._box_values: dict[int, tuple[float, ...]] = {}
        self._boxes = BoxTable()
        self._caps = _capsules.Capsules()
        self._loose: dict[int, _Loose] = {}
        self._projectiles: dict[int, _Projectile] = {}
        self._by_body: dict[int, int] = {}  # pybullet body -> entity (capsules and loose)
        self._capsule_shapes: dict[tuple[float, float], int] = {}
        self._sphere_shapes: dict[float, int] = {}
        self._parked: dict[float, list[int]] = {}  # radius -> bodies of spent projectiles
        self._hits: dict[int, list[list[Any]]] = {}
        self._expired: dict[int, list[int]] = {}
        self.tick = 0

    def reset(self) -> None:
        """Empty the world: terrain, boxes, bodies and projectiles go; pending results too."""
        pybullet.resetSimulation(physicsClientId=self._cid)
        self._init_world()

    def close(self) -> None:
        """Release the pybullet client (also done when the scene is collected)."""
        self._finalizer()

    # -- the static scene ---------------------------------------------------------------

    def set_terrain(self, nx: int, ny: int, cell_size: float, origin: tuple[float, float],
                    heights: bytes | np.ndarray) -> None:
        """Replace the heightfield; ``heights`` holds ``nx * ny`` float32 values, x fastest."""
        for name, value in (("nx", nx), ("ny", ny)):
            if type(value) is not int or not 2 <= value <= 1 << 14:
                raise SceneError(f"terrain {name} must be an int in 2..16384, got {value!r}")
        if nx * ny > _MAX_GRID:
            raise SceneError(f"terrain of {nx} x {ny} has more than {_MAX_GRID} points")
        check_number("terrain cell_size", cell_size, 1e-3, MAX_SIZE)
        ox, oy = origin
        check_number("terrain origin_x", ox, -MAX_COORD, MAX_COORD)
        check_number("terrain origin_y", oy, -MAX_COORD, MAX_COORD)
        if isinstance(heights, (bytes, bytearray, memoryview)):
            if len(heights) != nx * ny * 4:
                raise SceneError(f"terrain heights hold {len(heights)} bytes; {nx} x {ny} float32 "
                                 f"need {nx * ny * 4}")
            grid = np.frombuffer(heights, dtype="<f4")
        else:
            grid = np.asarray(heights, dtype=np.float32).ravel()
            if grid.size != nx * ny:
                raise SceneError(f"terrain heights hold {grid.size} values; {nx} x {ny} need {nx * ny}")
        if not np.all(np.isfinite(grid)) or np.any(np.abs(grid) > 1e5):
            raise SceneError("terrain heights must be finite and within +-100000")
        cid = self._cid
        self._drop_terrain()
        lo, hi = float(grid.min()), float(grid.max())
        shape = pybullet.createCollisionShape(
            pybullet.GEOM_HEIGHTFIELD, meshScale=[float(cell_size), float(cell_size), 1.0],
            heightfieldData=grid.astype(np.float64).tolist(), numHeightfieldRows=nx,
            numHeightfieldColumns=ny, physicsClientId=cid)
        centre = (float(ox) + (nx - 1) * cell_size / 2, float(oy) + (ny - 1) * cell_size / 2,
                  (lo + hi) / 2)
        body = pybullet.createMultiBody(0, shape, basePosition=centre, useMaximalCoordinates=True,
                                        physicsClientId=cid)
        pybullet.setCollisionFilterGroupMask(body, -1, TERRAIN, _RAY | LOOSE, physicsClientId=cid)
        self._terrain = (body, shape)
        self._heightfield = Heightfield(nx, ny, cell_size, (float(ox), float(oy)), grid)
        self._terrain_info = {"nx": nx, "ny": ny, "cell_size": float(cell_size),
                              "origin": (float(ox), float(oy)), "min": lo, "max": hi}
        self._z_floor = lo - 100.0
        self._resettle()

    def _drop_terrain(self) -> None:
        if self._terrain is not None:
            body, shape = self._terrain
            pybullet.removeBody(body, physicsClientId=self._cid)
            pybullet.removeCollisionShape(shape, physicsClientId=self._cid)
            self._terrain = None
            self._heightfield = None
            self._terrain_info = None

    def set_boxes(self, rows: Sequence[Sequence[Any]], replace: bool = False) -> None:
        """Add or replace static boxes ``[id, cx, cy, cz, hx, hy, hz, yaw]``; all rows are checked first."""
        boxes = [box_row(row, i) for i, row in enumerate(rows)]
        if len({b[0] for b in boxes}) != len(boxes):
            raise SceneError("static boxes: an id appears twice in one message")
        if replace:
            self._remove_boxes(list(self._statics))
        cid = self._cid
        for ident, cx, cy, cz, hx, hy, hz, yaw in boxes:
            self._remove_boxes([ident])
            shape = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=[hx, hy, hz],
                                                  physicsClientId=cid)
            body = pybullet.createMultiBody(
                0, shape, basePosition=[cx, cy, cz],
                baseOrientation=[0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)],
                useMaximalCoordinates=True, physicsClientId=cid)
            pybullet.setCollisionFilterGroupMask(body, -1, STATIC, _RAY | LOOSE, physicsClientId=cid)
            self._statics[ident] = (body, shape)
            self._box_values[ident] = (cx, cy, cz, hx, hy, hz, yaw)
        self._resettle()

    def remove_boxes(self, ids: Iterable[int]) -> None:
        """Remove static boxes by id (unknown ids are ignored)."""
        self._remove_boxes(ids)
        self._resettle()

    def _remove_boxes(self, ids: Iterable[int]) -> None:
        for ident in ids:
            entry = self._statics.pop(ident, None)
            self._box_values.pop(ident, None)
            if entry is not None:
                pybullet.removeBody(entry[0], physicsClientId=self._cid)
                pybullet.removeCollisionShape(entry[1], physicsClientId=self._cid)

    def _resettle(self) -> None:
        """The ground may have changed under every capsule: each finds it again next step."""
        self._boxes.set(self._box_values)
        tops = [self._terrain_info["max"]] if self._terrain_info else []
        tops += [pybullet.getAABB(body, physicsClientId=self._cid)[1][2]
                 for body, _ in self._statics.values()]
        self._z_ceiling = max(tops, default=0.0) + 10.0
        if not self._terrain_info:
            self._z_floor = min([pybullet.getAABB(body, physicsClientId=self._cid)[0][2]
                                 for body, _ in self._statics.values()], default=0.0) - 100.0
        caps = self._caps
        caps.settle[:caps.n] = True

    # -- bodies -------------------------------------------------------------------------

    def add_body(self, entity: int, owner: int, kind: str, pos: Sequence[float], radius: float,
                 height: float, max_speed: float = 6.0, max_slope: float = math.pi / 4,
                 mass: float = 1.0, vel: Sequence[float] = (0.0, 0.0, 0.0)) -> None:
        """Add a capsule, loose body or projectile owned by ``owner`` (re-adding moves it).

        Raises BodyRefused (the scene unchanged) for bad values, or an entity
        of another owner.
        """
        check_guid("entity", entity)
        x, y, z = vector("position", pos, MAX_COORD)
        check_number("radius", radius, 1e-3, 100.0)
        check_number("height", height, 0.0, 1000.0)
        if kind == "projectile":
            self.spawn_projectile(entity, owner, 0, (x, y, z), vel, self.config.projectile_lifetime,
                                  radius)
            return
        if kind not in ("capsule", "loose"):
            raise BodyRefused("malformed", f"body kind must be capsule, loose or projectile, got {kind!r}")
        check_number("max_speed", max_speed, 0.0, self.config.max_intent_speed)
        check_number("max_slope", max_slope, 0.0, math.pi / 2 - 1e-3)
        check_number("mass", mass, 1e-6, 1e6)
        velocity = vector("velocity", vel, self.config.max_intent_speed)
        current = self.owner_of(entity)
        if current is not None and current != owner:
            raise BodyRefused("not_owner", f"entity {entity} belongs to another sender")
        if current is None and self.body_count() >= self.config.max_bodies:
            raise BodyRefused("full", f"the world holds {self.config.max_bodies} bodies already")
        cid = self._cid
        if kind == "capsule":
            height = max(height, 2 * radius)
        slot = self._caps.slot.get(entity)
        if kind == "capsule" and slot is not None and (self._caps.radius[slot], self._caps.height[slot]) \
                == (radius, height):
            # the same capsule placed again (a teleport, a scene sent again): no new pybullet body
            body = int(self._caps.body[slot])
            self._caps.remove(entity)
            self._caps.add(entity, owner, body, (x, y, z), radius, height, max_speed, max_slope)
            pybullet.resetBasePositionAndOrientation(body, [x, y, z + height / 2], _UPRIGHT,
                                                     physicsClientId=cid)
            return
        if current is not None:
            self.remove_body(entity, owner)
        if kind == "capsule":
            shape = self._capsule_shape(radius, height)
            body = pybullet.createMultiBody(0, shape, basePosition=[x, y, z + height / 2],
                                            useMaximalCoordinates=True, physicsClientId=cid)
            pybullet.setCollisionFilterGroupMask(body, -1, CAPSULE, _RAY | LOOSE, physicsClientId=cid)
            self._caps.add(entity, owner, body, (x, y, z), radius, height, max_speed, max_slope)
        else:
            shape = self._capsule_shape(radius, height) if height > 2 * radius else self._sphere_shape(radius)
            body = pybullet.createMultiBody(mass, shape, basePosition=[x, y, z],
                                            useMaximalCoordinates=True, physicsClientId=cid)
            pybullet.setCollisionFilterGroupMask(body, -1, LOOSE, _RAY | TERRAIN | STATIC | CAPSULE | LOOSE,
                                                 physicsClientId=cid)
            pybullet.resetBaseVelocity(body, velocity, physicsClientId=cid)
            self._loose[entity] = _Loose(body, owner)
        self._by_body[body] = entity

    def remove_body(self, entity: int, sender: int) -> None:
        """Remove a body (or a flying projectile) of ``sender``; BodyRefused if unknown or not its own."""
        owner = self.owner_of(entity)
        if owner is None:
            proj = self._projectiles.get(entity)
            if proj is None:
                raise BodyRefused("unknown_entity", f"no body {entity} in this world")
            if proj.sender != sender:
                raise BodyRefused("not_owner", f"projectile {entity} belongs to another sender")
            self._drop_projectile(entity)
            return
        if owner != sender:
            raise BodyRefused("not_owner", f"entity {entity} belongs to another sender")
        body = self._caps.remove(entity) if entity in self._caps.slot else self._loose.pop(entity).body
        del self._by_body[body]
        pybullet.removeBody(body, physicsClientId=self._cid)

    def spawn_projectile(self, projectile: int, sender: int, owner_entity: int, pos: Sequence[float],
                         vel: Sequence[float], lifetime: float, radius: float = 0.05) -> None:
        """Launch a ballistic projectile; its hit or expiry goes to ``sender``."""
        check_guid("projectile", projectile)
        check_guid("owner", owner_entity)
        x, y, z = vector("position", pos, MAX_COORD)
        velocity = vector("velocity", vel, self.config.max_intent_speed)
        check_number("lifetime", lifetime, 0.0, 3600.0)
        check_number("radius", radius, 1e-3, 10.0)
        if projectile in self._projectiles or self.owner_of(projectile) is not None:
            raise BodyRefused("duplicate", f"projectile id {projectile} is in use")
        if len(self._projectiles) >= self.config.max_projectiles:
            raise BodyRefused("full", f"the world has {self.config.max_projectiles} projectiles in flight")
        cid = self._cid
        parked = self._parked.get(float(radius))
        if parked:  # creating a body costs ~0.5 ms; a parked one is back in ~10 us
            body = parked.pop()
            pybullet.changeDynamics(body, -1, mass=_ARROW_MASS, physicsClientId=cid)
            pybullet.resetBasePositionAndOrientation(body, [x, y, z], _UPRIGHT, physicsClientId=cid)
        else:
            body = pybullet.createMultiBody(_ARROW_MASS, self._sphere_shape(radius), basePosition=[x, y, z],
                                            useMaximalCoordinates=True, physicsClientId=cid)
            pybullet.setCollisionFilterGroupMask(body, -1, PROJECTILE, 0, physicsClientId=cid)
            pybullet.changeDynamics(body, -1, linearDamping=0.0, angularDamping=0.0,
                                    activationState=pybullet.ACTIVATION_STATE_DISABLE_SLEEPING,
                                    physicsClientId=cid)
        pybullet.resetBaseVelocity(body, velocity, (0.0, 0.0, 0.0), physicsClientId=cid)
        slot = self._caps.slot.get(owner_entity) if owner_entity else None
        skip = int(self._caps.body[slot]) if slot is not None else -1
        life = max(1, math.ceil(lifetime / self.config.substep_dt - 1e-9))
        self._projectiles[projectile] = _Projectile(body, sender, skip, (x, y, z), 0, life, float(radius))

    def set_intents(self, rows: Iterable[Any], sender: int) -> list[tuple[str, Any]]:
        """Latch desired velocities ``[entity, vx, vy, vz]``; returns the refused rows with a reason.

        A refused row changes nothing. Reasons: ``malformed``, ``non_finite``,
        ``absurd``, ``unknown_entity``, ``not_a_capsule``, ``not_owner``.
        """
        caps = self._caps
        limit = self.config.max_intent_speed
        refused: list[tuple[str, Any]] = []
        for row in rows:
            if (type(row) not in (list, tuple) or len(row) != 4 or type(row[0]) is not int
                    or any(type(v) not in (float, int) for v in row[1:])):
                refused.append(("malformed", row))
                continue
            entity, vx, vy, vz = row
            if not (math.isfinite(vx) and math.isfinite(vy) and math.isfinite(vz)):
                refused.append(("non_finite", row))
                continue
            if vx * vx + vy * vy + vz * vz > limit * limit:
                refused.append(("absurd", row))
                continue
            slot = caps.slot.get(entity)
            if slot is None:
                reason = "not_a_capsule" if entity in self._loose or entity in self._projectiles \
                    else "unknown_entity"
                refused.append((reason, row))
                continue
            if int(caps.owner[slot]) != sender:
                refused.append(("not_owner", row))
                continue
            caps.vel[slot] = (vx, vy, vz)
        return refused

    def _capsule_shape(self, radius: float, height: float) -> int:
        key = (float(radius), float(height))
        shape = self._capsule_shapes.get(key)
        if shape is None:
            shape = self._capsule_shapes[key] = pybullet.createCollisionShape(
                pybullet.GEOM_CAPSULE, radius=radius, height=height - 2 * radius,
                physicsClientId=self._cid)
        return shape

    def _sphere_shape(self, radius: float) -> int:
        shape = self._sphere_shapes.get(float(radius))
        if shape is None:
            shape = self._sphere_shapes[float(radius)] = pybullet.createCollisionShape(
                pybullet.GEOM_SPHERE, radius=radius, physicsClientId=self._cid)
        return shape

    # -- stepping -----------------------------------------------------------------------

    def step(self) -> StepResult:
        """One engine tick: :meth:`simulate`, then :meth:`export`."""
        self.simulate()
        return self.export()

    def simulate(self) -> None:
        """Move the capsules, then run the fixed sub-steps (projectiles, loose bodies)."""
        cfg, cid, caps = self.config, self._cid, self._caps
        moved = _capsules.move(
            caps, self._rays, dt=cfg.tick_dt, gravity=cfg.gravity, step_height=cfg.step_height,
            skin=cfg.skin, max_fall_speed=cfg.max_fall_speed, z_floor=self._z_floor,
            z_ceiling=self._z_ceiling,
            wall_mask=_WALLS, ground_mask=_GROUND, boxes=self._boxes, terrain=self._heightfield)
        caps.unsynced[moved] = True
        if self._projectiles or self._loose:
            self._sync_bodies()
        for _ in range(cfg.substeps):
            pybullet.stepSimulation(physicsClientId=cid)
            if self._projectiles:
                self._fly()
        self.tick += 1

    def _sync_bodies(self) -> None:
        """Place the pybullet body of every capsule that moved since it was last placed.

        The controller works on the arrays and its rays see only terrain and
        boxes, so a capsule's body matters only to what can touch it: arrows
        and loose bodies. Placing bodies one pybullet call each was a fifth of
        a physics node's time with 2,000 wandering NPCs, so it waits until a
        tick has something flying or rolling.
        """
        caps = self._caps
        slots = np.flatnonzero(caps.unsynced[:caps.n])
        if not slots.size:
            return
        centre = caps.pos[slots].copy()
        centre[:, 2] += caps.height[slots] / 2
        reset, cid = pybullet.resetBasePositionAndOrientation, self._cid
        for body, c in zip(caps.body[slots].tolist(), centre.tolist(), strict=True):
            reset(body, c, _UPRIGHT, physicsClientId=cid)
        caps.unsynced[slots] = False

    def _fly(self) -> None:
        """Advance every projectile's bookkeeping by one sub-step: hits along its path, expiry."""
        cid = self._cid
        get = pybullet.getBasePositionAndOrientation
        ids = list(self._projectiles)
        projs = [self._projectiles[i] for i in ids]
        new = [get(p.body, physicsClientId=cid)[0] for p in projs]
        starts = np.array([p.pos for p in projs], dtype=np.float64)
        ends = np.array(new, dtype=np.float64)
        frac, body, point, _normal = self._rays(starts, ends, _TARGETS)
        skip = np.array([p.skip_body for p in projs])
        again = np.flatnonzero((body >= 0) & (body == skip))
        if again.size:  # the shooter's own capsule is in the way: look past it
            direction = ends[again] - starts[again]
            length = np.linalg.norm(direction, axis=1)
            step = direction / np.maximum(length, 1e-9)[:, None] * 1e-3
            f2, b2, p2, _n2 = self._rays(point[again] + step, ends[again], _TARGETS)
            body[again] = np.where(b2 == skip[again], -1, b2)
            point[again] = p2
        floor = self._z_floor
        for k, pid in enumerate(ids):
            p = projs[k]
            if body[k] >= 0:
                target = self._by_body.get(int(body[k]), 0)
                x, y, z = point[k].tolist()
                self._hits.setdefault(p.sender, []).append([pid, target, x, y, z])
                self._drop_projectile(pid)
                continue
            p.pos = new[k]
            p.age += 1
            if p.age >= p.life or new[k][2] < floor:
                self._expired.setdefault(p.sender, []).append(pid)
                self._drop_projectile(pid)

    def _drop_projectile(self, pid: int) -> None:
        """Park the projectile's body (static, far below) for the next spawn of its radius."""
        proj = self._projectiles.pop(pid)
        cid = self._cid
        pybullet.changeDynamics(proj.body, -1, mass=0.0, physicsClientId=cid)
        pybullet.resetBasePositionAndOrientation(proj.body, _PARKING, _UPRIGHT, physicsClientId=cid)
        self._parked.setdefault(proj.radius, []).append(proj.body)

    def _rays(self, starts: np.ndarray, ends: np.ndarray,
              mask: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Batched ray tests: (fraction, body or -1, hit point, hit normal) per ray."""
        k = len(starts)
        out = np.empty((k, 8))
        for lo in range(0, k, _RAY_BATCH):
            hi = min(k, lo + _RAY_BATCH)
            res = pybullet.rayTestBatch(starts[lo:hi].tolist(), ends[lo:hi].tolist(),
                                        collisionFilterMask=mask, physicsClientId=self._cid)
            out[lo:hi] = [(r[0], r[2], *r[3], *r[4]) for r in res]
        return out[:, 1], out[:, 0].astype(np.int64), out[:, 2:5], out[:, 5:8]

    def export(self) -> StepResult:
        """Poses that changed since the last export, and the hits and expiries since then."""
        caps = self._caps
        n = caps.n
        poses: dict[int, list[list[Any]]] = {}
        if n:
            changed = np.flatnonzero(np.any(caps.pos[:n] != caps.sent_pos[:n], axis=1)
                                     | (caps.ground[:n] != caps.sent_ground[:n]))
            if changed.size:
                caps.sent_pos[changed] = caps.pos[changed]
                caps.sent_ground[changed] = caps.ground[changed]
                owners = caps.owner[changed]
                first = owners[0]
                if np.all(owners == first):
                    poses[int(first)] = _rows(caps, changed)
                else:
                    for owner in np.unique(owners).tolist():
                        poses[owner] = _rows(caps, changed[owners == owner])
        if self._loose:
            self._export_loose(poses)
        hits, self._hits = self._hits, {}
        expired, self._expired = self._expired, {}
        return StepResult(self.tick, poses, hits, expired)

    def _export_loose(self, poses: dict[int, list[list[Any]]]) -> None:
        cid = self._cid
        for entity, body in self._loose.items():
            (x, y, z), _orn = pybullet.getBasePositionAndOrientation(body.body, physicsClientId=cid)
            contacts = pybullet.getContactPoints(bodyA=body.body, physicsClientId=cid)
            grounded = any(c[7][2] > 0.5 for c in contacts)
            pose = (x, y, z, grounded)
            if pose != body.sent:
                body.sent = pose
                poses.setdefault(body.owner, []).append([entity, x, y, z, grounded])

    # -- reading ------------------------------------------------------------------------

    def owner_of(self, entity: int) -> int | None:
        """The sender that owns capsule or loose body ``entity`` (None if there is none)."""
        slot = self._caps.slot.get(entity)
        if slot is not None:
            return int(self._caps.owner[slot])
        loose = self._loose.get(entity)
        return loose.owner if loose is not None else None

    def pose(self, entity: int) -> tuple[float, float, float, bool]:
        """(x, y, z, on_ground) of a capsule (feet) or loose body (centre); KeyError if none."""
        slot = self._caps.slot.get(entity)
        if slot is not None:
            x, y, z = self._caps.pos[slot].tolist()
            return x, y, z, bool(self._caps.ground[slot])
        loose = self._loose[entity]
        (x, y, z), _orn = pybullet.getBasePositionAndOrientation(loose.body, physicsClientId=self._cid)
        return x, y, z, bool(loose.sent[3]) if loose.sent else False

    @property
    def client(self) -> int:
        """The pybullet client id of this world, for tools and benchmarks that call pybullet directly."""
        return self._cid

    def body_count(self) -> int:
        return self._caps.n + len(self._loose)

    def projectile_count(self) -> int:
        return len(self._projectiles)

    def static_count(self) -> int:
        return len(self._statics)

    @property
    def has_terrain(self) -> bool:
        return self._terrain is not None

    def snapshot(self) -> list[tuple[Any, ...]]:
        """Every body's and projectile's state, sorted by id: what determinism tests compare."""
        caps = self._caps
        out: list[tuple[Any, ...]] = [
            ("capsule", int(caps.entity[i]), *caps.pos[i].tolist(), bool(caps.ground[i]),
             *caps.vel[i].tolist(), float(caps.vz[i])) for i in range(caps.n)]
        cid = self._cid
        for entity, loose in self._loose.items():
            pos, orn = pybullet.getBasePositionAndOrientation(loose.body, physicsClientId=cid)
            out.append(("loose", entity, *pos, *orn))
        for pid, proj in self._projectiles.items():
            out.append(("projectile", pid, *proj.pos, proj.age))
        return sorted(out, key=lambda row: (row[0], row[1]))

    def status(self) -> dict[str, Any]:
        return {"tick": self.tick, "terrain": self._terrain_info is not None,
                "statics": len(self._statics), "capsules": self._caps.n, "loose": len(self._loose),
                "projectiles": len(self._projectiles)}


def _rows(caps: _capsules.Capsules, slots: np.ndarray) -> list[list[Any]]:
    p = caps.pos[slots]
    return [list(row) for row in zip(caps.entity[slots].tolist(), p[:, 0].tolist(), p[:, 1].tolist(),
                                      p[:, 2].tolist(), caps.ground[slots].tolist(), strict=True)]


def _disconnect(cid: int) -> None:
    with contextlib.suppress(pybullet.error):
        pybullet.disconnect(physicsClientId=cid)
