"""Garbage in: only ProtocolError may come out. Legal sends: never a ProtocolError."""

from __future__ import annotations

import struct

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_support import ProtoMove, ProtoSay, drain, handshaken, pair

from engine.protocol import Connection, ConnectionClosed, Limits, ProtocolError, Role

SMALL = Limits(max_frame_bytes=4096, max_messages_per_frame=8, max_frames_per_second=20)


def _swallow(conn: Connection, chunks: list[bytes], times: list[float]) -> None:
    """Feed chunks, drain after each; a ProtocolError ends it, anything else fails the test."""
    try:
        for i, chunk in enumerate(chunks):
            conn.receive_data(chunk, now=times[i % len(times)] if times else 0.0)
            events = drain(conn)
            if events and isinstance(events[-1], ConnectionClosed):
                return
        conn.receive_data(b"", now=1e9)
        drain(conn)
    except ProtocolError as exc:
        assert isinstance(exc.reason, str) and exc.reason
        # once broken, it stays broken with the same error
        try:
            conn.next_event()
        except ProtocolError as again:
            assert again is exc
        else:
            raise AssertionError("a broken connection produced an event") from None


def _connection(which: str) -> Connection:
    if which == "fresh_server":
        return pair(server_limits=SMALL)[1]
    if which == "fresh_client":
        client = pair(client_limits=SMALL)[0]
        client.send_handshake()
        return client
    client, server = handshaken(client_limits=SMALL, server_limits=SMALL)
    return server if which == "open_server" else client


sides = st.sampled_from(["fresh_server", "fresh_client", "open_server", "open_client"])
times = st.lists(st.floats(0, 100, allow_nan=False), max_size=5)


@given(sides, st.lists(st.binary(max_size=64), max_size=8), times)
def test_random_bytes(which, chunks, now):
    _swallow(_connection(which), chunks, now)


msgpack_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(),
              st.text(max_size=10), st.binary(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(-100, 100)), inner, max_size=4)),
    max_leaves=20,
)
handshake_like = st.fixed_dictionaries({}, optional={
    "version": st.one_of(st.just(1), msgpack_values),
    "role": st.sampled_from(["client", "server", 1]),
    "token": msgpack_values,
    "reason": msgpack_values,
})
message_like = st.lists(st.one_of(
    st.tuples(st.sampled_from([950, 951, 952, 1, -1]), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1),
              msgpack_values).map(list),
    msgpack_values), max_size=10)
payloads = st.one_of(msgpack_values, handshake_like, message_like).map(msgpack.packb) | st.binary(max_size=40)


@st.composite
def frames(draw):
    payload = draw(payloads)
    frame_type = draw(st.sampled_from([1, 2, 3]) | st.integers(0, 255))
    return struct.pack(">IB", len(payload) + 1, frame_type) + payload


@settings(max_examples=300)
@given(sides, st.lists(frames(), max_size=6), st.data(), times)
def test_well_framed_random_payloads(which, stream, data, now):
    blob = b"".join(stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(blob)), max_size=5)))
    chunks = [blob[a:b] for a, b in zip([0, *cuts], [*cuts, len(blob)], strict=True) if b > a]
    _swallow(_connection(which), chunks, now)


def _valid_stream_to_server() -> bytes:
    client, server = pair()
    data = client.send_handshake(b"tok")
    server.receive_data(data, now=0.0)
    drain(server)
    client.receive_data(server.send_handshake(), now=0.0)
    drain(client)
    data += client.send_messages([ProtoMove(1, 2, [1.0, 2.0]), ProtoSay(3, 4, "hi", 5)])
    data += client.send_messages([ProtoSay(3, 4, "again")])
    return data + client.close("bye")


VALID = _valid_stream_to_server()


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(["flip", "insert", "delete", "truncate"]),
                          st.integers(0, len(VALID)), st.integers(0, 255)), min_size=1, max_size=4),
       st.integers(1, 40))
def test_mutated_valid_streams(mutations, chunk_size):
    data = bytearray(VALID)
    for kind, at, byte in mutations:
        at = min(at, len(data))
        if kind == "flip" and at < len(data):
            data[at] ^= byte or 1
        elif kind == "insert":
            data[at:at] = bytes([byte])
        elif kind == "delete":
            del data[at : at + 1]
        else:
            del data[at:]
    chunks = [bytes(data[i : i + chunk_size]) for i in range(0, len(data), chunk_size)]
    _swallow(Connection(Role.SERVER, registry=pair()[1].registry), chunks, [0.0])


# -- the converse: whatever a Connection lets us send, the peer accepts ------------

actions = st.lists(st.tuples(st.sampled_from(["client", "server"]),
                             st.sampled_from(["handshake", "messages", "close", "deliver"])), max_size=25)


@given(actions)
def test_whatever_may_be_sent_is_accepted(steps):
    conns = dict(zip(("client", "server"), pair(), strict=True))
    pending = {"client": b"", "server": b""}  # bytes each side has sent, not yet delivered
    for side, action in steps:
        conn = conns[side]
        try:
            if action == "handshake":
                pending[side] += conn.send_handshake()
            elif action == "messages":
                pending[side] += conn.send_messages([ProtoMove(1, 2, [0.5])])
            elif action == "close":
                pending[side] += conn.close("done")
            else:
                peer = conns["server" if side == "client" else "client"]
                peer.receive_data(pending[side], now=0.0)
                pending[side] = b""
                drain(peer)  # a ProtocolError here fails the test
        except RuntimeError:
            pass  # sending out of turn is refused locally, and sends nothing
