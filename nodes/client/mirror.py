"""WorldMirror: what a client knows of the world, fed with the server's messages (sans-IO).

The server is the authority; the mirror is the client's copy of what it
was told, shaped for drawing and for bots. It never reads a clock or a
socket: the caller hands it messages and the time they arrived (the
client engine's tick clock)::

    mirror = WorldMirror(ClassTree.load())
    mirror.apply(messages, now)              # EnteredWorld, Sight, Moves, Set, Hit, Stats, Heard...
    mirror.position(pig_guid, now)           # (x, y, z, yaw), 100 ms behind, interpolated
    mirror.predict(vx, vy, dt, yaw)          # the player's own step, ahead of the server
    mirror.position(mirror.me, now)          # predicted, with corrections blended in

Remote entities are drawn ``render_delay`` seconds in the past, between
the two server updates around that moment, so 20 Hz updates look smooth.
The player's own avatar is predicted: each ``predict`` moves it at once.
When the server's position arrives it is compared with where the
prediction was ``lag`` seconds ago (the server answers a move that late);
the difference shifts the prediction, and what is drawn glides to it over
``correction_time`` instead of jumping (beyond ``snap_distance`` it jumps:
a respawn or a teleport; under ``dead_zone`` it is arrival jitter, ignored).

Bad input is counted in :attr:`WorldMirror.counts` and otherwise ignored:
a Moves entry for an entity never seen, a malformed Sight, an unknown
entity class (drawn with the default look), a message type the mirror does
not know. Nothing the server sends makes ``apply`` raise.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

import attrs

from engine.login.messages import AvatarState, EnteredWorld, Refused
from engine.modules.network_messages import ConnectionLost, Welcome
from gamelogic.classes import ClassTree
from gamelogic.operations import (
    MOVE_ROW,
    Death,
    Disappear,
    Heard,
    Hit,
    Info,
    Miss,
    Moves,
    Set,
    Sight,
    Sound,
    Stats,
    unpack_moves,
)
from gamelogic.stage import Stage, Wall
from gamelogic.terrain import Hill, Terrain
from gamelogic.worldfile import WorldEntity

try:
    from native._mirror import Index as _NativeIndex
    from native._mirror import Samples as _NativeSamples
    from native._mirror import apply_moves as _apply_moves_native
except ImportError:  # a source tree not built: the Python loop and deques, same results
    _apply_moves_native = _NativeSamples = _NativeIndex = None

__all__ = ["Entity", "Event", "LogLine", "WorldMirror", "apply_moves_python"]

_SAMPLES = 8
_HISTORY_SECONDS = 2.0
_LAG_MIN, _LAG_MAX = 0.02, 0.6
_LAG_MOVED = 0.05
"""Metres the server's position must move after a start of walking for the delay to count."""
_DEFAULT_LOOK = {"colour": [0.6, 0.6, 0.6], "radius": 0.5, "height": 1.0}


@attrs.define(eq=False)
class Entity:
    """One entity the client sees: what the server said of it, and where it was when."""

    guid: int
    cls: str
    name: str = ""
    wid: str = ""
    props: dict[str, Any] = attrs.field(factory=dict)
    health: int = 0
    max_health: int = 0
    dead: bool = False
    colour: tuple[float, float, float] = (0.6, 0.6, 0.6)
    radius: float = 0.5
    height: float = 1.0
    known_class: bool = True
    samples: Any = attrs.field(factory=lambda: new_samples())
    """``(arrival time, x, y, z, yaw)`` of the latest server positions, oldest first (:func:`new_samples`)."""

    @property
    def last(self) -> tuple[float, float, float, float]:
        """The latest position the server sent: (x, y, z, yaw)."""
        _, x, y, z, yaw = self.samples[-1]
        return x, y, z, yaw


@attrs.frozen
class Event:
    """A one-off perception for effects and sound: a hit, a miss, a death, a sound."""

    kind: str  # "sound", "hit", "miss", "death"
    what: str  # the sound's or the blow's kind ("talk", "sword", "arrow", "door", ...)
    source: int
    target: int
    x: float
    y: float
    z: float
    text: str = ""
    amount: int = 0


@attrs.frozen
class LogLine:
    """A line of the chat and message log: ``kind`` is info, chat, talk, combat or system."""

    time: float
    kind: str
    text: str


class WorldMirror:
    """The client's copy of the world; see the module docstring."""

    def __init__(self, classes: ClassTree | None = None, *, render_delay: float = 0.1, lag: float = 0.15,
                 correction_time: float = 0.3, snap_distance: float = 6.0, dead_zone: float = 0.2,
                 log_size: int = 200):
        self.classes = classes if classes is not None else ClassTree.load()
        self.render_delay = render_delay
        self.lag = lag
        self.correction_time = correction_time
        self.snap_distance = snap_distance
        self.dead_zone = dead_zone
        self.me = 0
        """The player's avatar Guid (0 until EnteredWorld)."""
        self.entities: dict[int, Entity] = {}
        self._samples_by_guid = _NativeIndex() if _NativeIndex is not None else None
        """The entities' Samples by Guid, kept with ``entities``: what the C ``Moves`` loop looks rows up
        in (one probe of a flat table instead of a dict, the entity and its attribute; docs/client.md)."""
        self.world: dict[str, Any] = {}
        """The world Sight's props: size, cell_size, base, hills."""
        self.terrain: Terrain | None = None
        self.stats: dict[str, Any] = {}
        """The player's own HUD (the latest Stats)."""
        self.character: dict[str, Any] = {}
        """EnteredWorld's description of the character."""
        self.skill_gains: dict[str, tuple[float, float]] = {}
        """Skill -> (how much it last rose, when): the HUD highlights skills rising."""
        self.log: deque[LogLine] = deque(maxlen=log_size)
        self.events: list[Event] = []
        self.counts: Counter[str] = Counter()
        """Bad or odd input seen: unknown_entity, bad_sight, bad_moves, unknown_class, unknown_message."""
        self.lost = ""
        """Why the server connection ended (from ConnectionLost), or ''."""
        self.stage_version = 0
        """Bumped whenever buildings or doors change, so a renderer knows to rebuild walls."""
        self.updates = 0
        """Moves entries applied (positions received)."""
        self._stage: Stage | None = None
        self._handlers = {
            EnteredWorld: self._entered, Sight: self._sight, Disappear: self._disappear,
            Moves: self._moves, Set: self._set, Sound: self._sound, Hit: self._hit, Miss: self._miss,
            Death: self._death, Stats: self._stats, Info: self._info, Heard: self._heard,
            ConnectionLost: self._connection_lost, Refused: self._refused, Welcome: _ignore,
            AvatarState: self._avatar_state,
        }
        # the prediction of the player's own avatar
        self._pred = [0.0, 0.0, 0.0]
        self._offset = [0.0, 0.0]
        self._yaw = 0.0
        self._clock = 0.0
        self._history: deque[tuple[float, float, float]] = deque()
        self._predicting = False
        self._server_pos: tuple[float, float, float] | None = None
        self._walking = False
        self._walk_started: float | None = None
        self._walk_from: tuple[float, float, float] | None = None

    # -- feeding -------------------------------------------------------------------------------

    def apply(self, messages: Iterable[Any], now: float) -> None:
        """Take in what the server sent, in order; ``now`` is when it arrived (the tick clock)."""
        self._clock = max(self._clock, now)
        for message in messages:
            handler = self._handlers.get(type(message))
            if handler is None:
                self.counts["unknown_message"] += 1
                continue
            try:
                handler(message, now)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError):
                self.counts["bad_" + type(message).__name__.lower()] += 1

    def take_events(self) -> list[Event]:
        """The perceptions since the last call (sound and effects consume them once)."""
        events, self.events = self.events, []
        return events

    def clear(self) -> None:
        """Forget the world (back at the login screen); the log stays."""
        self.me = 0
        self.entities.clear()
        if self._samples_by_guid is not None:
            self._samples_by_guid.clear()
        self.world = {}
        self.terrain = None
        self.stats = {}
        self.character = {}
        self.skill_gains.clear()
        self.events.clear()
        self._stage = None
        self.stage_version += 1
        self._history.clear()
        self._predicting = False

    # -- reading -------------------------------------------------------------------------------

    def position(self, guid: int, now: float) -> tuple[float, float, float, float] | None:
        """Where to draw ``guid`` at ``now``: (x, y, z, yaw degrees), or None if unknown."""
        if guid == self.me and self.me:
            return self.my_position()
        entity = self.entities.get(guid)
        if entity is None or not entity.samples:
            return None
        return _interpolate(entity.samples, now - self.render_delay)

    def my_position(self) -> tuple[float, float, float, float]:
        """The player's predicted position as drawn (corrections blended in) and its yaw."""
        x, y, z = self._pred
        return x - self._offset[0], y - self._offset[1], z, self._yaw

    def my_server_position(self) -> tuple[float, float, float] | None:
        """The last position the server confirmed for the avatar."""
        return self._server_pos

    def entity(self, guid: int) -> Entity | None:
        return self.entities.get(guid)

    def nearest(self, x: float, y: float, *, kind: str | None = None, alive: bool = True,
                now: float | None = None, within: float = math.inf) -> Entity | None:
        """The nearest entity to (x, y), of class ``kind`` (or a subclass) if given."""
        best, best_d = None, within
        t = self._clock if now is None else now
        for e in self.entities.values():
            if kind is not None and not (e.cls == kind or (e.known_class and self.classes.is_a(e.cls, kind))):
                continue
            if alive and e.dead:
                continue
            p = self.position(e.guid, t)
            if p is None:
                continue
            d = math.hypot(p[0] - x, p[1] - y)
            if d < best_d:
                best, best_d = e, d
        return best

    def is_a(self, entity: Entity, cls: str) -> bool:
        return entity.known_class and self.classes.is_a(entity.cls, cls)

    def ground(self, x: float, y: float) -> float:
        """The terrain height at (x, y) (0 before the world Sight)."""
        return self.terrain.height_at(x, y) if self.terrain is not None else 0.0

    def walls(self) -> list[Wall]:
        """The walls of every building in view, with gaps for their doors (the stage's rule)."""
        return self.stage().walls

    def stage(self) -> Stage:
        """The stage (rooms, doors, walls) of the buildings and doors in view; rebuilt when they change."""
        if self._stage is None:
            records = [WorldEntity(e.wid or str(e.guid), e.cls, (e.last[0], e.last[1]), e.last[3],
                                   dict(e.props))
                       for e in self.entities.values()
                       if e.known_class and e.samples and (self.classes.is_a(e.cls, "building")
                                                           or self.classes.is_a(e.cls, "door"))]
            try:
                self._stage = Stage(records, self.classes)
            except (TypeError, ValueError, KeyError, IndexError):
                self.counts["bad_stage"] += 1
                self._stage = Stage([], self.classes)
        return self._stage

    # -- the player's own movement ---------------------------------------------------------------

    def predict(self, vx: float, vy: float, dt: float,
                yaw: float | None = None) -> tuple[float, float, float, float]:
        """Move the avatar ``dt`` seconds at (vx, vy) m/s ahead of the server; returns my_position."""
        if yaw is not None:
            self._yaw = float(yaw) % 360.0
        walking = bool(vx or vy)
        if walking and not self._walking:
            self._walk_started, self._walk_from = self._clock, self._server_pos
        self._walking = walking
        if dt > 0:
            self._clock += dt
            p = self._pred
            p[0] += vx * dt
            p[1] += vy * dt
            size = self.world.get("size")
            if size:
                p[0] = min(max(p[0], 0.0), float(size[0]))
                p[1] = min(max(p[1], 0.0), float(size[1]))
            if self.terrain is not None:
                p[2] = self.terrain.height_at(p[0], p[1])
            decay = math.exp(-dt * 3.0 / self.correction_time) if self.correction_time > 0 else 0.0
            self._offset[0] *= decay
            self._offset[1] *= decay
            self._remember()
        return self.my_position()

    def _remember(self) -> None:
        h = self._history
        h.append((self._clock, self._pred[0], self._pred[1]))
        while len(h) > 2 and h[0][0] < self._clock - _HISTORY_SECONDS:
            h.popleft()

    def _reconcile(self, x: float, y: float, z: float, now: float) -> None:
        self._server_pos = (x, y, z)
        if not self._predicting:
            self._snap(x, y, z)
            return
        self._learn_lag(x, y)
        past = self._predicted_at(self._clock - self.lag)
        ex, ey = x - past[0], y - past[1]
        if math.hypot(ex, ey) > self.snap_distance:
            self._snap(x, y, z)
            return
        if math.hypot(ex, ey) < self.dead_zone:
            return  # arrival jitter, not a disagreement
        p = self._pred
        p[0] += ex
        p[1] += ey
        self._offset[0] += ex
        self._offset[1] += ey
        self._history = deque((t, hx + ex, hy + ey) for t, hx, hy in self._history)
        if self.terrain is None:
            p[2] = z
        self.counts["corrections"] += 1

    def _learn_lag(self, x: float, y: float) -> None:
        """Learn ``lag`` from how long a start of walking took to show in the server's positions."""
        if self._walk_started is None or self._walk_from is None:
            return
        if math.hypot(x - self._walk_from[0], y - self._walk_from[1]) > _LAG_MOVED:
            seen = min(max(self._clock - self._walk_started, _LAG_MIN), _LAG_MAX)
            self.lag += (seen - self.lag) * 0.5
            self._walk_started = None

    def _snap(self, x: float, y: float, z: float) -> None:
        self._pred = [x, y, z]
        self._offset = [0.0, 0.0]
        self._history.clear()
        self._remember()
        self._predicting = True

    def _predicted_at(self, t: float) -> tuple[float, float]:
        h = self._history
        if not h:
            return self._pred[0], self._pred[1]
        if t <= h[0][0]:
            return h[0][1], h[0][2]
        if t >= h[-1][0]:
            return h[-1][1], h[-1][2]
        for i in range(len(h) - 1, 0, -1):
            t0, x0, y0 = h[i - 1]
            t1, x1, y1 = h[i]
            if t0 <= t <= t1:
                f = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
                return x0 + (x1 - x0) * f, y0 + (y1 - y0) * f
        return h[-1][1], h[-1][2]

    # -- handlers --------------------------------------------------------------------------------

    def _entered(self, m: EnteredWorld, now: float) -> None:
        # no clear(): the world's Sight comes just before EnteredWorld
        self.me = int(m.avatar)
        state = m.state if isinstance(m.state, dict) else {}
        self.character = dict(state.get("character") or {})
        pos = list(self.character.get("position") or [0.0, 0.0, 0.0]) + [0.0, 0.0, 0.0]
        self._yaw = float(self.character.get("yaw", 0.0) or 0.0)
        self._server_pos = None
        x, y = float(pos[0]), float(pos[1])
        self._snap(x, y, self.terrain.height_at(x, y) if self.terrain is not None else float(pos[2]))
        self.log.append(LogLine(now, "system", f"{self.character.get('name', 'you')} entered the world"))

    def _avatar_state(self, m: AvatarState, now: float) -> None:
        if isinstance(m.state, dict) and isinstance(m.state.get("character"), dict):
            self.character = dict(m.state["character"])

    def _sight(self, m: Sight, now: float) -> None:
        e = m.entity
        if not isinstance(e, dict):
            self.counts["bad_sight"] += 1
            return
        guid = int(e.get("guid", 0))
        cls = str(e.get("class", ""))
        props = e.get("props") if isinstance(e.get("props"), dict) else {}
        if cls == "world" and guid == 0:
            self._world(props)
            return
        pos = [float(v) for v in e.get("pos", ())]
        if not guid or len(pos) != 3 or not all(math.isfinite(v) for v in pos):
            self.counts["bad_sight"] += 1
            return
        ent = self.entities.get(guid)
        if ent is None:
            ent = Entity(guid, cls)
            self.entities[guid] = ent
            if self._samples_by_guid is not None and 0 < guid < 1 << 64:
                self._samples_by_guid[guid] = ent.samples
        ent.cls = cls
        ent.name = str(e.get("name", ""))
        ent.wid = str(e.get("id", ""))
        ent.props = dict(props)
        ent.health = int(e.get("health", 0))
        ent.max_health = int(e.get("max_health", 0))
        ent.dead = False
        self._look(ent)
        ent.samples.clear()
        ent.samples.append((now, pos[0], pos[1], pos[2], float(e.get("yaw", 0.0))))
        if self._is_structure(ent):
            self._stage_changed()

    def _world(self, props: dict[str, Any]) -> None:
        size = props.get("size") or [512.0, 512.0]
        hills = [Hill((float(h[0]), float(h[1])), float(h[2]), float(h[3])) for h in props.get("hills", [])]
        self.terrain = Terrain(float(size[0]), float(size[1]), float(props.get("cell_size", 8.0)),
                               float(props.get("base", 0.0)), hills)
        self.world = dict(props)
        if self._predicting:
            self._pred[2] = self.terrain.height_at(self._pred[0], self._pred[1])

    def _look(self, ent: Entity) -> None:
        if ent.cls in self.classes:
            ent.known_class = True
            look = self.classes.properties(ent.cls, ent.props)
        else:
            ent.known_class = False
            self.counts["unknown_class"] += 1
            look = dict(_DEFAULT_LOOK, **ent.props)
        try:
            c = look.get("colour", _DEFAULT_LOOK["colour"])
            ent.colour = (float(c[0]), float(c[1]), float(c[2]))
            ent.radius = float(look.get("radius", 0.5))
            ent.height = float(look.get("height", 1.0))
        except (TypeError, ValueError, IndexError):
            self.counts["bad_look"] += 1

    def _is_structure(self, ent: Entity) -> bool:
        tree = self.classes
        return ent.known_class and (tree.is_a(ent.cls, "building") or tree.is_a(ent.cls, "door"))

    def _stage_changed(self) -> None:
        self._stage = None
        self.stage_version += 1

    def _disappear(self, m: Disappear, now: float) -> None:
        ent = self.entities.pop(int(m.target), None)
        if self._samples_by_guid is not None:
            self._samples_by_guid.discard(int(m.target))
        if ent is None:
            self.counts["unknown_entity"] += 1
        elif self._is_structure(ent):
            self._stage_changed()

    def _moves(self, m: Moves, now: float) -> None:
        if type(m.updates) is not bytes or len(m.updates) % MOVE_ROW.size:  # not whole packed rows
            self.counts["bad_moves"] += 1
            return
        entities = self._samples_by_guid if self._samples_by_guid is not None else self.entities
        applied, bad, unknown, own = _apply_moves(m.updates, entities, now, self.me)
        self.updates += applied
        if bad:
            self.counts["bad_moves"] += bad
        if unknown:
            self.counts["unknown_entity"] += unknown
        for x, y, z in own:
            self._reconcile(x, y, z, now)

    def _set(self, m: Set, now: float) -> None:
        props = m.props if isinstance(m.props, dict) else {}
        target = int(m.target)
        if target == self.me and self.me:
            if "health" in props:
                self.stats["health"] = int(props["health"])
            return
        ent = self.entities.get(target)
        if ent is None:
            self.counts["unknown_entity"] += 1
            return
        for key, value in props.items():
            if key == "health":
                ent.health = int(value)
                ent.dead = ent.health <= 0 and ent.max_health > 0
            elif key == "max_health":
                ent.max_health = int(value)
            elif key == "name":
                ent.name = str(value)
            else:
                ent.props[key] = value
        if self._is_structure(ent):
            self._stage_changed()

    def _where(self, guid: int, now: float) -> tuple[float, float, float]:
        p = self.position(guid, now)
        return (p[0], p[1], p[2]) if p is not None else (0.0, 0.0, 0.0)

    def name_of(self, guid: int) -> str:
        """A readable name for ``guid``: 'you', the entity's name, its class, or 'something'."""
        if guid == self.me and self.me:
            return "you"
        ent = self.entities.get(guid)
        if ent is None:
            return "something"
        return ent.name or f"the {ent.cls}"

    def _sound(self, m: Sound, now: float) -> None:
        x, y, z = float(m.x), float(m.y), float(m.z)
        self.events.append(Event("sound", str(m.what), int(m.source), 0, x, y, z, str(m.text)))
        if m.what == "talk" and m.text:
            self.log.append(LogLine(now, "talk", f"{self.name_of(int(m.source)).capitalize()}: {m.text}"))

    def _hit(self, m: Hit, now: float) -> None:
        target, attacker = int(m.target), int(m.attacker)
        ent = self.entities.get(target)
        if ent is not None:
            ent.health = int(m.health)
        elif target == self.me and self.me:
            self.stats["health"] = int(m.health)
        x, y, z = self._where(target, now)
        self.events.append(Event("hit", str(m.what), attacker, target, x, y, z, amount=int(m.damage)))
        if self.me in (target, attacker):
            self.log.append(LogLine(now, "combat", f"{self.name_of(attacker).capitalize()} hit "
                                                   f"{self.name_of(target)} for {int(m.damage)}"))

    def _miss(self, m: Miss, now: float) -> None:
        target, attacker = int(m.target), int(m.attacker)
        x, y, z = self._where(target, now)
        self.events.append(Event("miss", str(m.what), attacker, target, x, y, z))
        if self.me in (target, attacker):
            self.log.append(LogLine(now, "combat", f"{self.name_of(attacker).capitalize()} missed "
                                                   f"{self.name_of(target)}"))

    def _death(self, m: Death, now: float) -> None:
        target, killer = int(m.target), int(m.killer)
        ent = self.entities.get(target)
        if ent is not None:
            ent.dead = True
            ent.health = 0
        x, y, z = self._where(target, now)
        self.events.append(Event("death", "death", killer, target, x, y, z))
        self.log.append(LogLine(now, "combat", f"{self.name_of(target).capitalize()} died"))

    def _stats(self, m: Stats, now: float) -> None:
        state = m.state
        if not isinstance(state, dict):
            self.counts["bad_stats"] += 1
            return
        old = self.stats.get("skills") or {}
        new = state.get("skills") or {}
        if isinstance(new, dict):
            for name, level in new.items():
                before = old.get(name)
                if isinstance(before, (int, float)) and isinstance(level, (int, float)) and level > before:
                    self.skill_gains[name] = (float(level) - float(before), now)
        self.stats = dict(state)

    def _info(self, m: Info, now: float) -> None:
        self.log.append(LogLine(now, "info", str(m.text)))

    def _heard(self, m: Heard, now: float) -> None:
        self.log.append(LogLine(now, "chat", f"[{m.channel}] {m.speaker}: {m.text}"))

    def _connection_lost(self, m: ConnectionLost, now: float) -> None:
        self.lost = str(m.reason)
        self.log.append(LogLine(now, "system", f"disconnected: {m.reason}"))

    def _refused(self, m: Refused, now: float) -> None:
        self.log.append(LogLine(now, "info", f"refused ({m.request}): {m.reason}"))


def _ignore(message: Any, now: float) -> None:
    return None


def apply_moves_python(rows: bytes, entities: dict[int, Entity], now: float,
                       me: int) -> tuple[int, int, int, list[tuple[float, float, float]]]:
    """Packed ``Moves`` rows into the entities' samples: (applied, bad, unknown, own positions).

    The reference for ``native/mirror.c``'s ``apply_moves``, which does the
    same in C (tests/client/test_mirror.py holds the two to each other).
    ``rows`` is whole :data:`~gamelogic.operations.MOVE_ROW` rows (else
    ValueError); a row is bad unless x, y, z and yaw are all finite; a row
    for ``me`` is not sampled but handed back for the prediction to
    reconcile; a guid not known is counted unknown.
    """
    applied = bad = unknown = 0
    own: list[tuple[float, float, float]] = []
    get = entities.get
    for guid, x, y, z, yaw in unpack_moves(rows):
        if (x - x) + (y - y) + (z - z) + (yaw - yaw) != 0.0:  # NaN unless all four are finite
            bad += 1
            continue
        applied += 1
        if me and guid == me:
            own.append((x, y, z))
            continue
        ent = get(guid)
        if ent is None:
            unknown += 1
            continue
        ent.samples.append((now, x, y, z, yaw))
    return applied, bad, unknown, own


_apply_moves = _apply_moves_native or apply_moves_python
"""A bot applies a few hundred rows twenty times a second: in C when it is built."""


def new_samples(capacity: int = _SAMPLES) -> Any:
    """Where an entity keeps its latest positions: a ``deque(maxlen=capacity)`` of tuples, read alike.

    Built, it is ``native._mirror.Samples``, a ring of doubles that the C
    ``Moves`` loop writes in place: a bots process holds hundreds of mirrors,
    and a deque of tuples of floats cost it a cache miss per object on every
    row (docs/client.md).
    """
    return _NativeSamples(capacity) if _NativeSamples is not None else deque(maxlen=capacity)


def _interpolate(samples: Any, t: float) -> tuple[float, float, float, float]:
    """The position at ``t`` between the two samples around it; the nearest end outside them."""
    first = samples[0]
    if t <= first[0] or len(samples) == 1:
        return first[1], first[2], first[3], first[4]
    last = samples[-1]
    if t >= last[0]:
        return last[1], last[2], last[3], last[4]
    for i in range(len(samples) - 1, 0, -1):
        t0 = samples[i - 1][0]
        if t0 <= t:
            a, b = samples[i - 1], samples[i]
            span = b[0] - t0
            f = (t - t0) / span if span > 0 else 1.0
            dyaw = (b[4] - a[4] + 180.0) % 360.0 - 180.0
            return (a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f, a[3] + (b[3] - a[3]) * f,
                    (a[4] + dyaw * f) % 360.0)
    return last[1], last[2], last[3], last[4]
