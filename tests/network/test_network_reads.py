"""How the server cuts what it reads: several frames per read, frames split across reads."""

from __future__ import annotations

import pytest
from net_support import NetSay, Server
from test_network_bad_clients import welcomed_client

from engine.modules.network import ClientDisconnected


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


def texts(server: Server) -> list[str]:
    return [m.text for m in server.received(NetSay)]


def test_several_frames_in_one_read_arrive_in_order_and_are_counted(server):
    client, conn = welcomed_client(server)
    frames_before = server.net.frames_in
    client.send_raw(b"".join(client.conn.send_messages([NetSay(0, 0, f"m{i}")]) for i in range(3)))

    assert server.tick_until(lambda: len(texts(server)) == 3)
    assert ["m0", "m1", "m2"] == texts(server)
    assert 3 == server.net.frames_in - frames_before
    assert all(conn == m.frm for m in server.received(NetSay))


def test_a_frame_split_across_reads_arrives_once_whole(server):
    client, _ = welcomed_client(server)
    first = client.conn.send_messages([NetSay(0, 0, "first")])
    second = client.conn.send_messages([NetSay(0, 0, "second")])
    client.send_raw(first + second[:6])
    assert server.tick_until(lambda: len(texts(server)) == 1)
    server.tick(3)
    assert ["first"] == texts(server)

    client.send_raw(second[6:])
    assert server.tick_until(lambda: len(texts(server)) == 2)
    assert ["first", "second"] == texts(server)


def test_messages_before_a_close_in_the_same_read_are_delivered_first(server):
    client, conn = welcomed_client(server)
    client.send_raw(client.conn.send_messages([NetSay(0, 0, "bye soon")]) + client.conn.close("done"))

    assert server.tick_until(lambda: bool(server.received(ClientDisconnected)))
    assert ["bye soon"] == texts(server)
    [gone] = server.received(ClientDisconnected)
    assert (conn, "client closed: done") == (gone.conn, gone.reason)
    said = server.logic.received.index(server.received(NetSay)[0])
    assert said < server.logic.received.index(gone)
