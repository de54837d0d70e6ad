"""GameHost: the gamelogic node's module for the demo game: the PlayerGate plus the World.

It is the ``logic`` module of ``nodes/gamelogic.toml``. The gate part
(:class:`~nodes.player_gate.PlayerGate`) lets players in and writes them
behind to persistence; this part loads the world file into a
:class:`~gamelogic.world.World`, puts each entering character into it, and
turns what clients send into the game's rules::

    client op (frm = the avatar) -> handler here -> World / the character's objects
    physics poses, hits          -> World (positions, arrows)
    AI node's Act                -> World (NPCs move, bite, buy pigs)
    GLD's ChatHeard              -> Heard to every player on this node

Settings beyond the gate's: ``world`` (world file; the demo world),
``classes`` (class file; the demo game's), ``physics_node`` (node running
the physics module; this node by default), ``ai_node`` (10000; 0 = no
brains), ``save_every`` (seconds between write-behind updates of each
character, 2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgpack

from engine.control import ChatHeard, ChatJoin, ChatSay, DeliveryFailed
from engine.dispatch import handles
from engine.engine import RoutingError
from engine.guid import Guid, WellKnown, module_guid
from engine.login.messages import Logout, SetPosition, Train
from engine.persistence.messages import EntitiesLoaded, EntityIdsReserved, ReserveEntityIds
from engine.physics.messages import (
    PhysicsSceneMissing,
    ProjectileHits,
    ProjectilesExpired,
    ResolvedPoses,
)
from gamelogic import operations as ops
from gamelogic.character import Character, dump_character
from gamelogic.classes import ClassTree
from gamelogic.world import ATTACK_COOLDOWN, Body, World
from gamelogic.worldfile import DEMO_WORLD, WorldEntity, WorldFile, dumps_world, load_world, loads_world
from nodes.player_gate import PlayerGate, _Player

_PHYSICS_TYPES = frozenset(range(150, 170))
CHAT_CHANNEL = "global"
CHAT_REJOIN = 5.0
"""Seconds between two ChatJoin to the GLD (joining is idempotent there)."""
EDITS_CLASS = "WorldEdits"
"""The entity class of a world's live edits in persistence (state: the edited world file's text)."""
_RESERVE_SERIAL = (1 << 41) + 1


class GameHost(PlayerGate):
    kind = "game"
    client_types = frozenset(m.type_id for m in (SetPosition, Train, Logout, *ops.CLIENT_ACTIONS))

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        self.world: World | None = None
        self._save_every = float(self.settings.get("save_every", 2.0))
        self._edits_id = 0  # the persistent entity holding this world's live edits, once known
        self._edits_region = ""
        self._reserving = False
        self._next_save = 0.0
        self._next_join = 0.0
        self._physics_failures = 0

    def start(self) -> None:
        super().start()
        s = self.settings
        tree = ClassTree.load(s.get("classes"))
        world_file, problems = load_world(s.get("world") or DEMO_WORLD)
        for problem in problems:
            self.log.warning("world file: %s", problem)
        self._tree = tree
        self._build_world(world_file)
        self.log.info("world %r loaded: %d bodies", world_file.name, len(self.world.bodies))
        self._edits_region = f"world:{world_file.name}"
        self.cache.preload_region(self._edits_region)  # live edits saved by an earlier run, if any

    def _build_world(self, world_file: WorldFile) -> None:
        s = self.settings
        physics_node = int(s.get("physics_node", self.node_id))
        ai_node = int(s.get("ai_node", 10000))
        if self.world is not None:
            self.spaces.destroy_space(self.world.space)
        self.world = World(
            world_file, self._tree, space=self.spaces.create_space(), send=self._world_send,
            rng=self.engine.rng, me=self.guid,
            physics=module_guid(physics_node, WellKnown.PHYSICS) if physics_node else None,
            ai=module_guid(ai_node, WellKnown.AI) if ai_node else None)
        self.world.send_scene()

    def _world_send(self, message: Any) -> None:
        try:
            self.spaces.send(message)
        except RoutingError as exc:
            self.log.warning("cannot send %s: %s", type(message).__name__, exc)

    # -- players in and out ---------------------------------------------------------------

    def _entered(self, player: _Player) -> None:
        designer = "designer" in self.roles.get(player.ticket.account_id, ())
        self.world.add_player(player.character, player.conn, designer=designer)

    def _leaving_world(self, player: _Player) -> None:
        body = self.world.bodies.get(player.character.guid)
        if body is not None:
            player.character.position = list(body.pos)
            player.character.yaw = body.yaw
            self.world.remove(body.guid)

    def on_tick(self) -> None:
        world = self.world
        world.tick(self.engine.time, self.engine.tick)
        now = self.engine.time
        if now >= self._next_join:  # joined again and again: a GLD that started late or restarted forgets
            self._next_join = now + CHAT_REJOIN
            self._send(ChatJoin(self._gld, self.guid, CHAT_CHANNEL, self.guid))
        if now >= self._next_save:  # write-behind: the cache flushes on its own interval
            self._next_save = now + self._save_every
            for player in self._players.values():
                if player.space is None:
                    continue
                body = world.bodies.get(player.character.guid)
                if body is not None:
                    player.character.position = list(body.pos)
                    player.character.yaw = body.yaw
                self.cache.update(
                    player.ticket.entity_id, dump_character(player.character, player.inventory, player.skills)
                )
        super().on_tick()

    # -- what clients send ----------------------------------------------------------------------

    def _actor(self, msg: Any) -> tuple[_Player, Body] | None:
        player = self._player_of(msg)
        if player is None:
            return None
        body = self.world.bodies.get(player.character.guid)
        return (player, body) if body is not None else None

    def _refuse(self, body: Body, msg: Any, why: str) -> None:
        """Tell the player why not (Info with the operation's serialno as refno) and log it."""
        self.world.counts["refused"] += 1
        self.log.info("%s refused for %s: %s", type(msg).__name__, body.name, why)
        self.world.info(body, f"refused: {why}", refno=msg.serialno)

    @handles(SetPosition)
    def on_set_position(self, msg: SetPosition) -> None:
        """The login issue's teleport (tests, tools): the world follows the character."""
        actor = self._actor(msg)
        super().on_set_position(msg)
        if actor is not None and actor[0].character.position[:2] != actor[1].pos[:2]:
            x, y = actor[0].character.position[:2]
            if 0 <= x <= self.world.file.size[0] and 0 <= y <= self.world.file.size[1]:
                self.world.teleport(actor[1].guid, x, y)

    @handles(ops.Move)
    def on_move(self, msg: ops.Move) -> None:
        actor = self._actor(msg)
        if actor is not None and not self.world.move(actor[1].guid, msg.vx, msg.vy, msg.yaw):
            self._refuse(actor[1], msg, "you cannot move now")

    @handles(ops.Attack)
    def on_attack(self, msg: ops.Attack) -> None:
        actor = self._actor(msg)
        if actor is None:
            return
        player, body = actor
        character: Character = player.character
        target = self.world.bodies.get(msg.target)
        now = self.engine.time
        if target is None or target.guid == body.guid or (target.kind == "thing") or target.health <= 0:
            return self._refuse(body, msg, "nothing there to attack")
        if body.dead_until > now:
            return self._refuse(body, msg, "you are dead")
        if character.next_action > now:
            return self._refuse(body, msg, "not so fast")
        weapon = character.weapon()
        props = (
            self.world.tree.defaults(weapon)
            if weapon
            else {"damage": 3, "reach": 1.8, "skill": "unarmed", "stamina_cost": 3}
        )
        if not character.spend_stamina(float(props["stamina_cost"])):
            return self._refuse(body, msg, "too tired")
        skill = str(props["skill"])
        level = character.skills.level(skill)
        if weapon == "bow":
            if not self.world.shoot(
                body, target, weapon_damage=int(props["damage"]), reach=float(props["reach"]), level=level
            ):
                character.stamina += float(props["stamina_cost"])
                return self._refuse(body, msg, "no clear shot")
            character.skills.use(skill, True)
        else:
            landed = self.world.melee(
                body,
                target,
                weapon_damage=int(props["damage"]),
                reach=float(props["reach"]),
                level=level,
                what=weapon or "fists",
            )
            if landed is None:
                character.stamina += float(props["stamina_cost"])
                return self._refuse(body, msg, "out of reach")
            character.skills.use(skill, landed)
        character.next_action = now + ATTACK_COOLDOWN
        character.dirty = True

    @handles(ops.Cast)
    def on_cast(self, msg: ops.Cast) -> None:
        actor = self._actor(msg)
        if actor is None:
            return
        player, body = actor
        character: Character = player.character
        spell = character.spells.spell(msg.spell) if character.spells else None
        target = self.world.bodies.get(msg.target)
        now = self.engine.time
        if spell is None:
            return self._refuse(body, msg, f"you know no spell {msg.spell!r}")
        if target is None or target.kind == "thing" or target.health <= 0 or target.guid == body.guid:
            return self._refuse(body, msg, "nothing there to cast at")
        if character.next_action > now:
            return self._refuse(body, msg, "not so fast")
        if self.world.distance(body, target) > spell["range"] or not self.world.sees(body, target):
            return self._refuse(body, msg, "out of range")
        if not character.spend_mana(spell["mana"]):
            return self._refuse(body, msg, "not enough mana")
        character.next_action = now + ATTACK_COOLDOWN
        landed = self.world.melee(
            body,
            target,
            weapon_damage=int(spell["damage"]),
            reach=math.inf,
            level=character.skills.level(spell["skill"]),
            what=msg.spell,
        )
        character.skills.use(spell["skill"], bool(landed))
        self.world.sound(body, "spark", "")

    @handles(ops.Wield)
    def on_wield(self, msg: ops.Wield) -> None:
        actor = self._actor(msg)
        if actor is not None and not actor[0].character.wield(msg.item):
            self._refuse(actor[1], msg, f"you have no {msg.item!r} to wield")

    @handles(ops.Touch)
    def on_touch(self, msg: ops.Touch) -> None:
        actor = self._actor(msg)
        if actor is None:
            return
        target = self.world.bodies.get(msg.target)
        if target is None:
            return self._refuse(actor[1], msg, "nothing there")
        text = self.world.touch(actor[1], target)
        self.world.info(actor[1], text, refno=msg.serialno)

    @handles(ops.Talk)
    def on_talk(self, msg: ops.Talk) -> None:
        actor = self._actor(msg)
        if actor is not None and msg.text.strip():
            self.world.sound(actor[1], "talk", msg.text[:200])

    @handles(ops.Look)
    def on_look(self, msg: ops.Look) -> None:
        actor = self._actor(msg)
        if actor is None:
            return
        target = self.world.bodies.get(msg.target)
        if target is None or msg.target not in actor[1].seen:
            return self._refuse(actor[1], msg, "you do not see that")
        self._send(
            ops.Sight(Guid(actor[1].conn), Guid(target.guid), refno=msg.serialno, entity=target.describe())
        )

    @handles(ops.Chat)
    def on_chat(self, msg: ops.Chat) -> None:
        actor = self._actor(msg)
        if actor is not None and msg.text.strip():
            self._send(ChatSay(self._gld, self.guid, CHAT_CHANNEL, actor[1].name, msg.text[:200]))

    @handles(ChatHeard)
    def on_chat_heard(self, msg: ChatHeard) -> None:
        for body in self.world.bodies.values():
            if body.kind == "player":
                self._send(
                    ops.Heard(
                        Guid(body.conn), self.guid, channel=msg.channel, speaker=msg.speaker, text=msg.text
                    )
                )

    # -- designers --------------------------------------------------------------------------------

    def _designer(self, msg: Any) -> Body | None:
        actor = self._actor(msg)
        if actor is None:
            return None
        if "designer" not in self.roles.get(actor[0].ticket.account_id, ()):
            self._refuse(actor[1], msg, "only designers may change the world")
            self.log.warning(
                "account %d sent %s without the designer role", actor[0].ticket.account_id, type(msg).__name__
            )
            return None
        return actor[1]

    @handles(ops.Create)
    def on_create(self, msg: ops.Create) -> None:
        body = self._designer(msg)
        if body is None:
            return
        spec = msg.entity or {}
        world = self.world
        cls, pos, props = spec.get("class"), spec.get("pos"), spec.get("props") or {}
        if cls not in world.tree:
            return self._refuse(body, msg, f"unknown class {cls!r}")
        if not (
            isinstance(pos, list) and len(pos) >= 2 and all(isinstance(v, (int, float)) for v in pos[:2])
        ):
            return self._refuse(body, msg, "pos must be [x, y]")
        x, y = float(pos[0]), float(pos[1])
        if not (0 <= x <= world.file.size[0] and 0 <= y <= world.file.size[1]):
            return self._refuse(body, msg, "outside the world")
        problems = (
            world.tree.check_properties(cls, props) if isinstance(props, dict) else ["props must be a map"]
        )
        if problems:
            return self._refuse(body, msg, "; ".join(problems))
        wid = str(spec.get("id") or "")
        if not wid or wid in world.by_wid:
            wid = world.file.new_id(wid or f"live.{cls}")
            while wid in world.by_wid:
                wid += "x"
        entity = WorldEntity(wid, cls, (x, y), float(spec.get("yaw", 0.0) or 0.0), dict(props))
        world.file.entities.append(entity)
        created = world.place(entity)
        if world.tree.is_a(cls, "building") or world.tree.is_a(cls, "door"):
            world.rebuild_stage()
        self.log.info("designer %s created %s (%s) at (%.1f, %.1f)", body.name, wid, cls, x, y)
        self._save_edits()
        world.info(body, f"ok: created {wid} {int(created.guid) if created else 0}", refno=msg.serialno)

    @handles(ops.Set)
    def on_set(self, msg: ops.Set) -> None:
        body = self._designer(msg)
        if body is None:
            return
        world = self.world
        target = world.bodies.get(msg.target)
        props = msg.props or {}
        if target is None or target.kind == "player":
            return self._refuse(body, msg, "no such entity (players cannot be edited)")
        problems = world.tree.check_properties(target.cls, props)
        if problems:
            return self._refuse(body, msg, "; ".join(problems))
        if "open" in props and world.tree.is_a(target.cls, "door"):
            world.set_door(target, bool(props["open"]))
        target.props.update(props)
        entry = world.file.entity(target.wid) if target.wid else None
        if entry is not None:
            entry.props.update(props)
        if world.tree.is_a(target.cls, "building"):
            world.rebuild_stage()
        self._save_edits()
        changed = ops.Set(Guid(0), Guid(target.guid), target=Guid(target.guid), props=dict(props))
        world._to_observers(target, lambda conn: changed.replace(to=Guid(conn)))
        world.info(
            body, f"ok: set {', '.join(sorted(props))} of {target.wid or target.guid}", refno=msg.serialno
        )

    @handles(ops.Delete)
    def on_delete(self, msg: ops.Delete) -> None:
        body = self._designer(msg)
        if body is None:
            return
        world = self.world
        target = world.bodies.get(msg.target)
        if target is None or target.kind == "player":
            return self._refuse(body, msg, "no such entity (players cannot be deleted)")
        if target.wid:
            world.file.entities = [e for e in world.file.entities if e.id != target.wid]
        world.remove(target.guid)
        if world.tree.is_a(target.cls, "building") or world.tree.is_a(target.cls, "door"):
            world.rebuild_stage()
        self._save_edits()
        world.info(body, f"ok: deleted {target.wid or target.guid}", refno=msg.serialno)

    # -- live edits in persistence -----------------------------------------------------------------

    def _save_edits(self) -> None:
        """Write the edited world behind, as one entity (its id reserved on the first edit)."""
        state = msgpack.packb({"world": dumps_world(self.world.file)})
        if self._edits_id:
            self.cache.update(self._edits_id, state)
            self.cache.flush()
        elif not self._reserving:
            self._reserving = True
            self._send(ReserveEntityIds(self.cache.persistence, self.guid, _RESERVE_SERIAL, 1))

    @handles(EntityIdsReserved)
    def on_reserved(self, msg: EntityIdsReserved) -> None:
        if msg.serial != _RESERVE_SERIAL or self._edits_id:
            return
        self._reserving = False
        if msg.error or not msg.first:
            self.log.warning("live edits not saved: no entity id from persistence (%s)", msg.error)
            return
        self._edits_id = msg.first
        self.cache.add(
            msg.first, EDITS_CLASS, self._edits_region, msgpack.packb({"world": dumps_world(self.world.file)})
        )

    @handles(EntitiesLoaded)
    def on_loaded(self, msg: EntitiesLoaded) -> None:
        super().on_loaded(msg)
        for row in msg.rows:
            if row[1] == EDITS_CLASS and row[3] == self._edits_region and not self._edits_id:
                self._restore_edits(row)

    def _restore_edits(self, row: list[Any]) -> None:
        self._edits_id = int(row[0])
        self.cache.acquire([self._edits_id], self.engine.time)  # held for as long as the node runs
        try:
            world_file, problems = loads_world(msgpack.unpackb(row[5])["world"])
        except (ValueError, KeyError, TypeError, msgpack.UnpackException) as exc:
            self.log.error(
                "the saved live edits of %s do not load (%s); the world file stands", self._edits_region, exc
            )
            return
        for problem in problems:
            self.log.warning("saved live edits: %s", problem)
        if self._players:
            self.log.warning("live edits arrived after players entered; they apply at the next restart")
            return
        self._build_world(world_file)
        self.log.info("live edits of %s restored: %d bodies", self._edits_region, len(self.world.bodies))

    # -- physics and the AI node -------------------------------------------------------------------

    @handles(ResolvedPoses)
    def on_poses(self, msg: ResolvedPoses) -> None:
        self._physics_failures = 0
        self.world.on_poses(msg.poses)

    @handles(ProjectileHits)
    def on_hits(self, msg: ProjectileHits) -> None:
        self.world.on_projectile_hits(msg.hits)

    @handles(ProjectilesExpired)
    def on_expired(self, msg: ProjectilesExpired) -> None:
        self.world.on_projectiles_expired(msg.projectiles)

    @handles(PhysicsSceneMissing)
    def on_scene_missing(self, msg: PhysicsSceneMissing) -> None:
        self.log.info("physics lost the scene (a restarted physics node?): sending it again")
        self.world.send_scene()

    @handles(ops.Act)
    def on_act(self, msg: ops.Act) -> None:
        self.world.on_act(msg.actions or [])

    @handles(DeliveryFailed)
    def on_delivery_failed(self, msg: DeliveryFailed) -> None:
        if msg.original_type in _PHYSICS_TYPES or msg.original_type == ops.Perceive.type_id:
            self._physics_failures += 1
            if self._physics_failures in (1, 100) or self._physics_failures % 1000 == 0:
                self.log.warning(
                    "%s not delivered to %s (%s): entities hold still until it is back",
                    "physics" if msg.original_type in _PHYSICS_TYPES else "AI",
                    Guid(msg.original_to),
                    msg.reason,
                )
            return
        super().on_delivery_failed(msg)

    def status(self) -> dict[str, Any]:
        out = super().status()
        if self.world is not None:
            out["world"] = self.world.status()
        return out
