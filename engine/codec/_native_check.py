"""Validate a msgpack message batch in C, then unpack it with no per-field Python.

The binary codec's decoder (:mod:`engine.codec.binary`) unpacks a batch and
then checks every field of every message in Python. ``NativeBatchChecker``
compiles the registry's field schemas into a table once and lets the C core
(``native.check_batch``) walk the raw bytes: when it proves the batch valid,
``decode_batch`` unpacks it with one ``msgpack.unpackb`` and wraps each
array in its class. Anything it cannot prove (a malformed batch, or nested
message fields, whose class bounds only Python checks) goes to the Python
decoder, which decodes it or raises the usual :class:`DecodeError`, so the
results and errors are always those of ``binary.decode_batch``.

>>> from engine.messages import Message
>>> class Ping(Message, type_id=991):
...     n: int
>>> from engine.codec.binary import encode_batch
>>> checker = NativeBatchChecker()
>>> checker.check(encode_batch([Ping(1, 2, 7), Ping(1, 2, 8)]))
2
>>> checker.decode_batch(encode_batch([Ping(1, 2, 7)]))
[Ping(to=0:0:1, frm=0:0:2, n=7)]
>>> checker.check(b"\\x91\\x94\\xcd\\x03\\xdf\\x01\\x02\\xa1x") is None   # n is a str: not proven
True
>>> Ping.registry.unregister(Ping)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from operator import itemgetter
from typing import Any

import msgpack
import numpy as np

import native
from engine.messages import REGISTRY, FieldType, Message, MessageRegistry

_KINDS = {"any": 0, "int": 1, "guid": 2, "float": 3, "bool": 4, "str": 5, "bytes": 6,
          "list": 7, "dict": 9, "message": 10}
_LIST_OF = 8
_OPTIONAL = 0x80
_tuple_new = tuple.__new__
_first = itemgetter(0)
_to = itemgetter(1)
_unpackb = msgpack.unpackb

try:
    from native._codec import decode_batch as _decode_batch
    from native._codec import decode_batch_to as _decode_batch_to
except ImportError:  # built before native/codec.c existed: the two-step path still works
    _decode_batch = _decode_batch_to = None
try:
    from native._codec import decode_frames as _decode_frames
except ImportError:  # built before decode_frames: every frame takes the caller's careful path
    _decode_frames = None


def shared_to(messages: list[Message]) -> int | None:
    """The ``to`` Guid of every message in ``messages``; None if they differ or there are none."""
    addresses = set(map(_to, messages))
    return addresses.pop() if len(addresses) == 1 else None


def _spec(ft: FieldType) -> list[int]:
    """The schema bytes of one field (see native/check.c)."""
    flag = _OPTIONAL if ft.optional else 0
    if ft.kind == "list" and ft.element is not None:
        return [_LIST_OF | flag, *_spec(ft.element)]
    return [_KINDS[ft.kind] | flag]


class NativeBatchChecker:
    """The registry's schemas as a C table, and the fast decode built on it.

    The table is rebuilt when the registry's size changes; call
    ``refresh()`` after replacing a class under the same type id. Messages
    are built with the classes captured at the last refresh, which are
    the ones the table describes.
    """

    def __init__(self, registry: MessageRegistry = REGISTRY):
        self.registry = registry
        self._size = -1
        self.refresh()

    def refresh(self) -> None:
        """Recompile the schema table from the registry."""
        classes = self.registry.classes()
        specs = [[b for f in cls.fields for b in _spec(f.type)] for cls in classes]
        self._tids = np.array([cls.type_id for cls in classes], np.int64)
        self._arity = np.array([len(cls.fields) for cls in classes], np.int32)
        self._at = np.zeros(len(classes) + 1, np.int32)
        self._at[1:] = np.cumsum([len(s) for s in specs], dtype=np.int64)
        self._schema = np.array([b for s in specs for b in s], np.uint8)
        self._classes: dict[int, type[Message]] = {cls.type_id: cls for cls in classes}
        self._build_table = (self._tids.tobytes(), self._arity.tobytes(), self._at.tobytes(),
                             self._schema.tobytes(), tuple(classes),
                             tuple(cls.type_id for cls in classes))
        self._size = len(self.registry)

    def check(self, data: bytes | bytearray | memoryview, max_messages: int = 10_000) -> int | None:
        """The message count if the batch is proven valid, else None (ask the Python decoder)."""
        if len(self.registry) != self._size:
            self.refresh()
        code, _message, _field = native.check_batch(data, self._tids, self._arity, self._at,
                                                   self._schema, max_messages)
        return code if code >= 0 else None

    def decode_proven(self, data: bytes | bytearray | memoryview,
                      max_messages: int = 10_000) -> list[Message] | None:
        """The messages if C proves the batch valid while building them; else None.

        ``native/codec.c`` checks and builds in one pass (about a third of
        the cost of unpacking and then wrapping); a source tree without it
        checks with the cffi walk and unpacks with msgpack.
        """
        if len(self.registry) != self._size:
            self.refresh()
        if _decode_batch is not None:
            return _decode_batch(data, *self._build_table, max_messages)
        if self.check(data, max_messages) is None:
            return None
        try:
            values = _unpackb(data, raw=False, use_list=True, strict_map_key=False)
        except Exception:  # e.g. bad UTF-8, which the C walk does not check
            return None
        return self._wrap(values)

    def decode_proven_to(self, data: bytes | bytearray | memoryview,
                         max_messages: int = 10_000) -> tuple[list[Message], int | None] | None:
        """``decode_proven`` and the ``to`` every message shares (None if they differ or none).

        C notes it while building the messages, for receivers that route a
        whole batch to one address without looking at each message.
        """
        if len(self.registry) != self._size:
            self.refresh()
        if _decode_batch_to is not None:
            return _decode_batch_to(data, *self._build_table, max_messages)
        messages = self.decode_proven(data, max_messages)
        return None if messages is None else (messages, shared_to(messages))

    def frames_call(self) -> Callable[..., tuple[list[list[Message]], int]] | None:
        """The C frame decoder with this table bound (see :func:`engine.codec.binary.decode_frames`).

        Positional arguments: ``(data, pos, frame_type, max_frame_bytes,
        max_messages, max_frames, frm)``. The call is built from the table as
        it is now: a class registered later is not in it, so its frames stop
        the C decoder and take the caller's careful (Python) path. None
        without the C core.
        """
        if _decode_frames is None:
            return None
        if len(self.registry) != self._size:
            self.refresh()
        return partial(_decode_frames, *self._build_table)

    def _wrap(self, values: list[Any]) -> list[Message]:
        """Each proven array as its message class; a batch of one class in one C-level map."""
        classes = self._classes
        if len(values) > 8:
            tids = set(map(_first, values))
            if len(tids) == 1:
                return list(map(partial(_tuple_new, classes[tids.pop()]), values))
        return [_tuple_new(classes[v[0]], v) for v in values]

    def decode_batch(self, data: bytes | bytearray | memoryview, *, max_bytes: int = 1 << 20,
                     max_messages: int = 10_000) -> list[Message]:
        """Like ``binary.decode_batch``: messages, or DecodeError naming the problem."""
        from engine.codec import binary  # lazily: binary may one day import this module

        if (isinstance(data, (bytes, bytearray, memoryview)) and len(data) <= max_bytes
                and self.check(data, max_messages) is not None):
            try:
                values = _unpackb(data, raw=False, use_list=True, strict_map_key=False)
            except Exception:  # e.g. bad UTF-8, which the C walk does not check
                values = None
            if values is not None:
                return self._wrap(values)
        return binary.decode_batch_python(data, registry=self.registry, max_bytes=max_bytes,
                                          max_messages=max_messages)
