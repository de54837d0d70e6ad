"""The collector's pauses are timed and shown beside the ticks they may have overrun."""

import gc

from engine.engine import Engine
from engine.gc_tuning import PAUSES, watch_pauses
from engine.metrics import NodeMetrics


def test_full_collections_are_counted_and_timed():
    watch_pauses()
    watch_pauses()
    assert gc.callbacks.count(PAUSES._on_gc) == 1  # idempotent: each collection counted once
    junk = [[i] for i in range(200_000)]  # something for the collector to walk
    before = PAUSES.snapshot()
    gc.collect()
    del junk
    after = PAUSES.snapshot()
    assert after["count"][2] == before["count"][2] + 1
    assert after["seconds"][2] > before["seconds"][2]
    assert after["longest_ms"][2] > 0


def test_the_engine_status_and_the_metrics_carry_the_pauses():
    watch_pauses()
    gc.collect()
    engine = Engine(1, tick_rate=20)
    status = engine.status()
    assert status["gc"]["count"][2] >= 1
    metrics = NodeMetrics(engine)
    metrics.take_snapshot()
    text = metrics.exposition().decode()
    assert 'spenefett_gc_collections_total{generation="2"}' in text
    assert 'spenefett_gc_longest_pause_seconds{generation="2"}' in text
    paused = 'spenefett_gc_pause_seconds_total{generation="2"}'
    line = next(x for x in text.splitlines() if x.startswith(paused))
    assert float(line.split()[-1]) > 0
