"""Frame layout, limits and the control frames' payloads.

Every frame is ``length (u32, big-endian) | type (u8) | payload``, where
``length`` counts the type byte and the payload. HANDSHAKE and CLOSE carry a
msgpack map, MESSAGES a msgpack batch (see :mod:`engine.codec.binary`).

>>> frame(FrameType.CLOSE, pack_close("bye")).hex(" ")
'00 00 00 0d 03 81 a6 72 65 61 73 6f 6e a3 62 79 65'
"""

from __future__ import annotations

import struct
from typing import Any

import attrs
import msgpack

from engine.protocol._errors import ProtocolError
from engine.protocol._state import FrameType, Role

PROTOCOL_VERSION = 1
"""The version this code speaks; a peer with any other is refused."""

HEADER = struct.Struct(">IB")
"""Length prefix and type byte."""
HEADER_SIZE = HEADER.size
LENGTH_SIZE = 4

MAX_REASON_CHARS = 200
"""Longer close reasons are cut, so a close frame always fits in MIN_FRAME_BYTES."""
MIN_FRAME_BYTES = 1024
"""The smallest ``max_frame_bytes`` allowed: room for any handshake or close frame."""


def _positive(instance: Any, attribute: attrs.Attribute, value: int) -> None:  # type: ignore[type-arg]
    if type(value) is not int or value < 1:
        raise ValueError(f"{attribute.name} must be a positive int, got {value!r}")


@attrs.frozen(slots=True)
class Limits:
    """What one side accepts from its peer; breaking any is a ProtocolError.

    ``max_frame_bytes`` bounds the length prefix (type byte + payload), and is
    checked as soon as the 4 length bytes arrive, before any of the body is
    buffered. ``max_frames_per_second`` bounds frames in any sliding window of
    one second (CLOSE frames are not counted). A side also holds its own
    outgoing frames to its limits, so two peers with equal limits never trip
    each other.
    """

    max_frame_bytes: int = attrs.field(default=256 * 1024, validator=_positive)
    max_messages_per_frame: int = attrs.field(default=1000, validator=_positive)
    max_frames_per_second: int = attrs.field(default=100, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.max_frame_bytes < MIN_FRAME_BYTES:
            raise ValueError(f"max_frame_bytes must be at least {MIN_FRAME_BYTES}, "
                             f"room for a close frame; got {self.max_frame_bytes}")


def frame(frame_type: FrameType, payload: bytes) -> bytes:
    """One frame on the wire."""
    return HEADER.pack(len(payload) + 1, frame_type) + payload


def pack_handshake(version: int, role: Role, token: bytes | str | None) -> bytes:
    body: dict[str, Any] = {"version": version, "role": role.value}
    if token is not None:
        body["token"] = token
    return msgpack.packb(body)


def unpack_handshake(payload: bytes) -> tuple[int, Role, bytes | str | None]:
    """Version, role and token from a HANDSHAKE payload; unknown keys are ignored."""
    body = _unpack_map(payload, "handshake")
    version = body.get("version")
    if type(version) is not int:
        raise ProtocolError(f"bad handshake: 'version' must be an int, got {_show(version)}")
    role = body.get("role")
    if role not in ("client", "server"):
        raise ProtocolError(f"bad handshake: 'role' must be \"client\" or \"server\", got {_show(role)}")
    token = body.get("token")
    if token is not None and type(token) not in (bytes, str):
        raise ProtocolError(f"bad handshake: 'token' must be bin, str or nil, got {_show(token)}")
    return version, Role(role), token


def pack_close(reason: str) -> bytes:
    return msgpack.packb({"reason": str(reason)[:MAX_REASON_CHARS]})


def unpack_close(payload: bytes) -> str:
    body = _unpack_map(payload, "close frame")
    reason = body.get("reason", "")
    if type(reason) is not str:
        raise ProtocolError(f"bad close frame: 'reason' must be a str, got {_show(reason)}")
    return reason


def batch_length(payload: bytes) -> int:
    """The element count from a msgpack array header, read before unpacking anything."""
    if not payload:
        raise ProtocolError("bad messages frame: empty payload, wants a msgpack array")
    first = payload[0]
    if 0x90 <= first <= 0x9F:
        return first & 0x0F
    if first == 0xDC and len(payload) >= 3:
        return int.from_bytes(payload[1:3], "big")
    if first == 0xDD and len(payload) >= 5:
        return int.from_bytes(payload[1:5], "big")
    raise ProtocolError(f"bad messages frame: payload must be a msgpack array, starts with 0x{first:02x}")


def _unpack_map(payload: bytes, what: str) -> dict[Any, Any]:
    try:
        body = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises many types for bad input
        raise ProtocolError(f"bad {what}: malformed msgpack ({type(exc).__name__})") from None
    if type(body) is not dict:
        raise ProtocolError(f"bad {what}: payload must be a msgpack map, got {type(body).__name__}")
    return body


def _show(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r:.40}"
