"""A region of the demo game run without a node: the real World, ObjectSpaces and messages.

``Region`` drives a :class:`gamelogic.world.World` the way the gamelogic
node's host does (deliver last tick's messages between spaces, tick the
world, apply additions), with outbound messages collected in a list
instead of sent, so the rules are tested with no sockets and no clock.
"""

import random

from engine.guid import make, module_guid
from engine.objectspace import ObjectSpaceManager
from gamelogic.character import build_character, new_character_state
from gamelogic.classes import ClassTree
from gamelogic.world import World
from gamelogic.worldfile import loads_world

TREE = ClassTree.load()
NODE = 2000
CONN_SPACE = 100_000  # client connections: a space id no host here hands out

SMALL_WORLD = """
[world]
name = "Testland"
size = [200.0, 200.0]
seed = 3

[terrain]
cell_size = 8.0
base = 0.0

[[entity]]
id = "spawn"
class = "spawn_point"
pos = [50.0, 50.0]

[[entity]]
id = "bind"
class = "bind_point"
pos = [40.0, 40.0]

[[entity]]
id = "hut"
class = "building"
pos = [100.0, 100.0]
size = [10.0, 10.0]

[[entity]]
id = "hut.door"
class = "door"
pos = [100.0, 95.0]
"""


class Region:
    def __init__(self, text=SMALL_WORLD, *, seed=1, physics=None, ai=None, send=None):
        self.out = []
        self.manager = ObjectSpaceManager(NODE, outbound=send or self.out.append)
        world_file, problems = loads_world(text)
        assert not problems, problems
        self.world = World(
            world_file,
            TREE,
            space=self.manager.create_space(),
            send=self.manager.send,
            rng=random.Random(seed),
            me=module_guid(NODE, 5),
            physics=physics,
            ai=ai,
        )
        self.tick_no = 0
        self._conns = 0
        self.manager.end_tick()

    def player(self, name, at, *, designer=False):
        space = self.manager.create_space()
        character, inventory, skills = build_character(space, new_character_state(name, [*at, 0.0]))
        character.fresh = False
        self._conns += 1
        conn = make(NODE, CONN_SPACE, self._conns)
        body = self.world.add_player(character, conn, designer=designer)
        self.manager.end_tick()
        return body

    def npc(self, cls, at, **props):
        body = self.world.spawn(cls, at, props=props)
        self.manager.end_tick()
        return body

    def tick(self, n=1):
        for _ in range(n):
            self.manager.begin_tick(self.tick_no)
            self.world.tick(self.tick_no * 0.05, self.tick_no)
            self.manager.end_tick()
            self.tick_no += 1

    def take(self, cls=None, to=None):
        """Messages sent out since the last take, of class ``cls`` and to ``to`` if given."""
        got = [m for m in self.out if (cls is None or isinstance(m, cls)) and (to is None or m.to == to)]
        self.out[:] = [
            m for m in self.out if not any(m is g for g in got)
        ]  # the manager holds self.out.append
        return got


# -- the same with physics: a host module next to a real PhysicsModule ------------------------

from engine.dispatch import handles  # noqa: E402
from engine.guid import WellKnown, space_of  # noqa: E402
from engine.modules.objectspace_host import ObjectSpaceHost  # noqa: E402
from engine.modules.physics import PhysicsModule  # noqa: E402
from engine.physics.messages import PhysicsSceneMissing, ProjectileHits, ProjectilesExpired, ResolvedPoses  # noqa: E402
from engine.testing import Harness  # noqa: E402


class RegionHost(ObjectSpaceHost):
    """What GameHost does for physics, minus players' logins: a World ticked by an engine."""

    def __init__(self, name, text=SMALL_WORLD, physics_node=None):
        super().__init__(name)
        self.text = text
        self.physics_node = physics_node  # None: the physics module of this engine
        self.out = []
        self.world = None

    def start(self):
        world_file, _ = loads_world(self.text)
        self.world = World(
            world_file,
            TREE,
            space=self.spaces.create_space(),
            send=self._send,
            rng=self.engine.rng,
            me=self.guid,
            physics=module_guid(self.physics_node or self.node_id, WellKnown.PHYSICS),
        )
        self.world.send_scene()

    def _send(self, message):
        if space_of(message.to) == CONN_SPACE:
            self.out.append(message)
        else:
            self.spaces.send(message)

    def on_tick(self):
        self.world.tick(self.engine.time, self.engine.tick)

    @handles(ResolvedPoses)
    def on_poses(self, msg):
        self.world.on_poses(msg.poses)

    @handles(ProjectileHits)
    def on_hits(self, msg):
        self.world.on_projectile_hits(msg.hits)

    @handles(ProjectilesExpired)
    def on_expired(self, msg):
        self.world.on_projectiles_expired(msg.projectiles)

    @handles(PhysicsSceneMissing)
    def on_missing(self, msg):
        self.world.send_scene()


class PhysicalRegion:
    """A Harness with a RegionHost and a PhysicsModule, as in nodes/gamelogic.toml."""

    def __init__(self, text=SMALL_WORLD, seed=1):
        self.harness = Harness(NODE, seed=seed)
        self.host = self.harness.add(RegionHost("logic", text))
        self.harness.add(PhysicsModule("physics"))
        self.harness.connect("logic", "physics")
        self.harness.connect("physics", "logic")
        self.harness.tick(2)
        self._conns = 0

    @property
    def world(self):
        return self.host.world

    def player(self, name, at):
        space = self.host.spaces.create_space()
        character, _, _ = build_character(space, new_character_state(name, [*at, 0.0]))
        character.fresh = False
        self._conns += 1
        return self.world.add_player(character, make(NODE, CONN_SPACE, self._conns))

    def npc(self, cls, at, **props):
        return self.world.spawn(cls, at, props=props)

    def tick(self, n=1):
        self.harness.tick(n)

    def take(self, cls=None, to=None):
        got = [m for m in self.host.out if (cls is None or isinstance(m, cls)) and (to is None or m.to == to)]
        self.host.out = [m for m in self.host.out if m not in got]
        return got
