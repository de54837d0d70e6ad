"""Messages of the client network edge (engine type ids 170..189).

The server's :class:`~engine.modules.network.NetworkModule` gives each TCP
connection a *connection Guid* in an ObjectSpace it hosts, so the rest of
the node talks to a client by sending to that Guid:

- ``ClientConnected`` / ``ClientDisconnected``: the network module tells
  the module it delivers to (``deliver_to``, e.g. gamelogic) that a client
  finished its handshake, or is gone and why.
- ``BindClient``: gamelogic tells the network module which entity a
  connection controls; from then on that client's messages arrive with
  ``frm`` = that entity (the ``ClientFilter`` stamps it).
- ``Disconnect``: a module kicks a client; it gets a close frame with the
  reason.
- ``Welcome``: the first message a client receives, naming its connection
  Guid.
- ``ConnectionLost``: on the client node, the client link tells its local
  module the server closed the connection or could not be reached.

>>> from engine.guid import make
>>> conn = make(2000, 5, 1)
>>> Welcome(conn, make(2000, 0, 3), conn).conn == conn
True
"""

from __future__ import annotations

from engine.guid import Guid
from engine.messages import Message

__all__ = [
    "BindClient",
    "ClientConnected",
    "ClientDisconnected",
    "ConnectionLost",
    "Disconnect",
    "Welcome",
]


class ClientConnected(Message, type_id=170):
    """A client finished its handshake; ``token`` is what the handshake carried (str as UTF-8)."""

    conn: Guid
    token: bytes | None
    address: str


class ClientDisconnected(Message, type_id=171):
    """A connected client is gone (closed, kicked, timed out or broke a rule), with the reason."""

    conn: Guid
    reason: str


class BindClient(Message, type_id=172):
    """Sent to a connection Guid: its client controls ``controls`` from now on."""

    controls: Guid


class Disconnect(Message, type_id=173):
    """Sent to a connection Guid: close that client, telling it ``reason``."""

    reason: str


class Welcome(Message, type_id=174):
    """The server's first message to a client: ``conn`` is the client's connection Guid."""

    conn: Guid


class ConnectionLost(Message, type_id=175):
    """Client side: the link to the server is gone (refused, closed, or unreachable)."""

    reason: str
