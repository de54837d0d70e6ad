"""ClientLinkModule: a client node's one TCP link to the server, polled inside the tick.

The client side twin of :class:`~engine.modules.network.NetworkModule`, and
the transport of a client node: every message a local module sends to a
Guid of another node is routed here and goes to the server in the one frame
this module writes per tick. What the server sends is handed to the local
module ``deliver_to`` whatever its ``to`` says. The socket is non-blocking
and the sans-IO :class:`~engine.protocol.Connection` does all framing.

- At start it connects to ``host:port`` and sends its handshake (with the
  ``token`` setting, if any); messages sent before the server accepted wait
  (up to ``max_queued``).
- The server's first message is ``Welcome``; its ``conn`` is kept in
  :attr:`conn` (the Welcome is delivered too).
- Frames are spaced at least 1.1 / ``max_frames_per_second`` apart, so an
  engine ticking faster than the server's frame limit batches several
  ticks into one frame instead of being disconnected.
- With nothing to send for ``keepalive_interval`` seconds it sends an empty
  MESSAGES frame, so the server does not take it for a half-open
  connection.
- When the server refuses or closes the connection, or it cannot be
  reached, ``deliver_to`` gets ``ConnectionLost(reason)``, once. A bad
  server never makes ``tick()`` raise.

::

    engine.add_module(Game("game"))
    engine.add_module(ClientLinkModule("link", {"host": "127.0.0.1", "port": 7000,
                                                "deliver_to": "game", "token": "s3cret"}))
    engine.connect("game", "link"); engine.connect("link", "game")
    engine.set_transport("link")

Settings: ``host`` (an address; a name is resolved once, blocking, at
connect), ``port``, ``deliver_to`` (required), ``token``,
``keepalive_interval`` (1 s), ``connect_timeout`` (5 s, to the server's
handshake), ``max_queued`` (10000 messages before the server accepts),
``send_buffer_limit`` (bytes, 4 MiB), ``socket_receive_buffer`` (SO_RCVBUF,
0 = the kernel's default) and the protocol limits ``max_frame_bytes``,
``max_messages_per_frame``, ``max_frames_per_second`` (what we send; the server's limit),
``max_inbound_frames_per_second`` (what the server may send, 100000: a client that fell
behind reads a burst).
"""

from __future__ import annotations

import contextlib
import enum
import errno
import math
import select
import socket
from collections.abc import Mapping
from typing import Any

import attrs

from engine.codec.binary import EncodeError
from engine.messages import REGISTRY, MessageRegistry
from engine.modules._module import Module
from engine.modules.network_messages import ConnectionLost, Welcome
from engine.pipes import PipeFullError
from engine.protocol import (
    NEED_DATA,
    Connection,
    HandshakeReceived,
    Limits,
    MessagesReceived,
    ProtocolError,
    Role,
)

__all__ = ["ClientLinkModule", "LinkState"]

_READ_CHUNK = 65536  # recv(n) allocates n bytes: above 128 KiB that is an mmap per call


class LinkState(enum.Enum):
    IDLE = "idle"  # not started
    CONNECTING = "connecting"  # TCP connect in progress
    HANDSHAKING = "handshaking"  # our handshake sent, the server's not yet seen
    OPEN = "open"
    CLOSED = "closed"


class ClientLinkModule(Module):
    """Connects a client node to a server's network module; see the module docstring."""

    kind = "client_link"

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0,
                 registry: MessageRegistry = REGISTRY):
        super().__init__(name, settings, run_level=run_level)
        s = self.settings
        self.host = str(s.get("host", "127.0.0.1"))
        self.port = int(s.get("port", 0))
        self.deliver_to = str(s.get("deliver_to", ""))
        if not self.deliver_to:
            raise ValueError("deliver_to: name the module that gets the server's messages")
        token = s.get("token")
        if token is not None and type(token) not in (bytes, str):
            raise ValueError("token must be a string or bytes")
        self.token: bytes | str | None = token
        self.keepalive_interval = float(s.get("keepalive_interval", 1.0))
        self.connect_timeout = float(s.get("connect_timeout", 5.0))
        self.max_queued = int(s.get("max_queued", 10_000))
        self.send_buffer_limit = int(s.get("send_buffer_limit", 4 << 20))
        self.socket_receive_buffer = int(s.get("socket_receive_buffer", 0))
        defaults = Limits()
        self.limits = Limits(
            max_frame_bytes=int(s.get("max_frame_bytes", defaults.max_frame_bytes)),
            max_messages_per_frame=int(s.get("max_messages_per_frame", defaults.max_messages_per_frame)),
            max_frames_per_second=int(s.get("max_frames_per_second", defaults.max_frames_per_second)),
        )
        self._min_interval = 1.1 / self.limits.max_frames_per_second
        self.max_inbound_frames_per_second = int(s.get("max_inbound_frames_per_second", 100_000))
        self.registry = registry
        self.link_state = LinkState.IDLE
        self.conn = 0
        """This client's connection Guid, from the server's Welcome (0 until then)."""
        self.close_reason = ""
        self.frames_in = 0
        self.frames_out = 0
        self.dropped = 0
        """Messages not sent: queued past ``max_queued``, or still queued when the link was lost."""
        self._sock: socket.socket | None = None
        self._poller: Any = None
        self._proto: Connection | None = None
        self._outbox: list[Any] = []
        self._outbuf = bytearray()
        self._started_at = 0.0
        self._last_sent = float("-inf")
        self._deliver_guid = 0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._deliver_guid = self.engine.module(self.deliver_to).guid
        if self.deliver_to not in self._outbound:
            raise self.engine.undeclared(self.name, self.deliver_to)
        self.connect()

    def stop(self) -> None:
        for pipe in self._inbound:  # modules later in the stack stopped first
            messages = pipe.drain(self.now_tick)
            if messages:
                self.receive(messages)
        if self.link_state is LinkState.OPEN:
            self._flush(self._now())
        self.close("client shutting down")

    def _now(self) -> float:
        return self.engine.clock.now()

    def connect(self) -> None:
        """Start connecting (done at start; call again after a ConnectionLost to retry)."""
        if self.link_state not in (LinkState.IDLE, LinkState.CLOSED):
            return
        # The frame-rate limit paces what we send; what the server sends is not held to it: a client
        # that fell behind (a busy bot process, a stalled window) reads a second's frames at once.
        inbound = attrs.evolve(self.limits, max_frames_per_second=self.max_inbound_frames_per_second)
        self._proto = Connection(Role.CLIENT, limits=inbound, registry=self.registry)
        self._started_at = self._now()
        self._last_sent = float("-inf")
        self.conn = 0
        self.close_reason = ""
        self.link_state = LinkState.CONNECTING
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        self._sock = sock
        self._poller = select.poll()
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.socket_receive_buffer:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.socket_receive_buffer)
            self._poller.register(sock.fileno(), select.POLLOUT)
            code = sock.connect_ex((self.host, self.port))
        except OSError as exc:  # an unknown host name, mostly
            self._lost(f"cannot connect to {self.host}:{self.port}: {exc}")
            return
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            self._lost(f"cannot connect to {self.host}:{self.port}: {errno.errorcode.get(code, code)}")

    def close(self, reason: str) -> None:
        """Leave: send the server a close frame with ``reason`` (best effort) and drop the socket."""
        if self.link_state in (LinkState.CLOSED, LinkState.IDLE) or self._proto is None:
            return
        if self.link_state is not LinkState.CONNECTING:
            with contextlib.suppress(RuntimeError):
                self._outbuf += self._proto.close(reason)
            self._write_buffer()
        self.close_reason = reason
        self._drop_socket()
        self.link_state = LinkState.CLOSED

    # -- for a loop that drives many links ------------------------------------------------

    def fileno(self) -> int:
        """The socket to wait on (-1: none): writable once connected, then readable."""
        return self._sock.fileno() if self._sock is not None else -1

    def next_due(self, *, queued: bool = False) -> float:
        """The clock time by which ``tick`` has work that no input brings (inf: none).

        A connect or handshake timing out, the next frame of what is queued
        (``queued``: also what waits in a pipe toward this module), paced by
        the server's frame limit, or else the keepalive.
        """
        state = self.link_state
        if state is LinkState.CLOSED or state is LinkState.IDLE:
            return math.inf
        if state is not LinkState.OPEN:
            return self._started_at + self.connect_timeout
        if queued or self._outbox:
            return self._last_sent + self._min_interval
        return self._last_sent + self.keepalive_interval

    # -- what local modules send to the server --------------------------------------------

    def receive(self, messages: list[Any]) -> None:
        if self.link_state is LinkState.CLOSED:
            self.dropped += len(messages)
            return
        room = self.max_queued - len(self._outbox)
        if len(messages) > room:
            self.dropped += len(messages) - max(room, 0)
            messages = messages[:max(room, 0)]
        self._outbox.extend(messages)

    # -- the tick ----------------------------------------------------------------------------

    def tick(self) -> None:
        state = self.link_state
        if state is LinkState.CLOSED or state is LinkState.IDLE:
            return
        now = self._now()
        try:
            events = self._poller.poll(0)
        except OSError as exc:
            self._lost(f"poll failed: {exc}")
            return
        if state is LinkState.CONNECTING:
            if events:
                self._connected()
            elif now - self._started_at > self.connect_timeout:
                self._lost(f"cannot connect to {self.host}:{self.port}: timed out")
            return
        if events:
            self._read(now)
        if self.link_state is LinkState.HANDSHAKING and now - self._started_at > self.connect_timeout:
            self._lost(f"no handshake from the server within {self.connect_timeout:g} s")
        if self.link_state is LinkState.OPEN:
            self._flush(now)
        if self._outbuf and self.link_state is not LinkState.CLOSED:
            self._write_buffer()

    def _connected(self) -> None:
        assert self._sock is not None and self._proto is not None
        code = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._lost(f"cannot connect to {self.host}:{self.port}: "
                       f"{errno.errorcode.get(code, code)}")
            return
        self._poller.modify(self._sock.fileno(), select.POLLIN)
        self.link_state = LinkState.HANDSHAKING
        self._outbuf += self._proto.send_handshake(self.token)
        self._write_buffer()

    def _read(self, now: float) -> None:
        sock, proto = self._sock, self._proto
        assert sock is not None and proto is not None
        while True:
            try:
                data = sock.recv(_READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                data = b""
                proto.receive_data(b"", now=now)
                self._events(f"connection lost: {exc.strerror or exc}")
                return
            proto.receive_data(data, now=now)
            if len(data) < _READ_CHUNK:
                break
        self._events(None)

    def _events(self, lost: str | None) -> None:
        proto = self._proto
        assert proto is not None
        while self.link_state is not LinkState.CLOSED:
            try:
                event = proto.next_event()
            except ProtocolError as exc:
                self._lost(f"protocol error from the server: {exc.reason}", tell_server=exc.reason)
                return
            if event is NEED_DATA:
                return
            kind = type(event)
            if kind is MessagesReceived:
                self.frames_in += 1
                self._deliver(event.messages)  # type: ignore[union-attr]
            elif kind is HandshakeReceived:
                self.link_state = LinkState.OPEN
            else:  # ConnectionClosed
                reason = event.reason  # type: ignore[union-attr]
                if lost is not None:
                    reason = lost
                elif event.clean:  # type: ignore[union-attr]
                    reason = f"server closed: {reason}"
                self._lost(reason)
                return

    def _deliver(self, messages: list[Any]) -> None:
        welcome = Welcome.type_id
        for m in messages:
            if m[0] == welcome:
                self.conn = m[3]
            try:
                self.send_to_module(self.deliver_to, m)
            except PipeFullError as exc:
                self.dropped += 1
                self.log.warning("message from the server dropped: %s", exc)

    def _flush(self, now: float) -> None:
        """One frame of what local modules sent this tick, or a keepalive when due."""
        assert self._proto is not None
        box = self._outbox
        since = now - self._last_sent
        if since < self._min_interval or (not box and since < self.keepalive_interval):
            return  # an engine ticking faster than the server's frame limit sends every few ticks
        most = self.limits.max_messages_per_frame
        batch, self._outbox = box[:most], box[most:]
        while True:
            try:
                data = self._proto.send_messages(batch)
                break
            except EncodeError as exc:
                self.log.error("%d messages not sent: %s", len(batch), exc)
                self.dropped += len(batch)
                return
            except ValueError as exc:  # over the frame size: send half now, the rest next tick
                if len(batch) <= 1:
                    self.log.error("%s not sent: %s", type(batch[0]).__name__, exc)
                    self.dropped += 1
                    return
                half = len(batch) // 2
                self._outbox[:0] = batch[half:]
                batch = batch[:half]
        self._last_sent = now
        self.frames_out += 1
        self._outbuf += data
        if len(self._outbuf) > self.send_buffer_limit:
            self._lost(f"send buffer overflow: {len(self._outbuf)} bytes unsent "
                       f"(the server is not reading)")

    def _write_buffer(self) -> None:
        sock = self._sock
        if sock is None or not self._outbuf:
            return
        try:
            sent = sock.send(self._outbuf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(f"connection lost: {exc.strerror or exc}")
            return
        del self._outbuf[:sent]

    def _lost(self, reason: str, tell_server: str | None = None) -> None:
        if self.link_state is LinkState.CLOSED:
            return
        self.link_state = LinkState.CLOSED
        if tell_server is not None and self._proto is not None:
            with contextlib.suppress(RuntimeError):
                self._outbuf += self._proto.close(tell_server)
            self._write_buffer()
        self.close_reason = reason
        self.dropped += len(self._outbox)
        self._outbox = []
        self._drop_socket()
        self.log.info("link to %s:%d lost: %s", self.host, self.port, reason)
        with contextlib.suppress(PipeFullError):
            self.send_to_module(self.deliver_to, ConnectionLost(self._deliver_guid, self.guid, reason))

    def _drop_socket(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError, KeyError, ValueError):
                self._poller.unregister(self._sock.fileno())
            self._sock.close()
            self._sock = None
        self._outbuf.clear()

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(link=self.link_state.value, server=f"{self.host}:{self.port}", conn=self.conn,
                   frames_in=self.frames_in, frames_out=self.frames_out, dropped=self.dropped,
                   close_reason=self.close_reason)
        return out
