"""The Module base: a named, Guid-addressed unit that the Engine ticks.

A module receives messages through its inbound pipes and sends through
``send``, which routes by ``msg.to`` (see :mod:`engine.engine`). Handlers
are methods marked ``@handles(MessageClass)``; ``tick`` runs once per engine
tick after the module's inbound messages were handled.

>>> from engine.messages import Message
>>> class Hello(Message, type_id=991):
...     text: str
>>> class Greeter(Module):
...     @handles(Hello)
...     def on_hello(self, msg):
...         self.heard.append(msg.text)
...     def start(self):
...         self.heard = []
>>> Hello.registry.unregister(Hello)
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from engine.dispatch import Dispatching, handles
from engine.errors import RoutingError
from engine.guid import Guid, format_guid

if TYPE_CHECKING:
    import random

    from engine.engine import Engine
    from engine.pipes import Pipe

__all__ = ["Module", "ModuleState", "handles"]

_ROUTE_CACHE_LIMIT = 4096
_to = itemgetter(1)
_FEW = 8
"""Up to this many distinct addresses in a batch, ``send_many`` checks whether they share one pipe."""


class ModuleState(enum.Enum):
    STARTUP = "startup"
    RUNNING = "running"
    SHUTDOWN = "shutdown"


class Module(Dispatching):
    """Base of every module. Subclasses override ``start``, ``tick``, ``stop``.

    ``settings`` are the module's table from the stack file. ``run_level``
    lets a module scale its work to the machine (0 = everything on).
    """

    kind: str = "module"
    """The name stack files use for this class (``kind = "..."``)."""
    well_known: int | None = None
    """A WellKnown object id this kind of module always takes, if any."""

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        self.name = name
        self.settings: Mapping[str, Any] = dict(settings or {})
        self.run_level = run_level
        self.state = ModuleState.STARTUP
        self.guid: Guid = Guid(0)
        self.log = logging.getLogger(f"spenefett.{name}")
        self.errors = 0
        """Exceptions raised by this module's handlers and ticks (each logged)."""
        self._engine: Engine | None = None
        self._inbound: list[Pipe] = []
        self._outbound: dict[str, Pipe] = {}
        self._route_cache: dict[int, Pipe] = {}

    # -- what subclasses override -----------------------------------------------

    def start(self) -> None:
        """Called once, in stack order, before the first tick."""

    def tick(self) -> None:
        """Called once per engine tick, after this tick's inbound messages were handled."""

    def stop(self) -> None:
        """Called once, in reverse stack order, when the engine stops."""

    def unhandled(self, message: Any) -> None:
        self.log.warning("%s: no handler for %s", self.name, type(message).__name__)

    def status(self) -> dict[str, Any]:
        """A small JSON-able summary for status requests; extend in subclasses."""
        return {"name": self.name, "kind": self.kind, "state": self.state.value,
                "guid": format_guid(self.guid) if self.guid else None, "errors": self.errors}

    # -- what the engine provides -------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError(f"module {self.name!r} is not attached to an engine")
        return self._engine

    @property
    def node_id(self) -> int:
        return self.engine.node_id

    @property
    def now_tick(self) -> int:
        """The engine's tick counter: game code's only clock."""
        return self.engine.tick

    @property
    def rng(self) -> random.Random:
        """The engine's seeded RNG: game code's only source of chance."""
        return self.engine.rng

    def send(self, message: Any) -> None:
        """Route ``message`` by its ``to`` Guid onto the pipe toward its receiver.

        Raises UndeclaredPipeError if the stack declares no pipe from this
        module to the receiver, UnroutableError if nothing on this node
        takes the address, PipeFullError if that pipe is full.
        """
        to = message[1]
        pipe = self._route_cache.get(to)
        if pipe is None:
            pipe = self.engine._resolve_pipe(self, to)
            if len(self._route_cache) >= _ROUTE_CACHE_LIMIT:
                self._route_cache.clear()
            self._route_cache[to] = pipe
        pipe.push(message)

    def send_many(self, messages: list[Any],
                  on_error: Callable[[Any, Exception], None] | None = None) -> None:
        """``send`` each message, in order, pushing runs bound for the same pipe together.

        For edge modules that hand on a whole batch (the transport, the
        network module): the routing is the same as ``send``. A message that
        cannot be routed goes to ``on_error`` (and the rest go on), or
        raises when there is no ``on_error``.
        """
        cache = self._route_cache
        if len(messages) > _FEW:
            # A batch usually goes to one receiver (one address, or many spaces of one host): then
            # it is one push, found by a pass in C over the addresses instead of a loop in Python.
            addresses = set(map(_to, messages))
            if len(addresses) <= _FEW:
                pipes = {cache.get(a) for a in addresses}
                if len(pipes) == 1:
                    (pipe,) = pipes
                    if pipe is not None:
                        pipe.push_many(messages)
                        return
        run: list[Any] = []
        run_pipe: Pipe | None = None
        for message in messages:
            to = message[1]
            pipe = cache.get(to)
            if pipe is None:
                if run:
                    run_pipe.push_many(run)  # type: ignore[union-attr]
                    run = []
                    run_pipe = None
                try:
                    self.send(message)  # resolves and caches the route
                except RoutingError as exc:
                    if on_error is None:
                        raise
                    on_error(message, exc)
                continue
            if pipe is not run_pipe:
                if run:
                    run_pipe.push_many(run)  # type: ignore[union-attr]
                run = []
                run_pipe = pipe
            run.append(message)
        if run:
            run_pipe.push_many(run)  # type: ignore[union-attr]

    def send_to_module(self, receiver: str, message: Any) -> None:
        """Push onto the pipe to the module named ``receiver``, whatever ``message.to`` says.

        For edge modules that forward on behalf of others (the transport
        handing a remote reply to the module that asked).
        """
        pipe = self._outbound.get(receiver)
        if pipe is None:
            raise self.engine.undeclared(self.name, receiver)
        pipe.push(message)

    def receive(self, messages: list[Any]) -> None:
        """Handle a drained batch: each message to its handler, errors logged and counted."""
        table = self._bound_handlers()
        for message in messages:
            handler = table.get(message.__class__)
            if handler is None:
                handler = self.handler_for(message.__class__)
            try:
                handler(message)
            except Exception:
                self.errors += 1
                self.log.exception("%s: handler for %s failed", self.name, type(message).__name__)

    def _attach(self, engine: Engine, guid: Guid) -> None:
        self._engine = engine
        self.guid = guid
        self.log = logging.getLogger(f"spenefett.{engine.node_id}.{self.name}")

    def _forget_routes(self) -> None:
        self._route_cache.clear()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.state.value}>"
