"""Guids: 64-bit addresses of everything that can receive a message.

A Guid is a plain ``int`` (fast as a dict key, native in msgpack) packing
three parts::

    bits 63..48  node         which process the object lives on
    bits 47..20  objectspace  which ObjectSpace on that node
    bits 19..0   object       which object inside the space

Object 0 of a space addresses the ObjectSpace itself; space 0 of a node holds
the node's well-known objects (its modules and managers). A Guid says *where*
an object lives, so it changes when the object moves: never persist one.

>>> g = make(5, 1234, 17)
>>> node_of(g), space_of(g), object_of(g)
(5, 1234, 17)
>>> format_guid(g)
'5:1234:17'
>>> parse_guid("5:1234:17") == g
True
"""

from __future__ import annotations

import enum
from collections import deque
from typing import NewType

Guid = NewType("Guid", int)
"""A 64-bit address: node(16) | objectspace(28) | object(20)."""

NODE_BITS = 16
SPACE_BITS = 28
OBJECT_BITS = 20

MAX_NODE = (1 << NODE_BITS) - 1
MAX_SPACE = (1 << SPACE_BITS) - 1
MAX_OBJECT = (1 << OBJECT_BITS) - 1
MAX_GUID = (1 << 64) - 1

_SPACE_SHIFT = OBJECT_BITS
_NODE_SHIFT = OBJECT_BITS + SPACE_BITS

NULL: Guid = Guid(0)
"""The null Guid: no node, no space, no object (node ids start at 1)."""


def make(node: int, space: int, obj: int) -> Guid:
    """Pack the three parts into a Guid; any part out of range raises ValueError."""
    if not 0 <= node <= MAX_NODE:
        raise ValueError(f"node {node!r} out of range 0..{MAX_NODE}")
    if not 0 <= space <= MAX_SPACE:
        raise ValueError(f"objectspace {space!r} out of range 0..{MAX_SPACE}")
    if not 0 <= obj <= MAX_OBJECT:
        raise ValueError(f"object {obj!r} out of range 0..{MAX_OBJECT}")
    return Guid((node << _NODE_SHIFT) | (space << _SPACE_SHIFT) | obj)


def node_of(g: int) -> int:
    """The node part (bits 63..48)."""
    return g >> _NODE_SHIFT


def space_of(g: int) -> int:
    """The objectspace part (bits 47..20)."""
    return (g >> _SPACE_SHIFT) & MAX_SPACE


def object_of(g: int) -> int:
    """The object part (bits 19..0)."""
    return g & MAX_OBJECT


def space_guid(g: int) -> Guid:
    """The Guid of the ObjectSpace that ``g`` lives in (its object part zeroed)."""
    return Guid(g & ~MAX_OBJECT)


def is_valid(g: object) -> bool:
    """True if ``g`` is an int in the 64-bit unsigned range (bools are not Guids)."""
    return type(g) is int and 0 <= g <= MAX_GUID


def format_guid(g: int) -> str:
    """The readable form ``"node:space:object"``."""
    if not is_valid(g):
        raise ValueError(f"not a Guid: {g!r}")
    return f"{node_of(g)}:{space_of(g)}:{object_of(g)}"


def parse_guid(text: str) -> Guid:
    """Parse ``"node:space:object"``; malformed text or out-of-range parts raise ValueError."""
    parts = text.strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a Guid (want 'node:space:object' of decimal digits): {text!r}")
    return make(int(parts[0]), int(parts[1]), int(parts[2]))


class WellKnown(enum.IntEnum):
    """Object ids in space 0 of every node: the node's modules and managers.

    ``module_guid(node, WellKnown.TRANSPORT)`` addresses the transport module
    of ``node`` from anywhere in the cluster. Ids at or above ``FIRST_FREE``
    are handed to modules a stack file adds beyond these.
    """

    NODE = 1
    SPACE_MANAGER = 2
    NETWORK = 3
    TRANSPORT = 4
    GAMELOGIC = 5
    PHYSICS = 6
    RENDER = 7
    SOUND = 8
    INPUT = 9
    GLD = 10
    LOGIN = 11
    PERSISTENCE = 12
    AI = 13
    WORLD_MIRROR = 14
    FIRST_FREE = 64


def module_guid(node: int, obj: int) -> Guid:
    """The Guid of a node's well-known object (space 0)."""
    return make(node, 0, obj)


class NodeKind(enum.Enum):
    """Kinds of node and the node-id range each draws from.

    A node id says what kind of node it is, so a Guid alone tells whether a
    message is headed for a GLD, a gamelogic node or a player's client.
    """

    GLD = (1, 99)
    LOGIN = (100, 999)
    PERSISTENCE = (1000, 1999)
    GAMELOGIC = (2000, 9999)
    AI = (10000, 10999)
    PHYSICS = (11000, 11999)
    TOOL = (12000, 16383)
    CLIENT = (16384, MAX_NODE)

    @property
    def first(self) -> int:
        return self.value[0]

    @property
    def last(self) -> int:
        return self.value[1]

    def contains(self, node: int) -> bool:
        return self.first <= node <= self.last


def kind_of_node(node: int) -> NodeKind:
    """The kind of node that ``node`` belongs to; node 0 or out of range raises ValueError."""
    for kind in NodeKind:
        if kind.contains(node):
            return kind
    raise ValueError(f"node id {node!r} is in no node kind's range (1..{MAX_NODE})")


class GuidExhaustedError(RuntimeError):
    """Every id of a range is live: the GuidServer refuses rather than wrap around."""


class GuidServer:
    """Hands out objectspace ids on one node and object ids within each space.

    Ids are handed out in increasing order and a freed id is only reused once
    the counter has run off the end of the range, so a message still in
    flight to a destroyed object rarely reaches a newcomer. A live id is
    never handed out twice; when every id is live, allocation raises
    ``GuidExhaustedError``.

    >>> server = GuidServer(node=7)
    >>> space = server.allocate_space()
    >>> g = server.allocate_object(space)
    >>> (node_of(g), space_of(g), object_of(g))
    (7, 1, 1)
    """

    def __init__(self, node: int, max_space: int = MAX_SPACE, max_object: int = MAX_OBJECT):
        make(node, 0, 0)  # validates the node id
        if not 1 <= max_space <= MAX_SPACE or not 1 <= max_object <= MAX_OBJECT:
            raise ValueError("max_space and max_object must lie within the Guid's ranges")
        self.node = node
        self._spaces = _IdPool(first=1, last=max_space, what=f"objectspace ids on node {node}")
        self._objects: dict[int, _IdPool] = {}
        self._max_object = max_object

    def allocate_space(self) -> int:
        """A fresh objectspace id (1..max); space 0 is the node's well-known space."""
        space = self._spaces.allocate()
        self._objects[space] = _IdPool(
            first=1, last=self._max_object, what=f"object ids in space {self.node}:{space}"
        )
        return space

    def free_space(self, space: int) -> None:
        """Release a space id and every object id in it."""
        self._spaces.free(space)
        del self._objects[space]

    def allocate_object(self, space: int) -> Guid:
        """A fresh object Guid inside ``space`` (object 0 is the space itself)."""
        pool = self._objects.get(space)
        if pool is None:
            raise KeyError(f"objectspace {space} is not allocated on node {self.node}")
        return make(self.node, space, pool.allocate())

    def free_object(self, g: int) -> None:
        """Release an object Guid so its id may eventually be reused."""
        if node_of(g) != self.node:
            raise ValueError(f"{format_guid(g)} does not belong to node {self.node}")
        pool = self._objects.get(space_of(g))
        if pool is None:
            raise KeyError(f"objectspace of {format_guid(g)} is not allocated")
        pool.free(object_of(g))

    def space_guid(self, space: int) -> Guid:
        """The Guid addressing objectspace ``space`` of this node."""
        return make(self.node, space, 0)

    def live_spaces(self) -> int:
        return len(self._spaces)


class _IdPool:
    """Ids ``first..last``: a rising counter first, then the freed ids."""

    __slots__ = ("_first", "_last", "_next", "_freed", "_live", "_what")

    def __init__(self, first: int, last: int, what: str):
        self._first = first
        self._last = last
        self._next = first
        self._freed: deque[int] = deque()
        self._live: set[int] = set()
        self._what = what

    def __len__(self) -> int:
        return len(self._live)

    def allocate(self) -> int:
        if self._next <= self._last:
            ident = self._next
            self._next += 1
        elif self._freed:
            ident = self._freed.popleft()
        else:
            raise GuidExhaustedError(f"all {self._last - self._first + 1} {self._what} are live")
        self._live.add(ident)
        return ident

    def free(self, ident: int) -> None:
        if ident not in self._live:
            raise KeyError(f"{ident} is not a live id among {self._what}")
        self._live.remove(ident)
        self._freed.append(ident)
