"""The wire codec: messages to msgpack bytes and back.

One message is the msgpack array ``[type_id, to, frm, field1, field2, ...]``;
a batch (what one peer gets in one tick) is an array of such arrays. A
message already *is* that tuple, so encoding is a single ``msgpack.packb``.

Decoding trusts nothing. Whatever the bytes, :func:`decode_batch` returns
messages or raises :class:`DecodeError` naming what was wrong: oversize
input, malformed msgpack, an unknown type id, the wrong number of fields, or
a field of the wrong type. It never raises anything else.

>>> from engine.messages import Message
>>> class Ping(Message, type_id=990):
...     n: int
>>> decode_batch(encode_batch([Ping(1, 2, 7)]))
[Ping(to=0:0:1, frm=0:0:2, n=7)]
>>> Ping.registry.unregister(Ping)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgpack

from engine.guid import MAX_GUID, Guid
from engine.messages import REGISTRY, Field, FieldType, Message, MessageRegistry

DEFAULT_MAX_BYTES = 1 << 20
"""Largest batch accepted by default (1 MiB)."""
DEFAULT_MAX_MESSAGES = 10_000
"""Most messages accepted in one batch by default."""

_tuple_new = tuple.__new__
_packb = msgpack.packb

try:
    from native._codec import encode_batch as _encode_native
except ImportError:  # a source tree without the compiled core: msgpack does it all
    _encode_native = None
try:
    from native._codec import encode_frames as _encode_frames_native
except ImportError:  # built before encode_frames: callers frame each batch themselves
    _encode_frames_native = None
_unpackb = msgpack.unpackb


class DecodeError(ValueError):
    """Bytes that are not a valid message or batch; the text says what was wrong."""


class EncodeError(ValueError):
    """A message holds a value msgpack cannot carry (a set, an object, an int over 64 bits)."""


def encode(message: Message) -> bytes:
    """One message as msgpack bytes."""
    try:
        return _packb(message)
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(f"cannot encode {type(message).__name__}: {exc}") from None


def encode_batch(messages: Sequence[Message]) -> bytes:
    """A batch of messages as one msgpack array.

    ``native/codec.c`` writes the bytes msgpack would for the plain types
    messages carry, about three times as fast; a batch holding anything else
    goes to msgpack, which packs it or says why not.
    """
    if _encode_native is not None and type(messages) is list:
        data = _encode_native(messages)
        if data is not None:
            return data
    try:
        return _packb(messages if type(messages) is list else list(messages))
    except (TypeError, ValueError, OverflowError) as exc:
        bad = next((m for m in messages if not _encodable(m)), None)
        what = type(bad).__name__ if bad is not None else "batch"
        raise EncodeError(f"cannot encode {what}: {exc}") from None


def _encodable(message: Message) -> bool:
    try:
        _packb(message)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def encode_frames(batches: list[list[Message]], *, frame_type: int, max_frame_bytes: int,
                  max_messages: int) -> list[bytes | None]:
    """Each batch as a length-prefixed frame (see :func:`decode_frames`), in one C call.

    None where the caller must frame a batch itself, the careful way that
    names the problem: over ``max_messages`` messages, a frame over
    ``max_frame_bytes``, a value the C encoder leaves to msgpack, or no C
    core at all. The bytes are those of the length, the type byte and
    :func:`encode_batch`.
    """
    if _encode_frames_native is None:
        return [None] * len(batches)
    return _encode_frames_native(batches, frame_type, max_frame_bytes, max_messages)  # type: ignore[no-any-return]


def decode(data: bytes, *, registry: MessageRegistry = REGISTRY,
           max_bytes: int = DEFAULT_MAX_BYTES) -> Message:
    """One message from msgpack bytes; anything wrong raises DecodeError."""
    value = _unpack(data, max_bytes)
    return _guarded(lambda: _Decoder(registry).message(value, "message"))


def decode_batch(data: bytes, *, registry: MessageRegistry = REGISTRY,
                 max_bytes: int = DEFAULT_MAX_BYTES,
                 max_messages: int = DEFAULT_MAX_MESSAGES) -> list[Message]:
    """A batch of messages from msgpack bytes; anything wrong raises DecodeError."""
    if isinstance(data, (bytes, bytearray, memoryview)) and len(data) <= max_bytes:
        checker = _native_checker(registry)
        if checker is not None:
            proven = checker.decode_proven(data, max_messages)
            if proven is not None:
                return proven
    return decode_batch_python(data, registry=registry, max_bytes=max_bytes, max_messages=max_messages)


def decode_batch_to(data: bytes, *, registry: MessageRegistry = REGISTRY,
                    max_bytes: int = DEFAULT_MAX_BYTES,
                    max_messages: int = DEFAULT_MAX_MESSAGES) -> tuple[list[Message], Guid | None]:
    """:func:`decode_batch`, and the ``to`` Guid every message shares (None if they differ or none).

    The C decoder finds it while it builds the messages, so a receiver
    routing a batch for one address (the usual batch between two nodes) need
    not look at each message to know.
    """
    if isinstance(data, (bytes, bytearray, memoryview)) and len(data) <= max_bytes:
        checker = _native_checker(registry)
        if checker is not None:
            proven = checker.decode_proven_to(data, max_messages)
            if proven is not None:
                return proven
    messages = decode_batch_python(data, registry=registry, max_bytes=max_bytes, max_messages=max_messages)
    addresses = {m[1] for m in messages}
    return messages, addresses.pop() if len(addresses) == 1 else None


def decode_frames(data: bytes, pos: int = 0, *, frame_type: int, registry: MessageRegistry = REGISTRY,
                  max_frame_bytes: int = DEFAULT_MAX_BYTES, max_messages: int = DEFAULT_MAX_MESSAGES,
                  max_frames: int = 1 << 30, frm: Guid | None = None) -> tuple[list[list[Message]], int]:
    """The batches of the length-prefixed frames at ``data[pos:]``, and the offset after the last one.

    A frame is a 4-byte big-endian length (counting the type byte), a type
    byte and a batch; this decodes each whole frame of ``frame_type`` and
    stops before the first it cannot prove: another type, a length under 2
    or over ``max_frame_bytes``, a partial frame, more than ``max_messages``
    messages, a batch :func:`decode_batch` would have to name a problem in,
    or after ``max_frames`` frames. So the caller runs its careful path on
    ``data[offset:]`` only, and gets the same results and errors as decoding
    frame by frame. With ``frm``, every message's ``frm`` is replaced by it
    (after its own was checked): a server stamping a client's Guid.

    It is the C core's (one call for a read's whole frames, about 1 us less
    per frame than slicing and decoding each); without it, it decodes
    nothing and returns ``([], pos)``.
    """
    decoder = frames_decoder(registry) if type(data) is bytes else None
    if decoder is None:
        return [], pos
    return decoder(data, pos, frame_type, max_frame_bytes, max_messages, max_frames, frm)


def frames_decoder(
        registry: MessageRegistry = REGISTRY) -> Callable[..., tuple[list[list[Message]], int]] | None:
    """:func:`decode_frames` for ``registry`` as one C call, None without the C core.

    For a caller decoding thousands of reads a tick (the network module's
    protocol objects), with no Python frame in between. Arguments:
    ``(data, pos, frame_type, max_frame_bytes, max_messages, max_frames, frm)``;
    ``data`` must be ``bytes``. It holds the registry's classes as they are
    now: frames with a class registered later take the caller's careful path.
    """
    checker = _native_checker(registry)
    return None if checker is None else checker.frames_call()


def decode_batch_python(data: bytes, *, registry: MessageRegistry = REGISTRY,
                        max_bytes: int = DEFAULT_MAX_BYTES,
                        max_messages: int = DEFAULT_MAX_MESSAGES) -> list[Message]:
    """:func:`decode_batch` without the C core: the reference the C decoder is tested against.

    It also names the problem in every batch the C decoder does not prove valid.
    """
    value = _unpack(data, max_bytes)
    if type(value) is not list:
        raise DecodeError(f"a batch must be an array of messages, got {_kind(value)}")
    if len(value) > max_messages:
        raise DecodeError(f"oversize: batch of {len(value)} messages, limit {max_messages}")
    return _guarded(lambda: _Decoder(registry).batch(value))


_checkers: dict[int, Any] = {}


def _native_checker(registry: MessageRegistry) -> Any:
    """The C batch decoder for ``registry`` (None if the native core is not built).

    C checks a batch while it builds the messages (``native/codec.c``); what
    it cannot prove valid falls through to the Python checks below, so
    results and errors are the same either way (tests/native/). It costs
    about 1 us a call, less than the Python path even for one message.
    """
    checker = _checkers.get(id(registry))
    if checker is None:
        try:
            from engine.codec._native_check import NativeBatchChecker
        except ImportError:  # a source tree without the compiled core
            return None
        checker = _checkers[id(registry)] = NativeBatchChecker(registry)
    return checker


def decode_values(values: list[Any], *, registry: MessageRegistry = REGISTRY) -> list[Message]:
    """Messages from an already-unpacked batch (e.g. one embedded in a bigger frame)."""
    if type(values) is not list:
        raise DecodeError(f"a batch must be an array of messages, got {_kind(values)}")
    return _guarded(lambda: _Decoder(registry).batch(values))


def _unpack(data: bytes, max_bytes: int) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise DecodeError(f"oversize: {len(data)} bytes, limit {max_bytes}")
    try:
        return _unpackb(data, raw=False, use_list=True, strict_map_key=False)
    except Exception as exc:  # msgpack raises a zoo of types for bad input
        raise DecodeError(f"malformed msgpack: {type(exc).__name__}: {exc}") from None


def _guarded(work: Callable[[], Any]) -> Any:
    try:
        return work()
    except DecodeError:
        raise
    except RecursionError:
        raise DecodeError("messages nested too deeply") from None
    except Exception as exc:  # a bug in a checker must still not escape as another type
        raise DecodeError(f"undecodable: {type(exc).__name__}: {exc}") from None


def _kind(value: Any) -> str:
    return {list: "array", dict: "map", str: "string", bytes: "binary", bool: "bool",
            int: "int", float: "float", type(None): "nil"}.get(type(value), type(value).__name__)


class _Decoder:
    """Checks decoded msgpack values against the registry's field schemas.

    Each class gets a checker compiled once (see ``_compile``) and cached on
    the registry-specific decoder cache, so checking a message is a handful
    of ``type(v) is T`` tests and one tuple construction.
    """

    _cache: dict[int, tuple[dict[type, Any], dict[int, Any]]] = {}

    def __init__(self, registry: MessageRegistry):
        self.registry = registry
        self.checkers, self.by_tid = self._cache.setdefault(id(registry), ({}, {}))

    def batch(self, values: list[Any]) -> list[Message]:
        # Fast path: one dict lookup and one generated checker per message.
        # Any failure at all re-runs the batch on the careful path below,
        # which finds the first bad message and names it.
        by_tid = self.by_tid
        try:
            return [by_tid[v[0]](v, None) for v in values]
        except Exception:
            pass
        out = []
        for position, value in enumerate(values):
            where = f"message {position}"
            if type(value) is not list or not value:
                raise DecodeError(f"{where}: expected a non-empty array, got {_kind(value)}")
            out.append(self._checker(value[0], where)(value, where))
        return out

    def _checker(self, tid: Any, where: str) -> Callable[[list[Any], str | None], Message]:
        cls = self.registry.by_id(tid) if type(tid) is int else None
        if cls is None:
            raise DecodeError(f"{where}: unknown type id {tid!r}")
        checker = self.checkers.get(cls)
        if checker is None:
            checker = self.checkers[cls] = _compile(cls, self)
            self.by_tid[tid] = checker
        return checker

    def message(self, value: Any, where: str, bound: type[Message] = Message) -> Message:
        if type(value) is not list or not value:
            raise DecodeError(f"{where}: expected a message array, got {_kind(value)}")
        tid = value[0]
        cls = self.registry.by_id(tid) if type(tid) is int else None
        if cls is None:
            raise DecodeError(f"{where}: unknown type id {tid!r}")
        if not issubclass(cls, bound):
            raise DecodeError(f"{where}: wants a {bound.__name__}, got {cls.__name__}")
        return self._checker(tid, where)(value, where)


def _compile(cls: type[Message], decoder: _Decoder) -> Callable[[list[Any], str], Message]:
    """Generate a checker for ``cls``: arity, each field's type, then the tuple.

    The checker is straight-line code (one ``type(v) is T`` test per simple
    field), generated once per class, because decoding sits on every
    network hot path.
    """
    arity = len(cls.fields) + 1
    namespace: dict[str, Any] = {
        "_tn": _tuple_new, "_cls": cls, "_arity": _raise_arity, "_bad": _raise_field,
        "_MAXG": MAX_GUID, "_decoder": decoder, "_check_value": _check_value,
    }
    lines = [
        "def check(value, where):",
        f"    if type(value) is not list or len(value) != {arity} or value[0] != {cls.type_id}"
        " or type(value[0]) is not int:",
        "        _arity(where, _cls, value)",
    ]
    if any(f.type.kind not in _SIMPLE_TYPES and f.type.kind not in ("guid", "any")
           or f.type.optional or (f.type.kind == "list" and f.type.element) for f in cls.fields):
        lines.append("    value = value[:]  # converted fields go in a copy: the input stays as received")
    for f in cls.fields:
        i = f.index
        ft = f.type
        namespace[f"_f{i}"] = f
        if ft.kind == "guid" and not ft.optional:
            lines.append(f"    v = value[{i}]")
            lines.append(f"    if type(v) is not int or v < 0 or v > _MAXG: _bad(where, _cls, _f{i}, v)")
        elif ft.kind in _SIMPLE_TYPES and not ft.optional and not (ft.kind == "list" and ft.element):
            namespace[f"_t{i}"] = _SIMPLE_TYPES[ft.kind]
            lines.append(f"    if type(value[{i}]) is not _t{i}: _bad(where, _cls, _f{i}, value[{i}])")
        elif ft.kind != "any":
            namespace[f"_ft{i}"] = ft
            lines.append(f"    value[{i}] = _check_value(_ft{i}, value[{i}], "
                         f"f'{{where}} ({cls.__name__}).{f.name}', _decoder)")
    lines.append("    return _tn(_cls, value)")
    exec("\n".join(lines), namespace)
    return namespace["check"]


def _raise_arity(where: str | None, cls: type[Message], value: Any) -> None:
    if type(value) is not list:
        raise DecodeError(f"{where}: expected a message array, got {_kind(value)}")
    raise DecodeError(f"{where} ({cls.__name__}): wrong arity, {len(value) - 1} fields "
                      f"where {len(cls.fields)} belong")


_SIMPLE_TYPES = {"int": int, "bool": bool, "str": str, "bytes": bytes, "float": float,
                 "list": list, "dict": dict}


def _raise_field(where: str, cls: type[Message], f: Field, value: Any) -> None:
    raise DecodeError(f"{where} ({cls.__name__}): field {f.name!r} wants {f.type.describe()}, "
                      f"got {_kind(value)}")


def _check_value(ft: FieldType, value: Any, where: str, decoder: _Decoder) -> Any:
    if value is None:
        if ft.optional:
            return None
        raise DecodeError(f"{where}: wants {ft.describe()}, got nil")
    kind = ft.kind
    if kind == "any":
        return value
    if kind == "guid":
        if type(value) is not int or not 0 <= value <= MAX_GUID:
            raise DecodeError(f"{where}: wants a Guid (unsigned 64-bit int), got {value!r:.40}")
        return value
    if kind == "message":
        return decoder.message(value, where, ft.message_class or Message)
    wanted = _SIMPLE_TYPES[kind]
    if type(value) is not wanted:
        raise DecodeError(f"{where}: wants {ft.describe()}, got {_kind(value)}")
    if kind == "list" and ft.element is not None:
        element = ft.element
        if element.kind in _SIMPLE_TYPES and not element.optional and element.kind != "list":
            t = _SIMPLE_TYPES[element.kind]
            for i, item in enumerate(value):
                if type(item) is not t:
                    raise DecodeError(f"{where}[{i}]: wants {element.describe()}, got {_kind(item)}")
            return value
        return [_check_value(element, item, f"{where}[{i}]", decoder) for i, item in enumerate(value)]
    return value
