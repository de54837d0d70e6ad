"""PhysicsModule: physics worlds served by message, in-process or in a physics node.

The module knows no game. It keeps one :class:`~engine.physics.PhysicsScene`
per world id and answers the messages of :mod:`engine.physics.messages`.
Whoever sends a world its terrain, boxes or reset owns it and drives its
clock with ``PhysicsStep``; whoever adds a body owns that body and gets its
``ResolvedPoses``, ``ProjectileHits`` and ``ProjectilesExpired``, tagged
with the step's tick.

A step is run when its ``PhysicsStep`` is handled, in arrival order, so a
physics node that receives two ticks' worth of messages in one of its own
ticks still applies each tick's intents to its own step. That is why the
in-process and the physics-node placements give the same results.

Bad input never changes a world: a refused intent, body or projectile is
counted by reason in ``status()["refused"]`` and logged (one line per tick
and reason); a malformed scene message is refused whole with a log line.
A step, intent or body for a world this module does not have is answered
with ``PhysicsSceneMissing`` (a restarted physics node), so the owner sends
the scene again.

Settings: ``substeps`` (4), ``tick_rate`` (the owner's, default this
engine's), ``gravity`` (9.81), ``step_height`` (0.35 m),
``max_intent_speed`` (1000 m/s), ``max_bodies`` and ``max_projectiles`` per
world, ``max_worlds`` (64).

>>> from engine.guid import module_guid, WellKnown
>>> module_guid(11000, WellKnown.PHYSICS)  # the physics module of node 11000
3096224743817216006
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from engine.dispatch import handles
from engine.errors import RoutingError
from engine.guid import WellKnown, format_guid
from engine.modules._module import Module
from engine.physics import BodyRefused, PhysicsScene, SceneConfig, SceneError
from engine.physics.messages import (
    MoveIntents,
    PhysicsAddBody,
    PhysicsRemoveBody,
    PhysicsRemoveStatics,
    PhysicsReset,
    PhysicsSceneMissing,
    PhysicsStatics,
    PhysicsStep,
    PhysicsTerrain,
    ProjectileHits,
    ProjectilesExpired,
    ResolvedPoses,
    SpawnProjectile,
)
from engine.pipes import PipeFullError

__all__ = ["PhysicsModule"]

_CONFIG_KEYS = ("substeps", "gravity", "step_height", "max_intent_speed", "max_bodies", "max_projectiles")


class _World:
    __slots__ = ("scene", "owner")

    def __init__(self, scene: PhysicsScene, owner: int):
        self.scene = scene
        self.owner = owner


class PhysicsModule(Module):
    """Serves physics worlds; see the module docstring."""

    kind = "physics"
    well_known = int(WellKnown.PHYSICS)

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        s = self.settings
        self.max_worlds = int(s.get("max_worlds", 64))
        self._config_args = {k: s[k] for k in _CONFIG_KEYS if k in s}
        SceneConfig(**self._config_args)  # a bad setting fails when the stack is built
        self.config: SceneConfig | None = None
        self.worlds: dict[int, _World] = {}
        self.refused: Counter[str] = Counter()
        """Refused intents, bodies and projectiles, by reason."""
        self.bad_scene = 0
        """Scene messages refused whole."""
        self.steps = 0
        self.send_errors = 0
        self._pending_log: Counter[str] = Counter()
        self._pending_example: dict[str, str] = {}
        self._missing_told: set[tuple[int, int]] = set()
        self._just_made: int | None = None

    def start(self) -> None:
        rate = float(self.settings.get("tick_rate", self.engine.tick_rate))
        self.config = SceneConfig(tick_rate=rate, **self._config_args)

    def stop(self) -> None:
        for world in self.worlds.values():
            world.scene.close()
        self.worlds.clear()

    def tick(self) -> None:
        self._missing_told.clear()
        if self._pending_log:
            for reason, count in sorted(self._pending_log.items()):
                self.log.warning("refused %d physics request(s) this tick: %s (e.g. %s)", count, reason,
                                 self._pending_example.get(reason, "?"))
            self._pending_log.clear()
            self._pending_example.clear()

    # -- the scene ----------------------------------------------------------------------

    @handles(PhysicsReset)
    def on_reset(self, msg: PhysicsReset) -> None:
        world = self._world_for_scene(msg, take_over=True)
        if world is not None:
            world.owner = msg.frm
            world.scene.reset()

    @handles(PhysicsTerrain)
    def on_terrain(self, msg: PhysicsTerrain) -> None:
        world = self._world_for_scene(msg)
        if world is None:
            return
        try:
            world.scene.set_terrain(msg.nx, msg.ny, msg.cell_size, (msg.origin_x, msg.origin_y),
                                    msg.heights)
        except (SceneError, TypeError, ValueError) as exc:
            self._bad_scene(msg, exc)

    @handles(PhysicsStatics)
    def on_statics(self, msg: PhysicsStatics) -> None:
        world = self._world_for_scene(msg)
        if world is None:
            return
        try:
            if type(msg.boxes) is not list:
                raise SceneError(f"boxes must be a list, got {type(msg.boxes).__name__}")
            world.scene.set_boxes(msg.boxes, replace=bool(msg.replace_all))
        except (SceneError, TypeError, ValueError) as exc:
            self._bad_scene(msg, exc)

    @handles(PhysicsRemoveStatics)
    def on_remove_statics(self, msg: PhysicsRemoveStatics) -> None:
        world = self._world_for_scene(msg)
        if world is None:
            return
        if type(msg.ids) is not list or any(type(i) is not int for i in msg.ids):
            self._bad_scene(msg, SceneError("ids must be a list of ints"))
            return
        world.scene.remove_boxes(msg.ids)

    def _world_for_scene(self, msg: Any, take_over: bool = False) -> _World | None:
        """The world a scene message changes (made if new); None, logged, if refused."""
        self._just_made = None
        ident = msg.world
        if type(ident) is not int:
            self._bad_scene(msg, SceneError(f"world must be an int, got {ident!r}"))
            return None
        world = self.worlds.get(ident)
        if world is None:
            if len(self.worlds) >= self.max_worlds:
                self._bad_scene(msg, SceneError(f"this module serves {self.max_worlds} worlds already"))
                return None
            assert self.config is not None, "the module is not started"
            world = self.worlds[ident] = _World(PhysicsScene(self.config), msg.frm)
            self._just_made = ident
            self.log.info("world %d created by %s", ident, format_guid(msg.frm))
        elif world.owner != msg.frm and not take_over:
            self._bad_scene(msg, SceneError(f"world {ident} belongs to {format_guid(world.owner)}"))
            return None
        return world

    def _bad_scene(self, msg: Any, exc: Exception) -> None:
        made, self._just_made = self._just_made, None
        if made is not None and made == msg.world:  # a refused message leaves no world behind either
            self.worlds.pop(made).scene.close()
        self.bad_scene += 1
        self.log.warning("refused %s from %s: %s", type(msg).__name__, _who(msg.frm), exc)

    # -- bodies and intents -------------------------------------------------------------

    @handles(PhysicsAddBody)
    def on_add_body(self, msg: PhysicsAddBody) -> None:
        world = self._world_of(msg)
        if world is None:
            return
        try:
            world.scene.add_body(msg.entity, msg.frm, msg.kind, (msg.x, msg.y, msg.z), msg.radius,
                                 msg.height, msg.max_speed, msg.max_slope, msg.mass,
                                 (msg.vx, msg.vy, msg.vz))
        except BodyRefused as exc:
            self._refuse(exc.reason, msg, str(exc))

    @handles(PhysicsRemoveBody)
    def on_remove_body(self, msg: PhysicsRemoveBody) -> None:
        world = self._world_of(msg)
        if world is None:
            return
        try:
            world.scene.remove_body(msg.entity, msg.frm)
        except BodyRefused as exc:
            self._refuse(exc.reason, msg, str(exc))

    @handles(SpawnProjectile)
    def on_spawn(self, msg: SpawnProjectile) -> None:
        world = self._world_of(msg)
        if world is None:
            return
        try:
            world.scene.spawn_projectile(msg.projectile, msg.frm, msg.owner, (msg.x, msg.y, msg.z),
                                         (msg.vx, msg.vy, msg.vz), msg.lifetime, msg.radius)
        except BodyRefused as exc:
            self._refuse(exc.reason, msg, str(exc))

    @handles(MoveIntents)
    def on_intents(self, msg: MoveIntents) -> None:
        world = self._world_of(msg)
        if world is None:
            return
        if type(msg.intents) is not list:
            self._refuse("malformed", msg, "intents must be a list")
            return
        for reason, row in world.scene.set_intents(msg.intents, msg.frm):
            self._refuse(reason, msg, repr(row)[:80])

    def _world_of(self, msg: Any) -> _World | None:
        world = self.worlds.get(msg.world) if type(msg.world) is int else None
        if world is None:
            self._refuse("unknown_world", msg, f"world {msg.world!r}")
            self._tell_missing(msg.frm, msg.world, -1)
        return world

    def _refuse(self, reason: str, msg: Any, detail: str) -> None:
        self.refused[reason] += 1
        self._pending_log[reason] += 1
        self._pending_example.setdefault(reason, f"{type(msg).__name__} from {_who(msg.frm)}: {detail}")

    # -- the clock ----------------------------------------------------------------------

    @handles(PhysicsStep)
    def on_step(self, msg: PhysicsStep) -> None:
        world = self.worlds.get(msg.world) if type(msg.world) is int else None
        if world is None:
            self._tell_missing(msg.frm, msg.world, msg.tick)
            return
        if world.owner != msg.frm:
            self._refuse("not_owner", msg, f"only the owner steps world {msg.world}")
            return
        if type(msg.tick) is not int:
            self._refuse("malformed", msg, f"tick must be an int, got {msg.tick!r:.40}")
            return
        result = world.scene.step()
        self.steps += 1
        ident, tick, me = msg.world, msg.tick, self.guid
        for owner, rows in result.poses.items():
            self._send(ResolvedPoses(owner, me, ident, tick, rows))
        for owner, rows in result.hits.items():
            self._send(ProjectileHits(owner, me, ident, tick, rows))
        for owner, ids in result.expired.items():
            self._send(ProjectilesExpired(owner, me, ident, tick, ids))

    def _tell_missing(self, to: int, world: Any, tick: Any) -> None:
        if type(world) is not int or type(tick) is not int or (to, world) in self._missing_told:
            return
        self._missing_told.add((to, world))
        self._send(PhysicsSceneMissing(to, self.guid, world, tick))

    def _send(self, message: Any) -> None:
        try:
            self.send(message)
        except (RoutingError, PipeFullError) as exc:
            self.send_errors += 1
            self.log.warning("cannot send %s: %s", type(message).__name__, exc)

    # -- reading ------------------------------------------------------------------------

    def scene(self, world: int) -> PhysicsScene:
        """The scene of ``world`` (KeyError if none): for tests and tools."""
        return self.worlds[world].scene

    def status(self) -> dict[str, Any]:
        out = super().status()
        worlds = {str(k): {**w.scene.status(), "owner": _who(w.owner)} for k, w in self.worlds.items()}
        out.update(worlds=worlds, refused=dict(self.refused), bad_scene=self.bad_scene, steps=self.steps,
                   send_errors=self.send_errors)
        return out


def _who(guid: Any) -> str:
    try:
        return format_guid(guid)
    except ValueError:
        return repr(guid)
