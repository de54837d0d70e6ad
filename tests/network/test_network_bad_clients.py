"""Misbehaving clients are closed with a logged reason; the others never notice."""

from __future__ import annotations

import logging
import struct

import pytest
from net_support import NetSay, RawClient, Server

from engine.codec.binary import encode_batch
from engine.modules.network import ClientDisconnected, Welcome


def welcomed_client(server: Server) -> tuple[RawClient, int]:
    client = RawClient(server.port)
    client.handshake()

    def done() -> bool:
        client.pump()
        return any(type(m) is Welcome for m in client.messages)

    assert server.tick_until(done)
    return client, next(m.conn for m in client.messages if type(m) is Welcome)


def still_works(server: Server, client: RawClient, conn: int) -> None:
    """The bystander can still talk both ways."""
    before = len(server.received(NetSay))
    client.send([NetSay(0, 0, "still here")])
    server.send(NetSay(conn, server.logic.guid, "and you?"))

    def done() -> bool:
        client.pump()
        return (len(server.received(NetSay)) > before
                and any(getattr(m, "text", "") == "and you?" for m in client.messages))

    assert server.tick_until(done)
    assert conn in server.net.connections()


def keepalive(server: Server, client: RawClient) -> None:
    """Send an empty MESSAGES frame and tick until the server has read it."""
    n = server.net.frames_in
    client.send_raw(client.conn.send_messages([]))
    assert server.tick_until(lambda: server.net.frames_in > n)


def closed_reason(server: Server, victim: RawClient) -> str:
    """Tick until the server closed ``victim``; the reason it logged and recorded."""
    n = len(server.net.recent_closes)
    assert server.tick_until(lambda: len(server.net.recent_closes) > n)
    return server.net.recent_closes[-1][2]


@pytest.fixture
def server():
    s = Server(max_frame_bytes=4096, max_frames_per_second=50, max_messages_per_tick=20,
               handshake_timeout=1.0, idle_timeout=2.0, close_linger=0.5)
    yield s
    s.stop()


def test_garbage_bytes(server, caplog):
    bystander, conn = welcomed_client(server)
    bad = RawClient(server.port)
    caplog.set_level(logging.INFO, logger="spenefett")
    bad.send_raw(b"\x00\x00\x00\x05\x7fGARBAGE-GARBAGE")

    reason = closed_reason(server, bad)
    assert reason.startswith("bad frame: unknown frame type 0x7f")
    assert reason in caplog.text
    assert server.tick_until(lambda: (bad.pump(), bad.closed is not None)[1])
    assert reason == bad.closed.reason
    still_works(server, bystander, conn)


def test_oversize_frame_is_refused_on_its_length_prefix(server):
    bystander, conn = welcomed_client(server)
    bad, bad_conn = welcomed_client(server)
    bad.send_raw(struct.pack(">IB", 1_000_000, 2))  # announces a 1 MB frame, sends no body

    assert "frame too large: 1000000 bytes, limit 4096" == closed_reason(server, bad)
    gone = [m for m in server.received(ClientDisconnected) if m.conn == bad_conn]
    assert ["frame too large: 1000000 bytes, limit 4096"] == [m.reason for m in gone]
    still_works(server, bystander, conn)


def test_wrong_handshake_version(server):
    bystander, conn = welcomed_client(server)
    bad = RawClient(server.port, version=2)
    bad.handshake()

    assert "protocol version mismatch: peer speaks 2, this server speaks 1" == closed_reason(server, bad)
    assert server.tick_until(lambda: (bad.pump(), bad.closed is not None)[1])
    assert not bad.open
    assert [] == [m for m in server.received(ClientDisconnected)]  # never connected: nothing to report
    still_works(server, bystander, conn)


def test_messages_before_the_handshake(server):
    bad = RawClient(server.port)
    payload = encode_batch([NetSay(0, 0, "me first")])
    bad.send_raw(struct.pack(">IB", len(payload) + 1, 2) + payload)  # a MESSAGES frame, no handshake

    assert closed_reason(server, bad).startswith("unexpected MESSAGES frame")
    assert [] == server.received(NetSay)


def test_flood_of_frames(server):
    bystander, conn = welcomed_client(server)
    bad, _ = welcomed_client(server)
    bad.send_raw(b"".join(bad.conn.send_messages([]) for _ in range(200)))

    assert "too many frames: more than 50 in one second" == closed_reason(server, bad)
    still_works(server, bystander, conn)


def test_too_many_messages_in_one_tick(server):
    bystander, conn = welcomed_client(server)
    bad, _ = welcomed_client(server)
    bad.send_raw(b"".join(bad.conn.send_messages([NetSay(0, 0, "spam")] * 15) for _ in range(2)))

    assert "too many messages in one tick: 30, limit 20" == closed_reason(server, bad)
    assert 15 == len(server.received(NetSay))  # the first frame was within the limit
    still_works(server, bystander, conn)


def test_silent_connection_without_handshake(server):
    bystander, conn = welcomed_client(server)
    _silent = RawClient(server.port)
    server.tick(2)
    server.harness.clock.advance(1.5)

    assert "no handshake within 1 s" == closed_reason(server, _silent)
    still_works(server, bystander, conn)


def test_half_open_connection_times_out(server):
    bystander, conn = welcomed_client(server)
    silent, silent_conn = welcomed_client(server)
    for _ in range(3):  # the bystander keeps talking, the other goes silent
        server.harness.clock.advance(0.9)
        keepalive(server, bystander)

    assert server.tick_until(lambda: silent_conn not in server.net.connections())
    reason = next(r for g, _a, r in server.net.recent_closes if g == silent_conn)
    assert "idle timeout: nothing received for 2 s" == reason
    assert silent_conn not in server.net.connections()
    still_works(server, bystander, conn)


def test_keepalive_frames_keep_a_quiet_client_connected(server):
    client, conn = welcomed_client(server)
    for _ in range(6):
        server.harness.clock.advance(0.9)
        keepalive(server, client)

    assert conn in server.net.connections()
    assert [] == server.received(NetSay)


def test_abrupt_disconnect_mid_frame(server):
    bystander, conn = welcomed_client(server)
    bad, _ = welcomed_client(server)
    bad.send_raw(struct.pack(">IB", 100, 2) + b"\x91")
    bad.close()

    assert "connection lost in the middle of a frame" == closed_reason(server, bad)
    still_works(server, bystander, conn)
