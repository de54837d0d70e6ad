"""Snooping: copies of the messages crossing a pipe of a running node, as Bach text.

A snooper asks the node's metrics HTTP server for ``/snoop?pipe=net->logic``
(optionally ``&type=set_position`` and ``&guid=2000:5:1``). The HTTP thread
never touches engine state: it files a request with the :class:`SnoopHub`,
whose ``on_tick_end`` callback (engine thread) installs a tap on the pipe.
The tap filters in the engine thread and queues ``(tick, messages)`` for
that subscriber; the HTTP thread turns them into Bach lines and streams
them. When the snooper goes away a write fails, the subscription is marked
closed and the engine thread removes the tap at the end of the next tick.

A subscriber that does not keep up loses messages (counted, and said in a
``# dropped N`` line) rather than growing the node's memory.

Stream format, one line each: ``TICK PIPE BACH``; lines starting with ``#``
are comments (``# snooping net->logic``, keepalives, ``# error ...``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.codec.bach import dumps
from engine.engine import Engine
from engine.guid import parse_guid
from engine.messages import REGISTRY, Message, MessageRegistry

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from engine.pipes import Pipe

__all__ = ["SnoopHub", "SnoopRequestError", "message_matches"]

log = logging.getLogger("spenefett.snoop")

_QUEUE_LIMIT = 10_000
"""Batches queued for one subscriber before further ones are dropped."""
_KEEPALIVE = 1.0


class SnoopRequestError(ValueError):
    """A snoop request names no pipe of this node, or a bad filter."""


def _type_ids(name: str, registry: MessageRegistry) -> frozenset[int]:
    """Type ids a ``--type`` filter means: a bach name, a class name or a number."""
    if name.isdigit():
        return frozenset({int(name)})
    cls = registry.by_name(name)
    if cls is not None:
        return frozenset({cls.type_id})
    wanted = name.lower()
    ids = frozenset(c.type_id for c in registry.classes() if c.__name__.lower() == wanted)
    if not ids:
        raise SnoopRequestError(f"no message type named {name!r}")
    return ids


def message_matches(message: Any, types: frozenset[int] | None, guid: int | None) -> bool:
    """Whether a message passes the snoop filters (type ids; Guid as ``to`` or ``frm``)."""
    if types is not None and message[0] not in types:
        return False
    return guid is None or message[1] == guid or message[2] == guid


class _Subscription:
    def __init__(self, pipe_name: str, types: frozenset[int] | None, guid: int | None):
        self.pipe_name = pipe_name
        self.types = types
        self.guid = guid
        self.queue: queue.SimpleQueue[tuple[int, list[Any]]] = queue.SimpleQueue()
        self.queued = 0
        self.dropped = 0
        self.closed = False
        self.pipe: Pipe | None = None

    def tap(self, tick: int, pipe: Pipe, messages: list[Any]) -> None:
        if self.types is None and self.guid is None:
            chosen = list(messages)
        else:
            chosen = [m for m in messages if message_matches(m, self.types, self.guid)]
        if not chosen:
            return
        if self.queue.qsize() >= _QUEUE_LIMIT:
            self.dropped += len(chosen)
            return
        self.queue.put((tick, chosen))


class SnoopHub:
    """Installs and removes snoop taps in the engine thread on behalf of HTTP requests."""

    def __init__(self, engine: Engine, registry: MessageRegistry = REGISTRY):
        self.engine = engine
        self.registry = registry
        self._lock = threading.Lock()
        self._requests: list[tuple[str, _Subscription]] = []
        self._active: list[_Subscription] = []
        self._pipe_names = {p.name for p in engine.pipes}
        engine.on_tick_end.append(self._on_tick_end)

    @property
    def active(self) -> int:
        """Taps installed now."""
        return len(self._active)

    def families(self) -> list[Any]:
        """Metrics of the hub (engine thread): taps installed now."""
        from prometheus_client.core import GaugeMetricFamily

        return [GaugeMetricFamily("spenefett_snoop_taps", "Snoop taps installed on this node's pipes.",
                                  value=len(self._active))]

    def subscribe(self, pipe: str, *, type_name: str | None = None,
                  guid: str | None = None) -> _Subscription:
        """File a subscription (any thread); the tap goes on at the end of the next tick."""
        if pipe not in self._pipe_names:
            raise SnoopRequestError(f"no pipe {pipe!r} on node {self.engine.node_id} "
                                    f"(pipes: {', '.join(sorted(self._pipe_names))})")
        types = _type_ids(type_name, self.registry) if type_name else None
        try:
            g = parse_guid(guid) if guid and ":" in guid else (int(guid) if guid else None)
        except ValueError as exc:
            raise SnoopRequestError(f"bad guid {guid!r}: {exc}") from None
        sub = _Subscription(pipe, types, g)
        with self._lock:
            self._requests.append(("add", sub))
        return sub

    def unsubscribe(self, sub: _Subscription) -> None:
        sub.closed = True
        with self._lock:
            self._requests.append(("remove", sub))

    def _on_tick_end(self, engine: Engine, duration: float) -> None:
        if not self._requests:
            return
        with self._lock:
            requests, self._requests = self._requests, []
        for what, sub in requests:
            if what == "add" and not sub.closed:
                sub.pipe = engine.pipe(*sub.pipe_name.split("->", 1))
                sub.pipe.add_tap(sub.tap)
                self._active.append(sub)
                log.info("snoop tap on %s", sub.pipe_name)
            elif what == "remove" and sub in self._active:
                assert sub.pipe is not None
                sub.pipe.remove_tap(sub.tap)
                self._active.remove(sub)
                log.info("snoop tap on %s removed", sub.pipe_name)

    def serve(self, handler: BaseHTTPRequestHandler, query: Mapping[str, list[str]]) -> None:
        """Stream one subscription to an HTTP client until it goes away (HTTP thread)."""
        def one(key: str) -> str | None:
            values = query.get(key)
            return values[-1] if values else None

        pipe = one("pipe")
        try:
            if not pipe:
                raise SnoopRequestError("say which pipe: /snoop?pipe=SENDER->RECEIVER")
            sub = self.subscribe(pipe, type_name=one("type"), guid=one("guid"))
        except SnoopRequestError as exc:
            handler.send_response(400)
            handler.send_header("Content-Type", "text/plain; charset=utf-8")
            handler.end_headers()
            handler.wfile.write(f"# error {exc}\n".encode())
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain; charset=utf-8")
        handler.end_headers()
        reported_drops = 0
        try:
            handler.wfile.write(f"# snooping {pipe} on node {self.engine.node_id}\n".encode())
            handler.wfile.flush()
            while True:
                try:
                    tick, messages = sub.queue.get(timeout=_KEEPALIVE)
                except queue.Empty:
                    handler.wfile.write(b"#\n")  # a keepalive: finds out when the snooper left
                    handler.wfile.flush()
                    continue
                lines = [f"{tick} {pipe} {_bach(m)}\n" for m in messages]
                if sub.dropped != reported_drops:
                    lines.append(f"# dropped {sub.dropped - reported_drops} (snooper too slow)\n")
                    reported_drops = sub.dropped
                handler.wfile.write("".join(lines).encode())
                handler.wfile.flush()
        except OSError:
            pass  # the snooper went away
        finally:
            self.unsubscribe(sub)


def _bach(message: Any) -> str:
    if isinstance(message, Message):
        try:
            return dumps(message)
        except TypeError:
            pass
    return repr(message)
