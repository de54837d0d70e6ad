"""The World: one region of the demo game, its bodies, who sees whom, and the rules between them.

The gamelogic node's object host owns one World. A *body* is anything in
the region: a player's avatar (whose Character lives in the player's own
ObjectSpace), an NPC (an :class:`NpcBody` in the region's space), an item,
a corpse, a building, a door, a marker. The World is the region's
services, not a player's: it answers where things are, decides who sees
and hears what, steers bodies through physics, and applies the combat
rules. What it does each tick (:meth:`World.tick`)::

    spawners refill -> NPCs without a brain stand still -> corpses decay -> regeneration
    -> movement intents + one PhysicsStep to physics (positions come back next tick)
    -> AOI (native grid) + the stage (rooms, doors) -> Sight / Disappear / Moves to each player
    -> every 5th tick, each NPC's view to the AI node (Perceive)  -> Stats to players whose HUD changed

Blows travel as messages: an attacker's rules (skills, weapon, stamina) run
where the attacker lives, and a ``Hit`` goes to the target's Guid, where
:meth:`World.hurt` applies it next tick. Arrows are physics projectiles.
Every number comes from the class tree (``classes.toml``), every random
draw from the engine's seeded RNG, every time from the tick clock.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Iterable
from itertools import chain
from operator import attrgetter
from typing import Any

import attrs
import numpy as np

from engine.dispatch import handles
from engine.guid import Guid
from engine.objectspace import GameObject, ObjectSpace
from engine.physics.messages import (
    MoveIntents,
    PhysicsAddBody,
    PhysicsRemoveBody,
    PhysicsRemoveStatics,
    PhysicsReset,
    PhysicsStatics,
    PhysicsStep,
    PhysicsTerrain,
    SpawnProjectile,
)
from engine.spatial import SpatialWorld, WorldConfig, pick_updates, view_diffs
from gamelogic import skills as rules
from gamelogic.character import MAX_HEALTH, MAX_MANA, MAX_STAMINA, Character
from gamelogic.classes import ClassTree
from gamelogic.operations import (
    MOVE_ROW,
    MOVE_ROW_DTYPE,
    Death,
    Disappear,
    Give,
    Hit,
    Info,
    Miss,
    Moves,
    Perceive,
    Set,
    Sight,
    Sound,
    Stats,
)
from gamelogic.stage import OUTDOORS, Stage
from gamelogic.worldfile import WorldEntity, WorldFile

PLAYER_VIEW = 60.0
"""Metres a player sees (AOI view class 0)."""
NPC_VIEW = 30.0
"""Metres an NPC's brain is told about (view class 2; each class's own ``sight`` narrows it)."""
VIEW_PLAYER, VIEW_DESIGNER, VIEW_NPC = 0, 1, 2
SIGHT_SLACK = 0.01
"""Metres by which float32 positions may round a distance (perception's candidates allow for it)."""
TALK_RANGE = 20.0
TOUCH_REACH = 3.0
ATTACK_COOLDOWN = 1.0
ARROW_SPEED = 40.0
ARROW_LIFETIME = 3.0
GRAVITY = 9.81
UNWATCHED_SLOWER = 4
"""How much less often NPCs that no player sees are perceived (and so think)."""
VIEW_EVERY = 4
"""Ticks between two recomputations of a player's view (200 ms at 20 Hz)."""
NEAR_EVERY_TICK = 20.0
"""Metres within which a player gets a body's moves every tick (farther: less often)."""
MID_EVERY_2 = 40.0
"""Metres within which a player gets a body's moves every second tick (farther: every CATCH_UP-th)."""
CATCH_UP = 4
"""Ticks within which a player gets the last position of every body it sees that moved (200 ms).

A power of two (the bands' ticks are picked with bit masks), at least 2."""
PERCEIVE_EVERY = 5
"""Ticks between two Perceive messages to the AI node (4 Hz at 20 Hz)."""
AI_SILENCE = 2.0
"""Seconds without an Act from the AI node after which NPCs stand still."""
RESPAWN_DELAY = 3.0
"""Seconds a dead player waits before rising at the bind point."""
TRADER_REACH = 5.0


@attrs.define(eq=False)
class Body:
    """Something in the region, as the World and its observers know it."""

    guid: int
    cls: str
    props: dict[str, Any]
    pos: list[float]
    kind: str  # "player", "npc" or "thing"
    name: str = ""
    wid: str = ""
    yaw: float = 0.0
    health: int = 0
    max_health: int = 0
    conn: int = 0
    designer: bool = False
    obj: GameObject | None = None
    intent: tuple[float, float] = (0.0, 0.0)
    physical: bool = False
    container: str = OUTDOORS
    seen: set[int] = attrs.field(factory=set)
    spawner: str = ""
    home: tuple[float, float] = (0.0, 0.0)
    leader: int = 0
    hurt_by: int = 0
    next_action: float = 0.0
    items: list[list[Any]] = attrs.field(factory=list)
    expires: float = math.inf
    dead_until: float = 0.0
    """A dead player waits to rise until then (an NPC that dies leaves the world)."""
    viewed: bool = False
    """Its view was computed at least once (players)."""
    view_bucket: int = 0
    """The tick (modulo VIEW_EVERY) its view is recomputed on (players; dealt round-robin)."""
    seen_arr: np.ndarray | None = None
    """``seen`` as a sorted uint64 array (players; None: rebuild it from ``seen``)."""

    def describe(self) -> dict[str, Any]:
        """The Sight of this body: what an observer learns when it comes into view."""
        props = {k: v for k, v in self.props.items() if k in _SHOWN}
        return {
            "guid": self.guid,
            "id": self.wid,
            "class": self.cls,
            "name": self.name,
            "pos": [round(p, 3) for p in self.pos],
            "yaw": round(self.yaw, 1),
            "health": self.health,
            "max_health": self.max_health,
            "props": props,
        }


_SHOWN = ("size", "rooms", "height", "radius", "open", "width", "spawns", "count", "spawn_radius", "colour")


class NpcBody(GameObject):
    """An NPC in the region's ObjectSpace: its handlers hand blows to the World."""

    def __init__(self, world: World):
        super().__init__()
        self.world = world

    @handles(Hit)
    def on_hit(self, msg: Hit) -> None:
        self.world.hurt(self.guid, msg)


class Thing(GameObject):
    """A body with no behaviour of its own (an item, a corpse, a door, a tree): it has an address."""

    def unhandled(self, message: Any) -> None:  # a stray blow at a tree is not an error
        pass


@attrs.define
class _Arrow:
    shooter: int
    target: int
    damage: int


_NO_GUIDS = np.empty(0, np.uint64)
_position = attrgetter("pos")


def _unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)``: a sort and a compare (numpy 2's hashing unique is tens of times slower here)."""
    s = np.sort(values)
    if len(s) < 2:
        return s
    first = np.empty(len(s), bool)
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    return s[first]


def _unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)``, by a stable sort."""
    order = np.argsort(values, kind="stable")
    s = values[order]
    first = np.ones(len(s), bool)
    if len(s) > 1:
        np.not_equal(s[1:], s[:-1], out=first[1:])
    inverse = np.empty(len(s), np.int64)
    inverse[order] = np.cumsum(first) - 1
    return s[first], inverse


def _sorted_guids(guids: set[int]) -> np.ndarray:
    return np.sort(np.fromiter(guids, np.uint64, len(guids)))


class _MovedRows:
    """The recently moved bodies as ``Moves`` rows (Guid, x, y, z, yaw), sorted by Guid.

    Recently: this tick or up to CATCH_UP - 1 ticks before (``ages``), for
    the players far away, who get their rows less often (see
    :meth:`World._update_views`).

    The rows go out packed (:data:`MOVE_ROW`): each player's are one slice
    of one ``tobytes()`` of the rows all players get this tick.
    """

    __slots__ = ("guids", "values", "ages")

    def __init__(self, guids: list[int] | None = None, poses: np.ndarray | None = None):
        if not guids or poses is None:
            self.guids, self.values, self.ages = _NO_GUIDS, np.empty((0, 4)), np.empty(0, np.int8)
            return
        g = np.array(guids, np.uint64)
        order = np.argsort(g, kind="stable")
        self.guids = g[order]
        values = poses[order]
        values[:, :3] = np.round(values[:, :3], 3)
        values[:, 3] = np.round(values[:, 3], 1)
        self.values = values
        """Each row's x, y, z and yaw (rounded as sent), by row index."""
        self.ages = np.zeros(len(g), np.int8)
        """Ticks since each body last moved (0: this tick; set by :meth:`merged`)."""

    def __bool__(self) -> bool:
        return len(self.guids) > 0

    @classmethod
    def merged(cls, ticks: list[_MovedRows]) -> _MovedRows:
        """The rows of ``ticks`` (this tick's first, then one tick older each), a body's youngest kept."""
        given = [(age, t) for age, t in enumerate(ticks) if t]
        if not given:
            return cls()
        if len(given) == 1 and given[0][0] == 0:
            return given[0][1]
        out = cls()
        guids = np.concatenate([t.guids for _, t in given])
        order = np.argsort(guids, kind="stable")  # stable: of one body, the youngest row first
        guids = guids[order]
        first = np.ones(len(guids), bool)
        first[1:] = guids[1:] != guids[:-1]
        pick = order[first]
        out.guids = guids[first]
        out.values = np.concatenate([t.values for _, t in given])[pick]
        out.ages = np.concatenate([np.full(len(t.guids), age, np.int8) for age, t in given])[pick]
        return out

    def find(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each Guid in ``wanted``, its row index (clipped) and whether it moved."""
        at = np.searchsorted(self.guids, wanted)
        np.minimum(at, len(self.guids) - 1, out=at)
        return at, self.guids[at] == wanted

    def packed(self) -> np.ndarray:
        """The rows as ``MOVE_ROW`` bytes, one row of 3 uint64 each, by row index.

        Plain uint64 rows, not the records: ``take(rows, axis=0)`` on them
        is about ten times faster than indexing records with fields.
        """
        packed = np.empty(len(self.guids), MOVE_ROW_DTYPE)
        packed["guid"] = self.guids
        for column, name in enumerate(("x", "y", "z", "yaw")):
            packed[name] = self.values[:, column]
        return packed.view(np.uint64).reshape(len(self.guids), MOVE_ROW.size // 8)


class World:
    """The region: bodies, their views, physics, spawners and the rules between them."""

    def __init__(
        self,
        world_file: WorldFile,
        tree: ClassTree,
        *,
        space: ObjectSpace,
        send: Callable[[Any], None],
        rng: random.Random,
        me: int,
        physics: int | None = None,
        ai: int | None = None,
        physics_world: int = 1,
    ):
        self.file = world_file
        self.tree = tree
        self.space = space
        self.rng = rng
        self.me = me
        self.physics = physics
        self.ai = ai
        self.physics_world = physics_world
        self._send = send
        self.terrain = world_file.terrain()
        w, d = world_file.size
        self.spatial = SpatialWorld(
            WorldConfig(
                width=w,
                height=d,
                cell_size=32.0,
                view_radii=(PLAYER_VIEW, math.hypot(w, d), NPC_VIEW),
                margins=(5.0,),
                z_min=-100.0,
                z_max=1000.0,
            )
        )
        self.bodies: dict[int, Body] = {}
        self._players_added = 0
        self._player_bodies: dict[int, Body] = {}
        """The players among the bodies (asked for many times a tick: not a scan of every body)."""
        self.by_wid: dict[str, int] = {}
        self.stage = Stage([], tree)
        self.open_doors: set[str] = set()
        self._static_ids: dict[str, int] = {}
        self._spawners: dict[str, dict[str, Any]] = {}
        self._arrows: dict[int, _Arrow] = {}
        self._moved: set[int] = set()
        self._history: deque[_MovedRows] = deque(maxlen=CATCH_UP - 1)
        """The rows of the bodies moved in each of the last ticks, the latest first."""
        self._intents_dirty: set[int] = set()
        self._respawns: list[tuple[float, str, tuple[float, float], str]] = []
        self._scene_sent = False
        self._perceivers: list[set[int]] = [set() for _ in range(PERCEIVE_EVERY)]
        """NPCs with an AOI view (a brain when spawned) by perception tick, whose sight is within it."""
        self._far_sighted: set[int] = set()
        """NPCs with an AOI view whose sight reaches its radius: their views are scanned every tick."""
        self._watched: set[int] = set()
        """Bodies some player saw in the last full cycle of view recomputations."""
        self._watching_arrays: list[np.ndarray] = []
        """The views computed this tick (their union joins ``_watching_ticks``)."""
        self._watching_ticks: list[np.ndarray] = []
        """Per tick of this cycle, the Guids its views held (their union becomes ``_watched``)."""
        self._class_ids: dict[str, int] = {}
        """Each entity class as a number (from 1), the body's ``tag`` in the spatial table."""
        self._marker_ids = np.zeros(1, bool)
        """Per class number: is it a marker (never seen by players)? Grown with ``_class_ids``."""
        self._structure_ids = np.zeros(1, bool)
        """Per class number: is it a wall or a door (seen from both sides)? Grown with ``_class_ids``."""
        self._indoors: set[int] = set()
        """Bodies whose ``container`` is a room (kept by :meth:`_contain`)."""
        self._sees: Callable[[Body, Body], bool] = self.sees
        """The stage's rule as of this tick's views (:meth:`_sight_rule`)."""
        self._last_act = -math.inf
        self._ai_driving = False
        self.now = 0.0
        self.tick_no = 0
        self.spawn_point = (w / 2, d / 2)
        self.bind_point = self.spawn_point
        self.counts = {"sights": 0, "hits": 0, "deaths": 0, "refused": 0, "arrows": 0}
        self._load(world_file.entities)

    # -- loading -------------------------------------------------------------------------

    def _load(self, entities: Iterable[WorldEntity]) -> None:
        entities = [e for e in entities if e.cls in self.tree]
        self.stage = Stage(entities, self.tree)
        for e in entities:
            self.place(e)

    def place(self, e: WorldEntity) -> Body | None:
        """Add a world-file entity (a designer's Create goes through here too)."""
        props = self.tree.properties(e.cls, e.props)
        if self.tree.is_a(e.cls, "spawn_point"):
            self.spawn_point = e.pos
        if self.tree.is_a(e.cls, "bind_point"):
            self.bind_point = e.pos
        if self.tree.is_a(e.cls, "creature"):
            body = self.spawn(e.cls, e.pos, wid=e.id, props=e.props)
        else:
            body = self._add_thing(e.cls, e.pos, props, wid=e.id, yaw=e.yaw)
        if self.tree.is_a(e.cls, "door") and props.get("open"):
            self.open_doors.add(e.id)
        if self.tree.is_a(e.cls, "spawner"):
            self._spawners[e.id] = {"body": body.guid, "alive": set(), "due": 0.0}
        return body

    def rebuild_stage(self) -> None:
        """After buildings or doors change: recompute rooms and walls, resend them to physics."""
        entities = [
            WorldEntity(b.wid, b.cls, (b.pos[0], b.pos[1]), b.yaw, b.props)
            for b in self.bodies.values()
            if self.tree.is_a(b.cls, "building") or self.tree.is_a(b.cls, "door")
        ]
        self.stage = Stage(entities, self.tree)
        for body in self.bodies.values():  # rooms moved: every body's container anew, not only the moved
            self._contain(body, self.stage.container_at(body.pos[0], body.pos[1]))
        self._send_statics()

    # -- bodies --------------------------------------------------------------------------

    def _ground(self, x: float, y: float) -> list[float]:
        return [float(x), float(y), self.terrain.height_at(x, y)]

    def _add_thing(
        self,
        cls: str,
        pos: tuple[float, float],
        props: dict[str, Any],
        *,
        wid: str = "",
        yaw: float = 0.0,
        name: str = "",
    ) -> Body:
        thing = self.space.add(Thing())
        body = Body(
            thing.guid, cls, props, self._ground(*pos), "thing", name=name or cls, wid=wid, yaw=yaw, obj=thing
        )
        self._register(body, view=None)
        return body

    def spawn(
        self,
        cls: str,
        pos: tuple[float, float],
        *,
        wid: str = "",
        props: dict[str, Any] | None = None,
        spawner: str = "",
    ) -> Body:
        """An NPC of class ``cls`` at ``pos`` (on the ground), with a physics capsule."""
        merged = self.tree.properties(cls, props or {})
        npc = self.space.add(NpcBody(self))
        health = int(merged["health"])
        body = Body(
            npc.guid,
            cls,
            merged,
            self._ground(*pos),
            "npc",
            name=wid or cls,
            wid=wid,
            health=health,
            max_health=health,
            obj=npc,
            physical=True,
            spawner=spawner,
            home=(float(pos[0]), float(pos[1])),
        )
        self._register(body, view=VIEW_NPC if merged.get("brain") else None)
        self._add_capsule(body)
        return body

    def add_player(self, character: Character, conn: int, *, designer: bool = False) -> Body:
        """A player enters: its avatar joins the region, seen and seeing from the next tick."""
        props = self.tree.properties("player")
        if character.fresh or not any(character.position):
            x, y = self._near(self.spawn_point, 4.0)
            character.position = self._ground(x, y)
            character.fresh = False
        x, y = character.position[0], character.position[1]
        body = Body(
            character.guid,
            "player",
            props,
            self._ground(x, y),
            "player",
            name=character.name,
            yaw=character.yaw,
            health=character.health,
            max_health=MAX_HEALTH,
            conn=conn,
            designer=designer,
            obj=character,
            physical=True,
            # Round-robin, not by Guid: every character is object 1 of its own space, so its
            # Guid modulo VIEW_EVERY is the same for all and they would all be recomputed at once.
            view_bucket=self._players_added % VIEW_EVERY,
        )
        self._players_added += 1
        character.world = self
        character.dirty = True
        self._register(body, view=VIEW_DESIGNER if designer else VIEW_PLAYER)
        self._add_capsule(body)
        self._send(Sight(conn, self.me, entity=self.describe_world()))
        return body

    def remove(self, guid: int) -> None:
        """Take a body out (a player left, an NPC died, a designer deleted it)."""
        body = self.bodies.pop(guid, None)
        if body is None:
            return
        self._player_bodies.pop(guid, None)
        self._perceivers[guid % PERCEIVE_EVERY].discard(guid)
        self._far_sighted.discard(guid)
        for observer in self._players():  # gone from every view at once, not at the next recomputation
            if guid in observer.seen:
                observer.seen.discard(guid)
                observer.seen_arr = None
                self._send(Disappear(Guid(observer.conn), Guid(guid), target=Guid(guid)))
        if body.wid:
            self.by_wid.pop(body.wid, None)
        self.spatial.remove(guid)
        self._moved.discard(guid)
        self._indoors.discard(guid)
        if body.physical and self.physics is not None:
            self._send(PhysicsRemoveBody(self.physics, self.me, self.physics_world, Guid(guid)))
        if body.kind != "player" and body.obj is not None and body.obj.space is not None:
            self.space.remove(body.obj)
        for spawner in self._spawners.values():
            spawner["alive"].discard(guid)

    def _register(self, body: Body, view: int | None) -> None:
        self.bodies[body.guid] = body
        if body.kind == "player":
            self._player_bodies[body.guid] = body
        elif view == VIEW_NPC:
            if _far_sighted(float(body.props.get("sight", NPC_VIEW))):
                self._far_sighted.add(body.guid)
            else:
                self._perceivers[body.guid % PERCEIVE_EVERY].add(body.guid)
        if body.wid:
            self.by_wid[body.wid] = body.guid
        self._contain(body, self.stage.container_at(body.pos[0], body.pos[1]))
        cid = self._class_ids.setdefault(body.cls, len(self._class_ids) + 1)
        self.spatial.add(body.guid, body.pos, view_class=view, tag=cid)

    def _add_capsule(self, body: Body) -> None:
        if self.physics is None or not self._scene_sent:
            return  # send_scene adds every capsule
        radius = float(body.props.get("radius", 0.4))
        height = max(float(body.props.get("height", 1.8)), 2 * radius + 0.01)
        self._send(
            PhysicsAddBody(
                self.physics,
                self.me,
                self.physics_world,
                Guid(body.guid),
                "capsule",
                body.pos[0],
                body.pos[1],
                body.pos[2],
                radius,
                height,
                max_speed=float(body.props.get("speed", 5.0)),
            )
        )

    def _near(self, at: tuple[float, float], radius: float) -> tuple[float, float]:
        a = self.rng.uniform(0, 2 * math.pi)
        r = radius * math.sqrt(self.rng.random())
        w, d = self.file.size
        return (
            min(max(at[0] + r * math.cos(a), 1.0), w - 1.0),
            min(max(at[1] + r * math.sin(a), 1.0), d - 1.0),
        )

    def describe_world(self) -> dict[str, Any]:
        f = self.file
        return {
            "guid": 0,
            "id": "world",
            "class": "world",
            "name": f.name,
            "pos": [0.0, 0.0, 0.0],
            "yaw": 0.0,
            "health": 0,
            "max_health": 0,
            "props": {
                "size": list(f.size),
                "cell_size": f.cell_size,
                "base": f.base,
                "hills": [[h.at[0], h.at[1], h.radius, h.height] for h in f.hills],
            },
        }

    # -- physics -------------------------------------------------------------------------

    def send_scene(self) -> None:
        """Terrain, walls and every capsule to physics: at start, and whenever physics lost them."""
        if self.physics is None:
            return
        self._scene_sent = True
        t = self.terrain
        ny, nx = t.heights.shape
        self._send(PhysicsReset(self.physics, self.me, self.physics_world))
        self._send(
            PhysicsTerrain(
                self.physics,
                self.me,
                self.physics_world,
                nx,
                ny,
                t.cell_size,
                0.0,
                0.0,
                t.heights.astype("<f4").tobytes(),
            )
        )
        self._send_statics()
        for body in self.bodies.values():
            if body.physical:
                self._add_capsule(body)
                self._intents_dirty.add(body.guid)

    def _static_id(self, key: str) -> int:
        return self._static_ids.setdefault(key, len(self._static_ids) + 1)

    def _send_statics(self) -> None:
        if self.physics is None:
            return
        boxes = []
        for box in self.stage.wall_boxes():
            boxes.append([self._static_id(box[0])] + [float(v) for v in box[1:]])
        for door_id in self.stage.doors:
            if door_id not in self.open_doors:
                box = self.stage.door_box(door_id)
                boxes.append([self._static_id(box[0])] + [float(v) for v in box[1:]])
        for body in self.bodies.values():
            if body.kind == "thing" and (
                self.tree.is_a(body.cls, "tree") or self.tree.is_a(body.cls, "rock")
            ):
                r, h = float(body.props["radius"]), float(body.props["height"])
                boxes.append(
                    [
                        self._static_id(f"prop.{body.guid}"),
                        body.pos[0],
                        body.pos[1],
                        body.pos[2] + h / 2,
                        r,
                        r,
                        h / 2,
                        0.0,
                    ]
                )
        self._send(PhysicsStatics(self.physics, self.me, self.physics_world, boxes, True))  # replace all

    def on_poses(self, poses: list[list[Any]]) -> None:
        """Resolved positions from physics: the only way a creature's position changes."""
        get, moved = self.bodies.get, self._moved.add
        for row in poses:
            body = get(row[0])
            if body is None:
                continue
            body.pos = [float(row[1]), float(row[2]), float(row[3])]
            moved(body.guid)

    def on_projectile_hits(self, hits: list[list[Any]]) -> None:
        for projectile, target, *_point in hits:
            arrow = self._arrows.pop(projectile, None)
            if arrow is None:
                continue
            self.space.manager.guid_server.free_object(projectile)
            if target and target in self.bodies and self.bodies[target].kind != "thing":
                self._send(
                    Hit(
                        Guid(target),
                        Guid(arrow.shooter),
                        target=Guid(target),
                        attacker=Guid(arrow.shooter),
                        damage=arrow.damage,
                        what="arrow",
                    )
                )
            else:
                self._miss(arrow.shooter, arrow.target, "arrow")

    def on_projectiles_expired(self, projectiles: list[int]) -> None:
        for projectile in projectiles:
            arrow = self._arrows.pop(projectile, None)
            if arrow is not None:
                self.space.manager.guid_server.free_object(projectile)
                self._miss(arrow.shooter, arrow.target, "arrow")

    # -- actions -------------------------------------------------------------------------

    def move(self, guid: int, vx: float, vy: float, yaw: float | None = None) -> bool:
        """A wish to walk at (vx, vy); physics caps the speed and stops it at walls."""
        body = self.bodies.get(guid)
        if body is None or not body.physical or body.dead_until > self.now:
            return False
        if not (math.isfinite(vx) and math.isfinite(vy)):
            return False
        speed = float(body.props.get("speed", 5.0))
        norm = math.hypot(vx, vy)
        if norm > speed:
            vx, vy = vx * speed / norm, vy * speed / norm
        if yaw is not None and math.isfinite(yaw):
            body.yaw = yaw % 360.0
        elif norm > 0:
            body.yaw = math.degrees(math.atan2(vy, vx)) % 360.0
        if (vx, vy) != body.intent:
            body.intent = (vx, vy)
            self._intents_dirty.add(guid)
        return True

    def teleport(self, guid: int, x: float, y: float) -> None:
        body = self.bodies[guid]
        body.pos = self._ground(x, y)
        body.intent = (0.0, 0.0)
        self._moved.add(guid)
        if body.physical:
            self._add_capsule(body)

    def melee(
        self, attacker: Body, target: Body, *, weapon_damage: int, reach: float, level: float, what: str
    ) -> bool | None:
        """Roll a melee blow; returns True (landed), False (missed) or None (out of reach)."""
        if self.distance(attacker, target) > reach + float(target.props.get("radius", 0.4)):
            return None
        attacker.yaw = self._facing(attacker, target)
        if self.rng.random() < rules.hit_chance(level):
            dmg = rules.damage(weapon_damage, level, self.rng)
            self._send(
                Hit(
                    Guid(target.guid),
                    Guid(attacker.guid),
                    target=Guid(target.guid),
                    attacker=Guid(attacker.guid),
                    damage=dmg,
                    what=what,
                )
            )
            return True
        self._miss(attacker.guid, target.guid, what)
        return False

    def shoot(self, shooter: Body, target: Body, *, weapon_damage: int, reach: float, level: float) -> bool:
        """Loose an arrow at ``target``: aimed with an error that shrinks with archery skill."""
        if self.distance(shooter, target) > reach or self.physics is None:
            return False
        if not self.sees(shooter, target):
            return False
        err = rules.aim_error(level)
        a = self.rng.uniform(0, 2 * math.pi)
        r = err * math.sqrt(self.rng.random())
        tx, ty = target.pos[0] + r * math.cos(a), target.pos[1] + r * math.sin(a)
        tz = target.pos[2] + 0.6 * float(target.props.get("height", 1.8))
        sx, sy, sz = shooter.pos[0], shooter.pos[1], shooter.pos[2] + 1.5
        dx, dy, dz = tx - sx, ty - sy, tz - sz
        flat = math.hypot(dx, dy)
        # Start the arrow just outside the shooter's capsule, aimed along the line of fire.
        start = float(shooter.props.get("radius", 0.4)) + 0.3
        if flat > 1e-6:
            sx, sy = sx + dx / flat * start, sy + dy / flat * start
            flat = max(flat - start, 0.1)
        t = max(flat / ARROW_SPEED, 0.02)
        vx, vy = (
            (dx / max(math.hypot(dx, dy), 1e-6)) * flat / t,
            (dy / max(math.hypot(dx, dy), 1e-6)) * flat / t,
        )
        vz = dz / t + 0.5 * GRAVITY * t
        projectile = self.space.manager.guid_server.allocate_object(self.space.space_id)
        dmg = rules.damage(weapon_damage, level, self.rng)
        self._arrows[projectile] = _Arrow(shooter.guid, target.guid, dmg)
        shooter.yaw = self._facing(shooter, target)
        self._send(
            SpawnProjectile(
                self.physics,
                self.me,
                self.physics_world,
                Guid(projectile),
                Guid(shooter.guid),
                sx,
                sy,
                sz,
                vx,
                vy,
                vz,
                ARROW_LIFETIME,
            )
        )
        self.counts["arrows"] += 1
        self.sound(shooter, "arrow", "")
        return True

    def hurt(self, guid: int, hit: Hit) -> None:
        """Apply a blow that reached its target: health, the Hit everyone sees, maybe death."""
        body = self.bodies.get(guid)
        if body is None or body.health <= 0 or body.dead_until > self.now:
            return
        body.health = max(0, body.health - int(hit.damage))
        body.hurt_by = int(hit.attacker)
        if isinstance(body.obj, Character):
            body.obj.health = body.health
            body.obj.last_hurt = self.now
            body.obj.dirty = True
        self.counts["hits"] += 1
        seen = Hit(
            Guid(0),
            Guid(guid),
            target=Guid(guid),
            attacker=hit.attacker,
            damage=int(hit.damage),
            health=body.health,
            what=hit.what,
        )
        self._to_observers(body, lambda conn: seen.replace(to=Guid(conn)))
        self.sound(body, "hit", hit.what)
        attacker = self.bodies.get(int(hit.attacker))
        if attacker is not None and isinstance(attacker.obj, Character):
            attacker.obj.dirty = True
        if body.health <= 0:
            self._die(body, int(hit.attacker))

    def _die(self, body: Body, killer: int) -> None:
        self.counts["deaths"] += 1
        loot = [[item, 1] for item in body.props.get("loot", [])]
        if isinstance(body.obj, Character) and body.obj.coins:
            dropped = body.obj.coins // 2
            body.obj.coins -= dropped
            if dropped:
                loot.append(["coin", dropped])
        corpse = self._add_thing(
            "corpse",
            (body.pos[0], body.pos[1]),
            self.tree.properties("corpse"),
            name=f"corpse of {body.name}",
        )
        corpse.items = loot
        corpse.expires = self.now + float(corpse.props.get("decay", 60.0))
        death = Death(
            Guid(0), Guid(body.guid), target=Guid(body.guid), killer=Guid(killer), corpse=Guid(corpse.guid)
        )
        self._to_observers(body, lambda conn: death.replace(to=Guid(conn)))
        self.sound(body, "death", "")
        if body.kind == "player":
            body.dead_until = self.now + RESPAWN_DELAY
            body.intent = (0.0, 0.0)
            self._intents_dirty.add(body.guid)
        else:
            if body.spawner and body.spawner in self._spawners:
                spawner = self._spawners[body.spawner]
                marker = self.bodies.get(spawner["body"])
                if marker is not None:
                    spawner["due"] = max(spawner["due"], self.now + float(marker.props.get("respawn", 20.0)))
            elif body.wid:  # a placed NPC (the trader) comes back where it stood
                self._respawns.append((self.now + 20.0, body.cls, body.home, body.wid))
            self.remove(body.guid)

    def _respawn_player(self, body: Body) -> None:
        character = body.obj
        assert isinstance(character, Character)
        body.dead_until = 0.0
        body.health = character.health = MAX_HEALTH
        character.stamina, character.mana = float(MAX_STAMINA), float(MAX_MANA)
        character.dirty = True
        self.teleport(body.guid, *self._near(self.bind_point, 2.0))
        seen = Set(Guid(0), Guid(body.guid), target=Guid(body.guid), props={"health": body.health})
        self._to_observers(body, lambda conn: seen.replace(to=Guid(conn)))

    def _miss(self, attacker: int, target: int, what: str) -> None:
        body = self.bodies.get(target)
        miss = Miss(Guid(0), Guid(attacker), target=Guid(target), attacker=Guid(attacker), what=what)
        if body is not None:
            self._to_observers(body, lambda conn: miss.replace(to=Guid(conn)))

    def touch(self, who: Body, target: Body) -> str:
        """Use ``target``: a door opens or shuts, a corpse is looted, the trader buys, a pig follows."""
        if self.distance(who, target) > TOUCH_REACH + float(target.props.get("radius", 0.5)):
            return "refused: too far away"
        if self.tree.is_a(target.cls, "door"):
            self.set_door(target, target.wid not in self.open_doors)
            return "ok: the door is " + ("open" if target.wid in self.open_doors else "shut")
        if self.tree.is_a(target.cls, "corpse"):
            if not target.items:
                return "ok: nothing left to take"
            items, target.items = target.items, []
            self._send(Give(Guid(who.guid), Guid(target.guid), items=items))
            return "ok: you take " + ", ".join(f"{n} {item}" for item, n in items)
        if self.tree.is_a(target.cls, "trader") and isinstance(who.obj, Character):
            inventory = who.obj.inventory
            earned, sold = 0, []
            for record in list(inventory.items if inventory else []):
                cls = record["item"]
                if (
                    cls in self.tree
                    and self.tree.is_a(cls, "item")
                    and not self.tree.is_a(cls, "weapon")
                    and cls != "bread"
                ):
                    value = int(self.tree.defaults(cls).get("value", 0)) * int(record["count"])
                    if value:
                        earned += value
                        sold.append(f"{record['count']} {cls}")
                        inventory.take(cls, int(record["count"]))
            if not earned:
                return "ok: the trader wants pigs, ham and pelts"
            who.obj.coins += earned
            who.obj.dirty = True
            return f"ok: the trader pays {earned} coins for {', '.join(sold)}"
        if self.tree.is_a(target.cls, "pig") and target.kind == "npc":
            target.leader = who.guid if target.leader != who.guid else 0
            return "ok: the pig follows you" if target.leader else "ok: the pig wanders off"
        return "refused: nothing happens"

    def set_door(self, door: Body, is_open: bool) -> None:
        if is_open:
            self.open_doors.add(door.wid)
        else:
            self.open_doors.discard(door.wid)
        door.props["open"] = is_open
        if self.physics is not None and door.wid in self.stage.doors:
            if is_open:
                self._send(
                    PhysicsRemoveStatics(
                        self.physics, self.me, self.physics_world, [self._static_id(f"door.{door.wid}")]
                    )
                )
            else:
                box = self.stage.door_box(door.wid)
                self._send(
                    PhysicsStatics(
                        self.physics,
                        self.me,
                        self.physics_world,
                        [[self._static_id(box[0])] + [float(v) for v in box[1:]]],
                    )
                )
        changed = Set(Guid(0), Guid(door.guid), target=Guid(door.guid), props={"open": is_open})
        self._to_observers(door, lambda conn: changed.replace(to=Guid(conn)))
        self.sound(door, "door", "open" if is_open else "shut")

    def buy_pig(self, trader: Body, pig: Body) -> bool:
        """The trader takes a pig led to him and pays its leader."""
        if pig.kind != "npc" or not pig.leader or self.distance(trader, pig) > TRADER_REACH:
            return False
        leader = self.bodies.get(pig.leader)
        if leader is None or not isinstance(leader.obj, Character):
            return False
        value = int(pig.props.get("value", 10))
        self._send(Give(Guid(leader.guid), Guid(trader.guid), items=[["coin", value]]))
        self._send(
            Info(Guid(leader.conn), Guid(trader.guid), text=f"ok: the trader buys your pig for {value} coins")
        )
        self.sound(trader, "talk", "A fine pig!")
        if pig.spawner and pig.spawner in self._spawners:
            self._spawners[pig.spawner]["due"] = self.now + 10.0
        self.remove(pig.guid)
        return True

    # -- sight and sound -----------------------------------------------------------------

    def distance(self, a: Body, b: Body) -> float:
        return math.hypot(a.pos[0] - b.pos[0], a.pos[1] - b.pos[1])

    def _facing(self, a: Body, b: Body) -> float:
        return math.degrees(math.atan2(b.pos[1] - a.pos[1], b.pos[0] - a.pos[0])) % 360.0

    def sees(self, observer: Body, target: Body) -> bool:
        """The stage's rule: same container, or a door between them open."""
        if observer.container == target.container:
            return True
        if self.tree.is_a(target.cls, "building") or self.tree.is_a(target.cls, "door"):
            return True  # walls and doors are seen from both sides
        return self.stage.can_see(observer.pos, target.pos, self.open_doors)

    def _sight_rule(self) -> tuple[Callable[[Body, Body], bool], Callable[[str, Body], bool],
                                   Callable[[str, str], bool]]:
        """:meth:`sees` for this tick's views, once every body's ``container`` is current; the
        same rule from a container (``sees_from(container, target)``); and whether an open door
        joins two containers (``joined(a, b)``), the part of the rule that is not about the target.

        The stage's rule depends only on the two containers (and the open
        doors), so each pair of containers is worked out once a tick, not
        once per pair of bodies (a crowd at the inn's door is thousands).
        """
        pairs: dict[tuple[str, str], bool] = {}
        structure: dict[str, bool] = {}
        is_a, stage, open_doors = self.tree.is_a, self.stage, self.open_doors

        def sees_from(a: str, target: Body) -> bool:
            """Whether a body in container ``a`` sees ``target`` (this tick's containers)."""
            b = target.container
            if a == b:
                return True
            s = structure.get(target.cls)
            if s is None:
                s = structure[target.cls] = is_a(target.cls, "building") or is_a(target.cls, "door")
            if s:
                return True  # walls and doors are seen from both sides
            return joined(a, b)

        def joined(a: str, b: str) -> bool:
            v = pairs.get((a, b))
            if v is None:
                v = pairs[(a, b)] = any(d.id in open_doors for d in stage.doors_between(a, b))
            return v

        def sees(observer: Body, target: Body) -> bool:
            a = observer.container
            return a == target.container or sees_from(a, target)

        return sees, sees_from, joined

    def _visible_to(self, observer: Body, target: Body) -> bool:
        if target.guid == observer.guid or target.dead_until > self.now:
            return False
        if not observer.designer and self.tree.is_a(target.cls, "marker"):
            return False
        return observer.designer or self.sees(observer, target)

    def sound(self, source: Body, what: str, text: str) -> None:
        """A sound at ``source``: heard by players within range; a shut door muffles it."""
        full = TALK_RANGE
        x, y, z = source.pos
        for body in self._players():
            d = math.hypot(body.pos[0] - x, body.pos[1] - y)
            if d > full:
                continue
            reach = (
                full
                if body.container == source.container
                else self.stage.hearing_range(source.pos, body.pos, full, self.open_doors)
            )
            if d <= reach:
                self._send(
                    Sound(
                        Guid(body.conn),
                        Guid(source.guid),
                        source=Guid(source.guid),
                        what=what,
                        text=text,
                        x=x,
                        y=y,
                        z=z,
                    )
                )

    def _players(self) -> list[Body]:
        return list(self._player_bodies.values())

    def _to_observers(self, body: Body, make: Callable[[int], Any]) -> None:
        """Send to every player who sees ``body`` (and to the body itself if it is a player)."""
        g = body.guid
        for conn in [o.conn for o in self._player_bodies.values() if g in o.seen or o.guid == g]:
            self._send(make(conn))

    def info(self, body: Body, text: str, refno: int = 0) -> None:
        if body.conn:
            self._send(Info(Guid(body.conn), Guid(self.me), refno=refno, text=text))

    # -- the tick ------------------------------------------------------------------------

    def tick(self, now: float, tick: int) -> None:
        """Everything the region does once per engine tick (see the module docstring)."""
        dt = now - self.now if self.tick_no else 0.0
        self.now, self.tick_no = now, tick
        self._refill_spawners()
        self._respawn_placed()
        self._decay()
        self._npcs_without_brain()
        for body in self._players():
            character = body.obj
            if body.dead_until and body.dead_until <= now:
                self._respawn_player(body)
            if isinstance(character, Character):
                character.regenerate(dt, now)
        self._step_physics(tick)
        self._update_views()
        if self.ai is not None:
            self._perceive()
        self._send_stats()

    def _refill_spawners(self) -> None:
        for spawner in self._spawners.values():
            marker = self.bodies.get(spawner["body"])
            if marker is None or self.now < spawner["due"]:
                continue
            p = marker.props
            if len(spawner["alive"]) < int(p.get("count", 0)) and p.get("spawns") in self.tree:
                npc = self.spawn(
                    str(p["spawns"]),
                    self._near((marker.pos[0], marker.pos[1]), float(p.get("spawn_radius", 10.0))),
                    spawner=marker.wid,
                )
                spawner["alive"].add(npc.guid)
                spawner["due"] = self.now + 0.5  # one at a time, so a new world fills up visibly

    def _respawn_placed(self) -> None:
        due = [r for r in self._respawns if r[0] <= self.now]
        for r in due:
            self._respawns.remove(r)
            self.spawn(r[1], r[2], wid=r[3])

    def _decay(self) -> None:
        for body in [b for b in self.bodies.values() if b.expires <= self.now]:
            self.remove(body.guid)

    def _npcs_without_brain(self) -> None:
        """If the AI node went quiet, NPCs stand still; they resume when it speaks again."""
        if self._ai_driving and self.now - self._last_act > AI_SILENCE:
            self._ai_driving = False
            for body in self.bodies.values():
                if body.kind == "npc":
                    self.move(body.guid, 0.0, 0.0)

    def on_act(self, actions: list[list[Any]]) -> None:
        """What the AI node's brains decided for their NPCs."""
        self._last_act = self.now
        self._ai_driving = True
        for row in actions:
            if not isinstance(row, list) or len(row) < 2:
                continue
            body = self.bodies.get(row[0])
            if body is None or body.kind != "npc" or body.health <= 0:
                continue
            verb = row[1]
            try:
                if verb == "move":
                    self.move(body.guid, float(row[2]), float(row[3]))
                elif verb == "attack":
                    self._npc_attack(body, self.bodies.get(row[2]))
                elif verb == "say":
                    self.sound(body, "talk", str(row[2])[:200])
                elif verb == "buy":
                    pig = self.bodies.get(row[2])
                    if pig is not None and self.tree.is_a(body.cls, "trader"):
                        self.buy_pig(body, pig)
            except (IndexError, TypeError, ValueError):
                self.counts["refused"] += 1

    def _npc_attack(self, npc: Body, target: Body | None) -> None:
        if target is None or target.health <= 0 or target.dead_until > self.now or npc.next_action > self.now:
            return
        npc.next_action = self.now + ATTACK_COOLDOWN
        self.melee(
            npc,
            target,
            weapon_damage=int(npc.props.get("damage", 1)),
            reach=float(npc.props.get("reach", 2.0)),
            level=40.0,
            what="bite",
        )

    def _step_physics(self, tick: int) -> None:
        if self.physics is None:
            return
        if self._intents_dirty:
            rows = []
            for guid in sorted(self._intents_dirty):
                body = self.bodies.get(guid)
                if body is not None and body.physical:
                    rows.append([Guid(guid), float(body.intent[0]), float(body.intent[1]), 0.0])
            self._intents_dirty.clear()
            if rows:
                self._send(MoveIntents(self.physics, self.me, self.physics_world, rows))
        self._send(PhysicsStep(self.physics, self.me, self.physics_world, tick))

    def _update_views(self) -> None:
        """AOI from the native grid, narrowed by the stage; Sight, Disappear and Moves per player.

        Each tick a player gets the moves of what it sees, of the far ones
        less often (:meth:`_due_rows`); which bodies it sees is recomputed
        for a quarter of the players each tick (every player every
        VIEW_EVERY ticks, 200 ms), so a body comes into view at most that
        late. Per tick, not per pair: each moved body's update row is
        built once (and only if some player gets it), and the bodies no
        player may see (markers, the dead, rooms the outdoors cannot see
        into) are found once.
        The rows each player gets are picked for every player at once in
        numpy (each player's seen set is kept as a sorted array too), so a
        player costs one Moves, not a loop over what it sees.
        """
        bodies = self.bodies
        moved = self._moved
        table = self.spatial.table
        changed, poses, moved_bodies = [], [], []
        add_pose, add_yaw = poses.extend, poses.append  # flat: x, y, z, yaw of each in turn
        was_inside: list[int] = []  # indexes of moved bodies that stood in a room
        for guid in moved:
            body = bodies.get(guid)
            if body is not None:
                if body.container != OUTDOORS:
                    was_inside.append(len(changed))
                changed.append(guid)
                add_pose(body.pos)
                add_yaw(body.yaw)
                moved_bodies.append(body)
        players = self._players()
        moved_rows = _MovedRows()
        if changed:
            arr = np.array(poses, np.float64).reshape(len(changed), 4)
            self._place_in_rooms(moved_bodies, arr, was_inside)
            in_table = table._slot
            placed = [i for i, g in enumerate(changed) if g in in_table]
            if len(placed) < len(changed):  # added this tick: not placed in the table yet
                for i in set(range(len(changed))) - set(placed):
                    table.set_position(changed[i], arr[i, :3])
                table.set_positions([changed[i] for i in placed], arr[placed, :3])
            else:
                table.set_positions(changed, arr[:, :3])
        if players:  # the update rows are for players only
            moved_rows = self._recent_rows(changed, arr if changed else None)
        else:  # no rows were kept: none may be taken for a later tick's
            self._history.clear()
        self.spatial.step(0.0, due=self._views_read())
        off, ents = self.spatial.aoi.csr()
        guids = table.guids
        sees, sees_from, joined = self._sight_rule()
        self._sees = sees
        bucket = self.tick_no % VIEW_EVERY
        # 1. the views due for recomputation this tick (Sight and Disappear kept for step 3)
        present: list[Body] = []
        changes: dict[int, tuple[list[int], list[int]]] = {}
        kept: list[np.ndarray] = []
        due: dict[str, list[tuple[int, Body]]] = {}  # (index into kept, player) by where it stands
        rows_n = len(off) - 1
        for observer in players:
            if observer.guid not in table:
                continue
            present.append(observer)
            if observer.view_bucket != bucket and observer.viewed:
                if observer.seen_arr is None:
                    observer.seen_arr = _sorted_guids(observer.seen)
                kept.append(observer.seen_arr)
                continue
            kept.append(_NO_GUIDS)
            slot = table.slot(observer.guid)
            if not observer.designer and slot < rows_n:
                due.setdefault(observer.container, []).append((len(kept) - 1, observer))
                continue
            observer.viewed = True
            visible: set[int] = set()
            if slot < rows_n:  # a designer: everything but the dead
                visible = set(guids[ents[off[slot] : off[slot + 1]]].tolist())
                visible.discard(observer.guid)
                visible &= bodies.keys()
                visible -= {g for g in visible if bodies[g].dead_until > self.now}
            self._new_view(observer, visible, None, changes, kept, bool(moved_rows))
        seeable = self._seeable() if due else None
        for place, group in due.items():
            may_see = self._seen_from(place, seeable, sees_from, joined)
            self._views(group, may_see, off, ents, changes, kept, bool(moved_rows))
        # 2. the Moves rows of every player at once: what it saw and still sees, among the moved
        updates = [b""] * len(present)  # each player's Moves: packed rows (MOVE_ROW), its own last
        if moved_rows and present:
            picked, ends = self._due_rows(present, kept, moved_rows)
            own_at, own_hit = moved_rows.find(np.fromiter((o.guid for o in present), np.uint64, len(present)))
            own_hit &= moved_rows.ages[own_at] == 0
            mine = np.flatnonzero(own_hit)
            order = np.insert(picked, ends[mine], own_at[mine])  # after the player's picks (stable on ties)
            ends = ends + np.cumsum(own_hit)
            blob = moved_rows.packed().take(order, axis=0).tobytes()
            size = MOVE_ROW.size
            begin = 0
            for k, end in enumerate(ends.tolist()):
                if end > begin:
                    updates[k] = blob[begin * size : end * size]
                    begin = end
        # 3. send, player by player: Sight, Disappear, Moves
        conn_sight = self.counts
        described: dict[int, dict[str, Any]] = {}  # a body coming into several views is described once
        for k, observer in enumerate(present):
            conn = observer.conn
            change = changes.get(observer.guid)
            if change is not None:
                for g in change[0]:
                    entity = described.get(g)
                    if entity is None:
                        entity = described[g] = bodies[g].describe()
                    self._send(Sight(Guid(conn), Guid(g), entity=entity))
                    conn_sight["sights"] += 1
                for g in change[1]:
                    self._send(Disappear(Guid(conn), Guid(g), target=Guid(g)))
            if updates[k]:
                self._send(Moves(Guid(conn), Guid(self.me), updates=updates[k]))
        # the union of every view of a cycle, a quarter each tick: one sort of all of them at the
        # cycle's end made every fourth tick about 3 ms longer at 1,000 players
        if self._watching_arrays:
            arrays, self._watching_arrays = self._watching_arrays, []
            self._watching_ticks.append(_unique(np.concatenate(arrays)))
        if self.tick_no % VIEW_EVERY == VIEW_EVERY - 1:  # a full cycle: every player's view recomputed
            parts, self._watching_ticks = self._watching_ticks, []
            self._watched = set(_unique(np.concatenate(parts)).tolist()) if parts else set()
        self._moved = set()

    def _recent_rows(self, changed: list[int], poses: np.ndarray | None) -> _MovedRows:
        """Rows for the bodies moved this tick and those moved in the CATCH_UP - 1 ticks before.

        A body that moved then and not since is where its row of then says,
        so the rows of the last ticks are kept and merged (the youngest row
        of each body wins), with no loop over the bodies.
        """
        fresh = _MovedRows(changed, poses)
        history = self._history
        rows = _MovedRows.merged([fresh, *history])
        history.appendleft(fresh)
        return rows

    def _due_rows(self, present: list[Body], kept: list[np.ndarray],
                  moved: _MovedRows) -> tuple[np.ndarray, np.ndarray]:
        """Which moved rows each player in ``present`` gets this tick (it sees ``kept``), by distance.

        A body within NEAR_EVERY_TICK m of the player: every tick it moves.
        Within MID_EVERY_2 m: every second tick; farther (to the 60 m
        view): every fourth. The ticks are the player's own (its view
        bucket), so the load is spread. On every CATCH_UP-th tick of its own
        a player also gets every body it sees that moved in the ticks
        since, wherever it is: so a body that moved while far, and then
        stopped or came near, has its last position sent within CATCH_UP
        ticks. A row always holds the body's current position. One C call
        for every (player, seen body) pair (:func:`engine.spatial.pick_updates`);
        player k's rows are ``picked[ends[k-1]:ends[k]]``.
        """
        n = len(present)
        xyz = np.fromiter(chain.from_iterable(map(_position, present)), np.float64, 3 * n)
        xy = xyz.reshape(n, 3)[:, :2]
        phase = np.fromiter(((self.tick_no + o.view_bucket) % CATCH_UP for o in present), np.int8, n)
        return pick_updates(kept, xy, phase, moved=moved.guids, ages=moved.ages, moved_xy=moved.values,
                            bands=(NEAR_EVERY_TICK, MID_EVERY_2), masks=(0, 1, CATCH_UP - 1))

    def _place_in_rooms(self, moved: list[Body], poses: np.ndarray, was_inside: list[int]) -> None:
        """Each moved body's ``container`` from where it now stands (``poses``: x, y first).

        Only bodies in a room now or before are touched: outdoors stays outdoors.
        """
        room, names = self.stage.rooms_at(poses[:, :2])
        inside = np.flatnonzero(room >= 0).tolist()
        for i in set(inside).union(was_inside):
            r = int(room[i])
            self._contain(moved[i], names[r] if r >= 0 else OUTDOORS)

    def _contain(self, body: Body, container: str) -> None:
        """Where a body stands now (a room, or OUTDOORS); the few indoors are kept apart."""
        body.container = container
        if container == OUTDOORS:
            self._indoors.discard(body.guid)
        else:
            self._indoors.add(body.guid)

    def _views_read(self) -> list[int]:
        """Guids of the observers whose AOI views are scanned this tick; the others keep theirs.

        Every player's: a view keeps what is still within the margin of
        what it held the tick before, so it must be followed every tick to
        come out the same when it is read. With an AI node, the NPCs that
        may perceive this tick: an NPC whose sight (plus SIGHT_SLACK) lies
        within its AOI radius is never told of what only the margin kept,
        so the other ticks need no scan; one whose sight reaches the
        radius (a wolf's 30 m, the trader's 40 m) is scanned every tick.
        If a designer raises an NPC's sight past the radius, perception
        finds it out and it is scanned every tick from then on; until the
        margin has caught up, it may not be told of a body 30-35 m away
        that its view would have kept had it been scanned all along.
        """
        due = list(self._player_bodies)
        if self.ai is not None:
            due += self._far_sighted
            due += self._perceivers[self.tick_no % PERCEIVE_EVERY]
        return due

    def _seeable(self) -> np.ndarray:
        """Per table slot, whether a player may see the body there from somewhere: a body, not a
        marker, not a player dead and waiting to rise.

        Markers are found by the class number each slot is tagged with and
        the dead among the players (only players wait dead): no loop over
        every body.
        """
        table = self.spatial.table
        n = table.n
        if len(self._marker_ids) <= len(self._class_ids):
            is_a = self.tree.is_a
            ids = sorted(self._class_ids.items(), key=lambda item: item[1])
            self._marker_ids = np.array([False] + [is_a(c, "marker") for c, _ in ids], bool)
            self._structure_ids = np.array([False] + [is_a(c, "building") or is_a(c, "door") for c, _ in ids],
                                           bool)
        may_see = np.zeros(max(n, 1), bool)
        may_see[:n] = table.alive[:n].astype(bool) & ~self._marker_ids[table.tag[:n]]
        for _, slot in self._dead_players():
            may_see[slot] = False
        return may_see

    def _indoor_slots(self) -> list[tuple[int, Body]]:
        """(table slot, body) of the bodies standing in rooms."""
        slot_of, bodies = self.spatial.table._slot, self.bodies
        return [(slot, b) for g in self._indoors
                if (b := bodies.get(g)) is not None and (slot := slot_of.get(g)) is not None]

    def _seen_from(self, place: str, seeable: np.ndarray, sees_from: Callable[[str, Body], bool],
                   joined: Callable[[str, str], bool]) -> np.ndarray:
        """Per table slot, whether a player standing in ``place`` (outdoors, or a room) sees the
        body there, of the ``seeable`` ones.

        The stage's rule depends only on the two containers, so it is the
        same for every player standing there: what is outdoors is seen from
        outdoors, or from a room an open door joins to the outdoors; walls
        and doors always (from both sides); only the bodies in rooms are
        asked of the stage one by one.
        """
        may_see = seeable.copy()
        if place != OUTDOORS and not joined(place, OUTDOORS):
            table = self.spatial.table
            may_see[: table.n] &= self._structure_ids[table.tag[: table.n]]
        for slot, body in self._indoor_slots():
            may_see[slot] = bool(seeable[slot]) and sees_from(place, body)
        return may_see

    def _dead_players(self) -> list[tuple[int, int]]:
        """(Guid, table slot) of the players dead and waiting to rise: only players wait dead."""
        now, slot_of = self.now, self.spatial.table._slot
        return [(b.guid, slot) for b in self._player_bodies.values()
                if b.dead_until > now and (slot := slot_of.get(b.guid)) is not None]

    def _views(self, due: list[tuple[int, Body]], may_see: np.ndarray, off: np.ndarray, ents: np.ndarray,
               changes: dict[int, tuple[list[int], list[int]]], kept: list[np.ndarray], moves: bool) -> None:
        """The views of the players in ``due``, who all stand in one place (outdoors, or one room).

        What each one's AOI row holds, less itself, of what ``may_see``
        lets a player standing there see (:meth:`_seen_from`), for every due player in one C call
        (:func:`engine.spatial.view_diffs`) that also finds what came and
        went; a player's ``seen`` set is only touched where its view changed.
        """
        table = self.spatial.table
        slot_of = table._slot
        slots = np.fromiter((slot_of[o.guid] for _, o in due), np.int64, len(due))
        old = [o.seen_arr if o.seen_arr is not None else _sorted_guids(o.seen) for _, o in due]
        d = view_diffs(off, ents, may_see, table.guids, slots, old)
        self._watching_arrays.append(table.guids[: len(d.seen)][d.seen])  # each once: a short unique
        ends = zip(d.view_end.tolist(), d.added_end.tolist(), d.kept_end.tolist(), d.removed_end.tolist(),
                   strict=True)
        view, added, stayed, removed = d.view, d.added, d.kept, d.removed
        v0 = a0 = k0 = r0 = 0
        for (k, observer), (v1, a1, k1, r1) in zip(due, ends, strict=True):
            observer.viewed = True
            observer.seen_arr = view[v0:v1]
            kept[k] = stayed[k0:k1] if moves else _NO_GUIDS
            if a1 > a0 or r1 > r0:  # most views of a cycle change by a body or two, or not at all
                came, went = added[a0:a1].tolist(), removed[r0:r1].tolist()
                changes[observer.guid] = (came, went)
                observer.seen.update(came)
                observer.seen.difference_update(went)
            v0, a0, k0, r0 = v1, a1, k1, r1

    def _new_view(self, observer: Body, visible: set[int], view: np.ndarray | None,
                  changes: dict[int, tuple[list[int], list[int]]], kept: list[np.ndarray], moves: bool,
                  k: int = -1) -> None:
        """A player's recomputed view: the Sight and Disappear it needs, and what keeps moving."""
        seen = observer.seen
        changes[observer.guid] = (sorted(visible - seen), sorted(seen - visible))
        kept[k] = _sorted_guids(visible & seen) if moves else _NO_GUIDS
        observer.seen = visible
        observer.seen_arr = view if view is not None else _sorted_guids(visible)
        self._watching_arrays.append(observer.seen_arr)

    def _perceive(self) -> None:
        """What a fifth of the NPCs notice this tick (each NPC every PERCEIVE_EVERY ticks), to the AI node.

        NPCs no player sees think UNWATCHED_SLOWER times less often (1 Hz):
        a pig alone in the forest need not decide four times a second.

        An NPC is told only of the classes it ``notices`` (a pig of wolves and
        players, not of the other pigs around it), within its ``sight``. The
        candidates of every due NPC are picked out of the AOI rows in one
        numpy pass (noticed class, alive, about within sight on the float32
        table), so a pig among fifty pigs costs no Python loop; only those
        are tested exactly: the distance on the bodies' own positions in one
        numpy pass over the pairs (each candidate body read once), the
        stage asked only of the pairs where one of the two is in a room.
        """
        table = self.spatial.table
        off, ents = self.spatial.aoi.csr()
        guids = table.guids
        bodies = self.bodies
        now = self.now
        bucket = self.tick_no % PERCEIVE_EVERY
        slow = self.tick_no % (PERCEIVE_EVERY * UNWATCHED_SLOWER)
        watched = self._watched
        due = [b for b in bodies.values()
               if b.kind == "npc" and b.guid % PERCEIVE_EVERY == bucket and b.props.get("brain")
               and (b.guid in watched or b.guid % (PERCEIVE_EVERY * UNWATCHED_SLOWER) == slow)
               and b.guid in table]
        if not due:
            return
        rows_n = len(off) - 1
        groups: dict[tuple[str, ...], int] = {}
        group = np.fromiter((groups.setdefault(tuple(b.props.get("notices", ())), len(groups)) for b in due),
                            np.int64, len(due))
        codes, dead, notices = self._notice_table(list(groups), rows_n)
        # every due NPC's AOI row at once: the candidates of a noticed class, alive, about within sight
        slot_of = table._slot
        slots = np.fromiter((slot_of[b.guid] for b in due), np.int64, len(due))
        inside = slots < rows_n
        starts = np.where(inside, off[np.minimum(slots, rows_n - 1)] if rows_n else 0, 0).astype(np.int64)
        ends = np.where(inside, off[np.minimum(slots + 1, rows_n)] if rows_n else 0, 0).astype(np.int64)
        lens = ends - starts
        owner = np.repeat(np.arange(len(due)), lens)
        at = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens - starts, lens)
        e = ents[at].astype(np.int64)
        keep = notices[group[owner], codes[e]] & ~dead[e]
        e, owner = e[keep], owner[keep]
        sight = np.fromiter((float(b.props.get("sight", NPC_VIEW)) for b in due), np.float64, len(due))
        pos = table.pos
        d = pos[e, :2].astype(np.float64) - pos[slots[owner], :2]
        near = (d * d).sum(axis=1) <= (sight[owner] + SIGHT_SLACK) ** 2  # float32 positions: exact test below
        for i in np.flatnonzero(_far_sighted(sight)).tolist():  # a designer may have raised it
            self._perceivers[due[i].guid % PERCEIVE_EVERY].discard(due[i].guid)
            self._far_sighted.add(due[i].guid)
        e, owner = e[near], owner[near]
        # the exact test, on the bodies' own (float64) positions, per candidate body, not per pair
        cand, which = _unique_inverse(e)
        others = [bodies.get(g) for g in guids[cand].tolist()]
        there = np.fromiter((o is not None and o.dead_until <= now for o in others), bool, len(others))
        far = (np.inf, np.inf)  # a body gone: never within sight
        oxy = np.fromiter(chain.from_iterable(o.pos[:2] if o is not None else far for o in others),
                          np.float64, 2 * len(others)).reshape(-1, 2)
        bxy = np.fromiter(chain.from_iterable(b.pos[:2] for b in due), np.float64, 2 * len(due))
        bxy = bxy.reshape(-1, 2)
        dx = oxy[which, 0] - bxy[owner, 0]
        dy = oxy[which, 1] - bxy[owner, 1]
        ok = there[which] & (dx**2 + dy**2 <= np.square(sight)[owner])
        # the stage is asked only where a room is involved
        inside = np.fromiter((o is not None and o.container != OUTDOORS for o in others), bool, len(others))
        npc_inside = np.fromiter((b.container != OUTDOORS for b in due), bool, len(due))
        ask = np.flatnonzero(ok & (inside[which] | npc_inside[owner]))
        sees = self._sees
        for p, k, i in zip(ask.tolist(), which[ask].tolist(), owner[ask].tolist(), strict=True):
            ok[p] = sees(due[i], others[k])
        which, owner = which[ok], owner[ok]
        cuts = np.searchsorted(owner, np.arange(len(due) + 1)).tolist()
        told: list[list[Any] | None] = [None] * len(others)  # what an NPC is told of a body: shared
        for k in _unique(which).tolist():
            o = others[k]
            told[k] = [o.guid, o.cls, round(o.pos[0], 2), round(o.pos[1], 2), o.health, o.leader]
        seen_by = which.tolist()
        rows = []
        for i, body in enumerate(due):
            a, b = cuts[i], cuts[i + 1]
            seen = [told[k] for k in seen_by[a:b]] if a < b else []
            rows.append([body.guid, body.cls, round(body.pos[0], 2), round(body.pos[1], 2), body.health,
                         body.hurt_by, body.leader, list(body.home), seen])
            body.hurt_by = 0
        self._send(Perceive(Guid(self.ai), Guid(self.me), npcs=rows))

    def _notice_table(self, wanted: list[tuple[str, ...]],
                      n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per table slot the class code of its body and whether it is dead; per set of noticed
        classes (in ``wanted``'s order) a bool per class code: is a body of that class noticed?

        The codes come from each slot's ``tag`` (the body's class number) in
        one array read, not a loop over every body. Only players wait dead
        in the world (a dead NPC leaves it as a corpse), so only they are
        looked at for that.
        """
        classes = sorted({c for w in wanted for c in w})
        code = {c: i + 1 for i, c in enumerate(classes)}
        by_class_id = np.zeros(len(self._class_ids) + 1, np.int64)
        for c, i in code.items():
            cid = self._class_ids.get(c)
            if cid is not None:
                by_class_id[cid] = i
        table = self.spatial.table
        codes = by_class_id[table.tag[:n]] if n else np.zeros(1, np.int64)
        dead = np.zeros(max(n, 1), bool)
        dead[[slot for _, slot in self._dead_players() if slot < n]] = True
        notices = np.zeros((max(len(wanted), 1), len(classes) + 1), bool)
        for i, w in enumerate(wanted):
            notices[i, [code[c] for c in w]] = True
        return codes, dead, notices

    def _send_stats(self) -> None:
        for body in self._players():
            character = body.obj
            if isinstance(character, Character) and character.dirty:
                character.dirty = False
                self._send(Stats(Guid(body.conn), Guid(body.guid), state=player_stats(character)))

    # -- reading -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        by_class: dict[str, int] = {}
        for b in self.bodies.values():
            by_class[b.cls] = by_class.get(b.cls, 0) + 1
        return {
            "bodies": len(self.bodies),
            "players": len(self._players()),
            "npcs": sum(1 for b in self.bodies.values() if b.kind == "npc"),
            "by_class": by_class,
            "ai_driving": self._ai_driving,
            **self.counts,
        }


def _far_sighted(sight: Any) -> Any:
    """Whether an NPC of this sight (a float or an array) may be told of bodies beyond its AOI radius.

    The same sum as perception's candidate test: an NPC that is not
    far-sighted is told only of bodies within the radius, where
    hysteresis plays no part.
    """
    return sight + SIGHT_SLACK > NPC_VIEW


def player_stats(character: Character) -> dict[str, Any]:
    """What a player's HUD shows (the Stats operation)."""
    return {
        "name": character.name,
        "guid": int(character.guid),
        "health": character.health,
        "max_health": MAX_HEALTH,
        "stamina": int(character.stamina),
        "max_stamina": MAX_STAMINA,
        "mana": int(character.mana),
        "max_mana": MAX_MANA,
        "skills": {k: round(v, 2) for k, v in (character.skills.levels if character.skills else {}).items()},
        "inventory": character.inventory.to_state() if character.inventory else [],
        "wielded": character.weapon(),
        "coins": character.coins,
    }
