"""The client wire protocol as a pure object: no sockets, no clock.

A :class:`Connection` per side turns bytes into events and messages into
bytes; the network module only moves bytes between a socket and it. Frames
are ``length (u32 big-endian) | type (u8) | payload``; the byte layouts,
limits and version rules are in ``docs/protocol.md``.

>>> client, server = Connection(Role.CLIENT), Connection(Role.SERVER)
>>> server.receive_data(client.send_handshake(token=b"secret"), now=0.0)
>>> server.next_event()
HandshakeReceived(version=1, role=<Role.CLIENT: 'client'>, token=b'secret')
>>> client.receive_data(server.send_handshake(), now=0.0)
>>> client.next_event().version
1
>>> server.receive_data(client.send_messages([]), now=0.1)
>>> server.next_event(), server.next_event()
(MessagesReceived(messages=[]), NEED_DATA)
>>> client.receive_data(server.close("server shutting down"), now=0.2)
>>> client.next_event()
ConnectionClosed(reason='server shutting down', clean=True)
"""

from engine.protocol._connection import Connection, open_messages_frames
from engine.protocol._errors import ProtocolError
from engine.protocol._events import (
    NEED_DATA,
    ConnectionClosed,
    Event,
    HandshakeReceived,
    MessagesReceived,
)
from engine.protocol._frames import PROTOCOL_VERSION, Limits
from engine.protocol._state import FrameType, Role, State

__all__ = [
    "NEED_DATA",
    "PROTOCOL_VERSION",
    "Connection",
    "ConnectionClosed",
    "Event",
    "FrameType",
    "HandshakeReceived",
    "Limits",
    "MessagesReceived",
    "ProtocolError",
    "Role",
    "State",
    "open_messages_frames",
]
