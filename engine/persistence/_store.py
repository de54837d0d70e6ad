"""The Store interface: everything the persistence node asks of a database.

It is deliberately small and synchronous: the persistence node calls it from
one worker thread that owns the connection, so no game tick ever waits on
it. Times are passed in (``now=``), never read from a clock here.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import Any

from engine.persistence._records import (
    Account,
    Character,
    EntityRow,
    SaveOutcome,
    Session,
    StaleSaveError,
    entity_row,
)


class Store(abc.ABC):
    """A database of accounts, sessions, characters and versioned entities.

    Open one with :func:`engine.persistence.open_store`; the schema is
    migrated on open. Every method is one transaction (``save_entities`` is
    one for the whole batch). Names are unique case-insensitively.
    """

    url: str
    backend: str
    """``"sqlite"`` or ``"postgres"``."""

    # -- schema ------------------------------------------------------------------------

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The newest migration applied to this database."""

    # -- accounts ----------------------------------------------------------------------

    @abc.abstractmethod
    def create_account(self, name: str, password_hash: str, password_params: str = "",
                       roles: Sequence[str] = (), *, now: float) -> Account:
        """A new account; NameTakenError if the name (case-insensitively) exists."""

    @abc.abstractmethod
    def get_account(self, name: str) -> Account | None:
        """The account with this name (case-insensitively), or None."""

    @abc.abstractmethod
    def get_account_by_id(self, account_id: int) -> Account | None:
        """The account with this id, or None."""

    @abc.abstractmethod
    def set_password(self, account_id: int, password_hash: str, password_params: str = "") -> None:
        """Replace the stored hash and its parameters; NotFoundError if no such account."""

    @abc.abstractmethod
    def set_roles(self, account_id: int, roles: Sequence[str]) -> None:
        """Replace the account's roles; NotFoundError if no such account."""

    # -- sessions ----------------------------------------------------------------------

    @abc.abstractmethod
    def create_session(self, token: str, account_id: int, *, now: float, expires_at: float) -> Session:
        """Record a session token (the caller makes it); NameTakenError if the token exists."""

    @abc.abstractmethod
    def get_session(self, token: str, *, now: float) -> Session | None:
        """The session if it exists, is not revoked and has not expired at ``now``."""

    @abc.abstractmethod
    def revoke_session(self, token: str) -> bool:
        """Revoke one session; False if there was no live-or-dead session with that token."""

    @abc.abstractmethod
    def revoke_account_sessions(self, account_id: int) -> int:
        """Revoke every session of an account (logout everywhere); returns how many."""

    @abc.abstractmethod
    def expire_sessions(self, *, now: float) -> int:
        """Delete sessions expired at ``now`` or revoked; returns how many went."""

    # -- characters ----------------------------------------------------------------------

    @abc.abstractmethod
    def create_character(self, account_id: int, name: str, entity_class: str, state: bytes, *,
                         region: str | None = None, now: float) -> Character:
        """A character and its entity (version 1, owned by the account), in one transaction."""

    @abc.abstractmethod
    def list_characters(self, account_id: int) -> list[Character]:
        """The account's characters, oldest first."""

    @abc.abstractmethod
    def get_character(self, character_id: int) -> Character | None:
        """One character, or None."""

    @abc.abstractmethod
    def delete_character(self, character_id: int) -> bool:
        """Delete a character and its entity (not what it owns); False if it did not exist."""

    @abc.abstractmethod
    def load_character(self, character_id: int) -> tuple[Character, EntityRow] | None:
        """A character with its entity row, read in one transaction."""

    # -- entities ----------------------------------------------------------------------

    @abc.abstractmethod
    def reserve_entity_ids(self, count: int) -> range:
        """``count`` fresh entity ids nobody else will get, for new entities."""

    @abc.abstractmethod
    def save_entities(self, rows: Iterable[EntityRow | Sequence[Any]]) -> SaveOutcome:
        """Save many rows in one transaction; each is saved only if newer than the stored one.

        A row is refused (with a reason, changing nothing) if it is
        malformed, if its version is not greater than the stored version,
        or if a later row of the same batch has the same id and a higher
        version. A database error rolls the whole batch back and raises.
        """

    @abc.abstractmethod
    def load_entities(self, entity_ids: Iterable[int]) -> list[EntityRow]:
        """The rows that exist among ``entity_ids``, ordered by id."""

    @abc.abstractmethod
    def load_region(self, region: str) -> list[EntityRow]:
        """Every entity in ``region``, ordered by id."""

    @abc.abstractmethod
    def load_owned(self, owner: int) -> list[EntityRow]:
        """Every entity owned by ``owner``, ordered by id."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""

    # -- conveniences built on the above ------------------------------------------------

    def save_entity(self, row: EntityRow | Sequence[Any]) -> None:
        """Save one row; StaleSaveError (or InvalidInputError) if it is refused."""
        outcome = self.save_entities([entity_row(row)])
        reason = outcome.results[0]
        if reason is not None:
            raise StaleSaveError(reason)

    def is_broken(self) -> bool:
        """True if the connection is lost and the store must be reopened."""
        return False

    def load_entity(self, entity_id: int) -> EntityRow | None:
        rows = self.load_entities([entity_id])
        return rows[0] if rows else None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
