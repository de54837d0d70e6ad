"""The demo game's operations: Atlas-style messages with parents, serialno and refno.

Every operation is an :class:`Action` (something an entity does) or a
:class:`Perception` (something an entity learns); the Python class tree is
the Atlas ``parents`` tree, so ``issubclass(Sight, Perception)``. Every
field has a default, so operations are built by keyword. ``serialno``
numbers an operation; an answer carries it back as ``refno``, which is how
a client ties a ``Sight`` to its ``Look`` or a refusal (``Info``) to what
it refused.

Type ids: 1000-1019 actions (clients may send those marked C), 1020-1039
perceptions, 1040-1049 between the gamelogic and AI nodes.

=========  ====  ==  ==========================================================
op         id    C   meaning
=========  ====  ==  ==========================================================
Look       1000  C   ask for a Sight of ``target``
Move       1001  C   walk at (vx, vy) m/s, facing ``yaw`` degrees (0, 0 = stop)
Touch      1002  C   use ``target``: open/shut a door, loot a corpse, sell pigs
Talk       1003  C   say ``text`` aloud (heard nearby, muffled through doors)
Attack     1004  C   attack ``target`` with what is wielded
Wield      1005  C   take ``item`` in hand: "sword", "bow" or "" (fists)
Cast       1006  C   cast ``spell`` ("spark") at ``target``
Chat       1007  C   say ``text`` on a global ``channel`` (through the GLD)
Create     1008  C   designers only: place an entity (``entity`` as in a world file)
Set        1009  C   designers: change ``props`` of ``target``; server: a change seen
Delete     1010  C   designers only: remove ``target``
Give       1011      hand ``items`` to the receiver (a corpse looted, a trade)
Sight      1020      an entity came into view (``entity``: its description)
Disappear  1021      ``target`` left the view
Moves      1022      positions that changed: packed rows (guid, x, y, z, yaw), see MOVE_ROW
Sound      1023      a sound from ``source`` at (x, y, z): ``what`` and ``text``
Hit        1024      ``attacker`` hurt ``target`` by ``damage`` (``what`` with)
Miss       1025      ``attacker`` missed ``target``
Death      1026      ``target`` died; ``corpse`` holds its loot
Stats      1027      the player's own state: HUD, skills, inventory
Info       1028      a line of text for the player (refusals, trades)
Heard      1029      global chat heard on ``channel``
Perceive   1040      gamelogic -> AI: what each NPC sees this tick
Act        1041      AI -> gamelogic: what each NPC does
=========  ====  ==  ==========================================================
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from engine.guid import Guid
from engine.messages import Message


def _snake(name: str) -> str:
    out = [name[0].lower()]
    for ch in name[1:]:
        out.append("_" + ch.lower() if ch.isupper() else ch)
    return "".join(out)


class Operation(Message):
    """An Atlas operation: numbered by ``serialno``, answering ``refno``."""

    parents: ClassVar[tuple[str, ...]] = ()
    serialno: int = 0
    refno: int = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.parents = tuple(_snake(b.__name__) for b in cls.__mro__[1:]
                            if isinstance(b, type) and issubclass(b, Operation) and b is not Operation)[:1]


class Action(Operation):
    """Something an entity does."""


class Perception(Operation):
    """Something an entity learns about the world."""


# -- actions ---------------------------------------------------------------------------


class Look(Action, type_id=1000):
    target: Guid = Guid(0)


class Move(Action, type_id=1001):
    vx: float = 0.0
    vy: float = 0.0
    yaw: float = 0.0


class Touch(Action, type_id=1002):
    target: Guid = Guid(0)


class Talk(Action, type_id=1003):
    text: str = ""


class Attack(Action, type_id=1004):
    target: Guid = Guid(0)


class Wield(Action, type_id=1005):
    item: str = ""


class Cast(Action, type_id=1006):
    spell: str = ""
    target: Guid = Guid(0)


class Chat(Action, type_id=1007):
    channel: str = "global"
    text: str = ""


class Create(Action, type_id=1008):
    entity: dict | None = None


class Set(Action, type_id=1009):
    target: Guid = Guid(0)
    props: dict | None = None


class Delete(Action, type_id=1010):
    target: Guid = Guid(0)


class Give(Action, type_id=1011):
    """Items handed to the receiver: ``[[item class, count], ...]`` ("coin" for coins). Server only."""

    items: list | None = None


# -- perceptions ------------------------------------------------------------------------


class Sight(Perception, type_id=1020):
    entity: dict | None = None


class Disappear(Perception, type_id=1021):
    target: Guid = Guid(0)


class Moves(Perception, type_id=1022):
    """Positions that changed, as packed rows: :data:`MOVE_ROW` each (:func:`pack_moves`)."""

    updates: bytes = b""


MOVE_ROW = struct.Struct("<Q4f")
"""One ``Moves`` row: the Guid (uint64) and x, y, z, yaw (float32), little-endian, 24 bytes.

Most of what a server sends and a client reads is these rows (a player
gets a few dozen twenty times a second), so they travel packed: the
server writes every player's rows from one numpy array (no Python object
per row), the client reads them in C, and a row is 24 bytes instead of
about 47 as a msgpack list. float32 keeps a tenth of a millimetre across a
few kilometres, finer than the millimetre the positions are rounded to.
"""

MOVE_ROW_DTYPE = np.dtype([("guid", "<u8"), ("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("yaw", "<f4")])
""":data:`MOVE_ROW` as a numpy dtype, for packing many rows at once."""


def pack_moves(rows: Iterable[Sequence[float]]) -> bytes:
    """``[[guid, x, y, z, yaw], ...]`` as the ``updates`` of a ``Moves``."""
    return b"".join(MOVE_ROW.pack(int(g), x, y, z, yaw) for g, x, y, z, yaw in rows)


def unpack_moves(updates: bytes) -> list[tuple[int, float, float, float, float]]:
    """A ``Moves``' rows as ``(guid, x, y, z, yaw)`` tuples; ValueError unless whole rows."""
    if len(updates) % MOVE_ROW.size:
        raise ValueError(f"Moves: {len(updates)} bytes is not a whole number of {MOVE_ROW.size}-byte rows")
    return list(MOVE_ROW.iter_unpack(updates))


class Sound(Perception, type_id=1023):
    source: Guid = Guid(0)
    what: str = ""
    text: str = ""
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


class Hit(Perception, type_id=1024):
    target: Guid = Guid(0)
    attacker: Guid = Guid(0)
    damage: int = 0
    health: int = 0
    what: str = ""


class Miss(Perception, type_id=1025):
    target: Guid = Guid(0)
    attacker: Guid = Guid(0)
    what: str = ""


class Death(Perception, type_id=1026):
    target: Guid = Guid(0)
    killer: Guid = Guid(0)
    corpse: Guid = Guid(0)


class Stats(Perception, type_id=1027):
    state: dict | None = None


class Info(Perception, type_id=1028):
    text: str = ""


class Heard(Perception, type_id=1029):
    channel: str = ""
    speaker: str = ""
    text: str = ""


# -- gamelogic <-> AI node --------------------------------------------------------------


class Perceive(Operation, type_id=1040):
    """Each NPC's view: [[npc, class, x, y, health, hurt_by, [[guid, class, x, y], ...]], ...]."""

    npcs: list | None = None


class Act(Operation, type_id=1041):
    """NPC actions: [npc, "move", vx, vy], [npc, "attack", target], [npc, "say", text], [npc, "buy", pig]."""

    actions: list | None = None


CLIENT_ACTIONS = (Look, Move, Touch, Talk, Attack, Wield, Cast, Chat, Create, Set, Delete)
"""What a client may send (the network -> gamelogic pipe filter lets only these through)."""
DESIGNER_ACTIONS = (Create, Set, Delete)
"""Refused unless the account has the designer role."""
