"""Build one node from its stack file and run it: ``spenefett node ROLE --id N``.

The runner fills in what only it knows: where this node's transport
listens, where the GLD is, and the role and address the node's agent
announces. Ports given as 0 are resolved to free ones before the engine is
built, so the agent can announce them.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.engine import Engine
from engine.gc_tuning import tune_for_server
from engine.guid import NodeKind, kind_of_node
from engine.metrics import MetricsServer, NodeMetrics, StatusMetric
from engine.observe_snoop import SnoopHub
from engine.recording import NodeRecorder
from engine.stack import StackError, StackSpec, build_engine, load_stack
from nodes.kinds import filter_kinds, module_kinds

ROLES = ("gld", "gamelogic", "ai", "physics", "persistence", "login", "client")
"""Every node role; each has ``nodes/<role>.toml``."""

ROLE_KINDS = {
    "gld": NodeKind.GLD, "login": NodeKind.LOGIN, "persistence": NodeKind.PERSISTENCE,
    "gamelogic": NodeKind.GAMELOGIC, "ai": NodeKind.AI, "physics": NodeKind.PHYSICS,
    "client": NodeKind.CLIENT, "tool": NodeKind.TOOL,
}
DEFAULT_GLD_ADDRESS = "tcp://127.0.0.1:7100"
DEFAULT_GLD_NODE = 1
STACK_DIR = Path(__file__).resolve().parent

log = logging.getLogger("spenefett.node")


class NodeConfigError(ValueError):
    """A node cannot be started as asked (unknown role, id out of its range, bad stack)."""


def stack_path(role: str) -> Path:
    return STACK_DIR / f"{role}.toml"


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def prepare(
    role: str,
    node_id: int,
    *,
    stack: str | Path | None = None,
    gld: str = DEFAULT_GLD_ADDRESS,
    listen: str | None = None,
    gld_node: int = DEFAULT_GLD_NODE,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    metrics_port: int | None = None,
) -> StackSpec:
    """Check the role and id, load the stack and fill in addresses; nothing starts yet.

    ``metrics_port`` overrides the stack's ``[metrics] port`` (0: a free port).
    """
    if role not in ROLE_KINDS:
        raise NodeConfigError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    try:
        actual = kind_of_node(node_id)
    except ValueError as exc:
        raise NodeConfigError(str(exc)) from None
    wanted = ROLE_KINDS[role]
    if actual is not wanted:
        raise NodeConfigError(f"node id {node_id} is a {actual.name.lower()} id; a {role} node takes "
                              f"an id in {wanted.first}..{wanted.last}")
    path = Path(stack) if stack else stack_path(role)
    try:
        spec = load_stack(path, module_kinds=module_kinds(), filter_kinds=filter_kinds())
    except StackError as exc:
        raise NodeConfigError(str(exc)) from None
    if listen is None:
        listen = gld if role == "gld" else "tcp://127.0.0.1:*"  # bound to a port the kernel picks
    extra: dict[str, Any] = {}
    metrics = _metrics_address(spec, metrics_port)
    if metrics:
        extra["metrics"] = metrics
    names = {m.name for m in spec.modules}
    for name in overrides or {}:
        if name not in names:
            raise NodeConfigError(f"--set {name}.…: the {role} stack has no module {name!r} "
                                  f"(modules: {', '.join(sorted(names))})")
    for m in spec.modules:
        settings = m.settings
        settings.update((overrides or {}).get(m.name, {}))
        if m.kind == "transport":
            settings.setdefault("listen", listen)
            settings.setdefault("gld_node", gld_node)
            if role != "gld":
                settings.setdefault("peers", {str(gld_node): gld})
        elif m.kind == "network" and int(settings.get("port", 0)):
            # port 0: the module binds a port the kernel picks, and run_node announces it once bound
            extra["clients"] = f"{settings.get('host', '127.0.0.1')}:{settings['port']}"
    for m in spec.modules:
        if m.kind == "agent":
            m.settings.setdefault("role", role)
            m.settings.setdefault("address", _transport_listen(spec) or listen)
            m.settings.setdefault("gld_node", gld_node)
            m.settings.setdefault("extra", extra)
    return spec


def _metrics_address(spec: StackSpec, port: int | None) -> str | None:
    """host:port the node serves metrics on, from ``[metrics]`` or ``port``; None: no metrics."""
    table = spec.extra.get("metrics")
    if table is None and port is None:
        return None
    table = dict(table or {})
    unknown = set(table) - {"port", "host"}
    if unknown:
        raise NodeConfigError(f"{spec.source}: metrics.{sorted(unknown)[0]}: unknown key "
                              "(allowed: host, port)")
    if port is not None:
        table["port"] = port
    value = table.get("port", 0)
    if type(value) is not int or not 0 <= value <= 65535:
        raise NodeConfigError(f"{spec.source}: metrics.port: must be a port number (0: a free one), "
                              f"got {value!r}")
    host = str(table.get("host", "127.0.0.1"))
    if value and port is None and not _port_free(host, value):
        # the stack's default port is taken (another node of this role on the machine):
        # metrics must not keep a node from serving players, so take a free one and say so
        taken, value = value, free_tcp_port(host)
        log.warning("metrics port %d is in use; serving metrics on %d instead", taken, value)
    return f"{host}:{value or free_tcp_port(host)}"


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server binds
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


DB_METRICS = (
    StatusMetric("last_job_seconds", "spenefett_db_last_job_seconds",
                 "Duration of the database's last job (a load or a save transaction).",
                 kind="persistence"),
    StatusMetric("db_busy_seconds", "spenefett_db_busy_seconds_total",
                 "Seconds the database worker spent on jobs.", kind="persistence", counter=True),
    StatusMetric("pending_jobs", "spenefett_db_pending_jobs", "Database jobs waiting.",
                 kind="persistence"),
    StatusMetric("loads", "spenefett_db_loads_total", "Entity loads answered.", kind="persistence",
                 counter=True),
    StatusMetric("saved", "spenefett_db_saves_total", "Entity saves stored.", kind="persistence",
                 counter=True),
)
"""Database latency from the persistence module's status."""


def serve_metrics(engine: Engine, spec: StackSpec, role: str,
                  recorder: NodeRecorder | None = None) -> MetricsServer | None:
    """Serve /metrics and /snoop on the address ``prepare`` chose; None when metrics are off."""
    address = next((m.settings["extra"].get("metrics") for m in spec.modules
                    if m.kind == "agent" and "metrics" in m.settings.get("extra", {})), None)
    if address is None:
        address = _metrics_address(spec, None)
    if address is None:
        return None
    host, _, port = address.rpartition(":")
    metrics = NodeMetrics(engine, role=role, status_metrics=DB_METRICS)
    if recorder is not None:
        from nodes.recording import recording_families
        metrics.extra_collectors.append(lambda: recording_families(recorder))
    hub = SnoopHub(engine)
    metrics.extra_collectors.append(hub.families)
    server = MetricsServer(metrics, host=host, port=int(port), snoop=hub)
    server.start()
    return server


def _bound(engine: Engine, kind: str) -> str | None:
    """Where the node's module of ``kind`` listens now that it is bound (for the ready line)."""
    m = next((m for m in engine.modules if m.kind == kind), None)
    if m is None:
        return None
    return str(m.address) if kind == "transport" else f"{m.host}:{m.port}"  # type: ignore[attr-defined]


def has_network(role: str) -> bool:
    """Whether the role's default stack serves clients (has a network module named "net")."""
    spec = load_stack(stack_path(role), module_kinds=module_kinds(), filter_kinds=filter_kinds())
    return any(m.kind == "network" and m.name == "net" for m in spec.modules)


def _transport_listen(spec: StackSpec) -> str | None:
    for m in spec.modules:
        if m.kind == "transport":
            return str(m.settings.get("listen"))
    return None


def build(spec: StackSpec, node_id: int, *, seed: int | None = None) -> Engine:
    try:
        return build_engine(spec, node_id, module_kinds=module_kinds(), filter_kinds=filter_kinds(),
                            seed=seed)
    except StackError as exc:
        raise NodeConfigError(str(exc)) from None


def parse_overrides(assignments: list[str]) -> dict[str, dict[str, Any]]:
    """``["net.port=0", 'link.host="x"']`` -> ``{"net": {"port": 0}, "link": {"host": "x"}}``.

    Values are TOML values (``0``, ``true``, ``"text"``); a bare word is a string.
    """
    import tomllib

    out: dict[str, dict[str, Any]] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        module, dot, setting = key.strip().partition(".")
        if not sep or not dot or not module or not setting:
            raise NodeConfigError(f"--set {item!r}: want MODULE.SETTING=VALUE")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        out.setdefault(module, {})[setting] = value
    return out


def run_node(role: str, node_id: int, *, record: str | Path | None = None, **kwargs: Any) -> int:
    """Prepare, build and run a node until SIGINT/SIGTERM; returns the exit status.

    ``record`` names a directory to record the node's inputs and outputs in
    (docs/observe.md); ``metrics_port`` (in ``kwargs``) overrides the stack's.
    """
    from nodes.recording import RecordConfigError, start_recording

    try:
        spec = prepare(role, node_id, **kwargs)
        engine = build(spec, node_id)
        recorder = start_recording(engine, spec, role, record) if record else None
        metrics = serve_metrics(engine, spec, role, recorder)
    except (NodeConfigError, RecordConfigError) as exc:
        print(f"spenefett node: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"spenefett node: cannot serve metrics: {exc}", file=sys.stderr)
        return 2
    try:
        engine.start()
    except Exception as exc:
        print(f"spenefett node: {role} {node_id} failed to start: {exc}", file=sys.stderr)
        return 1
    address = _bound(engine, "transport") or _transport_listen(spec)
    clients = _bound(engine, "network")
    if recorder is not None:
        recorder.started()
    if metrics is not None:
        metrics.metrics.take_snapshot()  # a scrape before the first tick ends sees the node too
    tune_for_server()
    line = f"node {role} {node_id} ready transport={address}"
    if clients:
        line += f" clients={clients}"
    if metrics is not None:
        line += f" metrics=http://{metrics.address}/metrics"
    if recorder is not None:
        line += f" recording={recorder.directory}"
    print(line, flush=True)
    try:
        engine.run(handle_signals=True)
    finally:
        if recorder is not None:
            recorder.close()
        if metrics is not None:
            metrics.close()
    print(f"node {role} {node_id} stopped after {engine.tick} ticks", flush=True)
    return 0
