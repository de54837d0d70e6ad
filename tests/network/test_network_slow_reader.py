"""A client that stops reading is dropped; 50 others keep getting one frame per tick."""

from __future__ import annotations

import time

from net_support import NetSay, RawClient, Server
from test_network_bad_clients import welcomed_client

from engine.modules.network import ClientDisconnected

TICKS = 60
OTHERS = 50


def test_a_client_that_never_reads_is_dropped_while_50_others_keep_their_frame_rate():
    server = Server(socket_send_buffer=16_384, send_buffer_limit=256 * 1024, idle_timeout=60.0)
    try:
        others = [welcomed_client(server) for _ in range(OTHERS)]
        sleeper = RawClient(server.port, rcvbuf=4096)
        sleeper.handshake()
        assert server.tick_until(lambda: len(server.net.connections()) == OTHERS + 1
                                 and server.net.status()["messages_out"] >= OTHERS + 1)
        sleeper_conn = next(c for c in server.net.connections() if c not in {g for _, g in others})
        for client, _ in others:
            client.pump()
        start = {id(c): c.frames for c, _ in others}
        big = "x" * 30_000
        dropped_at = None
        logic = server.logic.guid

        for tick in range(TICKS):
            if sleeper_conn in server.net.connections():
                server.send(NetSay(sleeper_conn, logic, big))
            for _client, conn in others:
                server.send(NetSay(conn, logic, f"tick {tick}"))
            server.tick()
            if dropped_at is None and sleeper_conn not in server.net.connections():
                dropped_at = tick
            for client, _ in others:
                client.pump()

        # let the last frames cross the loopback, then count
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            for client, _ in others:
                client.pump()
            if all(c.frames - start[id(c)] >= TICKS for c, _ in others):
                break
            time.sleep(0.005)

        assert dropped_at is not None and dropped_at < TICKS - 10  # dropped, and the run went on
        [gone] = [m for m in server.received(ClientDisconnected) if m.conn == sleeper_conn]
        assert gone.reason.startswith("send buffer overflow")
        assert "the client is not reading" in gone.reason
        counts = [c.frames - start[id(c)] for c, _ in others]
        assert [TICKS] * OTHERS == counts  # one frame per tick each: none merged, none lost
        for client, _ in others:
            texts = [m.text for m in client.messages if type(m) is NetSay]
            assert [f"tick {t}" for t in range(TICKS)] == texts[-TICKS:]
            assert client.closed is None and client.error is None
        assert OTHERS == len(server.net.connections())
    finally:
        server.stop()


def test_frames_per_tick_respect_the_frame_limit_and_carry_the_rest():
    server = Server(max_messages_per_frame=10)
    try:
        client, conn = welcomed_client(server)
        client.pump()
        frames = client.frames
        for i in range(25):
            server.send(NetSay(conn, server.logic.guid, str(i)))
        server.tick(3)

        def got_all() -> bool:
            client.pump()
            return sum(type(m) is NetSay for m in client.messages) == 25

        assert server.tick_until(got_all)
        assert frames + 3 == client.frames  # 10 + 10 + 5 over three ticks
        assert [str(i) for i in range(25)] == [m.text for m in client.messages if type(m) is NetSay]
    finally:
        server.stop()
