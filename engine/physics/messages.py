"""The physics messages (engine type ids 150..169): the same in-process and across nodes.

Every message names a ``world``: an int the world's owner picks (a region
id, say). The sender of the first ``PhysicsTerrain``, ``PhysicsStatics`` or
``PhysicsReset`` for a world owns that world: only it may change the scene
and step it. The sender of ``PhysicsAddBody`` or ``SpawnProjectile`` owns
that body: only it may steer it, remove it, and it alone gets its poses
and hits.

The world's owner drives the clock: each ``PhysicsStep`` advances the world
by one engine tick (a fixed number of sub-steps), applying what arrived
before it. So the same stream of messages gives the same results whether
the physics module runs in the owner's process or in a physics node, and
however the transport groups them into ticks.

Coordinates: metres, ``x`` and ``y`` horizontal (the width and height of an
``engine.spatial`` WorldConfig), ``z`` up. A capsule's position is its feet
(the bottom of the capsule); a loose body's is its centre of mass.

Float fields must be Python floats: across the transport an int where a
float belongs is a decode error (docs/design.md). Rows inside list fields
(boxes, intents) are checked by the physics module, which refuses a bad
row or message with a log line.

>>> from engine.guid import make
>>> MoveIntents(make(11000, 0, 6), make(2000, 0, 64), 1, [[make(2000, 5, 1), 1.0, 0.0, 0.0]])
... # doctest: +ELLIPSIS
MoveIntents(to=11000:0:6, frm=2000:0:64, world=1, intents=[[...]])
"""

from __future__ import annotations

from engine.guid import Guid
from engine.messages import Message

__all__ = [
    "BODY_KINDS",
    "MoveIntents",
    "PhysicsAddBody",
    "PhysicsRemoveBody",
    "PhysicsRemoveStatics",
    "PhysicsReset",
    "PhysicsSceneMissing",
    "PhysicsStatics",
    "PhysicsStep",
    "PhysicsTerrain",
    "ProjectileHits",
    "ProjectilesExpired",
    "ResolvedPoses",
    "SpawnProjectile",
]

BODY_KINDS = ("capsule", "loose", "projectile")
"""What ``PhysicsAddBody.kind`` may say."""


# -- the scene: from the world's owner ---------------------------------------------------

class PhysicsReset(Message, type_id=150):
    """Empty ``world`` (terrain, statics, bodies, projectiles); the sender owns it from now."""

    world: int


class PhysicsTerrain(Message, type_id=151):
    """The world's heightfield: ``nx * ny`` float32 heights, x fastest, little-endian.

    Height ``[iy * nx + ix]`` is at ``(origin_x + ix * cell_size,
    origin_y + iy * cell_size)``. Replaces any earlier terrain.
    """

    world: int
    nx: int
    ny: int
    cell_size: float
    origin_x: float
    origin_y: float
    heights: bytes


class PhysicsStatics(Message, type_id=152):
    """Static boxes: rows ``[id, cx, cy, cz, hx, hy, hz, yaw]`` (centre, half extents, radians).

    A row whose id exists replaces that box; ``replace_all`` drops every box first.
    """

    world: int
    boxes: list[list]
    replace_all: bool = False


class PhysicsRemoveStatics(Message, type_id=153):
    world: int
    ids: list[int]


# -- bodies: from whoever owns them -------------------------------------------------------

class PhysicsAddBody(Message, type_id=154):
    """Add (or re-add, which moves it) a body; the sender owns it.

    ``capsule``: a kinematic player or NPC, ``height`` tall in all (>= 2 *
    radius), moved only by ``MoveIntents``, at most ``max_speed`` m/s
    horizontally, up slopes of at most ``max_slope`` radians.
    ``loose``: a dynamic body of ``mass`` kg (a sphere, or an upright
    capsule when ``height`` > 2 * radius) that falls, rolls and is pushed.
    ``projectile``: a ballistic body like ``SpawnProjectile`` with no owner
    entity; it lives 10 s unless it hits something.
    ``vx, vy, vz`` is the initial velocity of loose bodies and projectiles.
    """

    world: int
    entity: Guid
    kind: str
    x: float
    y: float
    z: float
    radius: float
    height: float
    max_speed: float = 6.0
    max_slope: float = 0.7854
    mass: float = 1.0
    vx: float = 0.0
    vy: float = 0.0
    vz: float = 0.0


class PhysicsRemoveBody(Message, type_id=155):
    world: int
    entity: Guid


class MoveIntents(Message, type_id=156):
    """Desired velocities, rows ``[entity, vx, vy, vz]`` (m/s); each holds until the next.

    Horizontal speed is capped at the capsule's ``max_speed``; ``vz > 0`` on
    the ground is a jump at that vertical speed (capped alike), used once.
    A row that is not finite, absurd (over the module's ``max_intent_speed``),
    for an unknown entity or for one the sender does not own is refused.
    """

    world: int
    intents: list[list]


class SpawnProjectile(Message, type_id=157):
    """A ballistic projectile (an arrow): gravity, no drag; the sender gets its hit or expiry.

    It never hits ``owner`` (the shooter's entity; NULL for none).
    """

    world: int
    projectile: Guid
    owner: Guid
    x: float
    y: float
    z: float
    vx: float
    vy: float
    vz: float
    lifetime: float
    radius: float = 0.05


class PhysicsStep(Message, type_id=158):
    """The world's owner: advance ``world`` by one engine tick; results carry ``tick``."""

    world: int
    tick: int


# -- results: to the owners ------------------------------------------------------------------

class ResolvedPoses(Message, type_id=159):
    """Rows ``[entity, x, y, z, on_ground]`` of the receiver's bodies that changed in step ``tick``."""

    world: int
    tick: int
    poses: list[list]


class ProjectileHits(Message, type_id=160):
    """Rows ``[projectile, target entity (NULL: terrain or a static), x, y, z]`` of step ``tick``."""

    world: int
    tick: int
    hits: list[list]


class ProjectilesExpired(Message, type_id=161):
    """Projectiles of the receiver that ran out of lifetime (or fell out of the world)."""

    world: int
    tick: int
    projectiles: list[Guid]


class PhysicsSceneMissing(Message, type_id=162):
    """Physics has no such world (a restarted physics node): the owner should send it again."""

    world: int
    tick: int
