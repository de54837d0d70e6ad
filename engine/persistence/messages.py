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
- Accounts, sessions and characters for the login node (310..327), one
  store call each: ``CreateAccount``/``GetAccount`` -> ``AccountReply``,
  ``CreateSession``/``GetSession`` -> ``SessionReply``,
  ``CreateCharacter``/``ListCharacters`` -> ``CharactersReply``,
  ``LoadCharacter`` -> ``CharacterLoaded``, and ``SetPassword``,
  ``SetRoles``, ``RevokeSession``, ``RevokeAccountSessions``,
  ``ExpireSessions``, ``DeleteCharacter`` -> ``StoreDone``.

``error`` is empty on success. Otherwise it starts with a code a program
can test (``invalid:``, ``name_taken:``, ``not_found:``, ``overloaded:``,
``store:``), then words for a person; for ``overloaded`` and ``store`` (the
database failed) nothing of the request was done and it may be retried.
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


# -- accounts, sessions and characters (for the login node) ----------------------------------
#
# Records travel as lists in the order of the record's fields:
# account   [account_id, name, password_hash, password_params, roles, created_at]
# session   [token, account_id, created_at, expires_at, revoked]
# character [character_id, account_id, name, entity_id, created_at]
# Times are the requester's (``now`` is sent along): the store reads no clock.
# ``error`` starts with a code: ``name_taken:``, ``not_found:``, ``invalid:``,
# ``overloaded:`` or ``store:`` (the database failed; nothing was done).


class CreateAccount(Message, type_id=310):
    serial: int
    name: str
    password_hash: str
    password_params: str
    roles: list[str]
    now: float


class GetAccount(Message, type_id=311):
    """The account named ``name``; with an empty name, the account ``account_id``."""

    serial: int
    name: str
    account_id: int = 0


class AccountReply(Message, type_id=312):
    serial: int
    account: list | None
    """The account, or None if there is none (or on error)."""
    error: str = ""


class SetPassword(Message, type_id=313):
    serial: int
    account_id: int
    password_hash: str
    password_params: str


class SetRoles(Message, type_id=314):
    serial: int
    account_id: int
    roles: list[str]


class StoreDone(Message, type_id=315):
    """The answer to a request that returns no record: how many rows it touched, or the error."""

    serial: int
    affected: int
    error: str = ""


class CreateSession(Message, type_id=316):
    serial: int
    token: str
    account_id: int
    now: float
    expires_at: float


class GetSession(Message, type_id=317):
    serial: int
    token: str
    now: float


class SessionReply(Message, type_id=318):
    serial: int
    session: list | None
    """The session if it is live at ``now``, else None."""
    error: str = ""


class RevokeSession(Message, type_id=319):
    serial: int
    token: str


class RevokeAccountSessions(Message, type_id=320):
    serial: int
    account_id: int


class ExpireSessions(Message, type_id=321):
    serial: int
    now: float


class CreateCharacter(Message, type_id=322):
    serial: int
    account_id: int
    name: str
    entity_class: str
    state: bytes
    region: str | None
    now: float


class ListCharacters(Message, type_id=323):
    serial: int
    account_id: int


class CharactersReply(Message, type_id=324):
    """Answers CreateCharacter (one character) and ListCharacters (all of the account's)."""

    serial: int
    characters: list[list]
    error: str = ""


class DeleteCharacter(Message, type_id=325):
    serial: int
    character_id: int


class LoadCharacter(Message, type_id=326):
    serial: int
    character_id: int


class CharacterLoaded(Message, type_id=327):
    serial: int
    character: list | None
    entity: list | None
    """The character's entity row; both None if there is no such character."""
    error: str = ""
