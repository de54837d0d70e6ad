"""Recording what crosses pipes, and reading it back.

A :class:`Recorder` is a pipe tap: every message a drain delivers is
written as one msgpack record ``[tick, pipe_name, message]`` to a file. A
message is a msgpack array already, so a record is self-describing and the
file is a plain concatenation of records, readable by
:func:`read_recording` even when it was cut off mid-record (the reader stops
at the last whole record and says so).

>>> import io
>>> from engine.pipes import Pipe
>>> buf = io.BytesIO()
>>> rec = Recorder(buf)
>>> p = Pipe("a", "b"); rec.attach(p)
>>> p.push((7, 1, 2)); _ = p.drain(tick=3)
>>> [(r.tick, r.pipe, r.message) for r in read_recording(io.BytesIO(buf.getvalue()), decode=False)]
[(3, 'a->b', [7, 1, 2])]

For long recordings a :class:`SegmentWriter` is the ``out``: it rotates to a
new numbered file every ``segment_bytes``, refuses to pass ``max_bytes`` in
total, and turns a write error (a full disk) into a stopped writer instead
of an exception in the tick. :func:`read_segments` reads the records of all
the segments back in order and reports where a damaged recording ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import msgpack

from engine.codec.binary import DecodeError, decode_values
from engine.messages import REGISTRY, MessageRegistry
from engine.pipes._pipe import Pipe


@attrs.frozen(slots=True)
class Record:
    tick: int
    pipe: str
    message: Any


class RecordingError(ValueError):
    """A recording is damaged; ``records_read`` whole records came before the damage."""

    def __init__(self, text: str, records_read: int):
        super().__init__(text)
        self.records_read = records_read


log = logging.getLogger("spenefett.recorder")

SEGMENT_PATTERN = "seg-{:06d}.rec"


class SegmentWriter:
    """A binary sink of numbered segment files with a bound on their total size.

    ``write`` returns False (and writes nothing more, ever) once the bound
    would be passed or the file system refuses a write; ``stopped`` then
    says why. A record is never split across segments, so each segment
    ends on a record boundary unless the process died mid-write.
    """

    def __init__(self, directory: str | Path, *, segment_bytes: int = 64 << 20,
                 max_bytes: int = 1 << 30):
        if segment_bytes < 1 or max_bytes < 1:
            raise ValueError("segment_bytes and max_bytes must be positive")
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.bytes_written = 0
        self.segments = 0
        self.stopped: str | None = None
        """Why the writer stopped (None while it writes)."""
        self._file: BinaryIO | None = None
        self._segment_size = 0

    def write(self, data: bytes) -> bool:
        if self.stopped is not None:
            return False
        if self.bytes_written + len(data) > self.max_bytes:
            self._stop(f"max_bytes reached ({self.bytes_written} of {self.max_bytes} bytes written)")
            return False
        try:
            if self._file is None or (self._segment_size and
                                      self._segment_size + len(data) > self.segment_bytes):
                self._rotate()
            assert self._file is not None
            self._file.write(data)
        except OSError as exc:
            self._stop(f"write failed: {exc.strerror or exc}")
            return False
        self._segment_size += len(data)
        self.bytes_written += len(data)
        return True

    def flush(self) -> None:
        if self._file is not None and self.stopped is None:
            try:
                self._file.flush()
            except OSError as exc:
                self._stop(f"write failed: {exc.strerror or exc}")

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                log.error("recording: closing %s failed: %s", self.directory, exc)
            self._file = None

    def _rotate(self) -> None:
        if self._file is not None:
            self._file.close()
        path = self.directory / SEGMENT_PATTERN.format(self.segments)
        self._file = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 (kept open across writes)
        self.segments += 1
        self._segment_size = 0

    def stop(self, reason: str) -> None:
        """Stop writing for good (logged with ``reason``); later writes return False."""
        if self.stopped is None:
            self._stop(reason)

    def _stop(self, reason: str) -> None:
        self.stopped = reason
        log.error("recording to %s stopped: %s; the node keeps serving", self.directory, reason)
        if self._file is not None:
            with contextlib.suppress(OSError):  # what did not fit is lost either way; logged above
                self._file.close()
            self._file = None


@attrs.frozen(slots=True)
class SegmentEnd:
    """Where reading a segmented recording stopped: ``reason`` is None when it ended whole."""

    records: int
    segment: str | None
    reason: str | None


def read_segments(directory: str | Path, end: list[SegmentEnd] | None = None) -> Iterator[Any]:
    """Yield the raw msgpack records of every segment in ``directory``, in order.

    A truncated or corrupt record, or a missing segment, ends the iteration;
    if ``end`` is given a :class:`SegmentEnd` saying where and why is
    appended to it (with ``reason`` None for a recording that is whole).
    """
    directory = Path(directory)
    names = sorted(p.name for p in directory.glob("seg-*.rec"))
    count = 0
    for index, name in enumerate(names):
        if name != SEGMENT_PATTERN.format(index):
            _end(end, count, name, f"segment {SEGMENT_PATTERN.format(index)} is missing")
            return
        problem: list[str] = []
        with open(directory / name, "rb") as f:
            for item in _items(f, problem):
                yield item
                count += 1
        if problem:
            _end(end, count, name, problem[0])
            return
    _end(end, count, names[-1] if names else None, None if names else "no segments")


def _end(end: list[SegmentEnd] | None, count: int, segment: str | None, reason: str | None) -> None:
    if end is not None:
        end.append(SegmentEnd(count, segment, reason))


def _items(source: BinaryIO, problem: list[str]) -> Iterator[Any]:
    """Whole msgpack items from ``source``; a damaged tail is described in ``problem``."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=256 << 20)
    fed = whole = count = 0
    while True:
        chunk = source.read(1 << 20)
        if chunk:
            unpacker.feed(chunk)
            fed += len(chunk)
        while True:
            try:
                item = unpacker.unpack()
            except msgpack.OutOfData:
                break
            except Exception as exc:
                problem.append(f"record {count} at byte {whole} is corrupt: {exc}")
                return
            whole = unpacker.tell()
            count += 1
            yield item
        if not chunk:
            if whole < fed:
                problem.append(f"truncated after {count} records ({fed - whole} bytes of a "
                               f"partial record at byte {whole})")
            return


def feed(pipe: Pipe, messages: list[Any]) -> None:
    """Put recorded messages into ``pipe`` as if its sender had pushed them, filters bypassed.

    A recording holds what a pipe *delivered* (after its filters), so a
    replay feeds exactly that, due at the next drain.
    """
    pipe._items.extend(messages)


def segment_paths(directory: str | Path) -> list[Path]:
    """The segment files of a recording directory, in order."""
    return sorted(Path(directory).glob("seg-*.rec"), key=os.fspath)


class Recorder:
    """A tap that writes each delivered message with its tick and pipe name."""

    def __init__(self, out: BinaryIO):
        self._out = out
        self._packer = msgpack.Packer()
        self._pipes: list[Pipe] = []
        self.records = 0

    def attach(self, pipe: Pipe) -> None:
        pipe.add_tap(self._tap)
        self._pipes.append(pipe)

    def detach_all(self) -> None:
        for pipe in self._pipes:
            pipe.remove_tap(self._tap)
        self._pipes.clear()

    def _tap(self, tick: int, pipe: Pipe, messages: list[Any]) -> None:
        pack = self._packer.pack
        name = pipe.name
        self._out.write(b"".join(pack((tick, name, m)) for m in messages))
        self.records += len(messages)

    def flush(self) -> None:
        self._out.flush()


def read_recording(
    source: BinaryIO, *, decode: bool = True, registry: MessageRegistry = REGISTRY,
    strict: bool = False,
) -> Iterator[Record]:
    """Yield the records of a recording in order.

    With ``decode`` the messages come back as Message objects. A truncated
    tail ends the iteration quietly unless ``strict``, in which case it
    raises RecordingError; a corrupt record always raises RecordingError.
    """
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    count = 0
    fed = 0
    whole = 0
    while True:
        chunk = source.read(1 << 20)
        if chunk:
            unpacker.feed(chunk)
            fed += len(chunk)
        while True:
            try:
                item = unpacker.unpack()
            except msgpack.OutOfData:
                break
            except Exception as exc:
                raise RecordingError(f"record {count} is corrupt: {exc}", count) from None
            whole = unpacker.tell()  # bytes of whole records so far
            yield _record(item, count, decode, registry)
            count += 1
        if not chunk:
            if strict and whole < fed:
                raise RecordingError(
                    f"recording truncated after {count} records ({fed - whole} bytes left)",
                    count)
            return


def _record(item: Any, count: int, decode: bool, registry: MessageRegistry) -> Record:
    if not (type(item) is list and len(item) == 3 and type(item[0]) is int and type(item[1]) is str):
        raise RecordingError(f"record {count} is not [tick, pipe, message]", count)
    tick, pipe, message = item
    if decode:
        try:
            (message,) = decode_values([message], registry=registry)
        except DecodeError as exc:
            raise RecordingError(f"record {count}: {exc}", count) from None
    return Record(tick, pipe, message)
