"""What ``Connection.next_event`` hands out."""

from __future__ import annotations

import enum

import attrs

from engine.messages import Message
from engine.protocol._state import Role


@attrs.frozen(slots=True)
class HandshakeReceived:
    """The peer's handshake: its (already checked) version, its role and its auth token."""

    version: int
    role: Role
    token: bytes | str | None = None


@attrs.frozen(slots=True)
class MessagesReceived:
    """One MESSAGES frame: the batch the peer sent in one tick, decoded and type-checked."""

    messages: list[Message]


@attrs.frozen(slots=True)
class ConnectionClosed:
    """The peer is gone: ``clean`` if it sent a close frame with ``reason``, else the link dropped."""

    reason: str
    clean: bool = True


class _Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return self.value


NEED_DATA = _Sentinel.NEED_DATA
"""Returned by ``next_event`` when no whole frame is buffered: feed more bytes."""

Event = HandshakeReceived | MessagesReceived | ConnectionClosed
