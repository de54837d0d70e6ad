"""Each limit, on the receiving side (ProtocolError) and the sending side (ValueError)."""

from __future__ import annotations

import struct

import msgpack
import pytest
from protocol_support import ProtoMove, ProtoSay, drain, handshaken

from engine.protocol import ConnectionClosed, Limits, MessagesReceived, ProtocolError

SMALL = Limits(max_frame_bytes=2000, max_messages_per_frame=3, max_frames_per_second=5)
BIG = Limits(max_frame_bytes=100_000, max_messages_per_frame=100, max_frames_per_second=1000)


def test_limits_have_defaults_and_refuse_nonsense():
    expected = Limits(max_frame_bytes=256 * 1024, max_messages_per_frame=1000, max_frames_per_second=100)
    assert expected == Limits()
    for bad in (dict(max_frame_bytes=0), dict(max_messages_per_frame=-1), dict(max_frames_per_second=1.5),
                dict(max_frame_bytes=1023)):
        with pytest.raises(ValueError):
            Limits(**bad)
    with pytest.raises(AttributeError):
        Limits().max_frame_bytes = 5  # type: ignore[misc]


def test_oversize_frame_is_refused_from_its_length_prefix_alone():
    client, server = handshaken(server_limits=SMALL)
    server.receive_data(struct.pack(">I", 2001), now=1.0)  # just the prefix: no body was ever sent
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    assert "frame too large: 2001 bytes, limit 2000" == info.value.reason


def _say_frame_of(length: int) -> bytes:
    """A MESSAGES frame whose length prefix is exactly ``length``."""
    empty = len(msgpack.packb([ProtoSay(1, 2, "")])) + 1
    text = "x" * (length - empty - 2)  # a str8 header instead of fixstr's adds 1 byte; padding sets it
    payload = msgpack.packb([ProtoSay(1, 2, text)])
    while len(payload) + 1 < length:
        text += "x"
        payload = msgpack.packb([ProtoSay(1, 2, text)])
    assert len(payload) + 1 == length
    return struct.pack(">IB", length, 2) + payload


def test_a_frame_of_exactly_the_limit_is_accepted():
    client, server = handshaken(server_limits=SMALL)
    server.receive_data(_say_frame_of(2000), now=1.0)
    assert isinstance(server.next_event(), MessagesReceived)
    server.receive_data(_say_frame_of(2001), now=2.0)
    with pytest.raises(ProtocolError, match="frame too large"):
        server.next_event()


def test_too_many_messages_per_frame():
    client, server = handshaken(client_limits=BIG, server_limits=SMALL)
    server.receive_data(client.send_messages([ProtoMove(1, 2, [])] * 3), now=1.0)
    assert 3 == len(server.next_event().messages)
    server.receive_data(client.send_messages([ProtoMove(1, 2, [])] * 4), now=1.1)
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    assert "too many messages in one frame: 4, limit 3" == info.value.reason


@pytest.mark.parametrize("count", [16, 70_000])
def test_message_count_is_read_from_the_array_header_before_decoding(count):
    # array16 / array32 headers claiming many elements, with no elements behind them
    header = b"\xdc" + count.to_bytes(2, "big") if count < 65536 else b"\xdd" + count.to_bytes(4, "big")
    client, server = handshaken(server_limits=SMALL)
    server.receive_data(struct.pack(">IB", len(header) + 1, 2) + header, now=1.0)
    with pytest.raises(ProtocolError, match=f"too many messages in one frame: {count}, limit 3"):
        server.next_event()


def test_frames_per_second_in_a_sliding_window():
    client, server = handshaken(client_limits=BIG, server_limits=SMALL)  # handshake frame came at t=0.0
    for t in (10.0, 10.2, 10.4, 10.6, 10.8):
        server.receive_data(client.send_messages([]), now=t)
    assert 5 == len(drain(server))
    server.receive_data(client.send_messages([]), now=11.0)  # 10.0 has left the window
    assert [MessagesReceived([])] == drain(server)
    server.receive_data(client.send_messages([]), now=11.1)  # 10.2 .. 11.1: six in one second
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    assert "too many frames: more than 5 in one second" == info.value.reason


def test_a_burst_in_one_read_is_caught_and_earlier_frames_still_arrive_first():
    client, server = handshaken(client_limits=BIG, server_limits=SMALL)
    server.receive_data(b"".join(client.send_messages([]) for _ in range(6)), now=5.0)
    assert 5 == len([server.next_event() for _ in range(5)])
    with pytest.raises(ProtocolError, match="too many frames"):
        server.next_event()


def test_close_frames_do_not_count_against_the_rate():
    client, server = handshaken(client_limits=BIG, server_limits=SMALL)
    server.receive_data(b"".join(client.send_messages([]) for _ in range(5)) + client.close("bye"), now=5.0)
    assert ConnectionClosed("bye") == drain(server)[-1]


def test_the_handshake_counts_too():
    client, server = handshaken(client_limits=BIG, server_limits=SMALL)
    server.receive_data(b"".join(client.send_messages([]) for _ in range(5)), now=0.5)
    assert 4 == len([server.next_event() for _ in range(4)])
    with pytest.raises(ProtocolError, match="too many frames"):
        server.next_event()


def test_zero_length_and_unknown_type_frames():
    for data, reason in ((b"\x00\x00\x00\x00", "bad frame: length 0"),
                         (b"\x00\x00\x00\x01\x00", "bad frame: unknown frame type 0x00")):
        client, server = handshaken()
        server.receive_data(data, now=1.0)
        with pytest.raises(ProtocolError) as info:
            server.next_event()
        assert info.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"", "empty payload"),
        (msgpack.packb({"a": 1}), "must be a msgpack array"),
        (b"\xdc\x00", "must be a msgpack array"),
        (msgpack.packb([[950, 1, 2]]), "wrong arity"),
        (msgpack.packb([[950, 1, 2, ["x"]]]), "wants float"),
        (msgpack.packb([[999, 1, 2]]), "unknown type id 999"),
        (msgpack.packb([5]), "expected a non-empty array"),
        (b"\x91\xc1", "malformed msgpack"),
    ],
)
def test_undecodable_batches_are_protocol_errors(payload, fragment):
    client, server = handshaken()
    server.receive_data(struct.pack(">IB", len(payload) + 1, 2) + payload, now=1.0)
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    assert fragment in info.value.reason


def test_a_sender_holds_itself_to_its_own_limits():
    client, server = handshaken(client_limits=SMALL)
    with pytest.raises(ValueError, match="4 messages in one frame, limit 3"):
        client.send_messages([ProtoMove(1, 2, [])] * 4)
    with pytest.raises(ValueError, match="exceeds the limit of 2000"):
        client.send_messages([ProtoSay(1, 2, "x" * 2000)])
    assert client.send_messages([ProtoSay(1, 2, "x" * 100)])  # still usable afterwards
