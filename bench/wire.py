"""``python -m bench wire``: node-to-node throughput and round trip between two processes.

The far node runs in its own process (``bench/_wire_peer.py``). Both ends
tick back to back, so the figures are the transport's own cost, not the
tick period: at 20 Hz a message waits up to one tick on each side on top.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench._report import Row
from bench._wire_peer import WireMove, build_node
from engine.control import Ping, Pong
from engine.gc_tuning import tune_for_server
from engine.guid import WellKnown, make, module_guid
from nodes.runner import free_tcp_port

_REPO = Path(__file__).resolve().parent.parent


def _peer(expect: int, seconds: float, here: str,
          yield_cpu: bool = False) -> tuple[subprocess.Popen[str], str]:
    there = f"tcp://127.0.0.1:{free_tcp_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._wire_peer", "--node", "20", "--listen", there,
         "--peer-node", "10", "--peer", here, "--expect", str(expect), "--seconds", str(seconds)]
        + (["--yield"] if yield_cpu else []),
        cwd=_REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    json.loads(proc.stdout.readline())  # ready
    return proc, there


def _throughput(total: int, per_tick: int) -> float:
    """Messages per second delivered to the far node's module, ``per_tick`` per batch."""
    here = f"tcp://127.0.0.1:{free_tcp_port()}"
    proc, there = _peer(total, 120, here)
    engine, transport, counter = build_node(10, here, {20: there})
    engine.start()
    target = make(20, 0, int(WellKnown.FIRST_FREE))
    # wait until the peer hears us (the first heartbeat crossed)
    while transport.peers()[20]["received"] == 0:
        engine.tick_once()
    msgs = [WireMove(target, counter.guid, i, 1.0, 2.0, 3.0) for i in range(per_tick)]
    sent = 0
    while sent < total:
        if per_tick == 1:
            counter.send(msgs[0])
        else:
            counter.send_many(msgs)  # a module handing on a tick's worth, as the AOI fan-out does
        sent += per_tick
        engine.tick_once()
        if proc.poll() is not None:
            break
    for _ in range(200):  # flush anything held
        engine.tick_once()
    assert proc.stdout is not None
    result = json.loads(proc.stdout.readline())
    proc.wait(30)
    engine.stop()
    span = result["last"] - result["first"]
    timed = result["count"] - result["first_batch"]
    return timed / span if span > 0 else 0.0


def _round_trips(n: int, yield_cpu: bool) -> list[float]:
    """Ping to Pong times; with ``yield_cpu`` both ends give up the core between ticks.

    A real node sleeps between ticks, which leaves a core to ZeroMQ's I/O
    threads (they move every message); two processes spinning flat out on a
    2-core machine keep those threads waiting for a core, and the figure is
    then the scheduler's. Both are measured and printed.
    """
    here = f"tcp://127.0.0.1:{free_tcp_port()}"
    proc, there = _peer(0, 120, here, yield_cpu)
    pause = os.sched_yield if yield_cpu else (lambda: None)
    engine, transport, counter = build_node(10, here, {20: there})
    engine.start()
    pongs: list[Pong] = []
    counter.receive = lambda msgs: pongs.extend(m for m in msgs if type(m) is Pong)  # type: ignore[method-assign]
    while transport.peers()[20]["received"] == 0:
        engine.tick_once()
    times = []
    peer_transport = module_guid(20, WellKnown.TRANSPORT)
    for serial in range(n):
        t0 = time.perf_counter()
        counter.send(Ping(peer_transport, counter.guid, serial))
        while not pongs:
            engine.tick_once()
            pause()
        times.append(time.perf_counter() - t0)
        pongs.clear()
    proc.terminate()
    proc.wait(30)
    engine.stop()
    return times


def _p50_p99(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1e6, ordered[int(len(ordered) * 0.99)] * 1e6


def run(progress: Callable[[str], None]) -> list[Row]:
    tune_for_server()  # as every node does
    rows = []
    progress("node-to-node throughput, batched (10,000 messages per tick)")
    batched = _throughput(1_000_000, 10_000)
    progress("node-to-node throughput, one message per send")
    single = _throughput(50_000, 1)
    rows.append(Row("node-to-node game messages, 10,000 per tick in one batch (baseline: one per send)",
                    batched, "msg/s", single, ">= 2,000,000 and ratio >= 5",
                    batched >= 2_000_000 and batched / single >= 5))
    progress("node-to-node round trips, both ends yielding the core between ticks")
    rtts = _round_trips(2000, yield_cpu=True)
    progress("node-to-node round trips, both ends spinning")
    spun = _round_trips(2000, yield_cpu=False)
    p50, p99 = _p50_p99(rtts)
    spun_p50, spun_p99 = _p50_p99(spun)
    rows.append(Row("node-to-node round trip p50 (Ping to Pong, both ticking back to back, yielding "
                    "the core between ticks; baseline: spinning)", p50, "us", spun_p50, "<= 200", p50 <= 200))
    rows.append(Row("node-to-node round trip p99 (yielding; baseline: spinning)", p99, "us",
                    spun_p99, "", None))
    try:
        from bench import clients
    except ImportError:
        progress("bench/clients.py not present: the 2,000-client figure is not measured")
    else:
        rows.extend(clients.run(progress))
    return rows
