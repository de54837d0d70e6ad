"""Messages to and from the persistence node (engine type ids 300..349).

Every request carries a ``serial`` chosen by the sender; the answer goes
back to the request's ``frm`` with the same serial, so a sender can have
many requests in flight. An entity row on the wire is the list
``[entity_id, class, owner, region, version, state]``::

    to = module_guid(persistence_node, WellKnown.PERSISTENCE)
    me.send(SaveEntities(to, me.guid, 7, [[42, "Pig", None, "valley", 3, state]]))
    # ... later, in a handler:  SaveResult(serial=7, saved_ids=[42], refused=[], error="")

- ``LoadEntities`` / ``LoadRegion`` / ``LoadOwned`` -> ``EntitiesLoaded``
  (large answers come in several messages; the last has ``done=True``).
- ``SaveEntities`` -> ``SaveResult``: the ids saved, and ``[id, reason]``
  for each row refused (stale version, superseded, malformed). All saves
  the node receives in one tick are committed in one transaction.
- ``ReserveEntityIds`` -> ``EntityIdsReserved``: fresh persistent ids.

``error`` is empty unless the database itself failed; then nothing of that
request was done and the sender may retry.
"""

from __future__ import annotations

from engine.messages import Message

FIRST_TYPE_ID = 300
LAST_TYPE_ID = 349


class LoadEntities(Message, type_id=300):
    serial: int
    entity_ids: list[int]


class LoadRegion(Message, type_id=301):
    serial: int
    region: str


class LoadOwned(Message, type_id=302):
    serial: int
    owner: int


class EntitiesLoaded(Message, type_id=303):
    serial: int
    rows: list[list]
    """``[entity_id, class, owner, region, version, state]`` rows, by id."""
    done: bool = True
    """False: more rows for this serial follow in later messages."""
    error: str = ""


class SaveEntities(Message, type_id=304):
    serial: int
    rows: list[list]
    """``[entity_id, class, owner, region, version, state]`` rows to save."""


class SaveResult(Message, type_id=305):
    serial: int
    saved_ids: list[int]
    refused: list[list]
    """``[entity_id or None, reason]`` for each row not saved."""
    error: str = ""


class ReserveEntityIds(Message, type_id=306):
    serial: int
    how_many: int


class EntityIdsReserved(Message, type_id=307):
    serial: int
    first: int
    """The ids are ``first .. first + how_many - 1``; 0 with ``error`` set on failure."""
    how_many: int
    error: str = ""
