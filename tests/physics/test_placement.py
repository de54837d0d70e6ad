"""The same scripted world in-process and against a real physics node process; a physics node dies.

A small driver module plays the world's owner: it sends the scene, the
bodies, intents and arrows, and one ``PhysicsStep`` per step of its script,
and records what comes back. Run once beside a PhysicsModule in one Engine,
once against ``spenefett node physics --id 11000`` through a GLD and the
ZeroMQ transport: the hits and every pose must be the same.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from physics_support import WORLD, capsule, scene_messages

from engine.control import DeliveryFailed, PeerDown, PeerUp, WatchPeers
from engine.dispatch import handles
from engine.engine import Engine
from engine.guid import WellKnown, make, module_guid
from engine.modules import Module
from engine.modules.agent import NodeAgent
from engine.modules.physics import PhysicsModule
from engine.modules.transport import TransportModule
from engine.physics.messages import (
    MoveIntents,
    PhysicsSceneMissing,
    PhysicsStep,
    ProjectileHits,
    ProjectilesExpired,
    ResolvedPoses,
    SpawnProjectile,
)
from engine.testing import Harness
from nodes.runner import free_tcp_port

REPO = Path(__file__).resolve().parents[2]
PHYSICS_NODE = 11000
DRIVER_NODE = 2001
STEPS = 60


def _e(n):
    return make(DRIVER_NODE, 7, n)


START = {_e(1): (20.0, 64.0), _e(2): (20.0, 58.0), _e(3): (60.0, 20.0), _e(4): (100.0, 100.0),
         _e(5): (70.0, 40.0), _e(6): (10.0, 10.0)}
SCRIPT = {
    0: [[_e(1), 5.0, 0.0, 0.0], [_e(2), 4.0, 3.0, 0.0], [_e(3), 0.0, 6.0, 0.0], [_e(5), 3.0, -3.0, 0.0],
        [_e(6), 50.0, 50.0, 0.0]],
    20: [[_e(1), 0.0, -5.0, 0.0], [_e(6), 0.0, 0.0, 4.0]],
    40: [[_e(1), 0.0, 0.0, 0.0], [_e(3), -6.0, 0.0, 0.0]],
}
ARROWS = {  # step -> (projectile, shooter, position, velocity): one at entity 4, one past it
    5: (make(DRIVER_NODE, 8, 1), _e(5), (100.0, 90.0, 2.0), (0.0, 45.0, 2.0)),
    6: (make(DRIVER_NODE, 8, 2), _e(5), (103.0, 90.0, 2.0), (0.0, 45.0, 2.0)),
}


class Driver(Module):
    """Owns a physics world and plays the script, one step per tick while physics answers."""

    kind = "physics_driver"

    def __init__(self, name, physics, steps=STEPS):
        super().__init__(name)
        self.physics = physics
        self.steps = steps
        self.go = False
        self.step = 0
        self.positions = {e: (x, y, 0.0) for e, (x, y) in START.items()}
        self.velocities = {}
        self.poses = {}  # step -> rows
        self.hits = []
        self.expired = []
        self.answered = -1
        self.down_reports = []
        self.missing = 0
        self._resend = True

    def tick(self):
        if not self.go or self.step >= self.steps:
            return
        me, p = self.guid, self.physics
        out = []
        if self._resend:
            self._resend = False
            out += scene_messages(p, me)
            out += [capsule(p, me, e, x, y).replace(z=z) for e, (x, y, z) in self.positions.items()]
            if self.velocities:
                out.append(MoveIntents(p, me, WORLD, [[e, *v] for e, v in self.velocities.items()]))
        if self.step in SCRIPT:
            rows = SCRIPT[self.step]
            self.velocities.update({row[0]: row[1:] for row in rows})
            out.append(MoveIntents(p, me, WORLD, rows))
        if self.step in ARROWS:
            pid, shooter, pos, vel = ARROWS[self.step]
            out.append(SpawnProjectile(p, me, WORLD, pid, shooter, *pos, *vel, 3.0))
        out.append(PhysicsStep(p, me, WORLD, self.step))
        for m in out:
            self.send(m)
        self.step += 1

    @property
    def finished(self):
        return self.answered >= self.steps - 1

    @handles(ResolvedPoses)
    def on_poses(self, msg):
        self.poses[msg.tick] = msg.poses
        for e, x, y, z, _ground in msg.poses:
            self.positions[e] = (x, y, z)
        self.answered = max(self.answered, msg.tick)

    @handles(ProjectileHits)
    def on_hits(self, msg):
        self.hits += [[msg.tick, *row] for row in msg.hits]

    @handles(ProjectilesExpired)
    def on_expired(self, msg):
        self.expired += [[msg.tick, pid] for pid in msg.projectiles]

    @handles(PhysicsSceneMissing)
    def on_missing(self, msg):
        self.missing += 1
        self._resend = True

    @handles(PeerDown)
    def on_down(self, msg):
        self.down_reports.append(("PeerDown", msg.node))

    @handles(PeerUp)
    def on_up(self, msg):
        pass

    @handles(DeliveryFailed)
    def on_failed(self, msg):
        self.down_reports.append(("DeliveryFailed", msg.original_to >> 48))


def _in_process():
    harness = Harness(node_id=DRIVER_NODE)
    physics = PhysicsModule("physics")
    driver = Driver("driver", module_guid(DRIVER_NODE, WellKnown.PHYSICS))
    harness.add(driver)
    harness.add(physics)
    harness.connect("driver", "physics")
    harness.connect("physics", "driver")
    driver.go = True
    for _ in range(STEPS + 5):
        harness.tick()
    harness.stop()
    assert driver.finished
    return driver


def _start(args):
    return subprocess.Popen([sys.executable, "-m", "nodes.cli", "node", *args, "--metrics-port", "0"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Split:
    """A GLD and a physics node as processes; the driver in an Engine of this process."""

    def __init__(self, dead_after=2.5):
        """``dead_after``: seconds of silence before a node is declared dead, on every node here."""
        port = free_tcp_port()
        self.gld_address = f"tcp://127.0.0.1:{port}"
        self.dead_after = dead_after
        self.gld = _start(["gld", "--id", "1", "--listen", self.gld_address, "--gld", self.gld_address,
                           "--set", f"transport.dead_after={dead_after}"])
        self.physics = self.start_physics()
        self.engine = Engine(DRIVER_NODE)
        listen = f"tcp://127.0.0.1:{free_tcp_port()}"
        self.transport = self.engine.add_module(TransportModule(
            "transport", {"listen": listen, "peers": {1: self.gld_address}, "gld_node": 1,
                          "dead_after": dead_after}))
        self.engine.add_module(NodeAgent("agent", {"role": "gamelogic", "address": listen, "gld_node": 1}))
        self.driver = self.engine.add_module(Driver("driver", module_guid(PHYSICS_NODE, WellKnown.PHYSICS)))
        for a, b in (("transport", "agent"), ("agent", "transport"), ("transport", "driver"),
                     ("driver", "transport")):
            self.engine.connect(a, b)
        self.engine.set_transport("transport")
        self.engine.start()
        self.driver.send(WatchPeers(self.transport.guid, self.driver.guid))

    def start_physics(self):
        return _start(["physics", "--id", str(PHYSICS_NODE), "--gld", self.gld_address,
                       "--set", f"transport.dead_after={self.dead_after}"])

    def physics_listed(self):
        peer = self.transport.peers().get(PHYSICS_NODE)
        return peer is not None and peer["alive"]

    def pump(self, until, timeout=30.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.engine.tick_once()
            if until():
                return True
            time.sleep(0.02)
        return until()

    def close(self):
        self.engine.stop()
        for proc in (self.physics, self.gld):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


@pytest.fixture
def split(request):
    s = Split(**getattr(request, "param", {}))
    try:
        yield s
    finally:
        s.close()


# a loaded machine may starve a node for seconds: here that must not count as a death
@pytest.mark.parametrize("split", [{"dead_after": 15.0}], indirect=True)
def test_in_process_and_physics_node_placements_give_the_same_results(split):
    local = _in_process()
    assert split.pump(split.physics_listed), "the physics node never joined the GLD's directory"
    split.driver.go = True
    assert split.pump(lambda: split.driver.finished), f"answered up to step {split.driver.answered}"
    remote = split.driver
    assert [] == remote.down_reports and 0 == remote.missing
    # the script did what it says: an arrow at entity 4 hit it, the other flew past into the ground
    assert [[make(DRIVER_NODE, 8, 1), _e(4)], [make(DRIVER_NODE, 8, 2), 0]] == [h[1:3] for h in local.hits]
    assert local.hits == remote.hits
    assert local.expired == remote.expired
    assert local.poses == remote.poses  # every changed pose of every step, bit for bit
    assert local.positions == remote.positions


def test_a_dead_physics_node_is_reported_the_driver_ticks_on_and_resumes_after_a_restart(split):
    driver = split.driver
    driver.steps = 1_000_000  # on and on: it steps whether or not physics answers
    assert split.pump(split.physics_listed)
    driver.go = True
    assert split.pump(lambda: driver.answered >= 10)
    os.kill(split.physics.pid, signal.SIGKILL)
    split.physics.wait(10)
    def reports():
        return {kind for kind, node in driver.down_reports if node == PHYSICS_NODE}

    assert split.pump(reports, timeout=15), "nobody reported the dead node"
    assert reports() <= {"PeerDown", "DeliveryFailed"}
    frozen = dict(driver.positions)
    tick_at_death, step_at_death = split.engine.tick, driver.step
    split.pump(lambda: split.engine.tick >= tick_at_death + 20)
    assert frozen == driver.positions  # entities hold their last positions while physics is away
    assert driver.step >= step_at_death + 20  # and the driver kept ticking (and stepping) all along
    answered_before = driver.answered
    split.physics = split.start_physics()
    assert split.pump(lambda: driver.missing > 0, timeout=40), "the restarted node never asked for the scene"
    assert split.pump(lambda: driver.answered > answered_before + 5, timeout=20)
    assert frozen != driver.positions  # moving again, from where they were
    moved = [e for e in frozen if frozen[e] != driver.positions[e]]
    assert _e(3) in moved


def test_the_demo_games_world_runs_on_a_physics_node_with_the_split_stack():
    from nodes.tool import ToolNode

    gld = f"tcp://127.0.0.1:{free_tcp_port()}"
    patient = ["--set", "transport.dead_after=15"]  # a loaded machine must not look like a dead node
    procs = [_start(["gld", "--id", "1", "--listen", gld, "--gld", gld, *patient])]
    try:
        procs.append(_start(["physics", "--id", str(PHYSICS_NODE), "--gld", gld, *patient]))
        with ToolNode(gld) as tool:
            def listed(node):
                return any(r[0] == node and r[3] for r in tool.refresh_directory(timeout=0.5))

            assert tool.wait_for(lambda: listed(PHYSICS_NODE), timeout=30)  # up before the world is sent
            procs.append(_start(["gamelogic", "--id", "2000", "--gld", gld, "--stack",
                                 str(REPO / "nodes" / "gamelogic-split.toml"), "--set", "net.port=0",
                                 *patient]))
            assert tool.wait_for(lambda: listed(2000), timeout=30)

            def physics_status():
                status = tool.statuses([PHYSICS_NODE], timeout=5).get(PHYSICS_NODE)
                return next(m for m in status["modules"] if m["name"] == "physics") if status else None

            assert tool.wait_for(lambda: (physics_status() or {}).get("steps", 0) > 20, timeout=30)
            physics = physics_status()
            (world,) = physics["worlds"].values()
            assert world["terrain"] and world["statics"] > 0 and world["capsules"] > 0
            assert world["owner"].startswith("2000:")  # the gamelogic node steps it
            assert ({}, 0, 0) == (physics["refused"], physics["bad_scene"], physics["errors"])
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
