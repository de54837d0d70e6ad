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


def _rule(sender: Role, frame: FrameType, states: dict[Role, State]) -> dict[Role, State] | str:
    """The rule above, applied once: the states after ``frame``, or why it may not be sent."""
    key = (frame, sender)
    own = TRANSITIONS[sender][states[sender]].get(key)
    if own is None:
        return f"a {sender.value} may not send {frame.name} in state {states[sender].name}"
    other = sender.other
    watched = any(key in row for row in TRANSITIONS[other].values())
    other_next = TRANSITIONS[other][states[other]].get(key)
    if watched and other_next is None:
        return (f"a {sender.value} may not send {frame.name} while the {other.value} "
                f"is in state {states[other].name}")
    after = dict(states)
    after[sender] = own
    if other_next is not None:
        after[other] = other_next
    return after


# The rule, compiled at import for every case, so that a frame costs two
# tuple indexes instead of hashing enums (Enum.__hash__ runs in Python). A
# pair of states (client, server) is a small int, its index in _PAIRS; a step
# is _STEPS[frame * 2 + (sender is SERVER)][pair]: the next pair, or the
# StateError text. Only states that a role's table has are paired.
_PAIRS: tuple[tuple[State, State], ...] = tuple(
    (c, s) for c in TRANSITIONS[CLIENT] for s in TRANSITIONS[SERVER])
_CODE = {pair: code for code, pair in enumerate(_PAIRS)}


def _compile() -> tuple[tuple[int | str, ...] | None, ...]:
    rows: list[tuple[int | str, ...] | None] = [None] * (2 * max(FrameType) + 2)
    for frame in FrameType:
        for sender in Role:
            row: list[int | str] = []
            for client_state, server_state in _PAIRS:
                after = _rule(sender, frame, {CLIENT: client_state, SERVER: server_state})
                row.append(after if isinstance(after, str) else _CODE[after[CLIENT], after[SERVER]])
            rows[frame * 2 + (sender is SERVER)] = tuple(row)
    return tuple(rows)


_STEPS = _compile()
_START = _CODE[IDLE, IDLE]

FLOWING = _CODE[OPEN, OPEN]
"""The pair code of two open sides. MESSAGES from either side leave it as it
is (checked below), so the Connection's hot path compares against it once
and skips the table."""
if not all(_STEPS[MESSAGES * 2 + (sender is SERVER)][FLOWING] == FLOWING  # type: ignore[index]
           for sender in Role):
    raise AssertionError("the table no longer lets MESSAGES flow between two open sides")


class ConnectionState:
    """The pair of machines; ``process`` applies one frame or raises StateError.

    ``pair`` encodes both states in one int (see ``_STEPS``); ``state(role)``
    reads one of them back.
    """

    __slots__ = ("pair",)

    def __init__(self) -> None:
        self.pair = _START

    def state(self, role: Role) -> State:
        return _PAIRS[self.pair][role is SERVER]

    @property
    def states(self) -> dict[Role, State]:
        client_state, server_state = _PAIRS[self.pair]
        return {CLIENT: client_state, SERVER: server_state}

    def process(self, sender: Role, frame: int) -> None:
        after = _STEPS[frame * 2 + (sender is SERVER)][self.pair]  # type: ignore[index]
        if after.__class__ is str:
            raise StateError(after)
        self.pair = after  # type: ignore[assignment]

    def _set(self, role: Role, state: State) -> None:
        pair = list(_PAIRS[self.pair])
        pair[role is SERVER] = state
        self.pair = _CODE[pair[0], pair[1]]

    def error(self, role: Role) -> None:
        """``role`` broke a rule: its machine stops for good."""
        self._set(role, ERROR)

    def lost(self, role: Role) -> None:
        """The connection ended without ``role`` sending CLOSE."""
        if self.state(role) is not ERROR:
            self._set(role, CLOSED)
