"""Shared pieces for the network tests: messages, a server harness and a raw test client.

The server runs in a Harness (fake clock, ticked by hand); clients are real
loopback sockets. Waiting for the kernel is done by ticking with a short
bounded real pause (``tick_until``), never by asserting on speed.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from engine.guid import Guid
from engine.messages import Message
from engine.modules import Module
from engine.modules.network import BindClient, ClientFilter, NetworkModule
from engine.protocol import NEED_DATA, Connection, ConnectionClosed, Limits, ProtocolError, Role
from engine.testing import Harness, Probe


class NetMove(Message, type_id=41_700):
    """A message clients may send."""

    x: float
    y: float


class NetSay(Message, type_id=41_701):
    """Another message clients may send, and the server's chatter to them."""

    text: str


class NetAdmin(Message, type_id=41_702):
    """A message clients may not send."""

    command: str


WAIT = 5.0  # seconds of real time a test waits for sockets before it gives up

IO_THREAD = True
"""Which client I/O the servers of a test use; conftest.py runs every test with both."""


class Server:
    """A Harness with a network module delivering to a Probe named ``logic``."""

    def __init__(self, node_id: int = 2000, allow: tuple[type[Message], ...] = (NetMove, NetSay),
                 **settings: Any):
        self.harness = Harness(node_id=node_id)
        self.net: NetworkModule = self.harness.add(
            NetworkModule("net", {"port": 0, "deliver_to": "logic", "io_thread": IO_THREAD, **settings}))
        self.logic: Probe = self.harness.add(Probe("logic"))
        self.filter = ClientFilter(allow=allow)
        self.harness.connect("net", "logic", filters=[self.filter])
        self.harness.connect("logic", "net")
        self.harness.tick()  # starts the engine: the port is bound

    @property
    def port(self) -> int:
        return self.net.port

    def tick(self, n: int = 1) -> None:
        self.harness.tick(n)

    def tick_until(self, done: Callable[[], bool], wait: float = WAIT) -> bool:
        return tick_until([self.harness], done, wait)

    def send(self, message: Message) -> None:
        self.logic.send(message)

    def received(self, cls: type[Message]) -> list[Any]:
        return [m for m in self.logic.received if type(m) is cls]

    def stop(self) -> None:
        self.harness.stop()


def tick_until(harnesses: list[Harness], done: Callable[[], bool], wait: float = WAIT) -> bool:
    """Tick every harness until ``done()`` or ``wait`` real seconds passed; True if done."""
    deadline = time.monotonic() + wait
    while True:
        for h in harnesses:
            h.tick()
        if done():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)


class RawClient:
    """A test client on a real socket: a blocking-free Connection the test drives by hand."""

    def __init__(self, port: int, *, version: int = 1, rcvbuf: int = 0, limits: Limits | None = None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.conn = Connection(Role.CLIENT, limits=limits or Limits(max_frame_bytes=1 << 24,
                                                                    max_frames_per_second=1 << 30),
                               version=version)
        self.events: list[Any] = []
        self.messages: list[Any] = []
        self.frames = 0
        self.closed: ConnectionClosed | None = None
        self.error: str | None = None

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def handshake(self, token: bytes | str | None = b"tok") -> None:
        self.send_raw(self.conn.send_handshake(token))

    def send(self, messages: list[Message]) -> None:
        self.send_raw(self.conn.send_messages(messages))

    def pump(self) -> None:
        """Read what has arrived and collect events (never blocks)."""
        while self.closed is None and self.error is None:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            self.conn.receive_data(data, now=0.0)
            if not data:
                break
        while self.error is None:
            try:
                event = self.conn.next_event()
            except ProtocolError as exc:
                self.error = exc.reason
                return
            if event is NEED_DATA:
                return
            self.events.append(event)
            if type(event).__name__ == "MessagesReceived":
                self.frames += 1
                self.messages.extend(event.messages)
            elif isinstance(event, ConnectionClosed):
                self.closed = event
                return

    @property
    def open(self) -> bool:
        return any(type(e).__name__ == "HandshakeReceived" for e in self.events)

    def close(self) -> None:
        self.sock.close()


class Echo(Module):
    """Server logic for link tests: answers each NetSay to the connection it came through."""

    def __init__(self, name: str = "logic"):
        super().__init__(name)
        self.heard: list[Any] = []
        self.conn_of: dict[int, int] = {}  # controlled entity -> connection Guid

    def bind(self, conn: int, avatar: int) -> None:
        self.conn_of[avatar] = conn
        self.send(BindClient(Guid(conn), self.guid, Guid(avatar)))

    def receive(self, messages: list[Any]) -> None:
        for m in messages:
            self.heard.append(m)
            if type(m) is NetSay:
                to = self.conn_of.get(m.frm, m.frm)
                self.send(NetSay(Guid(to), self.guid, "echo " + m.text))
