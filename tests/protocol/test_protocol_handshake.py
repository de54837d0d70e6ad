"""Handshakes: version negotiation, bad or missing handshakes, and the byte layouts in the docs."""

from __future__ import annotations

import struct
from pathlib import Path

import msgpack
import pytest
from protocol_support import REG, ProtoMove, drain, pair

from engine.guid import make
from engine.messages import Message, MessageRegistry
from engine.protocol import (
    NEED_DATA,
    Connection,
    ConnectionClosed,
    FrameType,
    HandshakeReceived,
    ProtocolError,
    Role,
    State,
)


def raw_frame(frame_type: int, payload: bytes) -> bytes:
    return struct.pack(">IB", len(payload) + 1, frame_type) + payload


def test_version_mismatch_is_refused_with_a_reason_the_client_sees():
    client, server = pair(client_version=2, server_version=1)
    server.receive_data(client.send_handshake(b"tok"), now=0.0)
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    assert "protocol version mismatch: peer speaks 2, this server speaks 1" == info.value.reason
    assert State.ERROR == server.their_state
    client.receive_data(server.close(info.value.reason), now=0.0)
    expected = ConnectionClosed("protocol version mismatch: peer speaks 2, this server speaks 1")
    assert [expected] == drain(client)


def test_client_refuses_a_server_of_another_version():
    client, _ = pair()
    client.send_handshake()
    client.receive_data(raw_frame(1, msgpack.packb({"version": 3, "role": "server"})), now=0.0)
    with pytest.raises(ProtocolError, match="peer speaks 3, this client speaks 1"):
        client.next_event()


def test_unknown_handshake_keys_are_ignored_for_forward_compatibility():
    _, server = pair()
    hello = msgpack.packb({"role": "client", "version": 1, "extra": [1, 2]})
    server.receive_data(raw_frame(1, hello), now=0.0)
    assert HandshakeReceived(1, Role.CLIENT, None) == server.next_event()


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (msgpack.packb([1, "client"]), "payload must be a msgpack map"),
        (b"\xc1", "malformed msgpack"),
        (b"", "malformed msgpack"),
        (msgpack.packb({"role": "client"}), "'version' must be an int, got nothing"),
        (msgpack.packb({"version": "1", "role": "client"}), "'version' must be an int"),
        (msgpack.packb({"version": 1}), "'role' must be"),
        (msgpack.packb({"version": 1, "role": "server"}), "peer says it is a server, expected a client"),
        (msgpack.packb({"version": 1, "role": "client", "token": 7}), "'token' must be bin, str or nil"),
        (msgpack.packb({1: 2}), "'version' must be an int"),
    ],
)
def test_bad_handshakes_are_protocol_errors(payload, fragment):
    _, server = pair()
    server.receive_data(raw_frame(1, payload), now=0.0)
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    assert fragment in info.value.reason


def test_a_missing_handshake_is_refused():
    client, server = pair()
    server.receive_data(raw_frame(2, msgpack.packb([])), now=0.0)
    with pytest.raises(ProtocolError, match="unexpected MESSAGES frame"):
        server.next_event()


def test_a_server_speaking_first_is_refused():
    client, server = pair()
    client.receive_data(raw_frame(1, msgpack.packb({"version": 1, "role": "server"})), now=0.0)
    with pytest.raises(ProtocolError, match="unexpected HANDSHAKE frame"):
        client.next_event()


def test_a_second_handshake_is_refused():
    client, server = pair()
    data = client.send_handshake()
    server.receive_data(data + data, now=0.0)
    assert isinstance(server.next_event(), HandshakeReceived)
    with pytest.raises(ProtocolError, match="unexpected HANDSHAKE frame"):
        server.next_event()


def test_a_close_frame_is_accepted_before_any_handshake():
    client, server = pair()
    client.receive_data(server.close("server full"), now=0.0)
    assert ConnectionClosed("server full") == client.next_event()
    server.receive_data(client.send_handshake(), now=0.0)  # arrives after the server gave up
    assert isinstance(server.next_event(), HandshakeReceived)
    assert State.CLOSED == server.our_state


@pytest.mark.parametrize("payload", [msgpack.packb({"reason": 5}), msgpack.packb("bye"), b"\xc1"])
def test_bad_close_frames_are_protocol_errors(payload):
    client, _ = pair()
    client.receive_data(raw_frame(3, payload), now=0.0)
    with pytest.raises(ProtocolError, match="bad close frame"):
        client.next_event()


def test_a_close_frame_without_reason_has_an_empty_one():
    client, _ = pair()
    client.receive_data(raw_frame(3, msgpack.packb({})), now=0.0)
    assert ConnectionClosed("") == client.next_event()


# -- the worked examples of docs/protocol.md, byte for byte -------------------------

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()

CLIENT_HANDSHAKE_HEX = ("00 00 00 21 01 83 a7 76 65 72 73 69 6f 6e 01 a4 72 6f 6c 65 a6 63 6c 69 65 6e 74 "
                        "a5 74 6f 6b 65 6e c4 02 01 02")
SERVER_HANDSHAKE_HEX = "00 00 00 17 01 82 a7 76 65 72 73 69 6f 6e 01 a4 72 6f 6c 65 a6 73 65 72 76 65 72"
MESSAGES_HEX = ("00 00 00 2b 02 91 94 cd 03 e9 cf 00 05 00 00 00 c0 00 11 cf 00 05 00 00 00 c0 00 03 "
                "92 cb 3f e0 00 00 00 00 00 00 cb 40 08 00 00 00 00 00 00")
CLOSE_HEX = "00 00 00 15 03 81 a6 72 65 61 73 6f 6e ab 73 65 72 76 65 72 20 66 75 6c 6c"

DOC_REG = MessageRegistry()


class DocMove(Message, type_id=1001, registry=DOC_REG):
    pos: list[float]


def _in_doc(hex_text: str) -> bool:
    return " ".join(hex_text.split()) in " ".join(DOC.replace("|", " ").split())


def test_documented_bytes_are_what_the_code_sends():
    client = Connection(Role.CLIENT, registry=DOC_REG)
    server = Connection(Role.SERVER, registry=DOC_REG)
    hello = client.send_handshake(b"\x01\x02")
    assert CLIENT_HANDSHAKE_HEX == hello.hex(" ")
    server.receive_data(hello, now=0.0)
    assert HandshakeReceived(1, Role.CLIENT, b"\x01\x02") == server.next_event()
    assert SERVER_HANDSHAKE_HEX == server.send_handshake().hex(" ")
    move = DocMove(make(5, 12, 17), make(5, 12, 3), [0.5, 3.0])
    assert MESSAGES_HEX == server.send_messages([move]).hex(" ")
    assert CLOSE_HEX == server.close("server full").hex(" ")
    assert FrameType.MESSAGES == bytes.fromhex(MESSAGES_HEX)[4]


@pytest.mark.parametrize("hex_text", [CLIENT_HANDSHAKE_HEX, SERVER_HANDSHAKE_HEX, MESSAGES_HEX, CLOSE_HEX])
def test_docs_show_the_same_bytes(hex_text):
    assert _in_doc(hex_text)


def test_documented_frames_decode_on_the_other_side():
    client = Connection(Role.CLIENT, registry=DOC_REG)
    client.send_handshake(b"\x01\x02")
    client.receive_data(bytes.fromhex(SERVER_HANDSHAKE_HEX + MESSAGES_HEX + CLOSE_HEX), now=0.0)
    events = [client.next_event() for _ in range(3)]
    assert [DocMove(make(5, 12, 17), make(5, 12, 3), [0.5, 3.0])] == events[1].messages
    assert ConnectionClosed("server full") == events[2]


def test_need_data_until_a_whole_frame_is_there():
    client, server = pair()
    data = client.send_handshake()
    for i in range(len(data) - 1):
        server.receive_data(data[i : i + 1], now=0.0)
        assert NEED_DATA is server.next_event()
    server.receive_data(data[-1:], now=0.0)
    assert isinstance(server.next_event(), HandshakeReceived)


def test_messages_of_a_registry_the_peer_lacks_are_undecodable():
    client, server = pair()
    server.receive_data(client.send_handshake(), now=0.0)
    drain(server)
    client.receive_data(server.send_handshake(), now=0.0)
    drain(client)
    other = MessageRegistry()

    class Stranger(Message, type_id=952, registry=other):
        n: int

    assert REG.by_id(952) is None
    data = client.send_messages([ProtoMove(1, 2, [1.0])])
    data += raw_frame(2, msgpack.packb([Stranger(1, 2, 3)]))
    server.receive_data(data, now=1.0)
    assert [ProtoMove(1, 2, [1.0])] == server.next_event().messages
    with pytest.raises(ProtocolError, match="undecodable messages frame: .*unknown type id 952"):
        server.next_event()
