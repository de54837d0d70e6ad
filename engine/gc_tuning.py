"""Garbage-collector settings for a server node.

A node allocates millions of short-lived message objects per second. With
CPython's default young-generation threshold (700 allocations) the collector
runs thousands of times a second and each run walks every young object that
is still alive: about 40% of the time of decoding a batch of messages was
spent there. Nodes therefore

- freeze everything built at start-up (modules, tables, classes) out of the
  collector's sight (``gc.freeze``), so full collections stay short, and
- raise the young threshold, so collections are fewer and find most of the
  tick's garbage already freed by reference counting.

Reference cycles are still collected; only how often the collector looks
changes.
"""

from __future__ import annotations

import gc
import time

SERVER_THRESHOLDS = (50_000, 20, 100)


def tune_for_server() -> None:
    """Freeze the start-up heap and set the server thresholds; call once the node is built."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVER_THRESHOLDS)
    watch_pauses()


class GcPauses:
    """How long the collector stopped this process, per generation.

    A full collection walks every tracked object the node holds (a
    gamelogic node with a few thousand entities holds hundreds of
    thousands): it can take longer than a tick, and then shows as an
    overrun with no module to blame. These figures go into the engine's
    status and the node's metrics, so an overrun can be laid beside them.
    """

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
            return
        generation = info.get("generation", 2)
        took = now - self._started
        self.count[generation] += 1
        self.seconds[generation] += took
        if took > self.longest[generation]:
            self.longest[generation] = took

    def snapshot(self) -> dict[str, list[float]]:
        """Collections, seconds spent and the longest pause, each by generation 0, 1, 2."""
        return {"count": list(self.count), "seconds": [round(s, 6) for s in self.seconds],
                "longest_ms": [round(s * 1000, 3) for s in self.longest]}


PAUSES = GcPauses()
"""This process's collector pauses; counted once :func:`watch_pauses` (or tune_for_server) ran."""


def watch_pauses() -> None:
    """Start timing the collector's pauses into :data:`PAUSES` (idempotent)."""
    if PAUSES._on_gc not in gc.callbacks:
        gc.callbacks.append(PAUSES._on_gc)
