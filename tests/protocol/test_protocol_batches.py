"""``receive_batches``: the fast read gives exactly what ``receive_data`` + ``next_event`` give."""

from __future__ import annotations

import struct

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_support import ProtoMove, ProtoSay, handshaken, pair
from test_protocol_fuzz import SMALL, frames, sides, times

from engine.guid import MAX_GUID
from engine.protocol import (
    NEED_DATA,
    Connection,
    ConnectionClosed,
    HandshakeReceived,
    Limits,
    MessagesReceived,
    ProtocolError,
    Role,
)


def _connection(which: str, limits: Limits = SMALL) -> Connection:
    if which == "fresh_server":
        return pair(server_limits=limits)[1]
    if which == "fresh_client":
        client = pair(client_limits=limits)[0]
        client.send_handshake()
        return client
    client, server = handshaken(client_limits=limits, server_limits=limits)
    return server if which == "open_server" else client


def _events(conn: Connection, seen: list) -> bool:
    """next_event until NEED_DATA; False once the connection closed or broke."""
    while True:
        try:
            event = conn.next_event()
        except ProtocolError as exc:
            seen.append(("error", exc.reason))
            return False
        if event is NEED_DATA:
            return True
        if type(event) is MessagesReceived:
            seen.append(("batch", event.messages))
            continue
        seen.append(("event", event))
        if type(event) is ConnectionClosed:
            return False


def _by_events(conn: Connection, chunks: list[bytes], now: list[float]) -> list:
    seen: list = []
    for i, chunk in enumerate(chunks):
        conn.receive_data(chunk, now=now[i % len(now)] if now else 0.0)
        if not _events(conn, seen):
            return seen
    return seen


def _by_batches(conn: Connection, chunks: list[bytes], now: list[float], frm: int | None = None) -> list:
    seen: list = []
    for i, chunk in enumerate(chunks):
        at = now[i % len(now)] if now else 0.0
        seen += [("batch", b) for b in conn.receive_batches(chunk, at, frm=frm)]
        if conn.events_pending:
            later: list = []
            ok = _events(conn, later)
            seen += [(kind, _stamp(item, frm) if kind == "batch" else item) for kind, item in later]
            if not ok:
                return seen
        assert NEED_DATA is conn.next_event()  # nothing was left behind
    return seen


def _stamp(batch: list, frm: int | None) -> list:
    """What a server does to next_event's batches: each message from ``frm``."""
    return batch if frm is None else [m.replace(frm=frm) for m in batch]


def _chunks(blob: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(blob) + 1) for c in cuts})
    return [blob[a:b] for a, b in zip([0, *points], [*points, len(blob)], strict=True) if b > a]


guids = st.integers(0, MAX_GUID)
messages = st.one_of(
    st.builds(ProtoMove, guids, guids, st.lists(st.floats(allow_nan=False), max_size=3)),
    st.builds(ProtoSay, guids, guids, st.text(max_size=20), st.none() | guids),
)


@st.composite
def valid_batches(draw):
    """A MESSAGES frame as a well-behaved peer writes it (the common case)."""
    sender = handshaken(client_limits=Limits(max_frames_per_second=1 << 30))[0]
    return sender.send_messages(draw(st.lists(messages, max_size=10)))


stream_items = st.one_of(valid_batches(), valid_batches(), frames(), st.binary(max_size=12))


@settings(max_examples=400)
@given(sides, st.lists(stream_items, max_size=8), st.lists(st.integers(0, 10**4), max_size=6),
       times, st.booleans())
def test_batches_match_next_event(which, stream, cuts, now, eof):
    chunks = _chunks(b"".join(stream), cuts) + ([b""] if eof else [])
    expected = _by_events(_connection(which), chunks, now)
    assert expected == _by_batches(_connection(which), chunks, now)


@settings(max_examples=300)
@given(sides, st.lists(stream_items, max_size=8), st.lists(st.integers(0, 10**4), max_size=6),
       times, st.sampled_from([0, 7, MAX_GUID]))
def test_batches_stamped_with_frm_match_next_event_restamped(which, stream, cuts, now, frm):
    """The fast path stamps in C, the careful path in Python: the same messages either way."""
    chunks = _chunks(b"".join(stream), cuts)
    expected = [(kind, _stamp(item, frm) if kind == "batch" else item)
                for kind, item in _by_events(_connection(which), chunks, now)]
    assert expected == _by_batches(_connection(which), chunks, now, frm=frm)


def test_open_connection_returns_one_batch_per_frame():
    client, server = handshaken()
    first, second = [ProtoMove(1, 2, [1.0])], [ProtoSay(3, 4, "hi"), ProtoSay(3, 4, "again", 5)]
    data = client.send_messages(first) + client.send_messages([]) + client.send_messages(second)
    assert [first, [], second] == server.receive_batches(data, 0.0)
    assert not server.events_pending


def test_a_partial_frame_waits_for_its_end():
    client, server = handshaken()
    data = client.send_messages([ProtoSay(3, 4, "hello")])
    assert [] == server.receive_batches(data[:7], 0.0)
    assert [[ProtoSay(3, 4, "hello")]] == server.receive_batches(data[7:], 0.0)


def test_batches_stop_before_a_close_which_next_event_reports():
    client, server = handshaken()
    data = client.send_messages([ProtoMove(1, 2, [])]) + client.close("bye") + b"ignored"
    assert [[ProtoMove(1, 2, [])]] == server.receive_batches(data, 0.0)
    assert server.events_pending
    assert ConnectionClosed("bye") == server.next_event()


def test_frames_before_a_bad_one_are_returned_and_next_event_raises():
    client, server = handshaken()
    good = client.send_messages([ProtoMove(1, 2, [0.5])])
    bad = struct.pack(">IB", 2, 2) + b"\xc1"  # 0xc1 is never valid msgpack
    assert [[ProtoMove(1, 2, [0.5])]] == server.receive_batches(good + bad + good, 0.0)
    assert server.events_pending
    with pytest.raises(ProtocolError, match="bad messages frame"):
        server.next_event()
    assert [] == server.receive_batches(good, 0.0)


def test_the_handshake_goes_through_next_event():
    client, server = pair()
    assert [] == server.receive_batches(client.send_handshake(b"tok"), 0.0)
    assert HandshakeReceived(1, Role.CLIENT, b"tok") == server.next_event()
    assert NEED_DATA == server.next_event()


def test_the_rate_limit_holds_on_the_fast_path():
    client, server = handshaken(client_limits=Limits(max_frames_per_second=1000),
                                server_limits=Limits(max_frames_per_second=3))
    frame = client.send_messages([])
    assert [[], [], []] == server.receive_batches(frame * 3, 10.0)  # the handshake's time has passed
    assert [] == server.receive_batches(frame, 10.5)
    with pytest.raises(ProtocolError, match="too many frames: more than 3 in one second"):
        server.next_event()


@pytest.mark.parametrize("padding", [0, 600])
def test_small_and_large_frames_decode_and_fail_alike(padding):
    client, server = handshaken()
    batch = [ProtoSay(3, 4, "x" * padding), ProtoMove(1, 2, [0.5])]
    assert [batch] == server.receive_batches(client.send_messages(batch), 0.0)
    bad = msgpack.packb([[951, 3, 4, "x" * padding, None], [950, 1, 2, "not a list"]])
    server.receive_batches(struct.pack(">IB", len(bad) + 1, 2) + bad, 0.0)
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    expected = "undecodable messages frame: message 1 (ProtoMove).pos: wants list[float], got string"
    assert expected == info.value.reason
    _, server = handshaken()
    truncated = bad[:-1]
    server.receive_batches(struct.pack(">IB", len(truncated) + 1, 2) + truncated, 0.0)
    with pytest.raises(ProtocolError, match="undecodable messages frame: malformed msgpack: "):
        server.next_event()
