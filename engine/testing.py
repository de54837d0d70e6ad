"""Test helpers: a fake clock, a probe module and a harness that ticks by hand.

Game code is tested without sockets or sleeping: build an Engine, put the
code under test in it beside a :class:`Probe`, and tick::

    harness = Harness(node_id=5)
    probe = harness.add(Probe("probe"))
    logic = harness.add(MyLogic("logic"))
    harness.connect("probe", "logic"); harness.connect("logic", "probe")
    probe.send(SomeMessage(to=logic.guid, frm=probe.guid, ...))
    harness.tick()
    assert probe.received == [...]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.engine import Engine
from engine.modules._module import Module
from engine.pipes import DEFAULT_BOUND, Filter, Pipe


class FakeClock:
    """A clock that only moves when told; ``sleep_until`` jumps to the deadline."""

    def __init__(self, start: float = 0.0):
        self._now = start
        self.sleeps = 0

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def sleep_until(self, deadline: float) -> None:
        self.sleeps += 1
        if deadline > self._now:
            self._now = deadline


class Probe(Module):
    """A module that records what it receives (with the tick) and sends what it is told."""

    kind = "probe"

    def __init__(self, name: str = "probe", settings: Any = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        self.received: list[Any] = []
        self.received_at: list[tuple[int, Any]] = []
        self.on_tick: Callable[[Probe], None] | None = None

    def receive(self, messages: list[Any]) -> None:
        tick = self.engine.tick
        self.received.extend(messages)
        self.received_at.extend((tick, m) for m in messages)

    def tick(self) -> None:
        if self.on_tick is not None:
            self.on_tick(self)

    def take(self) -> list[Any]:
        """What was received since the last take."""
        out, self.received = self.received, []
        self.received_at = []
        return out


class Harness:
    """An Engine on a FakeClock, started on the first tick, ticked by hand."""

    def __init__(self, node_id: int = 1, *, seed: int = 0, tick_rate: float = 20.0,
                 engine: Engine | None = None):
        self.clock = FakeClock()
        self.engine = engine or Engine(node_id, tick_rate=tick_rate, seed=seed, clock=self.clock)

    def add(self, module: Module, **kwargs: Any) -> Any:
        return self.engine.add_module(module, **kwargs)

    def connect(self, sender: str, receiver: str, *, bound: int = DEFAULT_BOUND,
                filters: Sequence[Filter] = ()) -> Pipe:
        return self.engine.connect(sender, receiver, bound=bound, filters=filters)

    def connect_all(self) -> None:
        """Declare a pipe between every ordered pair of modules (self-pairs included)."""
        for a in self.engine.modules:
            for b in self.engine.modules:
                if (a.name, b.name) not in {(p.sender, p.receiver) for p in self.engine.pipes}:
                    self.engine.connect(a.name, b.name)

    def tick(self, n: int = 1) -> None:
        """Run ``n`` ticks now (advancing the fake clock one period each)."""
        self.engine.start()
        for _ in range(n):
            self.engine.tick_once()
            self.clock.advance(self.engine.period)

    def stop(self) -> None:
        self.engine.stop()
