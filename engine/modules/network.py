"""NetworkModule: the server's TCP edge for player clients, polled inside the tick.

One module serves every client, no thread per client. The sans-IO
:class:`~engine.protocol.Connection` does all framing; this module keeps
the rules and hands bytes to and from a *client I/O*
(``engine/modules/_client_io.py``): by default one native thread that
reads and writes every socket outside the GIL (``native/netio.c``), so the
system calls, most of the cost at thousands of clients, run beside the
tick; with ``io_thread = false`` (or where the native module is not
built) the same non-blocking reads and writes happen inside the tick.
Each tick it

1. accepts new connections (up to ``accept_per_tick``);
2. takes what every socket received since the last tick (bounded per
   client; end of file and socket errors come after a socket's bytes),
   hands it to the client's Connection (``receive_batches``: no event
   object per MESSAGES frame) and pushes each client message, with ``frm``
   stamped to the connection Guid, onto the pipe to ``deliver_to``;
3. queues one frame per client holding everything the node sent to that
   client's connection Guid this tick; what the kernel does not take waits
   in the client I/O, and a client whose unsent bytes pass
   ``send_buffer_limit`` (it stopped reading) is dropped with a reason;
4. closes clients that never finished their handshake or went silent
   (``handshake_timeout``, ``idle_timeout``; clients send an empty MESSAGES
   frame as keepalive).

A client that breaks any rule is closed with a logged reason (sent to it in
a close frame when possible) and nothing else is affected.

Connection Guids live in one ObjectSpace the module hosts, so anything on
the node reaches a client by sending to its Guid. ``BindClient`` and
``Disconnect`` sent to a connection Guid are for the module itself.

The pipe to ``deliver_to`` should carry a :class:`ClientFilter`: it drops
the message types a client may not send and rewrites ``frm`` from the
connection Guid to the entity the connection controls::

    engine.add_module(NetworkModule("net", {"port": 7000, "deliver_to": "logic"}))
    engine.add_module(logic)
    engine.connect("net", "logic", filters=[ClientFilter(allow=[Move, Say])])
    engine.connect("logic", "net")

Settings: ``host`` (127.0.0.1), ``port`` (0: ephemeral; the bound port is
``self.port`` after start), ``deliver_to`` (required), ``max_frame_bytes``,
``max_messages_per_frame``, ``max_frames_per_second`` (the protocol
limits), ``max_messages_per_tick`` (from one client), ``send_buffer_limit``
(bytes, 1 MiB), ``max_clients`` (10000), ``accept_per_tick`` (128),
``handshake_timeout`` (5 s), ``idle_timeout`` (10 s), ``close_linger``
(2 s to flush a close frame), ``socket_send_buffer`` (SO_SNDBUF, 0 = the
kernel's default), ``io_thread`` (true: the native I/O thread where it is
built; false: I/O inside the tick), ``hold_io`` (true: the I/O thread waits
while this module ticks, so the two never compete for one core; false lets
it run beside the tick, for a machine with cores to spare).
"""

from __future__ import annotations

import contextlib
import socket
from collections import deque
from collections.abc import Mapping
from typing import Any

from engine.codec.binary import EncodeError
from engine.guid import WellKnown, format_guid
from engine.messages import REGISTRY, MessageRegistry, with_frm
from engine.modules._client_io import InlineIO, ThreadedIO, client_io
from engine.modules._module import Module
from engine.modules.network_filter import ClientFilter
from engine.modules.network_messages import (
    BindClient,
    ClientConnected,
    ClientDisconnected,
    ConnectionLost,
    Disconnect,
    Welcome,
)
from engine.pipes import PipeFullError
from engine.protocol import (
    NEED_DATA,
    Connection,
    HandshakeReceived,
    Limits,
    MessagesReceived,
    ProtocolError,
    Role,
    open_messages_frames,
)

__all__ = [
    "BindClient",
    "ClientConnected",
    "ClientDisconnected",
    "ClientFilter",
    "ConnectionLost",
    "Disconnect",
    "NetworkModule",
    "Welcome",
]

_READ_SLACK = 65536  # bytes held per client between ticks: a whole frame plus this
_DRAIN_AT_STOP = 0.2  # seconds to let the close frames leave at shutdown
_SWEEP_INTERVAL = 0.25  # seconds between timeout sweeps
_RECENT_CLOSES = 256
_BIND = BindClient.type_id
_DISCONNECT = Disconnect.type_id


class _Client:
    """One accepted socket, its protocol object and its buffers."""

    __slots__ = ("guid", "sock", "fd", "conn", "address", "opened", "last_heard",
                 "open", "outbox", "closing", "deadline", "tick_messages",
                 "frames_in", "frames_out")

    def __init__(self, guid: int, sock: socket.socket, conn: Connection, address: str, now: float):
        self.guid = guid
        self.sock = sock
        self.fd = sock.fileno()
        self.conn = conn
        self.address = address
        self.opened = now
        self.last_heard = now
        self.open = False  # handshakes exchanged
        self.outbox: list[Any] = []  # messages queued this tick
        self.closing = False
        self.deadline = 0.0  # closing: when to give up on the peer
        self.tick_messages = 0
        self.frames_in = 0
        self.frames_out = 0


class NetworkModule(Module):
    """Accepts and serves player clients over TCP; see the module docstring."""

    kind = "network"
    well_known = int(WellKnown.NETWORK)

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0,
                 registry: MessageRegistry = REGISTRY):
        super().__init__(name, settings, run_level=run_level)
        s = self.settings
        self.host = str(s.get("host", "127.0.0.1"))
        self.port = int(s.get("port", 0))
        """The TCP port; after start, the one actually bound."""
        self.deliver_to = str(s.get("deliver_to", ""))
        if not self.deliver_to:
            raise ValueError("deliver_to: name the module that gets client messages")
        defaults = Limits()
        self.limits = Limits(
            max_frame_bytes=int(s.get("max_frame_bytes", defaults.max_frame_bytes)),
            max_messages_per_frame=int(s.get("max_messages_per_frame", defaults.max_messages_per_frame)),
            max_frames_per_second=int(s.get("max_frames_per_second", defaults.max_frames_per_second)),
        )
        self.max_messages_per_tick = int(s.get("max_messages_per_tick",
                                               self.limits.max_messages_per_frame))
        self.send_buffer_limit = int(s.get("send_buffer_limit", 1 << 20))
        self.max_clients = int(s.get("max_clients", 10_000))
        self.accept_per_tick = int(s.get("accept_per_tick", 128))
        self.handshake_timeout = float(s.get("handshake_timeout", 5.0))
        self.idle_timeout = float(s.get("idle_timeout", 10.0))
        self.close_linger = float(s.get("close_linger", 2.0))
        self.socket_send_buffer = int(s.get("socket_send_buffer", 0))
        self.io_thread = bool(s.get("io_thread", True))
        self.hold_io = bool(s.get("hold_io", True))
        self._read_cap = self.limits.max_frame_bytes + _READ_SLACK  # bytes held per client per tick
        for key in ("max_messages_per_tick", "send_buffer_limit", "max_clients", "accept_per_tick"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be at least 1")
        if not (self.handshake_timeout > 0 and self.idle_timeout > 0 and self.close_linger >= 0):
            raise ValueError("handshake_timeout and idle_timeout must be positive, close_linger >= 0")
        self.registry = registry
        self.controls: dict[int, int] = {}
        """Connection Guid -> the Guid it controls (from BindClient); the ClientFilter reads it."""
        self.recent_closes: deque[tuple[int, str, str]] = deque(maxlen=_RECENT_CLOSES)
        """(connection Guid, address, reason) of the latest closes, newest last."""
        self.frames_in = 0
        self.frames_out = 0
        self.messages_in = 0
        self.messages_out = 0
        self.undeliverable = 0
        """Messages for connection Guids that were already closed."""
        self.refused = 0
        """Connections refused because ``max_clients`` were connected."""
        self._listener: socket.socket | None = None
        self._io: ThreadedIO | InlineIO | None = None
        self._space = 0
        self._deliver_guid = 0
        self._clients: dict[int, _Client] = {}  # connection Guid -> live client
        self._by_fd: dict[int, _Client] = {}  # every socket we hold, closing ones included
        self._pending: list[_Client] = []  # clients with a non-empty outbox
        self._closing: set[_Client] = set()
        self._next_sweep = 0.0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        engine = self.engine
        self._deliver_guid = engine.module(self.deliver_to).guid
        if self.deliver_to not in self._outbound:
            raise engine.undeclared(self.name, self.deliver_to)
        bound = False
        for f in getattr(self._outbound[self.deliver_to], "_filters", ()):
            if isinstance(f, ClientFilter):
                f.bind(self)
                bound = True
        if not bound:
            self.log.warning("no ClientFilter on pipe %s->%s: clients may send any message type",
                             self.name, self.deliver_to)
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(1024)
        except OSError:
            listener.close()
            raise
        listener.setblocking(False)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._space = engine.guids.allocate_space()
        engine.host_space(self._space, self)
        self._io = client_io(self.io_thread, self._read_cap)
        self._next_sweep = self._now() + _SWEEP_INTERVAL
        self.log.info("node %d listening for clients on %s:%d (socket I/O %s)", self.node_id,
                      self.host, self.port, "on its own thread" if self._io.threaded else "in the tick")

    def stop(self) -> None:
        for pipe in self._inbound:  # later modules stopped first and may have queued farewells
            messages = pipe.drain(self.now_tick)
            if messages:
                self.receive(messages)
        if self._io is not None:
            self._flush_outboxes()
            for client in list(self._clients.values()):
                self._close(client, "server shutting down", self._now())
            self._io.drain(_DRAIN_AT_STOP)
            for client in list(self._by_fd.values()):
                self._finish(client)
            self._io.close()
            self._io = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._space:
            self.engine.unhost_space(self._space)
            self.engine.guids.free_space(self._space)
            self._space = 0

    def _now(self) -> float:
        return self.engine.clock.now()

    # -- what the node sends to clients -----------------------------------------------------

    def receive(self, messages: list[Any]) -> None:
        clients = self._clients
        pending = self._pending
        for m in messages:
            client = clients.get(m[1])
            if client is None:
                if m[1] == self.guid:
                    super().receive([m])
                else:
                    self.undeliverable += 1
                continue
            tid = m[0]
            if tid == _BIND:
                self.controls[client.guid] = m[3]
            elif tid == _DISCONNECT:
                self._close(client, str(m[3]), self._now())
            else:
                box = client.outbox
                if not box:
                    pending.append(client)
                box.append(m)

    # -- the tick ----------------------------------------------------------------------------

    def tick(self) -> None:
        if not self.hold_io:
            self._tick()
            return
        self._io.hold(True)  # type: ignore[union-attr]  # the I/O thread waits for the tick (hold_io)
        try:
            self._tick()
        finally:
            self._io.hold(False)  # type: ignore[union-attr]

    def _tick(self) -> None:
        now = self._now()
        self._accept(now)
        received, lost = self._io.collect()  # type: ignore[union-attr]
        if received:
            self._read_ready(received, now)
        if lost:
            self._read_lost(lost, now)
        if self._pending:
            self._flush_outboxes()
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP_INTERVAL
            self._sweep(now)

    def _accept(self, now: float) -> None:
        listener = self._listener
        if listener is None:
            return
        for _ in range(self.accept_per_tick):
            try:
                sock, addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors, mostly: try again next tick
                self.log.warning("accept failed: %s", exc)
                return
            address = f"{addr[0]}:{addr[1]}"
            sock.setblocking(False)
            if len(self._clients) >= self.max_clients:
                self.refused += 1
                self.log.info("refused %s: server full (%d clients)", address, self.max_clients)
                _try_send(sock, Connection(Role.SERVER).close("server full"))
                sock.close()
                continue
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.socket_send_buffer:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.socket_send_buffer)
            guid = self.engine.guids.allocate_object(self._space)
            conn = Connection(Role.SERVER, limits=self.limits, registry=self.registry)
            client = _Client(guid, sock, conn, address, now)
            self._clients[guid] = client
            self._by_fd[client.fd] = client
            self._io.add(sock)  # type: ignore[union-attr]

    def _read_ready(self, received: list[tuple[int, bytes]], now: float) -> None:
        """Hand each client's bytes to its protocol. The usual case is inline: one MESSAGES frame.

        The usual case's messages are gathered and pushed through the client
        filter together, once per tick, not once per client; before any
        other path delivers for a client, what is gathered goes first, so
        the pipe keeps the order the bytes came in.
        """
        by_fd, limit = self._by_fd, self.max_messages_per_tick
        gathered: list[Any] = []
        frames = 0
        for fd, data in received:
            client = by_fd.get(fd)
            if client is None or client.closing:
                continue  # what a closing client still sends is discarded; its end of file frees it
            client.last_heard = now
            conn = client.conn
            batches = conn.receive_batches(data, now, frm=client.guid)  # stamped with the client's Guid
            if len(batches) == 1 and len(batch := batches[0]) <= limit and not conn.events_pending:
                client.tick_messages = len(batch)  # a socket is collected once per tick
                client.frames_in += 1
                frames += 1
                gathered += batch
                continue
            if gathered:
                self._push_client_messages(gathered)
                gathered = []
            client.tick_messages = 0
            if batches and not self._deliver(client, batches, now):
                continue
            if conn.events_pending:
                self._events(client, now)
        if gathered:
            self._push_client_messages(gathered)
        self.frames_in += frames

    def _push_client_messages(self, messages: list[Any], client: _Client | None = None) -> None:
        """Push client messages toward ``deliver_to`` (``client``: whose they all are, for the log)."""
        self.messages_in += len(messages)
        try:
            self._outbound[self.deliver_to].push_many(messages)
        except PipeFullError as exc:
            whose = f"client {format_guid(client.guid)}" if client is not None else "client"
            self.log.warning("%s messages dropped: %s", whose, exc)

    def _read_lost(self, lost: list[tuple[int, str | None]], now: float) -> None:
        """Sockets at end of file (reason None: the protocol says what that means) or failed."""
        for fd, reason in lost:
            client = self._by_fd.get(fd)
            if client is None:
                continue
            if client.closing:
                self._finish(client)
            elif reason is not None:
                self._lose(client, f"connection lost: {reason}", now)
            else:
                client.conn.receive_data(b"", now=now)
                self._events(client, now)
                if not client.closing:  # the protocol had nothing to say: still, it is gone
                    self._lose(client, "connection lost: closed by the client", now)

    def _events(self, client: _Client, now: float) -> None:
        conn = client.conn
        while True:
            try:
                event = conn.next_event()
            except ProtocolError as exc:
                self._close(client, exc.reason, now)
                return
            if event is NEED_DATA:
                return
            kind = type(event)
            if kind is MessagesReceived:
                if not self._deliver(client, [with_frm(event.messages, client.guid)], now):
                    return
            elif kind is HandshakeReceived:
                self._welcome(client, event.token)
            else:  # ConnectionClosed
                reason = (f"client closed: {event.reason}" if event.clean  # type: ignore[union-attr]
                          else event.reason)  # type: ignore[union-attr]
                self._lose(client, reason, now)
                return

    def _deliver(self, client: _Client, batches: list[list[Any]], now: float) -> bool:
        """Push frames' messages (stamped with the client's Guid); False if the client broke the tick's limit.

        Frames before the one that passes ``max_messages_per_tick`` are
        delivered; that one and the rest are not.
        """
        limit = self.max_messages_per_tick
        count = client.tick_messages
        for messages in batches:
            client.frames_in += 1
            self.frames_in += 1
            count += len(messages)
            if count > limit:
                client.tick_messages = count
                self._close(client, f"too many messages in one tick: {count}, limit {limit}", now)
                return False
            if not messages:
                continue  # a keepalive
            self._push_client_messages(messages, client)
        client.tick_messages = count
        return True

    def _welcome(self, client: _Client, token: bytes | str | None) -> None:
        self._write(client, client.conn.send_handshake())
        client.open = True
        if not client.outbox:
            self._pending.append(client)
        client.outbox.insert(0, Welcome(client.guid, self.guid, client.guid))
        if isinstance(token, str):
            token = token.encode()
        self._announce(ClientConnected(self._deliver_guid, self.guid, client.guid, token,
                                       client.address))

    def _announce(self, message: Any) -> None:
        try:
            self.send_to_module(self.deliver_to, message)
        except PipeFullError as exc:
            self.log.warning("could not announce %s: %s", type(message).__name__, exc)

    # -- writing -------------------------------------------------------------------------------

    def _flush_outboxes(self) -> None:
        """One frame per client with everything queued for it; what does not fit waits a tick."""
        pending, self._pending = self._pending, []
        most = self.limits.max_messages_per_frame
        frames = messages = 0
        fds: list[int] = []
        datas: list[bytes] = []
        clients: list[_Client] = []
        batches: list[list[Any]] = []
        for client in pending:
            box = client.outbox
            if client.closing or not box:
                continue
            if not client.open:  # nothing goes before its Welcome: it waits for the handshake
                self._pending.append(client)
                continue
            if len(box) > most:
                batch, client.outbox = box[:most], box[most:]
                self._pending.append(client)
            else:
                batch, client.outbox = box, []
            clients.append(client)
            batches.append(batch)
        # Each of these clients is open and not closing, so both sides of its connection
        # are open: the frames come in one call, not a send_messages each.
        for client, batch, data in zip(clients, batches, open_messages_frames(batches, self.limits),
                                       strict=True):
            if data is None:
                try:
                    data = client.conn.send_messages(batch)
                except ValueError:  # too big for one frame, or unencodable: the careful way
                    data = self._encode(client, batch)
                    if client.outbox and client not in self._pending:
                        self._pending.append(client)
                    if not data:
                        continue
            client.frames_out += 1
            frames += 1
            messages += len(batch)
            fds.append(client.fd)
            datas.append(data)
        self.frames_out += frames
        self.messages_out += messages
        if fds:
            for fd, unsent in self._io.write(fds, datas, self.send_buffer_limit):  # type: ignore[union-attr]
                self._overflow(self._by_fd[fd], unsent)

    def _encode(self, client: _Client, batch: list[Any]) -> bytes:
        """One MESSAGES frame; a batch over the frame size keeps its second half for later."""
        while True:
            try:
                return client.conn.send_messages(batch)
            except EncodeError as exc:
                self.log.error("client %s: %d messages not sent: %s", format_guid(client.guid),
                               len(batch), exc)
                return b""
            except ValueError as exc:  # over max_frame_bytes
                if len(batch) == 1:
                    self.log.error("client %s: %s not sent: %s", format_guid(client.guid),
                                   type(batch[0]).__name__, exc)
                    return b""
                half = len(batch) // 2
                client.outbox[:0] = batch[half:]
                batch = batch[:half]

    def _write(self, client: _Client, data: bytes) -> None:
        """One frame outside the tick's batch (a handshake, a close)."""
        for _fd, unsent in self._io.write([client.fd], [data], self.send_buffer_limit):  # type: ignore[union-attr]
            self._overflow(client, unsent)

    def _overflow(self, client: _Client, unsent: int) -> None:
        if client.fd not in self._by_fd:
            return
        reason = (f"send buffer overflow: {unsent} bytes unsent, limit "
                  f"{self.send_buffer_limit} (the client is not reading)")
        self._lose(client, reason, self._now())

    # -- closing -------------------------------------------------------------------------------

    def _close(self, client: _Client, reason: str, now: float) -> None:
        """Close with a reason: send it a close frame, stop reading, let go after the linger."""
        if client.closing:
            return
        self._retire(client, reason)
        client.deadline = now + self.close_linger
        try:
            data = client.conn.close(reason)
        except RuntimeError:
            data = b""
        if data:
            self._write(client, data)
        if client.fd in self._by_fd:
            self._io.shutdown(client.fd)  # type: ignore[union-attr]  # after the close frame

    def _lose(self, client: _Client, reason: str, now: float) -> None:
        """The socket is gone or useless: close it at once."""
        self._retire(client, reason)
        self._finish(client)

    def _retire(self, client: _Client, reason: str) -> None:
        if client.closing:
            return
        client.closing = True
        client.outbox = []
        self._closing.add(client)
        if self._clients.pop(client.guid, None) is not None:
            self.controls.pop(client.guid, None)
            self.recent_closes.append((client.guid, client.address, reason))
            self.log.info("client %s (%s) closed: %s", format_guid(client.guid), client.address, reason)
            if client.open:
                self._announce(ClientDisconnected(self._deliver_guid, self.guid, client.guid, reason))

    def _finish(self, client: _Client) -> None:
        if self._by_fd.pop(client.fd, None) is None:
            return
        self._retire(client, "closed")
        self._io.remove(client.fd)  # type: ignore[union-attr]  # first: the I/O thread lets go of it
        client.sock.close()
        self._closing.discard(client)
        with contextlib.suppress(KeyError, ValueError):
            self.engine.guids.free_object(client.guid)

    def _sweep(self, now: float) -> None:
        for client in list(self._closing):
            if now >= client.deadline:
                self._finish(client)
        for client in list(self._clients.values()):
            if not client.open:
                if now - client.opened > self.handshake_timeout:
                    self._close(client, f"no handshake within {self.handshake_timeout:g} s", now)
            elif now - client.last_heard > self.idle_timeout:
                self._close(client, f"idle timeout: nothing received for {self.idle_timeout:g} s", now)

    # -- reading -------------------------------------------------------------------------------

    @property
    def client_count(self) -> int:
        """Clients connected now (handshaking ones included, closing ones not)."""
        return len(self._clients)

    def connections(self) -> list[int]:
        """Connection Guids of the clients connected now."""
        return list(self._clients)

    def status(self) -> dict[str, Any]:
        out = super().status()
        io = self._io.stats() if self._io is not None else {}
        out.update(address=f"{self.host}:{self.port}", clients=len(self._clients),
                   closing=len(self._closing), stalled=io.get("stalled", 0),
                   unsent_bytes=io.get("unsent_bytes", 0),
                   io_thread=bool(self._io is not None and self._io.threaded),
                   frames_in=self.frames_in, frames_out=self.frames_out,
                   messages_in=self.messages_in, messages_out=self.messages_out,
                   undeliverable=self.undeliverable, refused=self.refused)
        return out


def _try_send(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.send(data)
