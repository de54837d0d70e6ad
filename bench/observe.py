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

(The demo game's bots are not ready yet; when ``spenefett bots`` can hold
500 players, this benchmark should record a real gamelogic node under them.)
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import time
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
        seconds: float = MEASURE_SECONDS, rounds: int = ROUNDS) -> list[Row]:
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
    return [
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
