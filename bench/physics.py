"""``python -m bench physics``: one physics tick at scale, and what the physics node adds to latency.

Scenario (issue 7), at 20 Hz with 4 sub-steps a tick: a 256 m square
heightfield of rolling hills, 40 rotated boxes, 1,000 capsules walking at
4 m/s (each turns to a new random heading every 20 ticks) and 200 arrows
kept in flight (each spent arrow is replaced by a new one before the next
tick; spawning is outside the timed part).

- **physics tick**: ``PhysicsScene.simulate`` (the capsule controller, the
  sub-steps, arrow hits) plus ``export`` (the changed poses as rows per
  owner), against pybullet stepping the same scene 4 times with no
  controller and no export, in the same run. Target: <= 30 ms a tick.
- **pose export**: the export alone and its share of the tick. Target:
  <= 10% of the tick.
- **intent to resolved position**, in ticks: a world owner sends an
  intent and a ``PhysicsStep`` each tick and counts the ticks until the
  pose of that step is back; once beside a PhysicsModule in its own engine,
  once across a real physics node process (GLD + ZeroMQ transport on
  loopback, both engines paced at 20 Hz). Reported, no target.

Medians over the measured ticks; the machine is shared, so expect noise.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pybullet

from bench._report import Row
from engine.dispatch import handles
from engine.engine import Engine
from engine.guid import WellKnown, make, module_guid
from engine.modules import Module
from engine.modules.agent import NodeAgent
from engine.modules.physics import PhysicsModule
from engine.modules.transport import TransportModule
from engine.physics import PhysicsScene, SceneConfig
from engine.physics.messages import (
    MoveIntents,
    PhysicsAddBody,
    PhysicsStep,
    PhysicsTerrain,
    ResolvedPoses,
)
from engine.testing import FakeClock

Progress = Callable[[str], None]

CAPSULES = 1000
ARROWS = 200
WARMUP = 20
TICKS = 100
TARGET_TICK_MS = 30.0
TARGET_EXPORT_SHARE = 0.10
OWNER = 1
LATENCY_TICKS = 100
PHYSICS_NODE = 11000
REPO = Path(__file__).resolve().parent.parent


class _Load:
    """The scenario's world and its inputs, from one seed."""

    def __init__(self, seed: int = 1):
        self.rng = np.random.default_rng(seed)
        self.scene = PhysicsScene(SceneConfig(tick_rate=20, substeps=4))
        n, cell = 129, 2.0
        xs = np.arange(n) * cell
        x, y = np.meshgrid(xs, xs)
        heights = (3.0 * np.sin(x / 20.0) * np.cos(y / 25.0)).astype(np.float32)
        self.scene.set_terrain(n, n, cell, (0.0, 0.0), heights.tobytes())
        rng = self.rng
        self.scene.set_boxes([[i, float(rng.uniform(20, 236)), float(rng.uniform(20, 236)), 2.0, 2.0, 3.0,
                               2.0, float(rng.uniform(0, math.pi))] for i in range(40)])
        for e in range(1, CAPSULES + 1):
            self.scene.add_body(e, OWNER, "capsule", (float(rng.uniform(8, 248)), float(rng.uniform(8, 248)),
                                                      0.0), 0.4, 1.8, max_speed=6.0)
        self.next_arrow = 1 << 40
        self.tick = 0

    def inputs(self) -> None:
        """This tick's new headings and replacement arrows (untimed)."""
        rng, scene = self.rng, self.scene
        if self.tick % 20 == 0:
            angles = rng.uniform(0, 2 * math.pi, CAPSULES)
            scene.set_intents([[e + 1, 4.0 * math.cos(a), 4.0 * math.sin(a), 0.0]
                               for e, a in enumerate(angles.tolist())], OWNER)
        while scene.projectile_count() < ARROWS:
            self.next_arrow += 1
            a = float(rng.uniform(0, 2 * math.pi))
            scene.spawn_projectile(self.next_arrow, OWNER, 0,
                                   (float(rng.uniform(10, 246)), float(rng.uniform(10, 246)), 6.0),
                                   (40.0 * math.cos(a), 40.0 * math.sin(a), 4.0), 2.0)
        self.tick += 1


def _tick_rows(progress: Progress) -> list[Row]:
    progress(f"building the scene: {CAPSULES} capsules, {ARROWS} arrows, 40 boxes, 129 x 129 terrain")
    load = _Load()
    scene = load.scene
    for _ in range(WARMUP):
        load.inputs()
        scene.step()
    progress(f"timing {TICKS} physics ticks (simulate + export)")
    full, export, exported = [], [], []
    perf = time.perf_counter
    for _ in range(TICKS):
        load.inputs()
        t0 = perf()
        scene.simulate()
        t1 = perf()
        result = scene.export()
        t2 = perf()
        full.append((t2 - t0) * 1000)
        export.append((t2 - t1) * 1000)
        exported.append(sum(len(rows) for rows in result.poses.values()))
    progress(f"timing {TICKS} bare pybullet ticks (4 stepSimulation calls) of the same scene")
    bare = []
    client = scene.client  # pybullet itself, on the scene's own client
    for _ in range(TICKS):
        t0 = perf()
        for _ in range(scene.config.substeps):
            pybullet.stepSimulation(physicsClientId=client)
        bare.append((perf() - t0) * 1000)
    scene.close()
    tick_ms, export_ms, bare_ms = (statistics.median(v) for v in (full, export, bare))
    share = statistics.median([e / f for e, f in zip(export, full, strict=True)])
    return [
        Row(f"physics tick: {CAPSULES} capsules + {ARROWS} arrows, simulate + export (ms/tick)", tick_ms,
            "ms", baseline=bare_ms, target=f"<= {TARGET_TICK_MS:g} ms", met=tick_ms <= TARGET_TICK_MS),
        Row("  of which the pose export (ms/tick; baseline: the whole tick)", export_ms, "ms",
            baseline=tick_ms, target=f"<= {TARGET_EXPORT_SHARE:.0%} of the tick",
            met=share <= TARGET_EXPORT_SHARE),
        Row("  poses exported per tick (changed only)", float(statistics.median(exported)), "poses"),
    ]


class _Prober(Module):
    """A world owner that steps every tick and measures how many ticks each step's pose takes."""

    kind = "physics_prober"

    def __init__(self, name: str, physics: int):
        super().__init__(name)
        self.physics = physics
        self.entity = 0
        self.go = False
        self.sent_at: dict[int, int] = {}
        self.latency: list[int] = []
        self.step = 0

    def start(self) -> None:
        me, p = self.guid, self.physics
        self.entity = make(self.node_id, 9, 1)
        heights = np.zeros(16 * 16, np.float32).tobytes()
        self.scene = [PhysicsTerrain(p, me, 1, 16, 16, 4.0, 0.0, 0.0, heights),
                      PhysicsAddBody(p, me, 1, self.entity, "capsule", 30.0, 30.0, 0.0, 0.4, 1.8)]

    def tick(self) -> None:
        if not self.go:
            return
        me, p = self.guid, self.physics
        if self.step == 0:
            for m in self.scene:
                self.send(m)
        heading = 1.0 if self.step % 20 < 10 else -1.0  # back and forth: every step changes the pose
        self.send(MoveIntents(p, me, 1, [[self.entity, heading, 0.0, 0.0]]))
        self.send(PhysicsStep(p, me, 1, self.step))
        self.sent_at[self.step] = self.engine.tick
        self.step += 1

    @handles(ResolvedPoses)
    def on_poses(self, msg: ResolvedPoses) -> None:
        sent = self.sent_at.pop(msg.tick, None)
        if sent is not None and msg.tick > 0:
            self.latency.append(self.engine.tick - sent)


def _in_process_latency() -> list[int]:
    engine = Engine(3001, clock=FakeClock())
    prober = engine.add_module(_Prober("prober", module_guid(3001, WellKnown.PHYSICS)))
    engine.add_module(PhysicsModule("physics"))
    engine.connect("prober", "physics")
    engine.connect("physics", "prober")
    engine.start()
    prober.go = True
    for _ in range(LATENCY_TICKS + 5):
        engine.tick_once()
    engine.stop()
    return prober.latency


def _split_latency(progress: Progress) -> list[int]:
    from nodes.runner import free_tcp_port

    gld_address = f"tcp://127.0.0.1:{free_tcp_port()}"

    def node(*args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "nodes.cli", "node", *args, "--metrics-port", "0"],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    progress("starting a GLD and a physics node")
    procs = [node("gld", "--id", "1", "--listen", gld_address, "--gld", gld_address)]
    procs.append(node("physics", "--id", str(PHYSICS_NODE), "--gld", gld_address))
    engine = Engine(3002)
    listen = f"tcp://127.0.0.1:{free_tcp_port()}"
    transport = engine.add_module(TransportModule("transport", {"listen": listen, "peers": {1: gld_address}}))
    engine.add_module(NodeAgent("agent", {"role": "gamelogic", "address": listen}))
    prober = engine.add_module(_Prober("prober", module_guid(PHYSICS_NODE, WellKnown.PHYSICS)))
    for a, b in (("transport", "agent"), ("agent", "transport"), ("transport", "prober"),
                 ("prober", "transport")):
        engine.connect(a, b)
    engine.set_transport("transport")
    try:
        engine.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not transport.peers().get(PHYSICS_NODE, {}).get("alive"):
            engine.tick_once()
            time.sleep(engine.period)
        if not transport.peers().get(PHYSICS_NODE, {}).get("alive"):
            raise RuntimeError("the physics node did not join the directory within 60 s")
        progress(f"measuring {LATENCY_TICKS} steps across the physics node at 20 Hz")
        prober.go = True
        next_tick = time.perf_counter()
        end = time.monotonic() + LATENCY_TICKS * engine.period * 3 + 10
        while (len(prober.latency) < LATENCY_TICKS - 1 or prober.step < LATENCY_TICKS) \
                and time.monotonic() < end:
            if prober.step >= LATENCY_TICKS:
                prober.go = False
            engine.tick_once()
            next_tick += engine.period
            time.sleep(max(0.0, next_tick - time.perf_counter()))
        return prober.latency
    finally:
        engine.stop()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _latency_rows(progress: Progress) -> list[Row]:
    progress("intent-to-pose latency, physics in-process")
    local = _in_process_latency()
    failure = ""
    try:
        remote = _split_latency(progress)
    except Exception as exc:  # a bench run reports what it could not measure, and goes on
        failure = f"{type(exc).__name__}: {exc}"
        remote = []
    local_median = float(statistics.median(local))
    rows = [Row("intent to resolved position, physics in-process (ticks, median)", local_median, "ticks")]
    if not remote:
        why = failure or "no answers"
        rows.append(Row(f"intent to resolved position, across a physics node: NOT MEASURED ({why})",
                        math.nan, "ticks"))
    else:
        remote_median = float(statistics.median(remote))
        p95 = float(np.percentile(remote, 95))
        rows += [
            Row("intent to resolved position, across a physics node (ticks, median)", remote_median, "ticks",
                baseline=local_median),
            Row("  across a physics node, 95th percentile (ticks)", p95, "ticks"),
            Row("  added by the physics node (ticks, median)", remote_median - local_median, "ticks"),
        ]
    return rows


def run(progress: Progress) -> list[Row]:
    return _tick_rows(progress) + _latency_rows(progress)
