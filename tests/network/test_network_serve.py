"""The network module serving real loopback clients: handshake, Welcome, messages both ways."""

from __future__ import annotations

import time

import pytest
from net_support import NetAdmin, NetMove, NetSay, RawClient, Server

from engine.guid import make, node_of
from engine.modules.network import (
    BindClient,
    ClientConnected,
    ClientDisconnected,
    ClientFilter,
    Disconnect,
    NetworkModule,
    Welcome,
)
from engine.testing import Harness, Probe


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


def connect(server: Server, token: bytes | str | None = b"tok") -> tuple[RawClient, int]:
    """A handshaken client and its connection Guid (from Welcome)."""
    client = RawClient(server.port)
    client.handshake(token)

    def welcomed() -> bool:
        client.pump()
        return any(type(m) is Welcome for m in client.messages)

    assert server.tick_until(welcomed)
    welcome = next(m for m in client.messages if type(m) is Welcome)
    return client, welcome.conn


def test_handshake_welcome_and_client_connected(server):
    client, conn = connect(server, token=b"secret")

    assert client.open
    assert server.net.guid == client.messages[0].frm
    assert node_of(conn) == 2000
    [connected] = server.received(ClientConnected)
    assert (conn, b"secret") == (connected.conn, connected.token)
    assert connected.address.startswith("127.0.0.1:")
    assert [conn] == server.net.connections()


def test_str_token_arrives_as_utf8_bytes(server):
    connect(server, token="pässword")

    assert "pässword".encode() == server.received(ClientConnected)[0].token


def test_client_messages_arrive_stamped_with_the_connection_guid(server):
    client, conn = connect(server)
    # the client writes lies into to/frm: neither is believed
    client.send([NetMove(server.logic.guid, make(1, 0, 4), 1.5, 2.5), NetSay(0, 0, "hi")])

    assert server.tick_until(lambda: len(server.received(NetSay)) == 1)
    [move], [say] = server.received(NetMove), server.received(NetSay)
    assert (conn, 1.5, 2.5) == (move.frm, move.x, move.y)
    assert (conn, "hi") == (say.frm, say.text)


def test_one_frame_per_tick_holds_everything_queued_for_the_client(server):
    client, conn = connect(server)
    client.pump()
    frames_before = client.frames
    for i in range(5):
        server.send(NetSay(conn, server.logic.guid, f"line {i}"))
    server.tick()

    assert server.tick_until(lambda: (client.pump(), client.frames > frames_before)[1])
    server.tick(3)
    client.pump()
    assert frames_before + 1 == client.frames
    assert [f"line {i}" for i in range(5)] == [m.text for m in client.messages if type(m) is NetSay]


def test_messages_for_a_client_still_in_its_handshake_wait_and_follow_the_welcome(server):
    client = RawClient(server.port)
    assert server.tick_until(lambda: len(server.net._clients) == 1)
    [conn] = list(server.net._clients)
    server.send(NetSay(conn, server.logic.guid, "early"))
    server.tick(3)
    client.pump()
    assert (0, None) == (client.frames, client.error)  # nothing may come before the server's handshake
    client.handshake(b"tok")

    assert server.tick_until(lambda: (client.pump(), any(type(m) is NetSay for m in client.messages))[1])
    assert client.error is None
    assert [Welcome, NetSay] == [type(m) for m in client.messages]


def test_no_frame_in_a_tick_with_nothing_queued(server):
    client, _conn = connect(server)
    client.pump()
    frames = client.frames
    server.tick(5)
    client.pump()

    assert frames == client.frames


def test_bind_client_rewrites_frm_to_the_controlled_entity(server):
    client, conn = connect(server)
    avatar = make(2000, 77, 3)
    server.send(BindClient(conn, server.logic.guid, avatar))
    server.tick(2)
    client.send([NetMove(0, 0, 1.0, 1.0)])

    assert server.tick_until(lambda: bool(server.received(NetMove)))
    assert avatar == server.received(NetMove)[0].frm
    assert {conn: avatar} == server.net.controls


def test_filter_drops_a_type_clients_may_not_send(server):
    client, _conn = connect(server)
    client.send([NetAdmin(0, 0, "shutdown"), NetSay(0, 0, "after")])

    assert server.tick_until(lambda: bool(server.received(NetSay)))
    assert [] == server.received(NetAdmin)
    assert 1 == server.filter.dropped
    assert [_conn] == server.net.connections()  # a refused type is dropped, not a reason to close


def test_disconnect_sends_the_reason_and_reports_client_disconnected(server):
    client, conn = connect(server)
    server.send(Disconnect(conn, server.logic.guid, "kicked: cheating"))

    assert server.tick_until(lambda: (client.pump(), client.closed is not None)[1])
    assert "kicked: cheating" == client.closed.reason
    [gone] = server.received(ClientDisconnected)
    assert (conn, "kicked: cheating") == (gone.conn, gone.reason)
    assert [] == server.net.connections()


def test_client_close_frame_is_reported_with_its_reason(server):
    client, conn = connect(server)
    client.send_raw(client.conn.close("quit to desktop"))

    assert server.tick_until(lambda: bool(server.received(ClientDisconnected)))
    assert "client closed: quit to desktop" == server.received(ClientDisconnected)[0].reason


def test_messages_to_a_closed_connection_are_counted_not_raised(server):
    client, conn = connect(server)
    client.close()
    assert server.tick_until(lambda: not server.net.connections())
    server.send(NetSay(conn, server.logic.guid, "anyone?"))
    server.tick(2)

    assert 1 == server.net.undeliverable
    assert 0 == server.logic.errors + server.net.errors


def test_sockets_are_let_go_when_clients_go(server):
    clients = [connect(server)[0] for _ in range(3)]
    for c in clients:
        c.close()

    assert server.tick_until(lambda: server.net.status()["closing"] == 0 and not server.net.connections())
    assert 3 == len(server.received(ClientDisconnected))


def test_max_clients_refuses_with_server_full():
    server = Server(max_clients=1)
    try:
        connect(server)
        extra = RawClient(server.port)
        extra.handshake()

        assert server.tick_until(lambda: (extra.pump(), extra.closed is not None)[1])
        assert "server full" == extra.closed.reason
        assert 1 == server.net.refused
    finally:
        server.stop()


def test_stop_closes_clients_with_a_reason():
    server = Server()
    client, _conn = connect(server)
    server.stop()

    for _ in range(400):
        client.pump()
        if client.closed is not None:
            break
        time.sleep(0.005)
    assert "server shutting down" == client.closed.reason


def test_client_filter_from_type_ids_and_bad_entries():
    f = ClientFilter(allow=[41_700, NetSay])

    assert {41_700, 41_701} == set(f.allowed)
    with pytest.raises(ValueError):
        ClientFilter(allow=["move"])


def test_a_taken_port_fails_the_start_with_the_os_error(server):
    h = Harness(node_id=2001)
    h.add(NetworkModule("net", {"port": server.port, "deliver_to": "logic"}))
    h.add(Probe("logic"))
    h.connect("net", "logic")

    with pytest.raises(OSError):
        h.tick()
