"""The SQL both backends share; SqliteStore and PostgresStore fill in the dialect.

Queries are written once with ``?`` placeholders (translated to ``%s`` for
psycopg) and every value goes in as a parameter: no query is ever built
from data. Subclasses supply the connection, the transaction bracket, the
integrity-error types and the bulk operations where a backend has a faster
form.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

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
    check_id,
    check_roles,
    check_text,
    check_time,
    entity_row,
    name_key,
)
from engine.persistence._schema import MIGRATIONS, VERSION_TABLE, Migration, check_order
from engine.persistence._store import Store

_ACCOUNT_COLUMNS = "account_id, name, password_hash, password_params, roles, created_at"
_SESSION_COLUMNS = "token, account_id, created_at, expires_at, revoked"
_CHARACTER_COLUMNS = "character_id, account_id, name, entity_id, created_at"
ENTITY_COLUMNS = "entity_id, class, owner, region, version, state"
UPSERT_SET = ("class = excluded.class, owner = excluded.owner, region = excluded.region, "
              "version = excluded.version, state = excluded.state")
MAX_RESERVE = 1 << 20


class SqlStore(Store):
    """Store over a DB-API connection; one instance belongs to one thread."""

    backend = "sql"
    _placeholder = "?"
    _integrity_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, url: str, connection: Any, migrations: Sequence[Migration] = MIGRATIONS):
        self.url = url
        self._conn = connection
        self._closed = False
        self._sql_cache: dict[str, str] = {}
        self._migrate(tuple(migrations))

    # -- dialect hooks -------------------------------------------------------------------

    def _sql(self, query: str) -> str:
        out = self._sql_cache.get(query)
        if out is None:
            out = self._sql_cache[query] = (query if self._placeholder == "?"
                                            else query.replace("?", self._placeholder))
        return out

    def _execute(self, query: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(self._sql(query), params)

    def _executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> int:
        return int(self._conn.executemany(self._sql(query), rows).rowcount)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        raise NotImplementedError
        yield

    def _lock_schema(self) -> None:
        """Serialise concurrent migrators (inside the migration's transaction)."""

    def _versions_for_update(self, ids: list[int]) -> dict[int, int]:
        """Stored version by id for those of ``ids`` that exist (rows locked where it matters)."""
        out: dict[int, int] = {}
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" * len(chunk))
            for entity_id, version in self._execute(
                    f"SELECT entity_id, version FROM entities WHERE entity_id IN ({marks})", chunk):
                out[entity_id] = version
        return out

    def _upsert_entities(self, rows: list[EntityRow]) -> int:
        """Insert or overwrite (if older) each row; returns how many rows were written."""
        return self._executemany(
            f"INSERT INTO entities ({ENTITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (entity_id) DO UPDATE SET {UPSERT_SET} WHERE excluded.version > entities.version",
            [(r.entity_id, r.entity_class, r.owner, r.region, r.version, r.state) for r in rows])

    def _select_entities_by_id(self, ids: list[int]) -> list[EntityRow]:
        out: list[EntityRow] = []
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" * len(chunk))
            out.extend(_entity(r) for r in self._execute(
                f"SELECT {ENTITY_COLUMNS} FROM entities WHERE entity_id IN ({marks})", chunk))
        out.sort(key=lambda r: r.entity_id)
        return out

    # -- schema --------------------------------------------------------------------------

    def _migrate(self, migrations: tuple[Migration, ...]) -> None:
        check_order(migrations)
        with self._transaction():
            self._lock_schema()
            self._execute(VERSION_TABLE[self.backend])
        current = self.schema_version()
        latest = migrations[-1].version if migrations else 0
        if current > latest:
            raise SchemaError(f"the database is at schema {current}, newer than this code's {latest}; "
                              "upgrade the server before opening it")
        for m in migrations[current:]:
            try:
                with self._transaction():
                    self._lock_schema()
                    if self.schema_version() >= m.version:
                        continue  # another process applied it while we waited
                    for statement in getattr(m, self.backend):
                        self._execute(statement)
                    self._execute("INSERT INTO schema_version (version, description, applied_at) "
                                  "VALUES (?, ?, ?)", (m.version, m.description, time.time()))
            except self._integrity_errors as exc:
                raise SchemaError(f"migration {m.version} ({m.description}) failed: {exc}") from exc

    def schema_version(self) -> int:
        row = self._execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    # -- accounts ------------------------------------------------------------------------

    def create_account(self, name: str, password_hash: str, password_params: str = "",
                       roles: Sequence[str] = (), *, now: float) -> Account:
        check_text(name, "account name")
        check_text(password_hash, "password hash", max_len=4096)
        check_text(password_params, "password params", max_len=4096, empty=True)
        roles = check_roles(roles)
        check_time(now, "now")
        try:
            with self._transaction():
                row = self._execute(
                    "INSERT INTO accounts (name, name_key, password_hash, password_params, roles, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING account_id",
                    (name, name_key(name), password_hash, password_params, ",".join(roles), float(now)),
                ).fetchone()
        except self._integrity_errors:
            raise NameTakenError(f"an account named {name!r} exists") from None
        return Account(int(row[0]), name, password_hash, password_params, roles, float(now))

    def _require_account(self, account_id: int) -> None:
        if self._execute("SELECT 1 FROM accounts WHERE account_id = ?", (account_id,)).fetchone() is None:
            raise NotFoundError(f"no account {account_id}")

    def get_account(self, name: str) -> Account | None:
        check_text(name, "account name")
        row = self._execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE name_key = ?",
                            (name_key(name),)).fetchone()
        return _account(row) if row else None

    def get_account_by_id(self, account_id: int) -> Account | None:
        check_id(account_id, "account_id")
        row = self._execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ?",
                            (account_id,)).fetchone()
        return _account(row) if row else None

    def set_password(self, account_id: int, password_hash: str, password_params: str = "") -> None:
        check_id(account_id, "account_id")
        check_text(password_hash, "password hash", max_len=4096)
        check_text(password_params, "password params", max_len=4096, empty=True)
        with self._transaction():
            cur = self._execute("UPDATE accounts SET password_hash = ?, password_params = ? "
                                "WHERE account_id = ?", (password_hash, password_params, account_id))
            if cur.rowcount != 1:
                raise NotFoundError(f"no account {account_id}")

    def set_roles(self, account_id: int, roles: Sequence[str]) -> None:
        check_id(account_id, "account_id")
        joined = ",".join(check_roles(roles))
        with self._transaction():
            cur = self._execute("UPDATE accounts SET roles = ? WHERE account_id = ?", (joined, account_id))
            if cur.rowcount != 1:
                raise NotFoundError(f"no account {account_id}")

    # -- sessions ------------------------------------------------------------------------

    def create_session(self, token: str, account_id: int, *, now: float, expires_at: float) -> Session:
        check_text(token, "token")
        check_id(account_id, "account_id")
        check_time(now, "now")
        check_time(expires_at, "expires_at")
        try:
            with self._transaction():
                self._require_account(account_id)
                self._execute(f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, 0)",
                              (token, account_id, float(now), float(expires_at)))
        except self._integrity_errors:
            raise NameTakenError("that session token exists") from None
        return Session(token, account_id, float(now), float(expires_at), False)

    def get_session(self, token: str, *, now: float) -> Session | None:
        check_text(token, "token")
        check_time(now, "now")
        row = self._execute(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE token = ?", (token,)).fetchone()
        if row is None:
            return None
        session = Session(row[0], int(row[1]), float(row[2]), float(row[3]), bool(row[4]))
        return session if session.live(now) else None

    def revoke_session(self, token: str) -> bool:
        check_text(token, "token")
        with self._transaction():
            cur = self._execute("UPDATE sessions SET revoked = 1 WHERE token = ?", (token,))
            return bool(cur.rowcount)

    def revoke_account_sessions(self, account_id: int) -> int:
        check_id(account_id, "account_id")
        with self._transaction():
            cur = self._execute("UPDATE sessions SET revoked = 1 WHERE account_id = ? AND revoked = 0",
                                (account_id,))
            return int(cur.rowcount)

    def expire_sessions(self, *, now: float) -> int:
        check_time(now, "now")
        with self._transaction():
            cur = self._execute("DELETE FROM sessions WHERE expires_at <= ? OR revoked = 1", (float(now),))
            return int(cur.rowcount)

    # -- characters ------------------------------------------------------------------------

    def create_character(self, account_id: int, name: str, entity_class: str, state: bytes, *,
                         region: str | None = None, now: float) -> Character:
        check_id(account_id, "account_id")
        check_text(name, "character name")
        check_time(now, "now")
        try:
            with self._transaction():
                self._require_account(account_id)
                entity_id = self._reserve(1).start
                row = entity_row([entity_id, entity_class, account_id, region, 1, state])
                self._execute(f"INSERT INTO entities ({ENTITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                              row.as_list())
                cur = self._execute(
                    "INSERT INTO characters (account_id, name, name_key, entity_id, created_at) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING character_id",
                    (account_id, name, name_key(name), entity_id, float(now)))
                character_id = int(cur.fetchone()[0])
        except self._integrity_errors:
            raise NameTakenError(f"a character named {name!r} exists") from None
        return Character(character_id, account_id, name, entity_id, float(now))

    def list_characters(self, account_id: int) -> list[Character]:
        check_id(account_id, "account_id")
        rows = self._execute(f"SELECT {_CHARACTER_COLUMNS} FROM characters WHERE account_id = ? "
                             "ORDER BY character_id", (account_id,)).fetchall()
        return [_character(r) for r in rows]

    def get_character(self, character_id: int) -> Character | None:
        check_id(character_id, "character_id")
        row = self._execute(f"SELECT {_CHARACTER_COLUMNS} FROM characters WHERE character_id = ?",
                            (character_id,)).fetchone()
        return _character(row) if row else None

    def delete_character(self, character_id: int) -> bool:
        check_id(character_id, "character_id")
        with self._transaction():
            row = self._execute("SELECT entity_id FROM characters WHERE character_id = ?",
                                (character_id,)).fetchone()
            if row is None:
                return False
            self._execute("DELETE FROM characters WHERE character_id = ?", (character_id,))
            self._execute("DELETE FROM entities WHERE entity_id = ?", (row[0],))
            return True

    def load_character(self, character_id: int) -> tuple[Character, EntityRow] | None:
        check_id(character_id, "character_id")
        row = self._execute(  # one statement: a consistent snapshot without a transaction
            f"SELECT c.character_id, c.account_id, c.name, c.entity_id, c.created_at, "
            f"{', '.join('e.' + c for c in ENTITY_COLUMNS.split(', '))} "
            "FROM characters c JOIN entities e ON e.entity_id = c.entity_id "
            "WHERE c.character_id = ?", (character_id,)).fetchone()
        if row is None:
            return None
        return _character(row[:5]), _entity(row[5:])

    # -- entities ------------------------------------------------------------------------

    def reserve_entity_ids(self, count: int) -> range:
        if type(count) is not int or not 1 <= count <= MAX_RESERVE:
            raise InvalidInputError(f"count must be an int in 1..{MAX_RESERVE}, got {count!r:.40}")
        with self._transaction():
            return self._reserve(count)

    def _reserve(self, count: int) -> range:
        row = self._execute("UPDATE id_counters SET next_value = next_value + ? WHERE name = 'entity' "
                            "RETURNING next_value", (count,)).fetchone()
        end = int(row[0])
        return range(end - count, end)

    def save_entities(self, rows: Iterable[EntityRow | Sequence[Any]]) -> SaveOutcome:
        checked: list[EntityRow | None] = []
        results: list[str | None] = []
        ids: list[int | None] = []
        for raw in rows:
            try:
                row = entity_row(raw)
            except InvalidInputError as exc:
                checked.append(None)
                results.append(f"malformed: {exc}")
                ids.append(_guess_id(raw))
            else:
                checked.append(row)
                results.append(None)
                ids.append(row.entity_id)
        # the highest version of each id in the batch is the candidate; earlier copies are refused
        best: dict[int, int] = {}
        for i, row in enumerate(checked):
            if row is None:
                continue
            j = best.get(row.entity_id)
            if j is None or row.version > checked[j].version:  # type: ignore[union-attr]
                if j is not None:
                    results[j] = f"superseded: version {row.version} in the same batch"
                best[row.entity_id] = i
            else:
                results[i] = f"superseded: version {checked[j].version} in the same batch"  # type: ignore[union-attr]
        if best:
            with self._transaction():
                stored = self._versions_for_update(sorted(best))
                accepted = []
                for entity_id, i in best.items():
                    row = checked[i]
                    assert row is not None
                    old = stored.get(entity_id)
                    if old is not None and row.version <= old:
                        results[i] = f"stale: version {row.version}, stored {old}"
                    else:
                        accepted.append(row)
                if accepted and self._upsert_entities(accepted) != len(accepted):
                    # another writer slipped a newer row in between (only possible for ids that
                    # were new at the read): name those rows stale rather than saved
                    now_stored = self._versions_for_update([r.entity_id for r in accepted])
                    for row in accepted:
                        if now_stored.get(row.entity_id) != row.version:
                            results[best[row.entity_id]] = (f"stale: version {row.version}, stored "
                                                            f"{now_stored.get(row.entity_id)}")
                if accepted:
                    # ids saved from outside the counter must never be handed out again
                    top = max(r.entity_id for r in accepted)
                    self._execute("UPDATE id_counters SET next_value = ? "
                                  "WHERE name = 'entity' AND next_value <= ?", (top + 1, top))
        return SaveOutcome(tuple(ids), tuple(results))

    def load_entities(self, entity_ids: Iterable[int]) -> list[EntityRow]:
        ids = sorted({check_id(i, "entity_id") for i in entity_ids})
        return self._select_entities_by_id(ids) if ids else []

    def load_region(self, region: str) -> list[EntityRow]:
        check_text(region, "region")
        return [_entity(r) for r in self._execute(
            f"SELECT {ENTITY_COLUMNS} FROM entities WHERE region = ? ORDER BY entity_id", (region,))]

    def load_owned(self, owner: int) -> list[EntityRow]:
        check_id(owner, "owner")
        return [_entity(r) for r in self._execute(
            f"SELECT {ENTITY_COLUMNS} FROM entities WHERE owner = ? ORDER BY entity_id", (owner,))]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._conn.close()


def _guess_id(raw: Any) -> int | None:
    """The id of a malformed row, if it has a usable one, so its refusal can name it."""
    try:
        value = raw[0]
    except Exception:
        return None
    return value if type(value) is int and 1 <= value < (1 << 63) else None


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _account(row: Sequence[Any]) -> Account:
    roles = tuple(r for r in str(row[4]).split(",") if r)
    return Account(int(row[0]), row[1], row[2], row[3], roles, float(row[5]))


def _character(row: Sequence[Any]) -> Character:
    return Character(int(row[0]), int(row[1]), row[2], int(row[3]), float(row[4]))


def _entity(row: Sequence[Any]) -> EntityRow:
    state = row[5]
    return EntityRow(int(row[0]), row[1], None if row[2] is None else int(row[2]), row[3], int(row[4]),
                     state if type(state) is bytes else bytes(state))
