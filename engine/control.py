"""Control messages between nodes: directory, liveness, status, relay, chat.

These are the engine's own messages (type ids 200..299). Game messages start
at 1000. Every node understands them whatever its role.

- ``NodeHello``: a node's agent tells the GLD it is up and where it listens.
- ``Directory``: the GLD tells transports who is where (``[node, role,
  address, alive]`` rows).
- ``Heartbeat``: transports keep each other's liveness fresh.
- ``PeerDown`` / ``PeerUp``: a transport tells watchers a peer went silent
  for too long, or came back.
- ``WatchPeers``: a module asks its transport for PeerDown/PeerUp.
- ``DeliveryFailed``: a message could not reach its node; goes back to
  the sender with the reason.
- ``StatusRequest`` / ``StatusReply``: any node's health on demand.
- ``Relay`` / ``Forwarded``: the GLD forwards an encoded message to the
  transport of its target node (for a gamelogic node that does not know
  where the addressee lives); only that node needs the message's class.
- ``ChatJoin`` / ``ChatLeave`` / ``ChatSay`` / ``ChatHeard``: global chat
  channels, distributed by the GLD.
- ``Goodbye``: a node stopping cleanly tells the GLD so it is not counted dead.
"""

from __future__ import annotations

from typing import Any

from engine.guid import Guid
from engine.messages import Message


class NodeHello(Message, type_id=200):
    role: str
    address: str
    pid: int
    extra: dict
    """Role-specific facts, e.g. ``{"clients": "127.0.0.1:7000"}``."""


class Directory(Message, type_id=201):
    entries: list[list]
    """Rows ``[node_id, role, address, alive, extra]``."""
    full: bool = True
    """True: these rows are the whole directory; False: an update to merge."""


class Heartbeat(Message, type_id=202):
    sent_at: float


class PeerDown(Message, type_id=203):
    node: int
    reason: str


class PeerUp(Message, type_id=204):
    node: int


class WatchPeers(Message, type_id=205):
    pass


class DeliveryFailed(Message, type_id=206):
    original_to: Guid
    original_type: int
    reason: str


class StatusRequest(Message, type_id=207):
    serial: int


class StatusReply(Message, type_id=208):
    serial: int
    status: dict


class Relay(Message, type_id=209):
    """Ask the GLD to deliver ``message`` (one encoded message) to the node of ``target``.

    The message travels as bytes so the GLD needs no game message classes;
    the target node's transport decodes it.
    """

    target: Guid
    message: bytes


class Forwarded(Message, type_id=218):
    """The GLD handing a relayed message to the transport of the target node."""

    message: bytes


class ChatJoin(Message, type_id=210):
    channel: str
    listener: Guid


class ChatLeave(Message, type_id=211):
    channel: str
    listener: Guid


class ChatSay(Message, type_id=212):
    channel: str
    speaker: str
    text: str


class ChatHeard(Message, type_id=213):
    channel: str
    speaker: str
    text: str


class Goodbye(Message, type_id=214):
    reason: str


class Ping(Message, type_id=215):
    serial: int
    data: Any = None


class Pong(Message, type_id=216):
    serial: int
    data: Any = None


class NodeDied(Message, type_id=217):
    """The GLD's word to the cluster that a node was declared dead."""

    node: int
    role: str
    reason: str
