"""Replaying a recorded node, tick by tick, with no sockets and no wall clock.

The node is rebuilt from the recorded stack; each edge module is replaced
by a :class:`ReplayFeeder` with the same name and Guid (and the same
ObjectSpaces, so Guids the node hands out come out the same). Before each
tick the recorded inputs are put into the pipes they were delivered on; the
:class:`ReplayClock` hands the non-edge modules the readings they took, in
order; after the tick, what the node delivered to its edge is compared
with what was recorded. The first difference stops the replay::

    spec = replay_spec(spec, meta, feeder_kind="replay_feeder")
    engine = build_engine(spec, meta.node_id, module_kinds={..., "replay_feeder": ReplayFeeder},
                          clock=ReplayClock(), seed=meta.seed)
    result = Replayer(engine, meta, directory).run()
    print(result.summary())

Reading the clock more or fewer times than recorded in a tick is a
difference too: it is how a change in control flow shows up first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import msgpack

from engine.codec.bach import dumps, dumps_value
from engine.codec.binary import DecodeError, decode_values
from engine.engine import Engine
from engine.guid import format_guid
from engine.messages import REGISTRY, Message, MessageRegistry
from engine.modules._module import Module
from engine.modules.objectspace_host import ObjectSpaceHost
from engine.pipes import Pipe
from engine.pipes.recorder import SegmentEnd, feed
from engine.recording import KIND_START, KIND_STOP, KIND_TICK, RecordingMeta, read_ticks
from engine.stack import StackSpec

__all__ = ["FEEDER_KIND", "Divergence", "ReplayClock", "ReplayFeeder", "ReplayResult", "Replayer",
           "describe_spaces", "replay_spec"]

FEEDER_KIND = "replay_feeder"
_SHOWN_PER_SPACE = 12
_OBJECT_MASK = (1 << 20) - 1


class ReplayFeeder(Module):
    """Stands in for an edge module: same name and Guid, no I/O; hosts the edge's spaces."""

    kind = FEEDER_KIND

    def __init__(self, name: str, settings: Any = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        self.spaces_to_host: list[int] = []
        self.space_mismatch: str | None = None

    def start(self) -> None:
        for wanted in self.spaces_to_host:
            got = self.engine.guids.allocate_space()
            if got != wanted:
                self.space_mismatch = (f"{self.name} was given ObjectSpace {got} where the recorded "
                                       f"node had {wanted}")
            self.engine.host_space(got, self)

    def receive(self, messages: list[Any]) -> None:
        """What the node sends out: the replayer's taps already saw it."""

    def stop(self) -> None:
        for pipe in self._inbound:  # as the real edge modules do: take the farewells
            pipe.drain(self.now_tick)


class ReplayClock:
    """Hands non-edge modules the recorded readings; edge modules and the loop get the last one."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.edge: frozenset[str] = frozenset()
        self.last = 0.0
        self._readings: list[float] = []
        self._pos = 0
        self.extra_reads: list[str] = []

    def load(self, readings: list[float]) -> None:
        self._readings = readings
        self._pos = 0
        self.extra_reads = []

    @property
    def unread(self) -> int:
        return len(self._readings) - self._pos

    def now(self) -> float:
        engine = self.engine
        current = engine.current if engine is not None else None
        if current is None or current.name in self.edge:
            return self.last
        if self._pos < len(self._readings):
            self.last = self._readings[self._pos]
            self._pos += 1
        else:
            self.extra_reads.append(current.name)
        return self.last

    def sleep_until(self, deadline: float) -> None:
        """Replay never waits."""


@attrs.frozen
class Divergence:
    """The first place the replay differs from the recording."""

    tick: int
    phase: str
    index: int
    """Position of the message among the tick's outputs."""
    reason: str
    recorded: tuple[str, Any] | None
    """(pipe, raw message) as recorded, or None."""
    replayed: tuple[str, Any] | None

    def report(self, registry: MessageRegistry = REGISTRY) -> str:
        """The difference in words, and both messages side by side in Bach."""
        lines = [f"differs at tick {self.tick} ({self.phase}), output message {self.index}: "
                 f"{self.reason}"]
        rec = _as_message(self.recorded[1], registry) if self.recorded else None
        rep = _as_message(self.replayed[1], registry) if self.replayed else None
        lines.append(f"  recorded: {self.recorded[0] + ' ' if self.recorded else ''}{_bach(rec)}")
        lines.append(f"  replayed: {self.replayed[0] + ' ' if self.replayed else ''}{_bach(rep)}")
        lines.extend(_side_by_side(rec, rep))
        return "\n".join(lines)


@attrs.frozen
class ReplayResult:
    ticks: int
    """Ticks replayed."""
    divergence: Divergence | None
    end: SegmentEnd | None
    """Where the recording ended (``reason`` None: it was whole)."""
    until: int | None
    stopped: bool
    """The recording's stop record was replayed too."""

    @property
    def identical(self) -> bool:
        return self.divergence is None

    def summary(self, registry: MessageRegistry = REGISTRY) -> str:
        lines = []
        if self.end is not None and self.end.reason is not None:
            lines.append(f"recording ends after {self.end.records} records"
                         f"{' in ' + self.end.segment if self.end.segment else ''}: {self.end.reason}; "
                         f"replayed up to there")
        if self.divergence is not None:
            lines.append(self.divergence.report(registry))
        else:
            upto = f" (stopped at tick {self.until} as asked)" if self.until is not None else ""
            stop = ", stop included" if self.stopped else ""
            lines.append(f"identical: {self.ticks} ticks replayed{stop}{upto}")
        return "\n".join(lines)


def replay_spec(spec: StackSpec, meta: RecordingMeta, *, feeder_kind: str = FEEDER_KIND) -> StackSpec:
    """The recorded stack with its settings as recorded and each edge module a feeder."""
    settings = meta.raw.get("settings", {})
    guids = {m["name"]: int(m["guid"]) for m in meta.modules}
    names = [m.name for m in spec.modules]
    if names != [m["name"] for m in meta.modules]:
        raise ValueError(f"the recorded stack's modules {names} are not the recorded node's "
                         f"{[m['name'] for m in meta.modules]}")
    modules = []
    for m in spec.modules:
        if m.name in meta.edge:
            modules.append(attrs.evolve(m, kind=feeder_kind, settings={},
                                        object_id=guids[m.name] & _OBJECT_MASK))
        else:
            modules.append(attrs.evolve(m, settings=dict(settings.get(m.name, m.settings)),
                                        object_id=guids[m.name] & _OBJECT_MASK))
    return attrs.evolve(spec, modules=modules, seed=meta.seed, tick_rate=meta.tick_rate)


class Replayer:
    """Drives a rebuilt engine through a recording and compares its outputs."""

    def __init__(self, engine: Engine, meta: RecordingMeta, directory: str | Path,
                 registry: MessageRegistry = REGISTRY):
        if not isinstance(engine.clock, ReplayClock):
            raise TypeError("the engine needs a ReplayClock (build it with clock=ReplayClock())")
        self.engine = engine
        self.meta = meta
        self.directory = Path(directory)
        self.registry = registry
        self.clock = engine.clock
        self.clock.engine = engine
        self.clock.edge = frozenset(meta.edge)
        self._captured: list[tuple[str, list[Any]]] = []
        self._pipes: dict[str, Pipe] = {p.name: p for p in engine.pipes}
        for name in meta.outputs:
            self._pipe(name).add_tap(self._capture)
        self.on_tick: Callable[[int], None] | None = None
        """Called after each replayed tick (progress, benchmarks)."""

    def _pipe(self, name: str) -> Pipe:
        pipe = self._pipes.get(name)
        if pipe is None:
            raise ValueError(f"the rebuilt node has no pipe {name}")
        return pipe

    def _capture(self, tick: int, pipe: Pipe, messages: list[Any]) -> None:
        self._captured.append((pipe.name, messages))

    def run(self, until: int | None = None) -> ReplayResult:
        """Replay up to the end of the recording (or tick ``until``); the first difference stops it."""
        ends: list[SegmentEnd] = []
        engine = self.engine
        ticks = 0
        stopped = False
        divergence: Divergence | None = None
        started = False
        for record in read_ticks(self.directory, self.meta, ends):
            if not started:
                if record.kind != KIND_START:
                    ends.append(SegmentEnd(0, None, "the recording does not begin with the node's start"))
                    break
                divergence = self._start(record)
                started = True
            elif record.kind == KIND_TICK:
                self._feed(record.inputs)
                self.clock.load(record.readings)
                self._captured = []
                engine.tick_once()
                ticks += 1
                divergence = self._compare(record.tick, "tick", record.outputs)
                if self.on_tick is not None:
                    self.on_tick(record.tick)
            elif record.kind == KIND_STOP:
                self.clock.load(record.readings)
                self._captured = []
                engine.stop()
                stopped = True
                divergence = self._compare(record.tick, "stop", record.outputs)
            if divergence is not None or (until is not None and record.kind == KIND_TICK
                                          and record.tick >= until):
                break
        end = next((e for e in ends if e.reason is not None), ends[-1] if ends else None)
        reached = until is not None and divergence is None and ticks > 0 and engine.tick - 1 >= until
        return ReplayResult(ticks, divergence, end, until if reached else None, stopped)

    def _start(self, record: Any) -> Divergence | None:
        spaces = (record.extra or {}).get("spaces", {})
        for module in self.engine.modules:
            if isinstance(module, ReplayFeeder):
                module.spaces_to_host = list(spaces.get(module.name, []))
        self.clock.load(record.readings)
        self._captured = []
        self.engine.start()
        for module in self.engine.modules:
            if isinstance(module, ReplayFeeder) and module.space_mismatch:
                return Divergence(0, "start", 0, module.space_mismatch, None, None)
        return self._compare(record.tick, "start", record.outputs)

    def _feed(self, inputs: list[tuple[str, list[Any]]]) -> None:
        for name, raw in inputs:
            try:
                messages = decode_values(raw, registry=self.registry)
            except DecodeError as exc:
                raise ValueError(f"a recorded input on {name} cannot be decoded: {exc}") from None
            feed(self._pipe(name), messages)

    def _compare(self, tick: int, phase: str, recorded: list[tuple[str, list[Any]]]) -> Divergence | None:
        want = [(name, m) for name, ms in recorded for m in ms]
        got = [(name, m) for name, ms in self._captured for m in ms]
        for i in range(max(len(want), len(got))):
            w = want[i] if i < len(want) else None
            g = got[i] if i < len(got) else None
            if w is not None and g is not None:
                if w[0] == g[0] and _norm(g[1]) == w[1]:
                    continue
                reason = "a different message" if w[0] == g[0] else "on a different pipe"
            elif w is None:
                reason = f"the replay sent more ({len(got)} messages, the recording {len(want)})"
            else:
                reason = f"the replay sent fewer ({len(got)} messages, the recording {len(want)})"
            return Divergence(tick, phase, i, reason, w,
                              (g[0], _norm(g[1])) if g is not None else None)
        clock = self.clock
        if clock.extra_reads or clock.unread:
            if clock.extra_reads:
                why = (f"the clock was read more often than recorded (first extra read by "
                       f"{clock.extra_reads[0]})")
            else:
                why = f"the clock was read {clock.unread} times fewer than recorded"
            return Divergence(tick, phase, len(want), why, None, None)
        return None


def _norm(message: Any) -> Any:
    """A message as the recording holds it (msgpack's lists for tuples)."""
    return msgpack.unpackb(msgpack.packb(message), raw=False, strict_map_key=False)


def _as_message(raw: Any, registry: MessageRegistry) -> Any:
    try:
        return decode_values([raw], registry=registry)[0]
    except (DecodeError, TypeError, ValueError):
        return raw


def _bach(message: Any) -> str:
    if message is None:
        return "(nothing)"
    if isinstance(message, Message):
        try:
            return dumps(message)
        except TypeError:
            pass
    return repr(message)


def _side_by_side(rec: Any, rep: Any) -> list[str]:
    """Field by field, recorded | replayed, differing fields marked with '*'."""
    if not isinstance(rec, Message) and not isinstance(rep, Message):
        return []
    def fields(m: Any) -> list[tuple[str, str]]:
        if not isinstance(m, Message):
            return []
        out = [("type", type(m).bach_name)]
        for f, v in zip(m.fields, m[1:], strict=False):
            out.append((f.name, format_guid(v) if f.name in ("to", "frm") else _value(dumps_value, v)))
        return out
    a, b = dict(fields(rec)), dict(fields(rep))
    keys = list(dict.fromkeys([*a, *b]))
    width = max([len(a.get(k, "")) for k in keys] + [8])
    width = min(width, 60)
    out = [f"    {'field':<14} {'recorded':<{width}} | replayed"]
    for k in keys:
        x, y = a.get(k, "-"), b.get(k, "-")
        mark = "*" if x != y else " "
        out.append(f"  {mark} {k:<14} {x[:width]:<{width}} | {y}")
    return out


def _value(dump: Callable[[Any], str], v: Any) -> str:
    try:
        return dump(v)
    except TypeError:
        return repr(v)


def describe_spaces(engine: Engine) -> str:
    """The ObjectSpaces of every host module: ids, objects and their classes (for ``--until``)."""
    lines = []
    for module in engine.modules:
        if not isinstance(module, ObjectSpaceHost):
            continue
        spaces = list(module.spaces.spaces())
        lines.append(f"{module.name}: {len(spaces)} ObjectSpaces, {module.spaces.object_count()} objects "
                     f"at tick {engine.tick}")
        for space in spaces:
            objs = list(space)
            classes = Counter(type(o).__name__ for o in objs)
            lines.append(f"  space {space.space_id}: {len(objs)} objects ("
                         + ", ".join(f"{n} {c}" for c, n in sorted(classes.items())) + ")")
            for obj in objs[:_SHOWN_PER_SPACE]:
                guid = getattr(obj, "guid", None)
                where = format_guid(guid) if isinstance(guid, int) else "?"
                lines.append(f"    {where:<16} {type(obj).__name__:<14} {_brief(obj)}")
            if len(objs) > _SHOWN_PER_SPACE:
                lines.append(f"    ... and {len(objs) - _SHOWN_PER_SPACE} more")
    return "\n".join(lines) if lines else "no ObjectSpace hosts on this node"


def _brief(obj: Any) -> str:
    state = getattr(obj, "__dict__", None)
    if not state:
        return ""
    shown = {k: v for k, v in state.items()
             if not k.startswith("_") and k != "guid" and type(v) in (int, float, str, bool)}
    text = ", ".join(f"{k}={v!r}" for k, v in list(shown.items())[:6])
    return text[:100]
