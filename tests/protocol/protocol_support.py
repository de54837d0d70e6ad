"""Shared pieces for the protocol tests: throwaway messages and an in-memory link."""

from __future__ import annotations

from engine.guid import Guid
from engine.messages import Message, MessageRegistry
from engine.protocol import NEED_DATA, Connection, Event, Limits, Role

# A private registry: these ids and names cannot collide with other test modules.
REG = MessageRegistry()


class ProtoMove(Message, type_id=950, registry=REG):
    pos: list[float]


class ProtoSay(Message, type_id=951, registry=REG):
    text: str
    target: Guid | None = None


def pair(client_limits: Limits | None = None, server_limits: Limits | None = None,
         client_version: int = 1, server_version: int = 1) -> tuple[Connection, Connection]:
    client = Connection(Role.CLIENT, limits=client_limits, registry=REG, version=client_version)
    server = Connection(Role.SERVER, limits=server_limits, registry=REG, version=server_version)
    return client, server


def drain(conn: Connection) -> list[Event]:
    """Every event buffered in ``conn``, up to NEED_DATA or a close."""
    events = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)
        if type(event).__name__ == "ConnectionClosed":
            return events


def handshaken(token: bytes | str | None = b"tok", **kwargs) -> tuple[Connection, Connection]:
    """A client and server that have exchanged handshakes (and drained them)."""
    client, server = pair(**kwargs)
    server.receive_data(client.send_handshake(token), now=0.0)
    drain(server)
    client.receive_data(server.send_handshake(), now=0.0)
    drain(client)
    return client, server
