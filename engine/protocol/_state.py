################################################################
# The client protocol's state machine
################################################################
#
# Rule 1: everything that decides which frame may come next lives in this
# file, as tables where possible. The Connection asks this file before it
# sends a frame and before it accepts one; it never keeps state of its own
# about ordering.
#
# Rule 2: this file does not know which side *we* are. It tracks the client
# and the server in the abstract, so the rules we hold the peer to are the
# very rules we follow ourselves: a frame the peer may not send is a
# ProtocolError, the same frame sent by us is a local bug (RuntimeError).
#
# Rule 3: no I/O, no clock, no decoding. Frame contents (versions, limits,
# msgpack) are the Connection's business; this file sees only frame types.
#
# Theory of operation
# ===================
#
# Two machines, one per side. Each sees the frames its own side sends, and
# one frame of the other side's: the server machine sees the client's
# HANDSHAKE (that is what lets the server answer), the client machine sees
# the server's HANDSHAKE (that is what lets the client start sending
# messages). So the only order on the wire is:
#
#   client: HANDSHAKE            server:
#                                  HANDSHAKE    (accept)   or CLOSE (refuse)
#   client: MESSAGES*            server: MESSAGES*
#   either: CLOSE                (the last frame a side sends)
#
# CLOSE is allowed in any state but CLOSED and ERROR, so a side can always
# say why it goes. A lost connection moves the peer's machine to CLOSED
# (lost()); a peer that breaks a rule moves to ERROR (error()), a dead end.

from __future__ import annotations

import enum


class Role(enum.Enum):
    """Which end of the connection: the player's client or the server it dials."""

    CLIENT = "client"
    SERVER = "server"

    @property
    def other(self) -> Role:
        return Role.SERVER if self is Role.CLIENT else Role.CLIENT


class FrameType(enum.IntEnum):
    """The type byte that follows every frame's length prefix."""

    HANDSHAKE = 0x01
    MESSAGES = 0x02
    CLOSE = 0x03


class State(enum.Enum):
    """Where one side is in the conversation."""

    IDLE = "IDLE"  # has sent nothing
    AWAIT_ACCEPT = "AWAIT_ACCEPT"  # client: handshake sent, server's not yet seen
    ACCEPTING = "ACCEPTING"  # server: client's handshake seen, own not yet sent
    OPEN = "OPEN"  # handshakes exchanged: messages flow
    CLOSED = "CLOSED"  # sent CLOSE, or the connection was lost
    ERROR = "ERROR"  # broke a rule; nothing more is read from it


CLIENT, SERVER = Role.CLIENT, Role.SERVER
HANDSHAKE, MESSAGES, CLOSE = FrameType.HANDSHAKE, FrameType.MESSAGES, FrameType.CLOSE
IDLE, AWAIT_ACCEPT, ACCEPTING, OPEN, CLOSED, ERROR = (
    State.IDLE, State.AWAIT_ACCEPT, State.ACCEPTING, State.OPEN, State.CLOSED, State.ERROR)

# role -> state -> (frame, sender) -> next state. The sender is the role
# whose frame it is; a machine mostly sees its own side's frames.
TRANSITIONS: dict[Role, dict[State, dict[tuple[FrameType, Role], State]]] = {
    CLIENT: {
        IDLE: {(HANDSHAKE, CLIENT): AWAIT_ACCEPT, (CLOSE, CLIENT): CLOSED},
        AWAIT_ACCEPT: {(HANDSHAKE, SERVER): OPEN, (CLOSE, CLIENT): CLOSED},
        OPEN: {(MESSAGES, CLIENT): OPEN, (CLOSE, CLIENT): CLOSED},
        CLOSED: {(HANDSHAKE, SERVER): CLOSED},
        ERROR: {},
    },
    SERVER: {
        IDLE: {(HANDSHAKE, CLIENT): ACCEPTING, (CLOSE, SERVER): CLOSED},
        ACCEPTING: {(HANDSHAKE, SERVER): OPEN, (CLOSE, SERVER): CLOSED},
        OPEN: {(MESSAGES, SERVER): OPEN, (CLOSE, SERVER): CLOSED},
        CLOSED: {(HANDSHAKE, CLIENT): CLOSED},
        ERROR: {},
    },
}
# A frame is allowed when the sender's own machine has a transition for it
# and the other machine, if it has any entry for that (frame, sender), has
# one from its current state. E.g. the server's HANDSHAKE needs the server
# machine in ACCEPTING, and moves the client machine from AWAIT_ACCEPT.


class StateError(Exception):
    """A frame that may not be sent now; the text says which and why."""


class ConnectionState:
    """The pair of machines; ``process`` applies one frame or raises StateError."""

    def __init__(self) -> None:
        self.states: dict[Role, State] = {CLIENT: IDLE, SERVER: IDLE}

    def process(self, sender: Role, frame: FrameType) -> None:
        key = (frame, sender)
        own = TRANSITIONS[sender][self.states[sender]].get(key)
        if own is None:
            raise StateError(
                f"a {sender.value} may not send {frame.name} in state {self.states[sender].name}")
        other = sender.other
        watched = any(key in row for row in TRANSITIONS[other].values())
        other_next = TRANSITIONS[other][self.states[other]].get(key)
        if watched and other_next is None:
            raise StateError(
                f"a {sender.value} may not send {frame.name} while the {other.value} "
                f"is in state {self.states[other].name}")
        self.states[sender] = own
        if other_next is not None:
            self.states[other] = other_next

    def error(self, role: Role) -> None:
        """``role`` broke a rule: its machine stops for good."""
        self.states[role] = ERROR

    def lost(self, role: Role) -> None:
        """The connection ended without ``role`` sending CLOSE."""
        if self.states[role] is not ERROR:
            self.states[role] = CLOSED
