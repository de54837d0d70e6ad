"""Recording a node: everything that enters it from outside, tick by tick.

A node is a deterministic function of what its edge modules hand it. The
*edge* modules are those that do I/O or read process state (the network
and transport modules, a client link, the node agent): their inputs are
sockets, not pipes. Every other module sees the world only through pipes,
the engine's seeded RNG and the engine's clock. So a recording holds, per
tick:

- the messages delivered on each pipe from an edge module to a non-edge
  one (the *inputs*), after the pipe's filters, in drain order;
- the clock readings the non-edge modules took, in order (the engine's
  ``current`` attribute says whose turn it is);
- the messages delivered on each pipe from a non-edge module to an edge
  one (the *outputs*): replay compares its own with these.

Plus, once, in ``meta.json``: node id, role, seed, tick rate, the stack
file's text, every module's settings as the runner filled them in, the
edge module names and Guids, and the pipes. The start of the node (module
``start`` calls) and its stop are recorded as two more records.

Records are msgpack arrays ``[kind, tick, readings, inputs, outputs, extra]``
with ``kind`` 0 (start), 1 (tick), 2 (stop); ``inputs`` and ``outputs`` are
``[[pipe_index, [message, ...]], ...]``. Each is written packed inside
``[crc32, bytes]``, so a damaged record is found, not replayed. They go through a
:class:`~engine.pipes.recorder.SegmentWriter`: rotating files, a bound on
the total, and a full disk stops the recording (logged) while the node goes
on serving::

    recorder = NodeRecorder(engine, "var/rec", edge={"net", "transport", "agent"}, meta={...})
    engine.start(); recorder.started()
    engine.run()            # each tick end writes one record
    recorder.close()        # the stop record
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import msgpack

from engine.engine import Clock, Engine
from engine.pipes import Pipe
from engine.pipes.recorder import SegmentEnd, SegmentWriter, read_segments

__all__ = [
    "EDGE_KINDS", "FORMAT_VERSION", "KIND_START", "KIND_STOP", "KIND_TICK", "NodeRecorder",
    "RecordingClock", "RecordingMeta", "TickRecord", "read_meta", "read_ticks",
]

log = logging.getLogger("spenefett.recording")

FORMAT_VERSION = 1
KIND_START, KIND_TICK, KIND_STOP = 0, 1, 2
EDGE_KINDS = frozenset({"network", "transport", "client_link", "agent"})
"""Module kinds that talk to the world outside the engine; a replay stands in for them."""
META_FILE = "meta.json"


class RecordingClock:
    """Wraps the engine's clock; notes each reading a non-edge module takes."""

    def __init__(self, inner: Clock, engine: Engine, edge: Iterable[str]):
        self.inner = inner
        self._engine = engine
        self._edge = frozenset(edge)
        self.readings: list[float] = []
        self.active = True

    def now(self) -> float:
        value = self.inner.now()
        current = self._engine.current
        if self.active and current is not None and current.name not in self._edge:
            self.readings.append(value)
        return value

    def sleep_until(self, deadline: float) -> None:
        self.inner.sleep_until(deadline)


class NodeRecorder:
    """Writes one node's inputs, clock readings and outputs; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        directory: str | Path,
        *,
        edge: Iterable[str],
        meta: Mapping[str, Any],
        segment_bytes: int = 64 << 20,
        max_bytes: int = 1 << 30,
    ):
        self.engine = engine
        self.directory = Path(directory)
        self.edge = frozenset(edge)
        unknown = self.edge - {m.name for m in engine.modules}
        if unknown:
            raise ValueError(f"edge modules {sorted(unknown)} are not in the stack")
        self.directory.mkdir(parents=True, exist_ok=True)
        if any(self.directory.glob("seg-*.rec")):
            raise FileExistsError(f"{self.directory} already holds a recording; give an empty directory")
        self.inputs: list[Pipe] = []
        self.outputs: list[Pipe] = []
        for pipe in engine.pipes:
            from_edge, to_edge = pipe.sender in self.edge, pipe.receiver in self.edge
            if from_edge and not to_edge:
                self.inputs.append(pipe)
            elif to_edge and not from_edge:
                self.outputs.append(pipe)
        self._index = {p.name: i for i, p in enumerate(self.inputs + self.outputs)}
        self.writer = SegmentWriter(self.directory, segment_bytes=segment_bytes, max_bytes=max_bytes)
        self.ticks_recorded = 0
        self.seconds = 0.0
        """Thread CPU time spent packing and writing records (the recorder's cost, taps aside)."""
        self._in: list[Any] = []
        self._out: list[Any] = []
        self._packer = msgpack.Packer(autoreset=True)
        self.clock = RecordingClock(engine.clock, engine, self.edge)
        engine.clock = self.clock
        for pipe in self.inputs:
            pipe.add_tap(self._tap_in)
        for pipe in self.outputs:
            pipe.add_tap(self._tap_out)
        self._write_meta(meta)
        self._phase = KIND_START
        self._closed = False
        engine.on_tick_end.append(self._on_tick_end)

    @property
    def active(self) -> bool:
        """True while records are being written."""
        return self.writer.stopped is None and not self._closed

    @property
    def stopped(self) -> str | None:
        return self.writer.stopped

    def _write_meta(self, extra: Mapping[str, Any]) -> None:
        engine = self.engine
        meta = {
            "format": FORMAT_VERSION,
            "node_id": engine.node_id,
            "seed": engine.seed,
            "tick_rate": engine.tick_rate,
            "edge": sorted(self.edge),
            "modules": [{"name": m.name, "kind": m.kind, "guid": m.guid} for m in engine.modules],
            "pipes": [p.name for p in self.inputs + self.outputs],
            "inputs": [p.name for p in self.inputs],
            "outputs": [p.name for p in self.outputs],
            **extra,
        }
        text = json.dumps(meta, indent=1, default=str)
        (self.directory / META_FILE).write_text(text, encoding="utf-8")

    # -- taps (engine thread) ---------------------------------------------------------

    def _tap_in(self, tick: int, pipe: Pipe, messages: list[Any]) -> None:
        self._in.append((self._index[pipe.name], messages))

    def _tap_out(self, tick: int, pipe: Pipe, messages: list[Any]) -> None:
        self._out.append((self._index[pipe.name], messages))

    # -- phases ------------------------------------------------------------------------

    def started(self) -> None:
        """Call right after ``engine.start()``: writes the start record (with the edge's spaces)."""
        spaces = {name: sorted(s for s, host in self.engine.hosted_spaces().items() if host == name)
                  for name in sorted(self.edge)}
        self._write(KIND_START, self.engine.tick, {"spaces": spaces})
        self._phase = KIND_TICK

    def _on_tick_end(self, engine: Engine, duration: float) -> None:
        if self._phase != KIND_TICK:
            return
        started = time.thread_time()
        if self._write(KIND_TICK, engine.tick - 1, None):
            self.ticks_recorded += 1
        self.seconds += time.thread_time() - started

    def close(self) -> None:
        """Write the stop record (what modules read and sent while stopping) and close the files."""
        if self._closed:
            return
        if self._phase == KIND_TICK:
            self._write(KIND_STOP, self.engine.tick, None)
        self._closed = True
        self._detach()
        self.writer.close()

    def _write(self, kind: int, tick: int, extra: Any) -> bool:
        """Write one record; False (and the recording stops) if it could not be written."""
        readings, self.clock.readings = self.clock.readings, []
        inputs, self._in = self._in, []
        outputs, self._out = self._out, []
        if self.writer.stopped is not None:
            return False
        try:
            payload = self._packer.pack((kind, tick, readings, inputs, outputs, extra))
            data = self._packer.pack((zlib.crc32(payload), payload))
        except (TypeError, ValueError, OverflowError) as exc:
            self.writer.stop(f"a message at tick {tick} cannot be recorded: {exc}")
            self._detach()
            return False
        if not self.writer.write(data):
            self._detach()
            return False
        self.writer.flush()  # a killed node loses at most the tick being written
        if self.writer.stopped is not None:
            self._detach()
            return False
        return True

    def _detach(self) -> None:
        """Stop taking notes: taps off, clock readings no longer kept."""
        self.clock.active = False
        for pipes, tap in ((self.inputs, self._tap_in), (self.outputs, self._tap_out)):
            for pipe in pipes:
                with contextlib.suppress(ValueError):  # already off
                    pipe.remove_tap(tap)
        self._in, self._out = [], []

    def status(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "active": self.active,
                "bytes": self.writer.bytes_written, "segments": self.writer.segments,
                "ticks": self.ticks_recorded, "stopped": self.writer.stopped,
                "seconds": self.seconds}


# -- reading ------------------------------------------------------------------------------


@attrs.frozen
class RecordingMeta:
    """What ``meta.json`` says: enough to rebuild the node."""

    node_id: int
    seed: int
    tick_rate: float
    edge: list[str]
    modules: list[dict[str, Any]]
    pipes: list[str]
    inputs: list[str]
    outputs: list[str]
    raw: dict[str, Any]


@attrs.frozen
class TickRecord:
    kind: int
    tick: int
    readings: list[float]
    inputs: list[tuple[str, list[Any]]]
    """(pipe name, raw messages as msgpack lists) in drain order."""
    outputs: list[tuple[str, list[Any]]]
    extra: Any


class RecordingError(ValueError):
    """A recording directory that cannot be replayed at all (no or bad meta.json)."""


def read_meta(directory: str | Path) -> RecordingMeta:
    path = Path(directory) / META_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordingError(f"{directory}: not a recording (no {META_FILE})") from None
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{path}: unreadable: {exc}") from None
    if raw.get("format") != FORMAT_VERSION:
        raise RecordingError(f"{path}: recording format {raw.get('format')!r}, this engine reads "
                             f"{FORMAT_VERSION}")
    try:
        return RecordingMeta(int(raw["node_id"]), int(raw["seed"]), float(raw["tick_rate"]),
                             list(raw["edge"]), list(raw["modules"]), list(raw["pipes"]),
                             list(raw["inputs"]), list(raw["outputs"]), raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordingError(f"{path}: missing or bad field: {exc}") from None


def read_ticks(directory: str | Path, meta: RecordingMeta,
               end: list[SegmentEnd] | None = None) -> Iterator[TickRecord]:
    """The records of a recording in order; a damaged one ends it (described in ``end``)."""
    ends: list[SegmentEnd] = []
    expected_tick = 0
    for count, item in enumerate(read_segments(directory, ends)):
        try:
            record = _tick_record(item, meta)
        except (TypeError, ValueError, IndexError, msgpack.UnpackException) as exc:
            if end is not None:
                end.append(SegmentEnd(count, None, f"record {count} is not a tick record: {exc}"))
            return
        if record.kind == KIND_TICK:
            if record.tick != expected_tick:
                if end is not None:
                    end.append(SegmentEnd(count, None, f"record {count} is tick {record.tick}, "
                                                       f"expected tick {expected_tick}"))
                return
            expected_tick += 1
        yield record
    if end is not None:
        end.extend(ends)


def _tick_record(item: Any, meta: RecordingMeta) -> TickRecord:
    crc, payload = item
    if type(payload) is not bytes or zlib.crc32(payload) != crc:
        raise ValueError("its checksum does not match (the recording is corrupt here)")
    kind, tick, readings, inputs, outputs, extra = msgpack.unpackb(payload, raw=False,
                                                                   strict_map_key=False)
    if kind not in (KIND_START, KIND_TICK, KIND_STOP) or type(tick) is not int:
        raise ValueError(f"kind {kind!r}, tick {tick!r}")
    names = meta.pipes
    return TickRecord(kind, tick, [float(r) for r in readings],
                      [(names[i], list(ms)) for i, ms in inputs],
                      [(names[i], list(ms)) for i, ms in outputs], extra)
