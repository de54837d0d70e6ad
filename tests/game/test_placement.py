"""The demo game behaves the same with physics in its process or in a physics node.

The same scripted scene (a player walks into a wall, an arrow at a pig, an
arrow past it) runs once on a World with the physics module in the same
engine and once on a World whose physics is a real physics node reached
through the transport; the hits and the final positions must be the same.
The script waits for things to come to rest before each shot, so the extra
ticks a physics node takes to answer change nothing it decides.
"""

import subprocess
import sys
import time
from pathlib import Path

from region import CONN_SPACE, NODE, RegionHost

from engine.engine import Engine
from engine.guid import make
from engine.modules.agent import NodeAgent
from engine.modules.physics import PhysicsModule
from engine.modules.transport import TransportModule
from engine.testing import Harness
from gamelogic.character import build_character, new_character_state
from gamelogic.operations import Hit, Miss
from nodes.runner import free_tcp_port

REPO = Path(__file__).resolve().parents[2]
PHYSICS_NODE = 11000
END = 170


def script(host, tick, bodies):
    """What happens at each tick: walking, then two arrows once everyone stands still."""
    world = host.world
    if tick == 10:
        bodies["ann"] = host.player("Ann", (100.0, 80.0))
        bodies["pig"] = world.spawn("pig", (110.0, 70.0))
        bodies["far"] = world.spawn("pig", (60.0, 60.0))
    elif tick == 20:
        world.move(bodies["ann"].guid, 0.0, 6.0)  # into the hut's wall
    elif tick == 80:
        world.move(bodies["ann"].guid, 0.0, 0.0)
    elif tick == 110:
        world.shoot(bodies["ann"], bodies["pig"], weapon_damage=10, reach=40.0, level=100.0)
    elif tick == 120:
        world.shoot(bodies["ann"], bodies["far"], weapon_damage=10, reach=60.0, level=0.0)


class ScriptedHost(RegionHost):
    def __init__(self, name, physics_node=None):
        super().__init__(name, physics_node=physics_node)
        self.bodies = {}
        self.ticks = 0

    def player(self, name, at):
        space = self.spaces.create_space()
        character, _, _ = build_character(space, new_character_state(name, [*at, 0.0]))
        character.fresh = False  # where the script says, not at the spawn point
        return self.world.add_player(character, make(NODE, CONN_SPACE, 1))

    def on_tick(self):
        super().on_tick()
        script(self, self.ticks, self.bodies)
        self.ticks += 1

    def outcome(self):
        hits = [
            (type(m).__name__, m.what, m.target == self.bodies["pig"].guid)
            for m in self.out
            if isinstance(m, (Hit, Miss))
        ]
        positions = {
            k: [round(v, 3) for v in b.pos] for k, b in self.bodies.items() if b.guid in self.world.bodies
        }
        return hits, positions


def in_process():
    harness = Harness(NODE, seed=5)
    host = harness.add(ScriptedHost("logic"))
    harness.add(PhysicsModule("physics"))
    harness.connect("logic", "physics")
    harness.connect("physics", "logic")
    harness.tick(END)
    return host.outcome()


def _start(args):
    return subprocess.Popen(
        [sys.executable, "-m", "nodes.cli", "node", *args, "--metrics-port", "0"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def on_a_physics_node():
    gld = f"tcp://127.0.0.1:{free_tcp_port()}"
    procs = [_start(["gld", "--id", "1", "--listen", gld, "--gld", gld])]
    try:
        procs.append(_start(["physics", "--id", str(PHYSICS_NODE), "--gld", gld]))
        engine = Engine(NODE, seed=5)
        listen = f"tcp://127.0.0.1:{free_tcp_port()}"
        transport = engine.add_module(
            TransportModule("transport", {"listen": listen, "peers": {1: gld}, "gld_node": 1})
        )
        engine.add_module(NodeAgent("agent", {"role": "gamelogic", "address": listen, "gld_node": 1}))
        host = engine.add_module(ScriptedHost("logic", physics_node=PHYSICS_NODE))
        for a, b in (
            ("transport", "agent"),
            ("agent", "transport"),
            ("transport", "logic"),
            ("logic", "transport"),
        ):
            engine.connect(a, b)
        engine.set_transport("transport")
        engine.start()
        end = time.monotonic() + 60
        while time.monotonic() < end and not (transport.peers().get(PHYSICS_NODE) or {}).get("alive"):
            engine.tick_once()  # the script waits: ticks before the physics node is known do not count
            host.ticks = 0
            time.sleep(0.02)
        assert (transport.peers().get(PHYSICS_NODE) or {}).get("alive"), "the physics node never joined"
        host.world.send_scene()
        while host.ticks < END:
            engine.tick_once()
            time.sleep(0.02)
        for _ in range(40):  # the last answers come home
            engine.tick_once()
            time.sleep(0.02)
        engine.stop()
        return host.outcome()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_the_game_gives_the_same_hits_and_positions_in_either_placement():
    local = in_process()
    hits, positions = local
    assert ("Hit", "arrow", True) in hits  # the aimed arrow hit the pig
    assert 93.0 < positions["ann"][1] < 95.0  # the wall stopped her
    assert local == on_a_physics_node()
