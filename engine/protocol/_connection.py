"""The sans-IO client protocol object: bytes in, events out; messages in, bytes out."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Literal

from engine.codec.binary import DecodeError, decode_batch, encode_batch
from engine.messages import REGISTRY, Message, MessageRegistry
from engine.protocol._errors import ProtocolError
from engine.protocol._events import (
    NEED_DATA,
    ConnectionClosed,
    Event,
    HandshakeReceived,
    MessagesReceived,
    _Sentinel,
)
from engine.protocol._frames import (
    HEADER_SIZE,
    LENGTH_SIZE,
    PROTOCOL_VERSION,
    Limits,
    batch_length,
    frame,
    pack_close,
    pack_handshake,
    unpack_close,
    unpack_handshake,
)
from engine.protocol._state import ConnectionState, FrameType, Role, State, StateError

_WINDOW_SECONDS = 1.0


class Connection:
    """One end of a client connection, with no socket and no clock.

    Feed it what the socket read with ``receive_data(data, now=...)`` (``b""``
    at end of file), then call ``next_event()`` until it returns
    ``NEED_DATA``. ``send_handshake``, ``send_messages`` and ``close`` return
    the bytes to write. A peer that breaks the protocol makes ``next_event``
    raise :class:`ProtocolError`; answer with ``close(error.reason)`` and drop
    the socket. ``now`` is any monotonic time in seconds: it is only used for
    the frames-per-second limit, so tests pass whatever they like.
    """

    def __init__(
        self,
        role: Role,
        *,
        limits: Limits | None = None,
        registry: MessageRegistry = REGISTRY,
        version: int = PROTOCOL_VERSION,
    ) -> None:
        if not isinstance(role, Role):
            raise TypeError(f"role must be a Role, got {role!r}")
        self.our_role = role
        self.their_role = role.other
        self.limits = limits if limits is not None else Limits()
        self.registry = registry
        self.version = version
        self._state = ConnectionState()
        self._buffer = bytearray()
        self._frames: deque[tuple[FrameType, bytes] | ProtocolError] = deque()
        self._arrivals: deque[float] = deque()  # times of the last frames, for the rate limit
        self._broken = False  # a framing error or a CLOSE is queued: read nothing more
        self._eof = False
        self._error: ProtocolError | None = None
        self._closed: ConnectionClosed | None = None

    # -- state -----------------------------------------------------------------

    @property
    def our_state(self) -> State:
        return self._state.states[self.our_role]

    @property
    def their_state(self) -> State:
        return self._state.states[self.their_role]

    # -- receiving -------------------------------------------------------------

    def receive_data(self, data: bytes, *, now: float) -> None:
        """Buffer bytes read from the peer (``b""`` means the peer closed the socket).

        Frames are cut out here, so an oversize length prefix is caught before
        its body is buffered and each frame is timed by the call it completed
        in; errors are queued and raised by ``next_event`` in order.
        """
        if self._eof:
            if data:
                raise RuntimeError("receive_data after end of file")
            return
        if not data:
            self._eof = True
            return
        if self._broken or self._error is not None:
            return  # nothing more is read from a peer that broke a rule or closed
        self._buffer += data
        self._cut_frames(now)

    def _cut_frames(self, now: float) -> None:
        buffer, limits = self._buffer, self.limits
        pos, end = 0, len(buffer)
        while end - pos >= LENGTH_SIZE:
            length = int.from_bytes(buffer[pos : pos + LENGTH_SIZE], "big")
            if length == 0:
                self._break("bad frame: length 0 (a frame holds at least its type byte)")
                return
            if length > limits.max_frame_bytes:
                self._break(f"frame too large: {length} bytes, limit {limits.max_frame_bytes}")
                return
            if end - pos < LENGTH_SIZE + length:
                break
            type_byte = buffer[pos + LENGTH_SIZE]
            payload = bytes(buffer[pos + HEADER_SIZE : pos + LENGTH_SIZE + length])
            pos += LENGTH_SIZE + length
            try:
                frame_type = FrameType(type_byte)
            except ValueError:
                self._break(f"bad frame: unknown frame type 0x{type_byte:02x}")
                return
            if frame_type is not FrameType.CLOSE and not self._admit(now):
                self._break(f"too many frames: more than {limits.max_frames_per_second} in one second")
                return
            self._frames.append((frame_type, payload))
            if frame_type is FrameType.CLOSE:  # the peer's last frame: ignore what follows
                self._broken = True
                buffer.clear()
                return
        del buffer[:pos]

    def _admit(self, now: float) -> bool:
        arrivals, most = self._arrivals, self.limits.max_frames_per_second
        if len(arrivals) == most:
            if now - arrivals[0] < _WINDOW_SECONDS:
                return False
            arrivals.popleft()
        arrivals.append(now)
        return True

    def _break(self, reason: str) -> None:
        self._frames.append(ProtocolError(reason))
        self._broken = True
        self._buffer.clear()

    def next_event(self) -> Event | Literal[_Sentinel.NEED_DATA]:
        """The next event from the peer, or NEED_DATA; raises ProtocolError if the peer broke a rule."""
        if self._error is not None:
            raise self._error
        if self._closed is not None:
            return self._closed
        if self._frames:
            item = self._frames.popleft()
            try:
                if isinstance(item, ProtocolError):
                    raise item
                return self._handle(*item)
            except ProtocolError as exc:
                self._error = exc
                self._state.error(self.their_role)
                self._frames.clear()
                raise
        if self._eof:
            reason = ("connection lost in the middle of a frame" if self._buffer
                      else "connection lost without a close frame")
            self._closed = ConnectionClosed(reason, clean=False)
            self._state.lost(self.their_role)
            return self._closed
        return NEED_DATA

    def _handle(self, frame_type: FrameType, payload: bytes) -> Event:
        try:
            self._state.process(self.their_role, frame_type)
        except StateError as exc:
            raise ProtocolError(f"unexpected {frame_type.name} frame: {exc}") from None
        if frame_type is FrameType.MESSAGES:
            return MessagesReceived(self._decode(payload))
        if frame_type is FrameType.HANDSHAKE:
            version, role, token = unpack_handshake(payload)
            if role is not self.their_role:
                raise ProtocolError(f"bad handshake: peer says it is a {role.value}, "
                                    f"expected a {self.their_role.value}")
            if version != self.version:
                raise ProtocolError(f"protocol version mismatch: peer speaks {version}, "
                                    f"this {self.our_role.value} speaks {self.version}")
            return HandshakeReceived(version, role, token)
        self._closed = ConnectionClosed(unpack_close(payload), clean=True)
        return self._closed

    def _decode(self, payload: bytes) -> list[Message]:
        count, most = batch_length(payload), self.limits.max_messages_per_frame
        if count > most:
            raise ProtocolError(f"too many messages in one frame: {count}, limit {most}")
        try:
            return decode_batch(payload, registry=self.registry,
                                max_bytes=self.limits.max_frame_bytes, max_messages=most)
        except DecodeError as exc:
            raise ProtocolError(f"undecodable messages frame: {exc}") from None

    # -- sending ---------------------------------------------------------------

    def send_handshake(self, token: bytes | str | None = None) -> bytes:
        """Our handshake: the client's opens the connection, the server's accepts it."""
        if token is not None and type(token) not in (bytes, str):
            raise TypeError(f"token must be bytes, str or None, got {type(token).__name__}")
        data = self._frame(FrameType.HANDSHAKE, pack_handshake(self.version, self.our_role, token))
        self._send(FrameType.HANDSHAKE)
        return data

    def send_messages(self, messages: Sequence[Message]) -> bytes:
        """One MESSAGES frame holding ``messages`` (normally one tick's batch to this peer)."""
        most = self.limits.max_messages_per_frame
        if len(messages) > most:
            raise ValueError(f"{len(messages)} messages in one frame, limit {most}: send fewer per frame")
        data = self._frame(FrameType.MESSAGES, encode_batch(messages))
        self._send(FrameType.MESSAGES)
        return data

    def close(self, reason: str) -> bytes:
        """A close frame telling the peer why; closing again sends nothing."""
        if self.our_state is State.CLOSED:
            return b""
        self._send(FrameType.CLOSE)
        return frame(FrameType.CLOSE, pack_close(reason))

    def _frame(self, frame_type: FrameType, payload: bytes) -> bytes:
        if len(payload) + 1 > self.limits.max_frame_bytes:
            raise ValueError(f"{frame_type.name} frame of {len(payload) + 1} bytes exceeds the "
                             f"limit of {self.limits.max_frame_bytes}")
        return frame(frame_type, payload)

    def _send(self, frame_type: FrameType) -> None:
        try:
            self._state.process(self.our_role, frame_type)
        except StateError as exc:
            raise RuntimeError(f"cannot send {frame_type.name} now: {exc}") from None
