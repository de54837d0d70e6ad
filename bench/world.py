"""``python -m bench world``: the CPU of one World tick, in-process, at the game bench's size.

``bench game`` measures the gamelogic node's tick p99 with bots on the same
two cores, where waiting for a core is most of the figure. This one takes
the machine out: the bench world (the demo world plus spawners, filled to
2,000 NPCs) in this process, no sockets, no physics or AI node (their
addresses are set, so the World sends them what it would), ``players``
characters spread at random, and each tick the poses physics would report
fed back: every player and a third of the NPCs moved. Figures: the CPU
seconds (``time.process_time``) of the World's tick, against the same world
with no players, at a quarter and at all of the players; and, in a world
of its own, ``gathered`` players within GATHERED m of the spawn point,
where bots (and a new game's players) crowd: each sees the whole crowd,
and the village's rooms are in view; and all the players walking as bots
do (WALK_SPEED, a new heading every few seconds), where most of the views
recomputed each tick change a little (the jitter of the other rows hardly
changes a view). The pose building is outside the timed part.

The full figure's target is issue 6's tick p99 of 40 ms: the World's CPU
alone must fit in it before the node's whole tick (network, AOI messages
out, the GC) can.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._report import Row
from bench.game import bench_world
from engine.gc_tuning import tune_for_server
from engine.guid import make, module_guid
from engine.objectspace import ObjectSpaceManager
from gamelogic.character import build_character, new_character_state
from gamelogic.classes import ClassTree
from gamelogic.world import World
from gamelogic.worldfile import load_world
from nodes.bots import WALK_SPEED

PLAYERS = 1000
NPCS = 2000
TICKS = 60
BUDGET_MS = 40.0
GATHERED = 40.0
"""Half the side of the square round the spawn point the gathered players stand in (m)."""
GATHERED_PLAYERS = 250
_NODE = 2000
_CONN_SPACE = 100_000  # client connections: a space id the manager here never hands out


class _Region:
    """A World ticked as the gamelogic node's host does, its outbound messages dropped."""

    def __init__(self, world_path: Path, seed: int = 1):
        world_file, _ = load_world(world_path)
        self.manager = ObjectSpaceManager(_NODE, outbound=lambda message: None)
        self.world = World(world_file, ClassTree.load(), space=self.manager.create_space(),
                           send=self.manager.send, rng=random.Random(seed), me=module_guid(_NODE, 5),
                           physics=module_guid(11000, 7), ai=module_guid(10000, 6))
        self.manager.end_tick()
        self.rng = random.Random(seed + 1)
        self.players: list = []
        self.tick_no = 0
        self.walking = False
        """Players walk as bots do (WALK_SPEED, a new heading now and then) instead of a jitter in place."""
        self._headings: dict[int, float | None] = {}

    def add_players(self, n: int, *, around: tuple[float, float] | None = None) -> None:
        """``n`` more players, spread over the map or within GATHERED m of ``around``."""
        w, d = self.world.file.size
        for _ in range(n):
            space = self.manager.create_space()
            if around is None:
                at = [self.rng.uniform(10, w - 10), self.rng.uniform(10, d - 10), 0.0]
            else:
                at = [around[0] + self.rng.uniform(-GATHERED, GATHERED),
                      around[1] + self.rng.uniform(-GATHERED, GATHERED), 0.0]
            character, _, _ = build_character(space, new_character_state(f"P{len(self.players)}", at))
            character.fresh = False
            conn = make(_NODE, _CONN_SPACE, len(self.players) + 1)
            self.players.append(self.world.add_player(character, conn))
            self.manager.end_tick()

    def npcs(self) -> int:
        return len(self.world.bodies) - len(self.players)

    def tick(self) -> float:
        """One tick; returns the CPU seconds of the World's part (the poses fed are built outside it)."""
        world, rng = self.world, self.rng
        if self.walking:
            rows = self._walks()
        else:
            rows = [[b.guid, b.pos[0] + rng.uniform(-0.1, 0.1), b.pos[1] + rng.uniform(-0.1, 0.1), b.pos[2]]
                    for b in self.players]
        players = world._player_bodies
        npcs = [b for b in world.bodies.values() if b.guid not in players]
        rows += [[b.guid, b.pos[0] + 0.05, b.pos[1], b.pos[2]] for b in npcs[self.tick_no % 3::3]]
        started = time.process_time()
        self.manager.begin_tick(self.tick_no)
        world.on_poses(rows)
        world.tick(self.tick_no * 0.05, self.tick_no)
        self.manager.end_tick()
        took = time.process_time() - started
        self.tick_no += 1
        return took


    def _walks(self) -> list[list[float]]:
        """A tick of walking: about two thirds of the players on the move, each changing its mind
        every two seconds on average (a new heading, or a stop), kept inside the world."""
        rng, w, d = self.rng, *self.world.file.size
        step = WALK_SPEED * 0.05
        rows = []
        for b in self.players:
            heading = self._headings.get(b.guid)
            if b.guid not in self._headings or rng.random() < 0.025:
                walks = rng.random() < 0.67
                heading = self._headings[b.guid] = rng.uniform(0, 2 * math.pi) if walks else None
            if heading is not None:
                rows.append([b.guid, min(max(b.pos[0] + step * math.cos(heading), 5.0), w - 5.0),
                             min(max(b.pos[1] + step * math.sin(heading), 5.0), d - 5.0), b.pos[2]])
        return rows


def _median(values: list[float]) -> float:
    s = sorted(values)
    return s[len(s) // 2]


def _filled(world_path: Path, total: int, progress: Callable[[str], None]) -> _Region:
    region = _Region(world_path)
    while region.npcs() < 0.95 * total and region.tick_no < 20 * 120:
        for _ in range(20):
            region.tick()
        progress(f"the world fills up: {region.npcs()}/{total} NPCs")
    return region


def _measured(region: _Region, ticks: int) -> tuple[float, float]:
    """Median and slowest CPU seconds of ``ticks`` ticks, after ten for the new players' first views."""
    for _ in range(10):
        region.tick()
    took = [region.tick() for _ in range(ticks)]
    return _median(took), max(took)


def run(progress: Callable[[str], None], *, players: int = PLAYERS, npcs: int = NPCS,
        ticks: int = TICKS, gathered: int = GATHERED_PLAYERS) -> list[Row]:
    tune_for_server()
    tmp = Path(tempfile.mkdtemp(prefix="bench-world-"))
    total = bench_world(npcs, tmp / "world.toml")
    region = _filled(tmp / "world.toml", total, progress)
    idle, idle_slowest = _measured(region, ticks)
    progress(f"no players: {idle * 1e3:.1f} ms of CPU per tick")
    rows = []
    for level in sorted({max(1, players // 4), players}):
        region.add_players(level - len(region.players))
        cpu, slowest = _measured(region, ticks)
        progress(f"{level} players: {cpu * 1e3:.1f} ms of CPU per tick, the slowest {slowest * 1e3:.1f} ms")
        what = f"{level} players spread and {region.npcs()} NPCs, all players moving"
        rows += _rows(what, ticks, (cpu, slowest), (idle, idle_slowest), budget=level == players)
    region.walking = True  # as bots walk: most views change a little at every recomputation
    cpu, slowest = _measured(region, ticks)
    progress(f"{len(region.players)} players walking: {cpu * 1e3:.1f} ms of CPU per tick, "
             f"the slowest {slowest * 1e3:.1f} ms")
    what = f"{len(region.players)} players walking as bots do ({WALK_SPEED:g} m/s) and {region.npcs()} NPCs"
    rows += _rows(what, ticks, (cpu, slowest), (idle, idle_slowest), budget=False)
    if gathered:  # where bots (and players) are in bench game: round the spawn point, in the village
        region = _filled(tmp / "world.toml", total, progress)
        region.add_players(gathered, around=region.world.spawn_point)
        cpu, slowest = _measured(region, ticks)
        progress(f"{gathered} players gathered: {cpu * 1e3:.1f} ms of CPU per tick, "
                 f"the slowest {slowest * 1e3:.1f} ms")
        what = (f"{gathered} players within {GATHERED:g} m of the spawn point and {region.npcs()} NPCs, "
                "all players moving")
        rows += _rows(what, ticks, (cpu, slowest), (idle, idle_slowest), budget=False)
    return rows


def _rows(what: str, ticks: int, loaded: tuple[float, float], idle: tuple[float, float], *,
          budget: bool) -> list[Row]:
    """The median and the slowest tick (seconds) against the world with no players; ``budget``: the target."""
    (cpu, slowest), (idle_cpu, idle_slowest) = loaded, idle
    return [
        Row(f"World tick CPU (median of {ticks}), {what} (baseline: the same world, no players)",
            cpu * 1e3, "ms", idle_cpu * 1e3, "", None),
        Row(f"World tick CPU, the slowest of {ticks} ticks, {what} (baseline: no players, the slowest)",
            slowest * 1e3, "ms", idle_slowest * 1e3,
            f"<= {BUDGET_MS:g} (the node's whole tick p99)" if budget else "",
            slowest * 1e3 <= BUDGET_MS if budget else None),
    ]


if __name__ == "__main__":
    from bench._report import to_table

    print(to_table(run(lambda text: print(" ..", text, flush=True), players=200, ticks=20, gathered=50)))
