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
"""

from __future__ import annotations

from collections.abc import Iterator
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
