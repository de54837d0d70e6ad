"""Stack files: a TOML description of one node's Engine.

A stack file says which modules a node runs, in which order, with which
settings, and which pipes join them::

    [engine]
    tick_rate = 20          # Hz
    seed = 1                # the engine RNG's seed

    [[module]]
    name = "net"
    kind = "network"        # a kind from the ModuleKinds the loader is given
    [module.settings]
    port = 7000

    [[module]]
    name = "logic"
    kind = "objectspace_host"

    [[pipe]]
    from = "net"
    to = "logic"
    bound = 10000           # optional
    filters = [{ kind = "delay", ticks = 2 }]   # optional

    [transport]
    module = "net"          # optional: who takes messages for other nodes

Module kinds and filter kinds are looked up in registries that the caller
passes in (the node runner passes every role's modules), never imported
from strings. Every mistake is a :class:`StackError` naming the file, the
line and the key, raised before any module is built.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from engine.engine import Clock, Engine
from engine.modules._module import Module
from engine.modules.objectspace_host import ObjectSpaceHost
from engine.pipes import DEFAULT_BOUND, DelayAll, Filter

ModuleFactory = Callable[..., Module]
FilterFactory = Callable[..., Filter]


class StackError(ValueError):
    """A stack file that cannot be built; the text names file, line and key."""


@attrs.frozen
class ModuleSpec:
    name: str
    kind: str
    settings: dict[str, Any]
    run_level: int
    object_id: int | None


@attrs.frozen
class PipeSpec:
    sender: str
    receiver: str
    bound: int
    filters: list[dict[str, Any]]


@attrs.frozen
class StackSpec:
    """A parsed and checked stack file, before anything is built."""

    source: str
    tick_rate: float
    seed: int
    modules: list[ModuleSpec]
    pipes: list[PipeSpec]
    transport: str | None
    extra: dict[str, Any]
    """Top-level tables the engine does not use (e.g. [node]) for the node runner."""


def default_module_kinds() -> dict[str, ModuleFactory]:
    """The engine's own module kinds; node roles add theirs."""
    return {ObjectSpaceHost.kind: ObjectSpaceHost, "module": Module}


def default_filter_kinds() -> dict[str, FilterFactory]:
    return {"delay": lambda ticks: DelayAll(ticks)}


_ENGINE_KEYS = {"tick_rate", "seed"}
_MODULE_KEYS = {"name", "kind", "settings", "run_level", "object_id"}
_PIPE_KEYS = {"from", "to", "bound", "filters"}


def load_stack(path: str | Path, **kwargs: Any) -> StackSpec:
    """Read and check a stack file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StackError(f"{path}: cannot read stack file: {exc.strerror or exc}") from None
    return parse_stack(text, source=str(path), **kwargs)


def parse_stack(
    text: str,
    *,
    source: str = "<stack>",
    module_kinds: Mapping[str, ModuleFactory] | None = None,
    filter_kinds: Mapping[str, FilterFactory] | None = None,
) -> StackSpec:
    """Check a stack file's text; every problem raises StackError naming line and key."""
    module_kinds = module_kinds if module_kinds is not None else default_module_kinds()
    filter_kinds = filter_kinds if filter_kinds is not None else default_filter_kinds()
    lines = _Lines(text, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StackError(f"{source}: not valid TOML: {exc}") from None

    engine_table = data.get("engine", {})
    _want(lines, "engine", engine_table, dict, "a table")
    _unknown_keys(lines, "engine", engine_table, _ENGINE_KEYS)
    tick_rate = engine_table.get("tick_rate", 20)
    if type(tick_rate) not in (int, float) or not 0 < tick_rate <= 1000:
        raise lines.error("engine.tick_rate", f"must be a number of Hz in (0, 1000], got {tick_rate!r}")
    seed = engine_table.get("seed", 0)
    if type(seed) is not int:
        raise lines.error("engine.seed", f"must be an integer, got {seed!r}")

    raw_modules = data.get("module", [])
    _want(lines, "module", raw_modules, list, "an array of [[module]] tables")
    if not raw_modules:
        raise lines.error("module", "a stack needs at least one [[module]]")
    modules: list[ModuleSpec] = []
    names: set[str] = set()
    for i, m in enumerate(raw_modules):
        key = f"module[{i}]"
        _want(lines, key, m, dict, "a table")
        _unknown_keys(lines, key, m, _MODULE_KEYS)
        name = m.get("name")
        if type(name) is not str or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name):
            raise lines.error(f"{key}.name", f"must be an identifier-like string, got {name!r}")
        if name in names:
            raise lines.error(f"{key}.name", f"module name {name!r} is used twice")
        names.add(name)
        kind = m.get("kind")
        if kind not in module_kinds:
            known = ", ".join(sorted(module_kinds))
            raise lines.error(f"{key}.kind", f"unknown module kind {kind!r} (known: {known})")
        settings = m.get("settings", {})
        _want(lines, f"{key}.settings", settings, dict, "a table")
        run_level = m.get("run_level", 0)
        if type(run_level) is not int:
            raise lines.error(f"{key}.run_level", f"must be an integer, got {run_level!r}")
        object_id = m.get("object_id")
        if object_id is not None and (type(object_id) is not int or not 1 <= object_id < (1 << 20)):
            raise lines.error(f"{key}.object_id", f"must be an integer in 1..{(1 << 20) - 1}")
        modules.append(ModuleSpec(name, kind, settings, run_level, object_id))

    raw_pipes = data.get("pipe", [])
    _want(lines, "pipe", raw_pipes, list, "an array of [[pipe]] tables")
    pipes: list[PipeSpec] = []
    seen_pairs: set[tuple[str, str]] = set()
    for i, p in enumerate(raw_pipes):
        key = f"pipe[{i}]"
        _want(lines, key, p, dict, "a table")
        _unknown_keys(lines, key, p, _PIPE_KEYS)
        ends = []
        for end in ("from", "to"):
            value = p.get(end)
            if value not in names:
                raise lines.error(f"{key}.{end}", f"names no module of this stack: {value!r} "
                                  f"(modules: {', '.join(sorted(names))})")
            ends.append(value)
        if (ends[0], ends[1]) in seen_pairs:
            raise lines.error(key, f"pipe {ends[0]}->{ends[1]} is declared twice")
        seen_pairs.add((ends[0], ends[1]))
        bound = p.get("bound", DEFAULT_BOUND)
        if type(bound) is not int or bound < 1:
            raise lines.error(f"{key}.bound", f"must be a positive integer, got {bound!r}")
        filters = p.get("filters", [])
        _want(lines, f"{key}.filters", filters, list, "an array of inline tables")
        for j, f in enumerate(filters):
            fkey = f"{key}.filters[{j}]"
            _want(lines, fkey, f, dict, "an inline table like { kind = \"delay\", ticks = 2 }")
            if f.get("kind") not in filter_kinds:
                raise lines.error(f"{fkey}.kind", f"unknown filter kind {f.get('kind')!r} "
                                  f"(known: {', '.join(sorted(filter_kinds))})")
            _check_filter_args(lines, fkey, f, filter_kinds)
        pipes.append(PipeSpec(ends[0], ends[1], bound, filters))

    transport = data.get("transport", {}).get("module") if isinstance(data.get("transport"), dict) \
        else None
    if "transport" in data:
        _want(lines, "transport", data["transport"], dict, "a table")
        if transport not in names:
            raise lines.error("transport.module", f"names no module of this stack: {transport!r}")

    extra = {k: v for k, v in data.items() if k not in {"engine", "module", "pipe", "transport"}}
    return StackSpec(source, float(tick_rate), seed, modules, pipes, transport, extra)


def build_engine(
    spec: StackSpec,
    node_id: int,
    *,
    module_kinds: Mapping[str, ModuleFactory] | None = None,
    filter_kinds: Mapping[str, FilterFactory] | None = None,
    clock: Clock | None = None,
    seed: int | None = None,
) -> Engine:
    """Build the Engine a checked stack describes (modules are constructed, not started)."""
    module_kinds = module_kinds if module_kinds is not None else default_module_kinds()
    filter_kinds = filter_kinds if filter_kinds is not None else default_filter_kinds()
    engine = Engine(node_id, tick_rate=spec.tick_rate, seed=spec.seed if seed is None else seed,
                    clock=clock)
    lines = _Lines("", spec.source)
    for i, m in enumerate(spec.modules):
        try:
            module = module_kinds[m.kind](m.name, m.settings, run_level=m.run_level)
        except (TypeError, ValueError, KeyError) as exc:
            raise lines.error(f"module[{i}].settings", f"module {m.name!r} ({m.kind}): {exc}") from None
        engine.add_module(module, object_id=m.object_id)
    for p in spec.pipes:
        filters = [filter_kinds[f["kind"]](**{k: v for k, v in f.items() if k != "kind"})
                   for f in p.filters]
        engine.connect(p.sender, p.receiver, bound=p.bound, filters=filters)
    if spec.transport:
        engine.set_transport(spec.transport)
    return engine


def _check_filter_args(lines: _Lines, key: str, f: dict[str, Any],
                       kinds: Mapping[str, FilterFactory]) -> None:
    args = {k: v for k, v in f.items() if k != "kind"}
    try:
        kinds[f["kind"]](**args)
    except (TypeError, ValueError) as exc:
        raise lines.error(key, f"bad arguments for filter {f['kind']!r}: {exc}") from None


def _want(lines: _Lines, key: str, value: Any, kind: type, what: str) -> None:
    if not isinstance(value, kind):
        raise lines.error(key, f"must be {what}, got {type(value).__name__}")


def _unknown_keys(lines: _Lines, key: str, table: dict[str, Any], allowed: set[str]) -> None:
    for k in table:
        if k not in allowed:
            raise lines.error(f"{key}.{k}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


class _Lines:
    """Finds the line of a key like ``module[2].kind`` in the stack file's text."""

    def __init__(self, text: str, source: str):
        self.text_lines = text.splitlines()
        self.source = source

    def error(self, key: str, problem: str) -> StackError:
        line = self.find(key)
        where = f"{self.source}:{line}" if line else self.source
        return StackError(f"{where}: {key}: {problem}")

    def find(self, key: str) -> int | None:
        """Best-effort line number (1-based) of ``key``; None if it cannot be placed."""
        parts = re.findall(r"([A-Za-z_][\w\-]*)(?:\[(\d+)\])?", key)
        start = 0
        found: int | None = None
        for depth, (name, index) in enumerate(parts):
            if depth == 0:
                if index:
                    hits = [n for n, ln in enumerate(self.text_lines)
                            if re.match(rf"\s*\[\[\s*{re.escape(name)}\s*\]\]", ln)]
                    if int(index) >= len(hits):
                        return found
                    start = found = hits[int(index)]
                else:
                    hit = self._first(rf"\s*\[\s*{re.escape(name)}\s*\]", 0)
                    if hit is None:
                        hit = self._first(rf"\s*{re.escape(name)}\s*=", 0)
                    if hit is None:
                        return None
                    start = found = hit
                continue
            hit = self._first(rf"\s*{re.escape(name)}\s*=|\s*\[\s*[\w\-]+\.{re.escape(name)}\s*\]", start,
                              stop_at_table=depth == 1)
            if hit is None:
                break
            start = found = hit
        return None if found is None else found + 1

    def _first(self, pattern: str, start: int, stop_at_table: bool = False) -> int | None:
        for n in range(start, len(self.text_lines)):
            line = self.text_lines[n]
            if n > start and stop_at_table and re.match(r"\s*\[\[", line):
                return None
            if re.match(pattern, line):
                return n
        return None
