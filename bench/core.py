"""``python -m bench core``: the engine core's hot paths against plain-Python baselines.

Measured under the garbage-collector settings nodes run with
(:mod:`engine.gc_tuning`), for the figures and their baselines alike.

Each figure is the best of several repeats (the least disturbed run on a
shared machine), beside a baseline measured the same way in the same run.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import attrs
import msgpack

from bench._report import Row
from engine.codec.binary import decode_batch, encode_batch
from engine.gc_tuning import tune_for_server
from engine.guid import Guid
from engine.messages import Message, MessageRegistry
from engine.modules import Module, handles
from engine.testing import Harness

_REGISTRY = MessageRegistry()


class BenchMove(Message, type_id=1, registry=_REGISTRY):
    """A typical small game message: an entity moved."""

    entity: Guid
    x: float
    y: float
    z: float


@attrs.frozen(slots=True)
class AttrsMove:
    """The same message as a frozen, slotted attrs class (ARCHITECTURE.md's first idea)."""

    to: int
    frm: int
    entity: int
    x: float
    y: float
    z: float


def _best(fn: Callable[[], object], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


class _Sink(Module):
    def __init__(self, name: str):
        super().__init__(name)
        self.count = 0

    @handles(BenchMove)
    def on_move(self, msg: BenchMove) -> None:
        self.count += 1


def _routed_delivery(n: int) -> tuple[float, float]:
    h = Harness(node_id=5)
    src = h.add(Module("src"))
    sink = h.add(_Sink("sink"))
    h.connect("src", "sink", bound=n + 1)
    h.tick()
    msgs = [BenchMove(sink.guid, src.guid, i, 1.0, 2.0, 3.0) for i in range(n)]
    send = src.send

    def routed() -> None:
        for m in msgs:
            send(m)
        h.engine.tick_once()

    t = _best(routed)
    assert sink.count >= n
    dq: deque[object] = deque()

    def bare() -> None:
        append, popleft = dq.append, dq.popleft
        for m in msgs:
            append(m)
        while dq:
            popleft()

    return n / t, n / _best(bare)


def _construction(n: int) -> tuple[float, float]:
    def ours() -> None:
        for i in range(n):
            BenchMove(1, 2, i, 1.0, 2.0, 3.0)

    def theirs() -> None:
        for i in range(n):
            AttrsMove(1, 2, i, 1.0, 2.0, 3.0)

    return n / _best(ours), n / _best(theirs)


def _codec(batches: int, size: int) -> tuple[float, float, float, float]:
    msgs = [BenchMove(1 << 48 | i, 2 << 48 | i, i, i * 0.5, 2.5, -1.0) for i in range(size)]
    tuples = [tuple(m) for m in msgs]
    data = encode_batch(msgs)
    assert decode_batch(data, registry=_REGISTRY) == msgs
    total = batches * size

    def enc() -> None:
        for _ in range(batches):
            encode_batch(msgs)

    def raw_enc() -> None:
        for _ in range(batches):
            msgpack.packb(tuples)

    def dec() -> None:
        for _ in range(batches):
            decode_batch(data, registry=_REGISTRY)

    def raw_dec() -> None:
        for _ in range(batches):
            msgpack.unpackb(data, use_list=False)

    return (total / _best(enc), total / _best(raw_enc), total / _best(dec), total / _best(raw_dec))


def _engine_overhead(ticks: int) -> tuple[float, float]:
    h = Harness(node_id=5)
    for i in range(8):
        h.add(Module(f"m{i}"))
    h.tick()
    engine = h.engine

    def run() -> None:
        for _ in range(ticks):
            engine.tick_once()

    modules = engine.modules

    def bare() -> None:
        for _ in range(ticks):
            for m in modules:
                m.tick()

    return _best(run) / ticks * 1000, _best(bare) / ticks * 1000


def run(progress: Callable[[str], None]) -> list[Row]:
    tune_for_server()  # measure under the garbage-collector settings every node runs with
    rows = []
    progress("routed delivery")
    routed, bare = _routed_delivery(200_000)
    rows.append(Row("routed delivery (send, route, pipe, drain, dispatch)", routed, "msg/s", bare,
                    ">= 1,500,000 and ratio >= 0.125 of deque append/popleft",
                    routed >= 1_500_000 and routed / bare >= 0.125))
    progress("message construction")
    ours, attrs_rate = _construction(300_000)
    rows.append(Row("message construction (baseline: frozen attrs class)", ours, "msg/s", attrs_rate,
                    ">= 2,000,000", ours >= 2_000_000))
    progress("batch codec")
    enc, raw_enc, dec, raw_dec = _codec(200, 1000)
    rows.append(Row("batch encode, batches of 1000 (baseline: raw msgpack on tuples)", enc, "msg/s",
                    raw_enc, ">= 1,500,000 and ratio >= 0.333", enc >= 1_500_000 and enc / raw_enc >= 1 / 3))
    rows.append(Row("batch decode, batches of 1000 (baseline: raw msgpack to tuples)", dec, "msg/s",
                    raw_dec, ">= 1,000,000 and ratio >= 0.333", dec >= 1_000_000 and dec / raw_dec >= 1 / 3))
    progress("engine overhead")
    per_tick, bare_tick = _engine_overhead(20_000)
    rows.append(Row("engine tick, 8 empty modules (baseline: 8 bare tick calls)", per_tick, "ms/tick",
                    bare_tick, "<= 0.2", per_tick <= 0.2))
    return rows
