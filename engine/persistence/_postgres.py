"""PostgresStore: the production backend, over psycopg 3.

The connection runs in autocommit mode and every store method opens its own
transaction, so no connection sits idle inside one. A batch save locks the
rows it is about to overwrite (``SELECT ... FOR UPDATE``) and writes them all
with one ``INSERT ... SELECT FROM unnest(...)``: one round trip whatever the
batch size. Durability is the server's (``synchronous_commit``, ``fsync``).

    store = PostgresStore("postgresql://game@127.0.0.1:5432/world")
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import psycopg

from engine.persistence._records import EntityRow
from engine.persistence._schema import MIGRATIONS, Migration
from engine.persistence._sql import ENTITY_COLUMNS, UPSERT_SET, SqlStore, _entity

_SCHEMA_LOCK = 0x5E0EFE77
"""Advisory lock key: two servers opening one database migrate one after the other."""


class PostgresStore(SqlStore):
    """A Store in a PostgreSQL database; use it from one thread."""

    backend = "postgres"
    _placeholder = "%s"
    _integrity_errors = (psycopg.errors.IntegrityError,)

    def __init__(self, url: str, *, connect_timeout: float = 10.0,
                 migrations: Sequence[Migration] = MIGRATIONS):
        conn = psycopg.connect(url, autocommit=True, connect_timeout=int(max(1, connect_timeout)))
        try:
            super().__init__(url, conn, migrations)
        except BaseException:
            conn.close()
            raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._conn.transaction():
            yield

    def is_broken(self) -> bool:
        return bool(self._conn.closed or self._conn.broken)

    def _lock_schema(self) -> None:
        self._execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))

    def _versions_for_update(self, ids: list[int]) -> dict[int, int]:
        cur = self._execute("SELECT entity_id, version FROM entities WHERE entity_id = ANY(?) "
                            "ORDER BY entity_id FOR UPDATE", (ids,))
        return dict(cur.fetchall())

    def _upsert_entities(self, rows: list[EntityRow]) -> int:
        return self._execute(
            f"INSERT INTO entities ({ENTITY_COLUMNS}) "
            "SELECT * FROM unnest(?::bigint[], ?::text[], ?::bigint[], ?::text[], ?::bigint[], ?::bytea[]) "
            f"ON CONFLICT (entity_id) DO UPDATE SET {UPSERT_SET} WHERE excluded.version > entities.version",
            ([r.entity_id for r in rows], [r.entity_class for r in rows], [r.owner for r in rows],
             [r.region for r in rows], [r.version for r in rows], [r.state for r in rows])).rowcount

    def _select_entities_by_id(self, ids: list[int]) -> list[EntityRow]:
        cur = self._execute(f"SELECT {ENTITY_COLUMNS} FROM entities WHERE entity_id = ANY(?) "
                            "ORDER BY entity_id", (ids,))
        return [_entity(r) for r in cur]
