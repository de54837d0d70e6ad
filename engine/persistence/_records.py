"""What the Store hands out and takes in: small frozen records, plus input checks.

Every value that reaches SQL passes a check here first, so both backends
refuse the same inputs with the same error (PostgreSQL cannot hold a NUL in
text, SQLite can; we refuse it everywhere). Checks never build SQL: queries
are always parameterised.

>>> entity_row([7, "Pig", None, "valley", 3, b"\\x80"]).version
3
>>> entity_row([0, "Pig", None, "valley", 3, b""])
Traceback (most recent call last):
  ...
engine.persistence._records.InvalidInputError: entity_id must be an int in 1..2**63-1, got 0
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import attrs

MAX_ID = (1 << 63) - 1
"""Ids are signed 64-bit in both databases; 0 and negatives are refused."""
MAX_TEXT = 1024
"""Longest name, class, region, role or token the store accepts (characters)."""
MAX_STATE = 16 << 20
"""Largest entity state blob (bytes)."""

_ROLE = re.compile(r"[A-Za-z0-9_.\-]+")


class StoreError(Exception):
    """Base of the store's own errors: what a caller may catch and report."""


class StoreUrlError(StoreError, ValueError):
    """A store URL names no backend we have, or is malformed."""


class SchemaError(StoreError):
    """The database's schema is newer than this code, or a migration failed."""


class NameTakenError(StoreError):
    """An account or character name is already in use (names compare case-insensitively)."""


class NotFoundError(StoreError):
    """The account, session or character asked for does not exist."""


class InvalidInputError(StoreError, ValueError):
    """A value the store refuses before it reaches the database (wrong type, range, NUL...)."""


class StaleSaveError(StoreError):
    """A save whose version is not newer than the stored one (see ``Store.save_entity``)."""


@attrs.frozen(slots=True)
class Account:
    """An account. The password hash and its parameters are opaque to the store."""

    account_id: int
    name: str
    password_hash: str
    password_params: str
    roles: tuple[str, ...]
    created_at: float


@attrs.frozen(slots=True)
class Session:
    """A session token issued to an account; live while not revoked and not expired."""

    token: str
    account_id: int
    created_at: float
    expires_at: float
    revoked: bool

    def live(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


@attrs.frozen(slots=True)
class Character:
    """A character of an account; its game state is the entity ``entity_id``."""

    character_id: int
    account_id: int
    name: str
    entity_id: int
    created_at: float


@attrs.frozen(slots=True)
class EntityRow:
    """One persistent entity: indexed columns plus its msgpack ``state``.

    ``entity_id`` is the persistent 64-bit id (never a Guid); ``owner`` is an
    account or entity id (or None); ``version`` grows with every save.
    On the wire a row is the list ``[entity_id, class, owner, region,
    version, state]`` (see :meth:`as_list` and :func:`entity_row`).
    """

    entity_id: int
    entity_class: str
    owner: int | None
    region: str | None
    version: int
    state: bytes

    def as_list(self) -> list[Any]:
        return [self.entity_id, self.entity_class, self.owner, self.region, self.version, self.state]


@attrs.frozen(slots=True)
class SaveOutcome:
    """The answer to a batch save: one entry per input row, in input order.

    ``results[i]`` is None if row ``i`` was saved, else the reason it was
    refused. A refused row changed nothing in the database.
    """

    ids: tuple[int | None, ...]
    results: tuple[str | None, ...]

    @property
    def saved(self) -> list[int]:
        return [i for i, r in zip(self.ids, self.results, strict=True) if r is None and i is not None]

    @property
    def refused(self) -> list[tuple[int | None, str]]:
        return [(i, r) for i, r in zip(self.ids, self.results, strict=True) if r is not None]


# -- checks --------------------------------------------------------------------------------


def check_id(value: Any, what: str) -> int:
    """An id in 1..2**63-1 (bools are not ids)."""
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise InvalidInputError(f"{what} must be an int in 1..2**63-1, got {value!r:.40}")
    return value


def check_text(value: Any, what: str, *, max_len: int = MAX_TEXT, empty: bool = False) -> str:
    """A str without NUL or unpaired surrogates, at most ``max_len`` characters."""
    if type(value) is not str:
        raise InvalidInputError(f"{what} must be a str, got {type(value).__name__}")
    if not value and not empty:
        raise InvalidInputError(f"{what} must not be empty")
    if len(value) > max_len:
        raise InvalidInputError(f"{what} is longer than {max_len} characters")
    if "\x00" in value:
        raise InvalidInputError(f"{what} must not contain NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} is not valid Unicode (unpaired surrogate)") from None
    return value


def check_time(value: Any, what: str) -> float:
    if type(value) not in (int, float) or value != value or value in (float("inf"), float("-inf")):
        raise InvalidInputError(f"{what} must be a finite number, got {value!r:.40}")
    return float(value)


def name_key(name: str) -> str:
    """What names are unique by: NFKC-normalised and case-folded (``Bob`` == ``BOB``)."""
    return unicodedata.normalize("NFKC", name).casefold()


def check_roles(roles: Any) -> tuple[str, ...]:
    """Role names: letters, digits, ``_ . -``; returned sorted and unique."""
    if isinstance(roles, (str, bytes)) or not isinstance(roles, (Sequence, set, frozenset)):
        raise InvalidInputError(f"roles must be a sequence of str, got {type(roles).__name__}")
    out = set()
    for role in roles:
        check_text(role, "role", max_len=64)
        if not _ROLE.fullmatch(role):
            raise InvalidInputError(f"role {role!r} may hold only letters, digits, '_', '.', '-'")
        out.add(role)
    return tuple(sorted(out))


def entity_row(row: Any) -> EntityRow:
    """An EntityRow from itself or from its list form; anything malformed raises InvalidInputError."""
    if type(row) is EntityRow:
        values = row.as_list()
    elif isinstance(row, (list, tuple)) and len(row) == 6:
        values = list(row)
    else:
        raise InvalidInputError("an entity row is [entity_id, class, owner, region, version, state]")
    entity_id, cls, owner, region, version, state = values
    check_id(entity_id, "entity_id")
    check_text(cls, "class")
    if owner is not None:
        check_id(owner, "owner")
    if region is not None:
        check_text(region, "region")
    check_id(version, "version")
    if type(state) is not bytes:
        raise InvalidInputError(f"state must be bytes, got {type(state).__name__}")
    if len(state) > MAX_STATE:
        raise InvalidInputError(f"state is larger than {MAX_STATE} bytes")
    return row if type(row) is EntityRow else EntityRow(entity_id, cls, owner, region, version, state)
