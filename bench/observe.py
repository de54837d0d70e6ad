"""``python -m bench observe``: what recording costs a busy node, and how fast replay runs.

The node is the one ``python -m bench clients`` measures: a NetworkModule
delivering through a ClientFilter to a logic module that sends every
connected client one message per tick, at 20 Hz, with 500 clients in a
separate load-generator process each sending 20 messages a second. So per
second the recorder takes 10,000 inputs and 10,000 outputs, tick by tick.

The same run builds that node four times, alternating recording off and on
(off, on, off, on), ramps the clients up each time and measures the ticks;
the figures pool the two rounds of each mode. Overhead is judged on the
thread CPU time per tick (what the tick costs, free of the other processes
on the machine preempting it); the wall-clock means are printed beside it.

Then the last recording is replayed (feeder at the edge, recorded clock, no
sockets) as fast as it goes: ticks per second, against the 20 ticks per
second the node ran at, and whether it came out identical.

Last, the real thing: a cluster with *two* gamelogic nodes, 2000 recording
and 2001 not, and ``spenefett bots`` (the ``fight`` scenario: walking,
melee, arrows through physics) logging 200 players in (:data:`BOTS`; one bots
process on a 2-core machine cannot keep 500 alive); the GLD places each
on the node with fewer players, so both nodes carry the same load at the
same time on the same machine. Figures: each node's process CPU per tick
and mean tick (from its metrics) over the window when the bots are all in,
then the recording is replayed and checked identical. Logins use a cheap
argon2 cost and no rate limits here: the login node is not what is
measured.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._report import Row
from bench.clients import (
    _REGISTRY,
    BenchInput,
    _freeze,
    _load_generator,
    _Logic,
    _p,
    _raise_fd_limit,
    _Ticker,
)
from engine.engine import Engine, SystemClock
from engine.messages import REGISTRY, MessageRegistry
from engine.modules.network import ClientFilter, NetworkModule
from engine.recording import NodeRecorder, read_meta
from engine.recording_replay import ReplayClock, Replayer, ReplayFeeder

CLIENTS = 500
MESSAGES_PER_SECOND = 20
TICK_RATE = 20.0
MEASURE_SECONDS = 12.0
ROUNDS = 2
TARGET_OVERHEAD = 1.10
BOTS = 200
"""Bots for the game part: on a 2-core machine one bots process beside the cluster holds
about this many; ``run(progress, bots=500)`` on a bigger one."""
_NODE = 2000


def _node(clients: int, clock: Any) -> Engine:
    engine = Engine(node_id=_NODE, tick_rate=TICK_RATE, clock=clock)
    if isinstance(clock, ReplayClock):
        engine.add_module(ReplayFeeder("net"), object_id=int(NetworkModule.well_known or 0))
    else:
        engine.add_module(NetworkModule("net", {
            "deliver_to": "logic", "max_clients": clients + 16, "accept_per_tick": 256,
            "idle_timeout": 60.0, "handshake_timeout": 60.0}, registry=_REGISTRY))
    engine.add_module(_Logic("logic"))
    engine.connect("net", "logic", filters=[ClientFilter(allow=[BenchInput])])
    engine.connect("logic", "net")
    return engine


def _round(progress: Callable[[str], None], clients: int, seconds: float,
           record: Path | None) -> tuple[list[float], float, float]:
    """One node's life: ramp ``clients`` up, measure; (tick durations, CPU s per tick, bytes/s)."""
    engine = _node(clients, SystemClock())
    recorder = None
    if record is not None:
        recorder = NodeRecorder(engine, record, edge={"net"}, meta={"role": "bench"},
                                max_bytes=8 << 30)
    engine.start()
    if recorder is not None:
        recorder.started()
    net = engine.module("net")
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    loader = ctx.Process(target=_load_generator, args=(net.port, MESSAGES_PER_SECOND, theirs),
                         daemon=True)
    loader.start()
    ticker = _Ticker(engine)
    try:
        ours.send(("grow", clients))
        deadline = time.monotonic() + 120
        while net.client_count < clients:  # type: ignore[attr-defined]
            ticker.run(10)
            while ours.poll():
                kind, *values = ours.recv()
                if kind == "error":
                    raise RuntimeError(f"load generator failed: {values[0]}")
            if time.monotonic() > deadline or not loader.is_alive():
                raise RuntimeError(f"only {net.client_count} of {clients} clients connected")  # type: ignore[attr-defined]
        _freeze()
        ticker.run(int(TICK_RATE * 2))  # settle
        progress(f"measuring {seconds:g} s, {clients} clients, recording {'on' if record else 'off'}")
        bytes0 = recorder.writer.bytes_written if recorder is not None else 0
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        ticks = ticker.run(int(seconds * TICK_RATE))
        cpu = (time.thread_time() - cpu0) / len(ticks)
        written = (recorder.writer.bytes_written - bytes0 if recorder is not None else 0) / (
            time.perf_counter() - wall0)
    finally:
        ours.send(("stop",))
        loader.join(10)
        if loader.is_alive():
            loader.kill()
        engine.stop()
        if recorder is not None:
            recorder.close()
    if recorder is not None and recorder.stopped:
        raise RuntimeError(f"the recording stopped: {recorder.stopped}")
    return ticks, cpu, written


def _both_registries() -> MessageRegistry:
    """The bench's client messages and the engine's own (ClientConnected, ...) in one registry."""
    both = MessageRegistry()
    for cls in (*REGISTRY.classes(), *_REGISTRY.classes()):
        both.register(cls)
    return both


def _replay(directory: Path) -> tuple[int, float, bool, str]:
    meta = read_meta(directory)
    engine = _node(CLIENTS, ReplayClock())
    registry = _both_registries()
    replayer = Replayer(engine, meta, directory, registry=registry)
    started = time.perf_counter()
    result = replayer.run()
    return result.ticks, time.perf_counter() - started, result.identical, result.summary(registry)


def run(progress: Callable[[str], None], *, clients: int = CLIENTS,
        seconds: float = MEASURE_SECONDS, rounds: int = ROUNDS, bots: int = BOTS,
        bot_seconds: float = 30.0) -> list[Row]:
    """Alternate recording off and on ``rounds`` times each, then replay the last recording."""
    _raise_fd_limit(clients + 256)
    work = Path(tempfile.mkdtemp(prefix="spenefett-bench-observe-"))
    durations: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    written: list[float] = []
    last = work / "round-0"
    try:
        for r in range(rounds):
            for on in (False, True):
                if on:
                    last = work / f"round-{r}"
                ticks, cpu, per_second = _round(progress, clients, seconds, last if on else None)
                durations[on] += ticks
                cpus[on].append(cpu)
                if on:
                    written.append(per_second)
        progress("replaying the last recording")
        replayed, elapsed, identical, summary = _replay(last)
        if not identical:
            progress(summary)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    cpu_off, cpu_on = mean(cpus[False]) * 1000, mean(cpus[True]) * 1000
    rate = replayed / elapsed if elapsed else 0.0
    game = _game_rows(progress, bots, bot_seconds) if bots else []
    return game + [
        Row(f"tick CPU time, {clients} clients x {MESSAGES_PER_SECOND} msg/s, recording on "
            "(baseline: off, same run)", cpu_on, "ms", cpu_off,
            f"ratio <= {TARGET_OVERHEAD:g}", cpu_on <= TARGET_OVERHEAD * cpu_off),
        Row(f"tick mean (wall), {clients} clients, recording on (baseline: off)",
            mean(durations[True]) * 1000, "ms", mean(durations[False]) * 1000),
        Row(f"tick p99, {clients} clients, recording on (baseline: off)",
            _p(durations[True], 0.99) * 1000, "ms", _p(durations[False], 0.99) * 1000),
        Row(f"recording written per second, {clients} clients", mean(written) / 1e6, "MB/s"),
        Row(f"replay speed, {replayed} recorded ticks (baseline: the node's {TICK_RATE:g} ticks/s)",
            rate, "ticks/s", TICK_RATE, "ratio >= 1 (faster than real time)", rate >= TICK_RATE),
        Row("replay identical to the recording", 1.0 if identical else 0.0, "bool", None, "1",
            identical),
    ]


# -- the demo game under bots ------------------------------------------------------------------------


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _scrape(address: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:  # noqa: S310
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def _game_rows(progress: Callable[[str], None], bots: int, seconds: float) -> list[Row]:
    from nodes.cluster import SERVER_ROLES, Cluster
    from nodes.runner import free_tcp_port

    work = Path(tempfile.mkdtemp(prefix="spenefett-bench-game-"))
    recording = work / "recording"
    login = ["--set", "login.hash_time_cost=1", "--set", "login.hash_memory_kib=8192",
             "--set", "login.hash_parallelism=1", "--set", "login.address_burst=1000000",
             "--set", "login.address_rate=100000"]
    cluster = Cluster(gld_port=free_tcp_port(), run_dir=work / "run", out=io.StringIO(),
                      ephemeral_ports=True, roles=(*SERVER_ROLES, ("gamelogic", 2001)),
                      extra_args={"persistence": ["--set", f"persistence.url=sqlite:///{work / 'w.db'}"],
                                  "login": login})
    for node in cluster.nodes:
        if node.node_id == 2000:
            node.args += ["--record", str(recording)]
    samples: list[tuple[float, dict[int, tuple[float, float, float, float, float]]]] = []
    try:
        progress("starting a cluster with two gamelogic nodes (2000 records, 2001 does not)")
        rows = cluster.start(timeout=90)
        login_at = next(r[4]["clients"] for r in rows if r[1] == "login")
        metrics = {int(r[0]): r[4]["metrics"] for r in rows if r[1] == "gamelogic"}
        pids = {n.node_id: n.process.pid for n in cluster.nodes if n.role == "gamelogic"}  # type: ignore[union-attr]
        progress(f"{bots} bots logging in, then fighting for {seconds:g} s")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        bots_log = work / "bots.log"
        with open(bots_log, "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "nodes.cli", "bots", str(bots), "--scenario",
                                     "fight", "--login", login_at, "--seconds", str(seconds),
                                     "--seed", "1"], stdout=log, stderr=subprocess.STDOUT, env=env)
        while proc.poll() is None:
            at = time.perf_counter()
            sample = {}
            for node, address in metrics.items():
                m = _scrape(address)
                sample[node] = (m.get('spenefett_clients{module="net"}', 0.0),
                                m.get("spenefett_tick_seconds_sum", 0.0),
                                m.get("spenefett_tick_seconds_count", 0.0), _proc_cpu(pids[node]),
                                m.get("spenefett_recording_seconds_total", 0.0))
            samples.append((at, sample))
            cluster.tool.pump(max(0.0, 1.0 - (time.perf_counter() - at)))  # type: ignore[union-attr]
        report = bots_log.read_text(errors="replace").replace("\r", "\n").strip().splitlines()
        progress(report[-1] if report else "bots said nothing")
        for line in report:
            if "bots played" in line:
                progress(line.strip())
    finally:
        cluster.stop()
    try:
        replayed, elapsed, identical, summary = _replay_game(recording)
        if not identical:
            progress(summary)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _game_figures(samples, replayed, elapsed, identical)


def _replay_game(directory: Path) -> tuple[int, float, bool, str]:
    from nodes.replay import replay

    started = time.perf_counter()
    result, _ = replay(directory)
    return result.ticks, time.perf_counter() - started, result.identical, result.summary()


def _game_figures(samples: list[tuple[float, dict[int, tuple[float, float, float, float, float]]]],
                  replayed: int, elapsed: float, identical: bool) -> list[Row]:
    peak = max((sum(v[0] for v in s.values()) for _, s in samples), default=0.0)
    full = [(t, s) for t, s in samples if peak and sum(v[0] for v in s.values()) >= 0.95 * peak]
    if len(full) < 3:
        raise RuntimeError("the bots never held steady in the world: nothing to measure")
    (_, first), (_, last) = full[1], full[-1]  # full[0] may straddle the last logins

    def per_tick(node: int) -> tuple[float, float, float]:
        ticks = last[node][2] - first[node][2]
        return ((last[node][3] - first[node][3]) / ticks, (last[node][1] - first[node][1]) / ticks,
                (first[node][0] + last[node][0]) / 2)

    (t0, s0), (t1, s1) = samples[0], samples[-1]
    achieved = (s1[2000][2] - s0[2000][2]) / (t1 - t0)  # ticks/s the recording node managed
    cpu_on, tick_on, players_on = per_tick(2000)
    cpu_off, tick_off, players_off = per_tick(2001)
    recorder = (last[2000][4] - first[2000][4]) / (last[2000][2] - first[2000][2])
    rate = replayed / elapsed if elapsed else 0.0
    window = full[-1][0] - full[1][0]
    return [
        Row(f"gamelogic recorder time per tick, {players_on:.0f} players fighting "
            f"(baseline: that node's whole tick; {window:.0f} s)", recorder * 1000, "ms",
            tick_on * 1000, f"ratio <= {TARGET_OVERHEAD - 1:g}",
            recorder <= (TARGET_OVERHEAD - 1) * tick_on),
        Row(f"gamelogic process CPU per tick, recording on: {players_on:.0f} players "
            f"(baseline: the node beside it, not recording: {players_off:.0f} players)",
            cpu_on * 1000, "ms", cpu_off * 1000),
        Row("gamelogic tick mean under bots, recording on (baseline: off)", tick_on * 1000, "ms",
            tick_off * 1000),
        Row(f"gamelogic replay speed, {replayed} ticks (baseline: the ticks/s the node managed "
            f"while recording; nominal {TICK_RATE:g})", rate, "ticks/s", achieved, "ratio >= 1",
            rate >= achieved),
        Row("gamelogic replay identical to the recording", 1.0 if identical else 0.0, "bool", None,
            "1", identical),
    ]
