"""``python -m bench client``: the game client's frame time, and the cost of a server update.

The client node as ``spenefett client`` builds it (link, input, game,
render, sound) in this process, on a private Xvfb display with Mesa's
software OpenGL (llvmpipe), at 1024 x 640. No server: the world is fed
to the client's mirror as the server's messages (the world Sight, then a
Sight of each pig), and every third frame a ``Moves`` with every pig
stepping, as a 20 Hz server does for a 60 Hz client.

- **Frame time p99 with 200 entities in view** (pigs within 30 m in
  front of the camera, each with a name and health plate), against the
  same client with no entity (terrain only) in the same run. Frame time
  is one engine tick: input, game (prediction), render (3D and 2D), sound.
- **Applying one server update with 200 entities**: ``WorldMirror.apply``
  of one ``Moves`` of 200 rows (the client's share of a server tick),
  median; baseline: 200 Moves of one row each.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator

from bench._report import Row
from engine.guid import Guid
from engine.login.messages import EnteredWorld
from gamelogic import operations as ops
from nodes.runner import free_tcp_port

Progress = Callable[[str], None]
ENTITIES = 200
FRAMES = 400
ME = 0x0001_0000_0010_0001
FIRST = 0x0001_0000_0020_0000


@contextlib.contextmanager
def _display() -> Iterator[str]:
    """A private Xvfb display (or $DISPLAY when there is no Xvfb)."""
    if shutil.which("Xvfb") is None:
        yield os.environ.get("DISPLAY", "")
        return
    n = next(n for n in range(150, 300) if not os.path.exists(f"/tmp/.X11-unix/X{n}")
             and not os.path.exists(f"/tmp/.X{n}-lock"))
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(f"/tmp/.X11-unix/X{n}") and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f":{n}"
    finally:
        proc.terminate()
        proc.wait(5)


def _world_sight() -> ops.Sight:
    return ops.Sight(Guid(0), Guid(0), entity={
        "guid": 0, "id": "world", "class": "world", "name": "bench", "pos": [0.0, 0.0, 0.0], "yaw": 0.0,
        "health": 0, "max_health": 0,
        "props": {"size": [512.0, 512.0], "cell_size": 8.0, "base": 0.0,
                  "hills": [[400.0, 380.0, 90.0, 14.0], [150.0, 120.0, 60.0, 9.0]]}})


def _pigs(rng: random.Random) -> tuple[list[ops.Sight], list[list[float]]]:
    sights, where = [], []
    for i in range(ENTITIES):
        # in front of the camera: the player faces +x
        x, y = 250.0 + rng.uniform(4.0, 30.0), 250.0 + rng.uniform(-14.0, 14.0)
        where.append([x, y])
        sights.append(ops.Sight(Guid(0), Guid(FIRST + i), entity={
            "guid": FIRST + i, "id": "", "class": "pig", "name": f"pig {i}", "pos": [x, y, 0.0], "yaw": 0.0,
            "health": 30, "max_health": 30, "props": {}}))
    return sights, where


def _moves(rng: random.Random, where: list[list[float]]) -> ops.Moves:
    rows = []
    for i, p in enumerate(where):
        p[0] += rng.uniform(-0.15, 0.15)
        p[1] += rng.uniform(-0.15, 0.15)
        rows.append([FIRST + i, p[0], p[1], 0.0, rng.uniform(0.0, 360.0)])
    return ops.Moves(Guid(0), Guid(0), updates=ops.pack_moves(rows))


def _frames(progress: Progress, entities: bool) -> list[float]:
    from nodes.client.app import build_client
    from nodes.client.session import Phase

    engine = build_client(f"127.0.0.1:{free_tcp_port()}", seed=1)
    engine.start()
    try:
        game = engine.module("game")
        deadline = time.monotonic() + 10
        while game.session.phase is not Phase.OFFLINE and time.monotonic() < deadline:
            engine.tick_once()  # the login node is not there: the link gives up, quietly
        game.session.phase = Phase.WORLD
        rng = random.Random(7)
        now = engine.time
        entered = EnteredWorld(Guid(0), Guid(0), Guid(ME), {"character": {"name": "Bench", "position":
                                                                          [250.0, 250.0, 0.0], "yaw": 0.0}})
        game.mirror.apply([_world_sight(), entered], now)
        where: list[list[float]] = []
        if entities:
            sights, where = _pigs(rng)
            game.mirror.apply(sights, now)
        for _ in range(30):  # warm up: meshes, labels, the shader
            engine.tick_once()
        times = []
        progress(f"{FRAMES} frames with {len(where)} entities")
        for frame in range(FRAMES):
            if where and frame % 3 == 0:
                game.mirror.apply([_moves(rng, where)], engine.time)
            times.append(engine.tick_once())
        return times
    finally:
        engine.stop()


def _update_cost() -> tuple[float, float]:
    from nodes.client.mirror import WorldMirror

    rng = random.Random(3)
    mirror = WorldMirror()
    sights, where = _pigs(rng)
    mirror.apply([_world_sight()], 0.0)
    mirror.apply(sights, 0.0)
    one_batch, singles = [], []
    for n in range(2000):
        m = _moves(rng, where)
        size = ops.MOVE_ROW.size
        rows = [ops.Moves(Guid(0), Guid(0), updates=m.updates[at : at + size])
                for at in range(0, len(m.updates), size)]
        t0 = time.perf_counter()
        mirror.apply([m], n * 0.05)
        t1 = time.perf_counter()
        mirror.apply(rows, n * 0.05 + 0.025)
        t2 = time.perf_counter()
        one_batch.append(t1 - t0)
        singles.append(t2 - t1)
    return statistics.median(one_batch), statistics.median(singles)


def _p99(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, math.ceil(0.99 * len(s)) - 1)]


def run(progress: Progress) -> list[Row]:
    progress("applying server updates to the mirror")
    batch, singles = _update_cost()
    rows = [Row(f"apply one Moves update with {ENTITIES} entities", batch * 1e6, "us",
                baseline=singles * 1e6)]
    with _display() as display:
        if not display:
            progress("no Xvfb and no DISPLAY: frame times skipped")
            return rows
        os.environ["DISPLAY"] = display
        progress(f"client window on display {display} (software OpenGL)")
        empty = _frames(progress, entities=False)
        full = _frames(progress, entities=True)
    rows += [
        Row(f"frame time p99, {ENTITIES} entities in view", _p99(full) * 1000, "ms",
            baseline=_p99(empty) * 1000),
        Row(f"frame time median, {ENTITIES} entities in view", statistics.median(full) * 1000, "ms",
            baseline=statistics.median(empty) * 1000),
        Row("frame time p99, empty scene (terrain only)", _p99(empty) * 1000, "ms"),
    ]
    return rows
