"""The far end of ``python -m bench wire``: a node that counts or echoes, in its own process.

It ticks back to back (no sleeping between ticks) so the figures measure the
transport, not the tick period. With ``--yield`` it gives up its core between
ticks (``sched_yield``), as a real node's sleep between ticks does: two
processes spinning on a 2-core machine otherwise keep ZeroMQ's I/O threads,
which move every message, waiting for a core. It prints one JSON line when done.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from operator import countOf

from engine.engine import Engine
from engine.gc_tuning import tune_for_server
from engine.guid import WellKnown
from engine.messages import Message
from engine.modules import Module
from engine.modules.transport import TransportModule


class WireMove(Message, type_id=999):
    """The message the wire benchmark sends (type id 999 is kept for benchmarks)."""

    entity: int
    x: float
    y: float
    z: float


class _Counter(Module):
    """Counts what the transport delivers to it (per batch: the figure is the transport's)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.first_batch = 0

    def receive(self, messages: list) -> None:
        now = time.perf_counter()
        arrived = countOf(map(type, messages), WireMove)  # counted in C: the figure is the transport's
        if not self.count:
            self.first = now
            self.first_batch = arrived  # arrived at `first`: not part of the timed span
        self.count += arrived
        self.last = now


def build_node(node_id: int, listen: str, peers: dict[int, str]) -> tuple[Engine, TransportModule, Module]:
    engine = Engine(node_id, tick_rate=1000)
    transport = engine.add_module(TransportModule("transport", {"listen": listen, "peers": peers,
                                                                "dead_after": 30.0}))
    counter = engine.add_module(_Counter("counter"), object_id=int(WellKnown.FIRST_FREE))
    engine.connect("transport", "counter")
    engine.connect("counter", "transport")
    engine.set_transport("transport")
    return engine, transport, counter


def _stay() -> None:
    """Spin straight into the next tick."""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", type=int, required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--peer-node", type=int, required=True)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--yield", dest="yield_cpu", action="store_true",
                        help="give up the core between ticks (sched_yield)")
    args = parser.parse_args()
    engine, transport, counter = build_node(args.node, args.listen, {args.peer_node: args.peer})
    engine.start()
    tune_for_server()
    print(json.dumps({"ready": True}), flush=True)
    end = time.perf_counter() + args.seconds
    pause = os.sched_yield if args.yield_cpu else _stay
    while time.perf_counter() < end:
        engine.tick_once()
        pause()
        if args.expect and counter.count >= args.expect:  # type: ignore[attr-defined]
            break
    result = {"count": counter.count, "first": counter.first, "last": counter.last,
              "first_batch": counter.first_batch}  # type: ignore[attr-defined]
    engine.stop()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
