"""Prometheus metrics of one node, read from a snapshot the engine thread takes.

The HTTP server runs in its own thread; engine state belongs to the engine
thread. So the engine thread does all the reading: an ``on_tick_end``
callback adds each module's turn to a histogram (plain lists, no locks) and,
every ``interval`` seconds, builds a :class:`_Snapshot` of everything a
scrape shows (histograms, pipe counters, module statuses) and publishes it
with one reference assignment. The collector only reads the last snapshot.

What is exported (all prefixed ``spenefett_``): the per-module tick
duration histogram and the whole tick's, ticks, overruns, skipped ticks,
messages / drops / depth / peak depth per pipe, errors per module, and from
modules' ``status()``: connected clients (``clients``), ObjectSpaces
(``objectspaces``), entities (``objects``, and by class for
:class:`ObjectSpaceHost` modules), transport peers with their round trip,
plus any :class:`StatusMetric` the node adds (the persistence node's
database latency)::

    metrics = NodeMetrics(engine, role="gamelogic")
    server = MetricsServer(metrics.registry, port=0)   # a free port
    server.start(); print(server.address)              # scrape http://ADDRESS/metrics

The server also serves ``/snoop`` when given a :class:`~engine.observe_snoop.SnoopHub`.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import attrs
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from engine.engine import Engine
from engine.gc_tuning import PAUSES
from engine.modules.objectspace_host import ObjectSpaceHost

if TYPE_CHECKING:
    from engine.observe_snoop import SnoopHub

__all__ = ["DEFAULT_BUCKETS", "MetricsServer", "NodeMetrics", "StatusMetric"]

log = logging.getLogger("spenefett.metrics")

DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Histogram bounds in seconds: a 20 Hz tick has 50 ms, a module's turn is usually well under."""


@attrs.frozen
class StatusMetric:
    """A number from modules' ``status()`` exported under its own name.

    ``key`` is looked up in the status of every module (``kind`` limits it
    to modules of that kind); ``counter`` makes it a ``_total`` counter.
    """

    key: str
    name: str
    help: str
    kind: str | None = None
    counter: bool = False


_GENERIC = (
    StatusMetric("clients", "spenefett_clients", "Connected clients of a network module."),
    StatusMetric("stalled", "spenefett_clients_stalled",
                 "Clients of a network module with output the kernel has not taken yet.", kind="network"),
    StatusMetric("unsent_bytes", "spenefett_client_unsent_bytes",
                 "Bytes queued for a network module's clients that the kernel has not taken yet.",
                 kind="network"),
    StatusMetric("objectspaces", "spenefett_objectspaces", "ObjectSpaces a module hosts."),
    StatusMetric("objects", "spenefett_entities", "Objects (entities) in a module's ObjectSpaces."),
    StatusMetric("errors", "spenefett_module_errors", "Exceptions in a module's handlers and ticks.",
                 counter=True),
)


class _Histogram:
    """Bucket counts kept by the engine thread; copied into snapshots."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]):
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def frozen(self) -> tuple[tuple[int, ...], float]:
        return tuple(self.counts), self.sum


@attrs.frozen
class _Snapshot:
    taken_at: float
    tick: int
    tick_rate: float
    overruns: int
    skipped: int
    tick_hist: tuple[tuple[int, ...], float]
    module_hist: dict[str, tuple[tuple[int, ...], float]]
    pipes: list[Any]
    statuses: list[dict[str, Any]]
    entity_classes: dict[tuple[str, str], int]
    gc: dict[str, list[float]]


class NodeMetrics:
    """Keeps one node's metrics up to date from the engine thread; owns its registry."""

    def __init__(
        self,
        engine: Engine,
        *,
        role: str = "node",
        interval: float = 0.5,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        status_metrics: Iterable[StatusMetric] = (),
    ):
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.engine = engine
        self.role = role
        self.interval = interval
        self.buckets = tuple(sorted(buckets))
        self.status_metrics = (*_GENERIC, *status_metrics)
        self.extra_collectors: list[Any] = []
        """Callables returning metric families (e.g. the recorder's), run in the engine thread."""
        self._tick_hist = _Histogram(self.buckets)
        self._module_hist: dict[str, _Histogram] = {}
        self._next_snapshot = 0.0
        self._snapshot: _Snapshot | None = None
        self._extra: list[Any] = []
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))
        engine.on_tick_end.append(self._on_tick_end)

    def _on_tick_end(self, engine: Engine, duration: float) -> None:
        self._tick_hist.observe(duration)
        hists = self._module_hist
        for name, seconds in engine.last_module_times():
            h = hists.get(name)
            if h is None:
                h = hists[name] = _Histogram(self.buckets)
            h.observe(seconds)
        now = time.perf_counter()
        if now >= self._next_snapshot:
            self._next_snapshot = now + self.interval
            self.take_snapshot()

    def take_snapshot(self) -> None:
        """Read the engine (engine thread only) and publish what scrapes will show."""
        engine = self.engine
        statuses = []
        classes: Counter[tuple[str, str]] = Counter()
        for module in engine.modules:
            try:
                statuses.append(module.status())
            except Exception:  # a status bug must not stop the tick loop
                log.exception("status of module %s failed", module.name)
            if isinstance(module, ObjectSpaceHost):
                for space in module.spaces.spaces():
                    for obj in space:
                        classes[(module.name, type(obj).__name__)] += 1
        extra = []
        for collect in self.extra_collectors:
            try:
                extra.extend(collect())
            except Exception:
                log.exception("a metrics collector failed")
        self._extra = extra
        self._snapshot = _Snapshot(
            taken_at=time.time(), tick=engine.tick, tick_rate=engine.tick_rate,
            overruns=engine.overruns, skipped=engine.skipped_ticks,
            tick_hist=self._tick_hist.frozen(),
            module_hist={n: h.frozen() for n, h in self._module_hist.items()},
            pipes=[p.stats() for p in engine.pipes], statuses=statuses, entity_classes=dict(classes),
            gc=PAUSES.snapshot())

    def exposition(self) -> bytes:
        """The text a scrape returns (the HTTP thread calls this)."""
        return generate_latest(self.registry)

    def families(self) -> Iterator[Any]:
        """Metric families of the last snapshot (empty before the first tick)."""
        snap = self._snapshot
        if snap is None:
            return
        yield from _families(snap, self)
        yield from self._extra


class _Collector(Collector):
    def __init__(self, metrics: NodeMetrics):
        self._metrics = metrics

    def collect(self) -> Iterator[Any]:
        return self._metrics.families()


def _histogram(name: str, help_text: str, labels: list[str], bounds: tuple[float, ...],
               rows: list[tuple[list[str], tuple[tuple[int, ...], float]]]) -> HistogramMetricFamily:
    fam = HistogramMetricFamily(name, help_text, labels=labels)
    for label_values, (counts, total) in rows:
        cumulative = 0
        buckets = []
        for bound, count in zip((*bounds, float("inf")), counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        fam.add_metric(label_values, buckets, total)
    return fam


def _families(snap: _Snapshot, metrics: NodeMetrics) -> Iterator[Any]:
    info = GaugeMetricFamily("spenefett_node_info", "This node's id and role (always 1).",
                             labels=["node", "role"])
    info.add_metric([str(metrics.engine.node_id), metrics.role], 1)
    yield info
    yield _histogram("spenefett_tick_seconds", "Duration of whole engine ticks.", [],
                     metrics.buckets, [([], snap.tick_hist)])
    yield _histogram("spenefett_module_tick_seconds",
                     "Duration of each module's turn in a tick (drain, handlers, tick).", ["module"],
                     metrics.buckets, [([name], h) for name, h in snap.module_hist.items()])
    yield CounterMetricFamily("spenefett_ticks", "Engine ticks completed.", value=snap.tick)
    yield GaugeMetricFamily("spenefett_tick_rate_hz", "The engine's fixed tick rate.",
                            value=snap.tick_rate)
    yield CounterMetricFamily("spenefett_tick_overruns", "Ticks that ran past their slot.",
                              value=snap.overruns)
    yield CounterMetricFamily("spenefett_skipped_ticks", "Tick slots skipped after overruns.",
                              value=snap.skipped)
    collections = CounterMetricFamily("spenefett_gc_collections", "Garbage-collector runs, by generation.",
                                      labels=["generation"])
    paused = CounterMetricFamily("spenefett_gc_pause_seconds", "Time the garbage collector stopped the node.",
                                 labels=["generation"])
    longest = GaugeMetricFamily("spenefett_gc_longest_pause_seconds", "The longest collector pause so far.",
                                labels=["generation"])
    for generation in range(3):
        collections.add_metric([str(generation)], snap.gc["count"][generation])
        paused.add_metric([str(generation)], snap.gc["seconds"][generation])
        longest.add_metric([str(generation)], snap.gc["longest_ms"][generation] / 1000)
    yield from (collections, paused, longest)
    delivered = CounterMetricFamily("spenefett_pipe_messages", "Messages delivered through a pipe.",
                                    labels=["pipe"])
    dropped = CounterMetricFamily("spenefett_pipe_dropped", "Messages a pipe's filters refused.",
                                  labels=["pipe"])
    depth = GaugeMetricFamily("spenefett_pipe_depth", "Messages waiting in a pipe.", labels=["pipe"])
    peak = GaugeMetricFamily("spenefett_pipe_peak_depth", "Most messages a pipe has held at a drain.",
                             labels=["pipe"])
    for p in snap.pipes:
        delivered.add_metric([p.name], p.delivered)
        dropped.add_metric([p.name], p.dropped)
        depth.add_metric([p.name], p.depth)
        peak.add_metric([p.name], p.peak_depth)
    yield from (delivered, dropped, depth, peak)

    for sm in metrics.status_metrics:
        cls = CounterMetricFamily if sm.counter else GaugeMetricFamily
        name = sm.name[:-6] if sm.counter and sm.name.endswith("_total") else sm.name
        fam = cls(name, sm.help, labels=["module"])
        found = False
        for status in snap.statuses:
            value = status.get(sm.key)
            if (sm.kind is None or status.get("kind") == sm.kind) and _is_number(value):
                fam.add_metric([str(status.get("name"))], float(value))
                found = True
        if found:
            yield fam

    if snap.entity_classes:
        fam = GaugeMetricFamily("spenefett_entities_by_class", "Objects in ObjectSpaces by class.",
                                labels=["module", "class"])
        for (module, cls_name), n in sorted(snap.entity_classes.items()):
            fam.add_metric([module, cls_name], n)
        yield fam

    yield from _transport_families(snap.statuses)


def _transport_families(statuses: list[dict[str, Any]]) -> Iterator[Any]:
    peers = GaugeMetricFamily("spenefett_transport_peers", "Peers a transport knows, by liveness.",
                              labels=["module", "alive"])
    up = GaugeMetricFamily("spenefett_peer_up", "1 if the peer node is alive.", labels=["peer"])
    rtt = GaugeMetricFamily("spenefett_peer_rtt_seconds",
                            "Last Ping/Pong round trip to the peer, tick loops included.",
                            labels=["peer"])
    sent = CounterMetricFamily("spenefett_peer_sent_messages", "Messages sent to the peer.",
                               labels=["peer"])
    received = CounterMetricFamily("spenefett_peer_received_messages",
                                   "Messages received from the peer.", labels=["peer"])
    any_transport = False
    for status in statuses:
        table = status.get("peers")
        if status.get("kind") != "transport" or not isinstance(table, dict):
            continue
        any_transport = True
        alive = sum(1 for p in table.values() if p.get("alive"))
        peers.add_metric([str(status.get("name")), "true"], alive)
        peers.add_metric([str(status.get("name")), "false"], len(table) - alive)
        for node, p in sorted(table.items()):
            up.add_metric([str(node)], 1 if p.get("alive") else 0)
            if _is_number(p.get("rtt")):
                rtt.add_metric([str(node)], float(p["rtt"]))
            sent.add_metric([str(node)], float(p.get("sent", 0)))
            received.add_metric([str(node)], float(p.get("received", 0)))
    if any_transport:
        yield from (peers, up, rtt, sent, received)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


class MetricsServer:
    """HTTP on its own daemon thread: ``/metrics`` (exposition) and ``/snoop`` (message stream)."""

    def __init__(self, metrics: NodeMetrics, *, host: str = "127.0.0.1", port: int = 0,
                 snoop: SnoopHub | None = None):
        self.metrics = metrics
        self.snoop = snoop
        handler = type("_Handler", (_Handler,), {"server_owner": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_owner: MetricsServer

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        url = urlsplit(self.path)
        owner = self.server_owner
        if url.path == "/metrics":
            body = owner.metrics.exposition()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif url.path == "/snoop" and owner.snoop is not None:
            owner.snoop.serve(self, parse_qs(url.query))
        else:
            self.send_error(404, "try /metrics" + (" or /snoop" if owner.snoop else ""))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)
