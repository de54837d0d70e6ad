"""Persistence: a small Store over SQLite or PostgreSQL, and the node's worker thread.

The persistence node owns the database; everything else reaches it with the
messages in :mod:`engine.persistence.messages`. The Store itself::

    from engine.persistence import open_store

    with open_store("sqlite:///var/spenefett.db") as store:
        account = store.create_account("ann", "$argon2id$...", now=0.0)
        hero = store.create_character(account.account_id, "Ann", "Hero", b"\\x80", now=0.0)
        outcome = store.save_entities([[hero.entity_id, "Hero", account.account_id, "valley", 2,
                                        b"\\x81\\xa2hp\\x0a"]])
        outcome.saved        # [hero.entity_id]; a version not above the stored one is refused

Schema, migrations, versioned saves and durability: ``docs/persistence.md``.
"""

from engine.persistence._postgres import PostgresStore
from engine.persistence._records import (
    Account,
    Character,
    EntityRow,
    InvalidInputError,
    NameTakenError,
    NotFoundError,
    SaveOutcome,
    SchemaError,
    Session,
    StaleSaveError,
    StoreError,
    StoreUrlError,
    entity_row,
    name_key,
)
from engine.persistence._schema import MIGRATIONS, Migration
from engine.persistence._sqlite import SqliteStore
from engine.persistence._store import Store
from engine.persistence._url import DEFAULT_URL, open_store, sqlite_path
from engine.persistence._worker import StoreWorker

__all__ = [
    "DEFAULT_URL",
    "MIGRATIONS",
    "Account",
    "Character",
    "EntityRow",
    "InvalidInputError",
    "Migration",
    "NameTakenError",
    "NotFoundError",
    "PostgresStore",
    "SaveOutcome",
    "SchemaError",
    "Session",
    "SqliteStore",
    "StaleSaveError",
    "Store",
    "StoreError",
    "StoreUrlError",
    "StoreWorker",
    "entity_row",
    "name_key",
    "open_store",
    "sqlite_path",
]

