"""The sans-IO client protocol object: bytes in, events out; messages in, bytes out."""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Sequence
from typing import Literal

import msgpack

from engine.codec.binary import DecodeError, decode_batch, encode_batch, encode_frames, frames_decoder
from engine.messages import REGISTRY, Message, MessageRegistry, with_frm
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
    HEADER,
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
from engine.protocol._state import FLOWING, ConnectionState, FrameType, Role, State, StateError

_WINDOW_SECONDS = 1.0
_HANDSHAKE, _MESSAGES, _CLOSE = int(FrameType.HANDSHAKE), int(FrameType.MESSAGES), int(FrameType.CLOSE)
_FRAME_TYPES = frozenset(int(t) for t in FrameType)
_header = HEADER.pack
_length_from = struct.Struct(">I").unpack_from
_unpackb = msgpack.unpackb

class Connection:
    """One end of a client connection, with no socket and no clock.

    Feed it what the socket read with ``receive_data(data, now=...)`` (``b""``
    at end of file), then call ``next_event()`` until it returns
    ``NEED_DATA``. ``send_handshake``, ``send_messages`` and ``close`` return
    the bytes to write. A peer that breaks the protocol makes ``next_event``
    raise :class:`ProtocolError`; answer with ``close(error.reason)`` and drop
    the socket. ``now`` is any monotonic time in seconds: it is only used for
    the frames-per-second limit, so tests pass whatever they like.

    A server reading thousands of peers a tick can use ``receive_batches``
    instead: the same checks, without an event object per frame (see there).
    """

    # Slots: the network module touches thousands of these per tick, and a slot read is one
    # cache line where an instance dict costs several.
    __slots__ = ("our_role", "their_role", "_limits", "_max_frame_bytes", "_max_messages",
                 "_max_rate", "registry", "_frames_decoder", "version", "_state", "_buffer",
                 "_frames", "_arrivals", "_broken", "_eof", "_error", "_closed")

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
        self._frames_decoder = frames_decoder(registry)  # None without the C core
        self.version = version
        self._state = ConnectionState()
        self._buffer = bytearray()
        self._frames: deque[tuple[int, bytes] | ProtocolError] = deque()
        self._arrivals: deque[float] = deque()  # times of the last frames, for the rate limit
        self._broken = False  # a framing error or a CLOSE is queued: read nothing more
        self._eof = False
        self._error: ProtocolError | None = None
        self._closed: ConnectionClosed | None = None

    @property
    def limits(self) -> Limits:
        return self._limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        self._limits = limits
        # read on every frame: plain attributes, not three attrs lookups
        self._max_frame_bytes = limits.max_frame_bytes
        self._max_messages = limits.max_messages_per_frame
        self._max_rate = limits.max_frames_per_second

    # -- state -----------------------------------------------------------------

    @property
    def our_state(self) -> State:
        return self._state.state(self.our_role)

    @property
    def their_state(self) -> State:
        return self._state.state(self.their_role)

    @property
    def events_pending(self) -> bool:
        """Whether ``next_event`` has something other than NEED_DATA to say."""
        return bool(self._frames) or self._eof or self._error is not None or self._closed is not None

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

    def receive_batches(self, data: bytes, now: float, *, frm: int | None = None) -> list[list[Message]]:
        """``receive_data``, then the batches of the MESSAGES frames now first in line.

        Exactly what ``next_event`` would return as ``MessagesReceived``
        events, in order, with the same checks, but without an event object
        per frame. It stops before the first other event (a handshake, a
        close, a protocol error, end of file): when ``events_pending`` is
        true, ``next_event`` has it, so it never raises. With ``frm``, every
        message's ``frm`` is replaced by it: a server stamping the Guid of the
        client it read them from.

        The usual read (both sides open, nothing buffered, whole MESSAGES
        frames) is decoded straight from ``data`` in one call of the C core
        (:func:`engine.codec.binary.decode_frames`), which stops before
        anything it cannot prove; the rest takes the careful path.
        """
        if (self._state.pair != FLOWING or self._buffer or self._frames or self._broken
                or self._eof or not data):
            self.receive_data(data, now=now)
            return self._stamped(self._drain_batches(), frm)
        out: list[list[Message]] = []
        pos = 0
        decoder = self._frames_decoder
        if decoder is not None and type(data) is bytes:
            arrivals = self._arrivals
            while arrivals and now - arrivals[0] >= _WINDOW_SECONDS:
                arrivals.popleft()  # what _admit would pop when the window is full
            out, pos = decoder(data, 0, _MESSAGES, self._max_frame_bytes, self._max_messages,
                               self._max_rate - len(arrivals), frm)
            if len(out) == 1:
                arrivals.append(now)
            else:
                arrivals.extend([now] * len(out))
        if pos < len(data):
            self.receive_data(data[pos:] if pos else data, now=now)
            out += self._stamped(self._drain_batches(), frm)
        return out

    @staticmethod
    def _stamped(batches: list[list[Message]], frm: int | None) -> list[list[Message]]:
        if frm is None or not batches:
            return batches
        return [with_frm(batch, frm) for batch in batches]

    def _drain_batches(self) -> list[list[Message]]:
        """Pop and decode the MESSAGES frames at the head of the queue; leave the rest."""
        out = []
        frames = self._frames
        while frames and self._error is None and self._closed is None:
            item = frames[0]
            if item.__class__ is not tuple or item[0] != _MESSAGES:  # type: ignore[index]
                break
            frames.popleft()
            try:
                out.append(self._messages(item[1]))  # type: ignore[index]
            except ProtocolError as exc:
                frames.appendleft(exc)  # next_event raises it and stops the peer's machine
                break
        return out

    def _cut_frames(self, now: float) -> None:
        buffer = self._buffer
        with memoryview(buffer) as view:  # payloads copied once; released before the buffer changes
            pos, error = self._cut(buffer, view, now)
        if error is not None:
            self._break(error)
        elif self._broken:  # a CLOSE came: ignore what follows
            buffer.clear()
        else:
            del buffer[:pos]

    def _cut(self, buffer: bytearray, view: memoryview, now: float) -> tuple[int, str | None]:
        """Queue the whole frames in ``buffer``: (bytes used, the framing error if any)."""
        most_bytes = self._max_frame_bytes
        pos, end = 0, len(buffer)
        while end - pos >= LENGTH_SIZE:
            length = _length_from(buffer, pos)[0]
            if length == 0:
                return pos, "bad frame: length 0 (a frame holds at least its type byte)"
            if length > most_bytes:
                return pos, f"frame too large: {length} bytes, limit {most_bytes}"
            if end - pos < LENGTH_SIZE + length:
                break
            type_byte = buffer[pos + LENGTH_SIZE]
            payload = bytes(view[pos + HEADER_SIZE : pos + LENGTH_SIZE + length])
            pos += LENGTH_SIZE + length
            if type_byte not in _FRAME_TYPES:
                return pos, f"bad frame: unknown frame type 0x{type_byte:02x}"
            if type_byte != _CLOSE and not self._admit(now):
                return pos, f"too many frames: more than {self._max_rate} in one second"
            self._frames.append((type_byte, payload))
            if type_byte == _CLOSE:
                self._broken = True
                break
        return pos, None

    def _admit(self, now: float) -> bool:
        arrivals, most = self._arrivals, self._max_rate
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

    def _handle(self, frame_type: int, payload: bytes) -> Event:
        if frame_type == _MESSAGES:
            return MessagesReceived(self._messages(payload))
        self._peer_sends(frame_type)
        if frame_type == _HANDSHAKE:
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

    def _peer_sends(self, frame_type: int) -> None:
        try:
            self._state.process(self.their_role, frame_type)
        except StateError as exc:
            raise ProtocolError(f"unexpected {FrameType(frame_type).name} frame: {exc}") from None

    def _messages(self, payload: bytes) -> list[Message]:
        """The peer's MESSAGES frame: allowed now (one comparison while both sides are open), decoded."""
        if self._state.pair != FLOWING:
            self._peer_sends(_MESSAGES)
        return self._decode(payload)

    def _decode(self, payload: bytes) -> list[Message]:
        count, most = batch_length(payload), self._max_messages
        if count > most:
            raise ProtocolError(f"too many messages in one frame: {count}, limit {most}")
        try:  # one call for every size: the codec's C decoder (about 1 us) beats unpack + Python checks
            return decode_batch(payload, registry=self.registry,
                                max_bytes=self._max_frame_bytes, max_messages=most)
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
        most = self._max_messages
        if len(messages) > most:
            raise ValueError(f"{len(messages)} messages in one frame, limit {most}: send fewer per frame")
        payload = encode_batch(messages)
        length = len(payload) + 1
        if length > self._max_frame_bytes:
            raise ValueError(f"MESSAGES frame of {length} bytes exceeds the "
                             f"limit of {self._max_frame_bytes}")
        if self._state.pair != FLOWING:  # while both sides are open, MESSAGES change nothing
            self._send(FrameType.MESSAGES)
        return _header(length, _MESSAGES) + payload

    def close(self, reason: str) -> bytes:
        """A close frame telling the peer why; closing again sends nothing."""
        if self.our_state is State.CLOSED:
            return b""
        self._send(FrameType.CLOSE)
        return frame(FrameType.CLOSE, pack_close(reason))

    def _frame(self, frame_type: FrameType, payload: bytes) -> bytes:
        if len(payload) + 1 > self._max_frame_bytes:
            raise ValueError(f"{frame_type.name} frame of {len(payload) + 1} bytes exceeds the "
                             f"limit of {self._max_frame_bytes}")
        return frame(frame_type, payload)

    def _send(self, frame_type: FrameType) -> None:
        try:
            self._state.process(self.our_role, frame_type)
        except StateError as exc:
            raise RuntimeError(f"cannot send {frame_type.name} now: {exc}") from None


def open_messages_frames(batches: list[list[Message]], limits: Limits) -> list[bytes | None]:
    """What ``send_messages`` returns for each batch, on connections whose two sides are open.

    While both sides are open a MESSAGES frame changes no state, so a server
    framing one batch for each of thousands of such connections a tick can
    do it in one C call. None where the caller must call ``send_messages``
    itself: a batch over the limits or one the C encoder leaves to msgpack;
    ``send_messages`` then frames it or raises as usual.
    """
    return encode_frames(batches, frame_type=_MESSAGES, max_frame_bytes=limits.max_frame_bytes,
                         max_messages=limits.max_messages_per_frame)
