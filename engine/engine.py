"""The Engine: modules in order, pipes between them, and the fixed-rate tick.

One engine tick runs every module once, in stack order. A module's turn is:
drain its inbound pipes (in the order they were declared) and hand each
message to its handler, then call ``module.tick()``. So:

- a message sent to a module *later* in the order arrives in the same tick;
- one sent to an *earlier* module (or to itself) arrives in the next tick.

Routing is by Guid: ``send(msg)`` finds the receiver from ``msg.to``:

- a module Guid of this node (space 0)  -> that module;
- any Guid of another node              -> the transport module;
- an ObjectSpace of this node           -> the module hosting that space.

The pipe from the sender to that receiver must be declared (by the stack
file, or ``connect``); sending along an undeclared pair raises at the send.

The tick loop keeps a fixed rate. A tick that runs past its slot counts as
an overrun; the ticks it overlapped are skipped, not replayed in a burst.
Game code reads time only from ``engine.tick`` and chance only from
``engine.rng`` (seeded), so a recorded run replays exactly.

>>> from engine.testing import FakeClock
>>> engine = Engine(node_id=7, clock=FakeClock())
>>> _ = engine.add_module(Module("a")); _ = engine.add_module(Module("b"))
>>> _ = engine.connect("a", "b")
>>> engine.run(ticks=3)
>>> engine.tick
3
"""

from __future__ import annotations

import logging
import math
import random
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs

from engine.errors import RoutingError, UndeclaredPipeError, UnroutableError
from engine.gc_tuning import PAUSES
from engine.guid import GuidServer, WellKnown, format_guid, module_guid, node_of, space_of
from engine.modules._module import Module, ModuleState
from engine.pipes import DEFAULT_BOUND, Filter, Pipe

__all__ = ["Clock", "Engine", "RoutingError", "SystemClock", "TickTimes", "UndeclaredPipeError",
           "UnroutableError"]

log = logging.getLogger("spenefett.engine")

DEFAULT_TICK_RATE = 20.0
_TIMING_WINDOW = 1200  # ticks of per-module timings kept for percentiles (60 s at 20 Hz)


class Clock(Protocol):
    """Where the engine (never game code) reads wall time."""

    def now(self) -> float: ...
    def sleep_until(self, deadline: float) -> None: ...


class SystemClock:
    """The real monotonic clock."""

    def now(self) -> float:
        return time.perf_counter()

    def sleep_until(self, deadline: float) -> None:
        delay = deadline - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


@attrs.frozen(slots=True)
class TickTimes:
    """Per-module tick durations (seconds) over the recent window."""

    module: str
    count: int
    last: float
    p50: float
    p99: float
    max: float


class Engine:
    """Ticks modules in order at a fixed rate; routes their messages by Guid."""

    def __init__(
        self,
        node_id: int,
        *,
        tick_rate: float = DEFAULT_TICK_RATE,
        seed: int = 0,
        clock: Clock | None = None,
    ):
        module_guid(node_id, 0)  # validates the node id
        if not tick_rate > 0:
            raise ValueError(f"tick_rate must be positive, got {tick_rate}")
        self.node_id = node_id
        self.tick_rate = float(tick_rate)
        self.period = 1.0 / self.tick_rate
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock: Clock = clock or SystemClock()
        self.tick = 0
        """Ticks completed; the game's clock."""
        self.guids = GuidServer(node_id)
        """This node's space and object ids: every module that hosts spaces allocates here."""
        self.overruns = 0
        self.skipped_ticks = 0
        self._modules: list[Module] = []
        self._by_name: dict[str, Module] = {}
        self._by_guid: dict[int, Module] = {}
        self._pipes: dict[tuple[str, str], Pipe] = {}
        self._space_hosts: dict[int, Module] = {}
        self._transport: Module | None = None
        self._next_free_object = int(WellKnown.FIRST_FREE)
        self._timings: dict[str, deque[float]] = {}
        self._tick_durations: deque[float] = deque(maxlen=_TIMING_WINDOW)
        self._stop_requested = False
        self._started = False
        self._stopped = False
        self.on_tick_end: list[Callable[[Engine, float], None]] = []
        """Callbacks after each tick with its duration (metrics, watchdogs)."""
        self.current: Module | None = None
        """The module whose start, turn of the tick or stop is running now (None between them):
        lets a recording clock know who reads it."""

    # -- building -------------------------------------------------------------------

    def add_module(self, module: Module, *, object_id: int | None = None) -> Module:
        """Append ``module`` to the tick order and give it its Guid on this node."""
        if self._started:
            raise RuntimeError("modules are added before the engine starts")
        if module.name in self._by_name:
            raise ValueError(f"a module named {module.name!r} is already in the stack")
        if object_id is None:
            object_id = module.well_known
        if object_id is None or module_guid(self.node_id, object_id) in self._by_guid:
            object_id = self._next_free_object
            self._next_free_object += 1
        guid = module_guid(self.node_id, object_id)
        module._attach(self, guid)
        self._modules.append(module)
        self._by_name[module.name] = module
        self._by_guid[guid] = module
        self._timings[module.name] = deque(maxlen=_TIMING_WINDOW)
        return module

    def connect(
        self,
        sender: str,
        receiver: str,
        *,
        bound: int = DEFAULT_BOUND,
        filters: Sequence[Filter] = (),
    ) -> Pipe:
        """Declare the pipe ``sender -> receiver``; the receiver drains pipes in declaration order."""
        for name in (sender, receiver):
            if name not in self._by_name:
                raise ValueError(f"no module named {name!r} (modules: {', '.join(self._by_name)})")
        key = (sender, receiver)
        if key in self._pipes:
            raise ValueError(f"pipe {sender}->{receiver} is declared twice")
        pipe = Pipe(sender, receiver, bound=bound, filters=filters, now=self._current_tick)
        self._pipes[key] = pipe
        self._by_name[sender]._outbound[receiver] = pipe
        self._by_name[receiver]._inbound.append(pipe)
        return pipe

    def set_transport(self, module: Module | str) -> None:
        """The module that takes every message addressed to another node."""
        self._transport = self.module(module) if isinstance(module, str) else module
        self._forget_routes()

    def host_space(self, space: int, module: Module) -> None:
        """Route messages for ObjectSpace ``space`` of this node to ``module``."""
        self._space_hosts[space] = module
        self._forget_routes()

    def unhost_space(self, space: int) -> None:
        self._space_hosts.pop(space, None)
        self._forget_routes()

    # -- reading --------------------------------------------------------------------

    @property
    def modules(self) -> tuple[Module, ...]:
        return tuple(self._modules)

    def module(self, name: str) -> Module:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no module named {name!r} (modules: {', '.join(self._by_name)})") from None

    def pipe(self, sender: str, receiver: str) -> Pipe:
        try:
            return self._pipes[(sender, receiver)]
        except KeyError:
            raise KeyError(f"no pipe {sender}->{receiver}") from None

    @property
    def pipes(self) -> tuple[Pipe, ...]:
        return tuple(self._pipes.values())

    @property
    def time(self) -> float:
        """Game time in seconds: ticks completed times the tick period."""
        return self.tick * self.period

    def tick_times(self) -> list[TickTimes]:
        """Recent tick durations per module, for status and metrics."""
        out = []
        for name, window in self._timings.items():
            values = sorted(window)
            n = len(values)
            out.append(TickTimes(
                module=name, count=n, last=window[-1] if n else 0.0,
                p50=values[n // 2] if n else 0.0,
                p99=values[min(n - 1, int(n * 0.99))] if n else 0.0,
                max=values[-1] if n else 0.0,
            ))
        return out

    # -- routing --------------------------------------------------------------------

    def _resolve_pipe(self, sender: Module, to: int) -> Pipe:
        receiver = self._receiver_for(to)
        pipe = sender._outbound.get(receiver.name)
        if pipe is None:
            raise self.undeclared(sender.name, receiver.name, to)
        return pipe

    def _receiver_for(self, to: int) -> Module:
        if type(to) is not int or to < 0:
            raise UnroutableError(f"not a Guid: {to!r}")
        if node_of(to) != self.node_id:
            if self._transport is None:
                raise UnroutableError(
                    f"{format_guid(to)} is on node {node_of(to)} and node {self.node_id} has no transport")
            return self._transport
        space = space_of(to)
        if space == 0:
            module = self._by_guid.get(to)
            if module is None:
                raise UnroutableError(f"no module {format_guid(to)} on node {self.node_id}")
            return module
        host = self._space_hosts.get(space)
        if host is None:
            raise UnroutableError(f"no ObjectSpace {space} on node {self.node_id} ({format_guid(to)})")
        return host

    def undeclared(self, sender: str, receiver: str, to: int | None = None) -> UndeclaredPipeError:
        where = f" (message to {format_guid(to)})" if to is not None else ""
        return UndeclaredPipeError(
            f"no pipe {sender}->{receiver} is declared{where}; add it to the stack file")

    def _forget_routes(self) -> None:
        for module in self._modules:
            module._forget_routes()

    def _current_tick(self) -> int:
        return self.tick

    # -- running --------------------------------------------------------------------

    def start(self) -> None:
        """Start modules in stack order; a module that fails to start stops the engine."""
        if self._started:
            return
        self._started = True
        started: list[Module] = []
        for module in self._modules:
            self.current = module
            try:
                module.start()
            except Exception:
                self.current = None
                log.exception("node %d: module %s failed to start", self.node_id, module.name)
                for m in reversed(started):
                    self._stop_module(m)
                self._stopped = True
                raise
            module.state = ModuleState.RUNNING
            started.append(module)
        self.current = None

    def tick_once(self) -> float:
        """Run one tick of every module; returns its duration in seconds."""
        perf = time.perf_counter
        tick = self.tick
        tick_start = perf()
        for module in self._modules:
            t0 = perf()
            self.current = module
            for pipe in module._inbound:
                if pipe._items or pipe._held:
                    messages = pipe.drain(tick)
                    if messages:
                        module.receive(messages)
            try:
                module.tick()
            except Exception:
                module.errors += 1
                log.exception("node %d: module %s failed in tick %d", self.node_id, module.name, tick)
            self._timings[module.name].append(perf() - t0)
        self.current = None
        self.tick = tick + 1
        duration = perf() - tick_start
        self._tick_durations.append(duration)
        for callback in self.on_tick_end:
            callback(self, duration)
        return duration

    def run(self, ticks: int | None = None, *, handle_signals: bool = False) -> None:
        """Tick at the fixed rate until ``ticks`` have run or a stop is requested.

        A tick that outlasts its slot counts one overrun and the slots it
        overlapped are skipped, so a slow tick never causes a burst.
        """
        if handle_signals:
            self.install_signal_handlers()
        self.start()
        clock = self.clock
        period = self.period
        deadline = clock.now()
        ran = 0
        try:
            while not self._stop_requested and (ticks is None or ran < ticks):
                self.tick_once()
                ran += 1
                deadline += period
                now = clock.now()
                if now > deadline:
                    # This tick ran into the next slot(s): skip them, start at the next boundary.
                    self.overruns += 1
                    missed = math.ceil((now - deadline) / period)
                    self.skipped_ticks += missed
                    deadline += missed * period
                clock.sleep_until(deadline)
        finally:
            self.stop()

    def request_stop(self) -> None:
        """Ask the loop to stop after the current tick (safe from a signal handler)."""
        self._stop_requested = True

    def install_signal_handlers(self) -> None:
        """Stop cleanly on SIGINT and SIGTERM (main thread only)."""
        def on_signal(signum: int, frame: Any) -> None:
            log.info("node %d: signal %d, stopping", self.node_id, signum)
            self.request_stop()
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    def stop(self) -> None:
        """Stop modules in reverse stack order (once)."""
        if self._stopped or not self._started:
            self._stopped = True
            return
        self._stopped = True
        for module in reversed(self._modules):
            self._stop_module(module)

    def _stop_module(self, module: Module) -> None:
        self.current = module
        try:
            module.stop()
        except Exception:
            log.exception("node %d: module %s failed to stop", self.node_id, module.name)
        self.current = None
        module.state = ModuleState.SHUTDOWN

    def hosted_spaces(self) -> dict[int, str]:
        """ObjectSpace id -> name of the module hosting it (a replay re-creates the edge's spaces)."""
        return {space: module.name for space, module in self._space_hosts.items()}

    def last_module_times(self) -> list[tuple[str, float]]:
        """(module, seconds) of each module's turn in the last tick, for per-tick metrics."""
        return [(name, w[-1]) for name, w in self._timings.items() if w]

    def tick_percentiles(self) -> tuple[float, float, float]:
        """(p50, p99, max) of whole-tick durations over the recent window, in seconds."""
        values = sorted(self._tick_durations)
        if not values:
            return 0.0, 0.0, 0.0
        n = len(values)
        return values[n // 2], values[min(n - 1, int(n * 0.99))], values[-1]

    def status(self) -> dict[str, Any]:
        """A JSON-able snapshot: ticks, overruns, modules, pipes."""
        p50, p99, worst = self.tick_percentiles()
        return {
            "node": self.node_id,
            "tick": self.tick,
            "tick_ms": {"p50": round(p50 * 1000, 3), "p99": round(p99 * 1000, 3),
                        "max": round(worst * 1000, 3)},
            "tick_rate": self.tick_rate,
            "overruns": self.overruns,
            "skipped_ticks": self.skipped_ticks,
            "gc": PAUSES.snapshot(),
            "modules": [m.status() for m in self._modules],
            "tick_times": [attrs.asdict(t) for t in self.tick_times()],
            "pipes": [attrs.asdict(p.stats()) for p in self._pipes.values()],
        }
