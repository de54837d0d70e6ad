"""ClientLinkModule against a real NetworkModule: two engines in one process, real sockets."""

from __future__ import annotations

import socket
import time

import net_support
import pytest
from net_support import Echo, NetAdmin, NetSay, RawClient, tick_until

from engine.guid import make
from engine.modules.client_link import ClientLinkModule, LinkState
from engine.modules.network import (
    ClientConnected,
    ClientFilter,
    ConnectionLost,
    Disconnect,
    NetworkModule,
    Welcome,
)
from engine.testing import Harness, Probe

SERVER_NODE = 2000
CLIENT_NODE = 16_384


class World:
    """A server engine (network + echoing logic) and a client engine (game probe + link)."""

    def __init__(self, server_settings: dict | None = None, link_settings: dict | None = None,
                 port: int | None = None, client_tick_rate: float = 20.0):
        self.server = Harness(node_id=SERVER_NODE)
        settings = {"deliver_to": "logic", "io_thread": net_support.IO_THREAD, **(server_settings or {})}
        self.net = self.server.add(NetworkModule("net", settings))
        self.logic = self.server.add(Echo("logic"))
        self.server.connect("net", "logic", filters=[ClientFilter(allow=[NetSay])])
        self.server.connect("logic", "net")
        self.server.tick()
        self.client = Harness(node_id=CLIENT_NODE, tick_rate=client_tick_rate)
        self.game = self.client.add(Probe("game"))
        self.link = self.client.add(ClientLinkModule("link", {
            "port": self.net.port if port is None else port, "deliver_to": "game", "token": "tok",
            **(link_settings or {})}))
        self.client.connect("game", "link")
        self.client.connect("link", "game")
        self.client.engine.set_transport("link")

    def until(self, done) -> bool:
        return tick_until([self.client, self.server], done)

    def got(self, cls: type) -> list:
        return [m for m in self.game.received if type(m) is cls]

    def stop(self) -> None:
        self.client.stop()
        self.server.stop()


@pytest.fixture
def world():
    w = World()
    yield w
    w.stop()


def test_link_connects_and_learns_its_connection_guid(world):
    assert world.until(lambda: bool(world.got(Welcome)))

    assert LinkState.OPEN is world.link.link_state
    assert [world.link.conn] == world.net.connections()
    assert [world.link.conn] == [m.conn for m in world.got(Welcome)]
    assert [b"tok"] == [m.token for m in world.logic.heard if type(m) is ClientConnected]


def test_messages_both_ways(world):
    assert world.until(lambda: world.link.conn != 0)
    server_logic = make(SERVER_NODE, 0, world.logic.guid & 0xFFFFF)
    # the client addresses the server's logic; the link carries it since it is another node
    world.game.send(NetSay(server_logic, world.game.guid, "hello"))
    world.game.send(NetSay(server_logic, world.game.guid, "again"))

    assert world.until(lambda: len(world.got(NetSay)) == 2)
    assert ["echo hello", "echo again"] == [m.text for m in world.got(NetSay)]
    heard = [m for m in world.logic.heard if type(m) is NetSay]
    assert [world.link.conn, world.link.conn] == [m.frm for m in heard]


def test_bound_client_speaks_as_its_avatar(world):
    assert world.until(lambda: world.link.conn != 0)
    avatar = make(SERVER_NODE, 9, 1)
    world.logic.bind(world.link.conn, avatar)
    world.server.tick()
    world.game.send(NetSay(make(SERVER_NODE, 0, 5), world.game.guid, "as avatar"))
    world.game.send(NetAdmin(make(SERVER_NODE, 0, 5), world.game.guid, "op me"))

    assert world.until(lambda: any(type(m) is NetSay for m in world.logic.heard))
    assert [avatar] == [m.frm for m in world.logic.heard if type(m) is NetSay]
    assert [] == [m for m in world.logic.heard if type(m) is NetAdmin]
    assert world.until(lambda: bool(world.got(NetSay)))  # the reply to the avatar reached its client
    assert ["echo as avatar"] == [m.text for m in world.got(NetSay)]


def test_keepalives_keep_an_idle_link_open():
    w = World(server_settings={"idle_timeout": 2.0}, link_settings={"keepalive_interval": 0.5})
    try:
        assert w.until(lambda: w.link.conn != 0)
        frames = w.link.frames_out
        for _ in range(100):  # 5 s of fake time on both sides, nothing to say
            w.client.tick()
            w.server.tick()
            time.sleep(0.003)  # real time for the sockets: the server's I/O thread reads meanwhile

        assert w.link.frames_out - frames >= 9  # keepalives, every 0.5 s

        assert [w.link.conn] == w.net.connections()
        assert [] == w.got(ConnectionLost)
    finally:
        w.stop()


def test_kick_reports_connection_lost_with_the_reason(world):
    assert world.until(lambda: world.link.conn != 0)
    world.logic.send(Disconnect(world.link.conn, world.logic.guid, "banned"))

    assert world.until(lambda: bool(world.got(ConnectionLost)))
    assert ["server closed: banned"] == [m.reason for m in world.got(ConnectionLost)]
    assert LinkState.CLOSED is world.link.link_state


def test_server_gone_reports_connection_lost_once(world):
    assert world.until(lambda: world.link.conn != 0)
    world.server.stop()

    assert tick_until([world.client], lambda: bool(world.got(ConnectionLost)))
    world.client.tick(5)
    assert ["server closed: server shutting down"] == [m.reason for m in world.got(ConnectionLost)]


def test_nobody_listening():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # a port with nothing behind it
    w = World(port=port)
    try:
        assert tick_until([w.client], lambda: bool(w.got(ConnectionLost)))
        [lost] = w.got(ConnectionLost)
        assert lost.reason.startswith(f"cannot connect to 127.0.0.1:{port}")
        assert 0 == w.link.errors
    finally:
        w.stop()


class _BadServer:
    """A listening socket the test answers by hand."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.peer: socket.socket | None = None

    def accept(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.peer, _ = self.sock.accept()
        except BlockingIOError:
            return False
        return True

    def close(self) -> None:
        if self.peer is not None:
            self.peer.close()
        self.sock.close()


@pytest.mark.parametrize("answer, reason", [
    (b"\x00\x00\x00\x03\x09ab", "protocol error from the server: bad frame: unknown frame type 0x09"),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "protocol error from the server: frame too large"),
])
def test_a_bad_server_never_raises_out_of_tick(answer, reason):
    bad = _BadServer()
    w = World(port=bad.port)
    try:
        assert tick_until([w.client], bad.accept)
        bad.peer.sendall(answer)

        assert tick_until([w.client], lambda: bool(w.got(ConnectionLost)))
        [lost] = w.got(ConnectionLost)
        assert lost.reason.startswith(reason)
        assert 0 == w.link.errors
    finally:
        bad.close()
        w.stop()


def test_silent_server_times_out_the_handshake():
    bad = _BadServer()
    w = World(port=bad.port, link_settings={"connect_timeout": 1.0})
    try:
        assert tick_until([w.client], bad.accept)
        w.client.tick(25)

        [lost] = w.got(ConnectionLost)
        assert "no handshake from the server within 1 s" == lost.reason
    finally:
        bad.close()
        w.stop()


def test_raw_client_and_link_share_one_server(world):
    raw = RawClient(world.net.port)
    raw.handshake()
    assert world.until(lambda: world.link.conn != 0 and len(world.net.connections()) == 2)
    raw.close()

    assert world.until(lambda: len(world.net.connections()) == 1)
    assert [world.link.conn] == world.net.connections()


def test_a_fast_client_engine_stays_under_the_servers_frame_rate():
    w = World(client_tick_rate=400.0)
    try:
        assert w.until(lambda: w.link.conn != 0)
        frames = w.link.frames_out
        target = make(SERVER_NODE, 0, 5)
        for i in range(400):  # one fake second of client time, a message every tick
            w.game.send(NetSay(target, w.game.guid, str(i)))
            w.client.tick()
        sent = w.link.frames_out - frames

        assert 80 <= sent <= 91  # spaced 1.1/100 s apart: under the 100 frames/s limit
        assert w.until(lambda: sum(type(m) is NetSay for m in w.logic.heard) == 400)
        assert [w.link.conn] == w.net.connections()
    finally:
        w.stop()


def test_connect_again_after_a_kick(world):
    assert world.until(lambda: world.link.conn != 0)
    first = world.link.conn
    world.logic.send(Disconnect(first, world.logic.guid, "go away"))
    assert world.until(lambda: bool(world.got(ConnectionLost)))
    world.link.connect()

    assert world.until(lambda: world.link.conn not in (0, first))
    assert [world.link.conn] == world.net.connections()


def test_unknown_host_is_a_connection_lost_not_an_exception():
    w = World(link_settings={"host": "no-such-host.invalid"})
    try:
        w.client.tick(2)

        [lost] = w.got(ConnectionLost)
        assert lost.reason.startswith("cannot connect to no-such-host.invalid")
    finally:
        w.stop()


def test_a_client_that_fell_behind_reads_a_burst_of_frames_and_stays_connected(world):
    assert world.until(lambda: bool(world.got(Welcome)))
    conn = world.link.conn
    for i in range(150):  # a frame a server tick while the client does not read (a busy bot); 7.5 s
        world.logic.send(NetSay(conn, world.logic.guid, f"tick {i}"))
        world.server.tick()
    assert world.until(lambda: len(world.got(NetSay)) == 150)
    assert [] == world.got(ConnectionLost)
    assert LinkState.OPEN is world.link.link_state
