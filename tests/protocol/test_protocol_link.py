"""Two protocol objects joined through an in-memory link."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from protocol_support import ProtoMove, ProtoSay, drain, handshaken, pair

from engine.guid import MAX_GUID, make
from engine.protocol import (
    NEED_DATA,
    ConnectionClosed,
    HandshakeReceived,
    MessagesReceived,
    ProtocolError,
    Role,
    State,
)

A = make(5, 12, 17)
B = make(20000, 1, 3)


def test_handshake_exchange_opens_both_sides_and_carries_the_token():
    client, server = pair()
    assert (State.IDLE, State.IDLE) == (client.our_state, server.our_state)
    server.receive_data(client.send_handshake("s3cret"), now=0.0)
    assert [HandshakeReceived(1, Role.CLIENT, "s3cret")] == drain(server)
    assert State.ACCEPTING == server.our_state
    assert State.AWAIT_ACCEPT == client.our_state
    client.receive_data(server.send_handshake(), now=0.0)
    assert [HandshakeReceived(1, Role.SERVER, None)] == drain(client)
    assert [State.OPEN] * 4 == [client.our_state, client.their_state, server.our_state, server.their_state]


def test_messages_flow_both_ways():
    client, server = handshaken()
    batch = [ProtoMove(A, B, [1.0, 2.0]), ProtoSay(B, A, "hi", A)]
    server.receive_data(client.send_messages(batch), now=1.0)
    assert [MessagesReceived(batch)] == drain(server)
    client.receive_data(server.send_messages(batch[::-1]) + server.send_messages([]), now=1.0)
    assert [MessagesReceived(batch[::-1]), MessagesReceived([])] == drain(client)


guids = st.integers(0, MAX_GUID)
messages = st.one_of(
    st.builds(ProtoMove, guids, guids, st.lists(st.floats(allow_nan=False), max_size=3)),
    st.builds(ProtoSay, guids, guids, st.text(max_size=20), st.none() | guids),
)
batches = st.lists(st.lists(messages, max_size=4), max_size=6)


def _feed_in_pieces(conn, data: bytes, cuts: list[int]) -> list:
    events = []
    points = sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]
    start = 0
    for i, point in enumerate(points):
        if point > start:  # an empty piece would mean end of file
            conn.receive_data(data[start:point], now=float(i) * 0.001)
        start = point
        events += drain(conn)
        if events and isinstance(events[-1], ConnectionClosed):
            break
    return events


@given(batches, batches, st.lists(st.integers(0, 10**6), max_size=40), st.lists(st.integers(0, 10**6)))
def test_random_byte_boundaries_deliver_the_same_batches(up, down, up_cuts, down_cuts):
    client, server = pair()
    wire_up = client.send_handshake(b"t") + b""
    got_up = _feed_in_pieces(server, wire_up, up_cuts)
    wire_down = server.send_handshake() + b"".join(server.send_messages(b) for b in down)
    wire_down += server.close("bye")
    got_down = _feed_in_pieces(client, wire_down, down_cuts)
    wire_up = b"".join(client.send_messages(b) for b in up) + client.close("done")
    got_up += _feed_in_pieces(server, wire_up, up_cuts)
    assert [HandshakeReceived(1, Role.CLIENT, b"t"), *map(MessagesReceived, up),
            ConnectionClosed("done")] == got_up
    assert [HandshakeReceived(1, Role.SERVER, None), *map(MessagesReceived, down),
            ConnectionClosed("bye")] == got_down


def test_close_carries_the_reason_and_ends_the_stream():
    client, server = handshaken()
    data = server.close("server shutting down")
    client.receive_data(data + b"\x00\x00\x00\x01\x02garbage after close", now=1.0)
    assert ConnectionClosed("server shutting down", clean=True) == client.next_event()
    assert ConnectionClosed("server shutting down", clean=True) == client.next_event()  # it stays closed
    assert State.CLOSED == client.their_state
    client.receive_data(b"more", now=2.0)  # ignored
    assert ConnectionClosed("server shutting down", clean=True) == client.next_event()


def test_closing_twice_sends_nothing_and_sending_after_close_is_a_local_error():
    client, server = handshaken()
    assert client.close("bye")
    assert b"" == client.close("bye again")
    with pytest.raises(RuntimeError):
        client.send_messages([])


def test_long_close_reasons_are_cut():
    client, server = handshaken()
    client.receive_data(server.close("x" * 5000), now=1.0)
    assert "x" * 200 == client.next_event().reason


def test_end_of_file_without_close_frame():
    client, server = handshaken()
    server.receive_data(b"", now=1.0)
    assert ConnectionClosed("connection lost without a close frame", clean=False) == server.next_event()
    assert State.CLOSED == server.their_state
    with pytest.raises(RuntimeError):
        server.receive_data(b"late", now=2.0)


def test_end_of_file_in_the_middle_of_a_frame():
    client, server = handshaken()
    data = client.send_messages([ProtoSay(A, B, "hello")])
    server.receive_data(data[:-3], now=1.0)
    assert NEED_DATA is server.next_event()
    server.receive_data(b"", now=1.0)
    assert ConnectionClosed("connection lost in the middle of a frame", clean=False) == server.next_event()


def test_events_before_end_of_file_come_first():
    client, server = handshaken()
    server.receive_data(client.send_messages([]), now=1.0)
    server.receive_data(b"", now=1.0)
    assert MessagesReceived([]) == server.next_event()
    assert not server.next_event().clean


@pytest.mark.parametrize("step", ["client_messages_early", "server_handshake_first", "second_handshake",
                                  "server_messages_early"])
def test_sending_out_of_turn_is_a_local_runtime_error(step):
    client, server = pair()
    with pytest.raises(RuntimeError):
        if step == "client_messages_early":
            client.send_handshake()
            client.send_messages([])
        elif step == "server_handshake_first":
            server.send_handshake()
        elif step == "second_handshake":
            client.send_handshake()
            client.send_handshake()
        else:
            server.receive_data(client.send_handshake(), now=0.0)
            drain(server)
            server.send_messages([])


def test_server_may_refuse_before_accepting_and_client_sees_why():
    client, server = pair()
    server.receive_data(client.send_handshake(b"wrong"), now=0.0)
    assert b"wrong" == drain(server)[0].token
    client.receive_data(server.close("bad token"), now=0.0)
    assert [ConnectionClosed("bad token")] == drain(client)
    with pytest.raises(RuntimeError):
        server.send_handshake()


def test_after_a_protocol_error_the_connection_stays_broken_but_can_close():
    client, server = handshaken()
    server.receive_data(b"\x00\x00\x00\x01\x7f", now=1.0)
    with pytest.raises(ProtocolError) as first:
        server.next_event()
    with pytest.raises(ProtocolError) as again:
        server.next_event()
    assert first.value is again.value
    assert State.ERROR == server.their_state
    client.receive_data(server.close(first.value.reason), now=1.0)
    assert ConnectionClosed("bad frame: unknown frame type 0x7f") == client.next_event()


def test_role_must_be_a_role():
    from engine.protocol import Connection

    with pytest.raises(TypeError):
        Connection("client")  # type: ignore[arg-type]
