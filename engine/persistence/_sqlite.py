"""SqliteStore: the embedded default, one file in WAL mode.

Durability: WAL journal with ``synchronous=FULL`` by default. WAL alone
makes a transaction all-or-nothing whatever kills the process (``kill -9``
mid-commit leaves the previous state); FULL also fsyncs the WAL at every
commit, so a save the node has acknowledged survives a power cut too. The
cost is one fsync per transaction, and the persistence node commits once
per tick, not once per entity. ``?synchronous=normal`` in the URL trades
the power-cut guarantee for speed (still never corrupt).

    store = SqliteStore("var/spenefett.db")
    store.save_entities([[1, "Pig", None, "valley", 1, b"\\x80"]])
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from engine.persistence._records import StoreError
from engine.persistence._schema import MIGRATIONS, Migration
from engine.persistence._sql import SqlStore

SYNCHRONOUS = ("full", "normal", "extra")


class SqliteStore(SqlStore):
    """A Store in one SQLite file (or ``":memory:"``); use it from one thread."""

    backend = "sqlite"
    _integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: str | Path, *, synchronous: str = "full", busy_timeout: float = 30.0,
                 migrations: Sequence[Migration] = MIGRATIONS):
        if synchronous not in SYNCHRONOUS:
            raise StoreError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}, got {synchronous!r}")
        path = str(path)
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves
        conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
        try:
            if path != ":memory:":
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{path}: could not switch to WAL mode (got {mode!r})")
            conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            # a big flush grows the WAL; once checkpointed, give the disk back beyond 64 MiB
            conn.execute(f"PRAGMA journal_size_limit={64 << 20}")
            conn.execute("PRAGMA foreign_keys=ON")
            super().__init__(f"sqlite:///{path}", conn, migrations)
        except BaseException:
            conn.close()
            raise
        self.synchronous = synchronous

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        conn = self._conn
        if conn.in_transaction:  # nested: the outer transaction commits
            yield
            return
        # IMMEDIATE takes the write lock now, so a read-then-write cannot be overtaken
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def integrity_check(self) -> str:
        """SQLite's own check of the file; ``"ok"`` when nothing is wrong."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])
