"""``python -m bench persistence``: the store's flush, batched against one transaction per character.

A flush is what the persistence node does with one tick's saves: every
changed character in one ``save_entities`` transaction. The baseline is the
same saves committed one transaction each, measured in the same run on the
same database. SQLite is a file in a temporary folder (WAL,
``synchronous=FULL``, as shipped); PostgreSQL is
``SPENEFETT_BENCH_POSTGRES_URL`` if set, else a throwaway server on
127.0.0.1 with its durable defaults (fsync on, synchronous_commit on).

The helpers (``sqlite_store``, ``postgres_store``, ``character_rows``) are
for other persistence figures too: add a section function and list it in
``run``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack

from bench._report import Row
from engine.persistence import Store, open_store
from engine.persistence.testing import PostgresUnavailable, ThrowawayPostgres

FLUSH_CHARACTERS = 10_000
TARGETS = {"SQLite": 1.0, "PostgreSQL": 2.0}
"""Most seconds a flush of FLUSH_CHARACTERS may take, by backend."""
ENV_URL = "SPENEFETT_BENCH_POSTGRES_URL"

Progress = Callable[[str], None]


def character_state(entity_id: int, version: int) -> bytes:
    """A plausible character: stats, position, skills and a 40-item inventory (~1.3 KB msgpack)."""
    seed = hashlib.blake2b(f"{entity_id}:{version}".encode(), digest_size=8).digest()
    return msgpack.packb({
        "name": f"hero{entity_id}", "level": 10 + entity_id % 50, "hp": 100 + version % 50, "mp": 40,
        "pos": [entity_id * 0.5, 12.25, version * 0.125], "seed": seed,
        "skills": {f"skill{k}": (entity_id + k) % 100 for k in range(20)},
        "inventory": [[entity_id * 100 + k, f"item{k}", (version + k) % 20] for k in range(40)],
    })


def character_rows(count: int, version: int, *, first_id: int = 1) -> list[list[Any]]:
    """``count`` character rows ``[entity_id, class, owner, region, version, state]``."""
    return [[i, "Hero", 1 + i % 500, f"region-{i % 16}", version, character_state(i, version)]
            for i in range(first_id, first_id + count)]


@contextlib.contextmanager
def sqlite_store() -> Iterator[Store]:
    """A fresh SQLite store in a temporary folder, with the shipped settings."""
    with tempfile.TemporaryDirectory(prefix="spenefett-bench-") as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            yield store
        finally:
            store.close()


@contextlib.contextmanager
def postgres_store(progress: Progress) -> Iterator[Store | None]:
    """A fresh PostgreSQL store (see the module docstring), or None if there is no server."""
    given = os.environ.get(ENV_URL)
    if given:
        store = open_store(given)
        try:
            yield store
        finally:
            store.close()
        return
    try:
        server = ThrowawayPostgres(durable=True)
    except PostgresUnavailable as exc:
        progress(f"PostgreSQL skipped: {exc}")
        yield None
        return
    with server:
        store = open_store(server.create_database("bench"))
        try:
            yield store
        finally:
            store.close()


def _timed(work: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    work()
    return time.perf_counter() - t0


def flush_rows(store: Store, backend: str, progress: Progress, *, count: int = FLUSH_CHARACTERS,
               repeats: int = 3) -> list[Row]:
    """Batched flush (best of ``repeats``) against one transaction per character, on ``store``."""
    progress(f"{backend}: storing {count:,} characters")
    outcome = store.save_entities(character_rows(count, 1))
    assert len(outcome.saved) == count, outcome.refused[:3]
    version = 1
    best = float("inf")
    for _ in range(repeats):
        version += 1
        rows = character_rows(count, version)
        progress(f"{backend}: flushing {count:,} changed characters in one transaction")
        best = min(best, _timed(lambda rows=rows: store.save_entities(rows)))
    version += 1
    rows = character_rows(count, version)
    progress(f"{backend}: the same saves, one transaction per character (baseline)")
    baseline = _timed(lambda: [store.save_entities([row]) for row in rows])
    check = store.load_entities([1, count])
    assert [version, version] == [r.version for r in check], "the baseline saves did not land"
    target = TARGETS[backend]
    return [
        Row(f"flush {count:,} changed characters, {backend}", best, "s", baseline,
            f"<= {target:g} s", best <= target),
        Row(f"flush rate, {backend}", count / best, "characters/s", count / baseline),
    ]


def sqlite_flush(progress: Progress) -> list[Row]:
    with sqlite_store() as store:
        return flush_rows(store, "SQLite", progress)


def postgres_flush(progress: Progress) -> list[Row]:
    with postgres_store(progress) as store:
        return [] if store is None else flush_rows(store, "PostgreSQL", progress)


def login_figures(progress: Progress) -> list[Row]:
    """Resume-token reconnects and password logins on a real login node (bench/login.py)."""
    from bench import login

    return login.run(progress)


SECTIONS: list[Callable[[Progress], list[Row]]] = [sqlite_flush, postgres_flush, login_figures]
"""Each section measures on its own fresh store; later figures (logins) append theirs here."""


def run(progress: Progress) -> list[Row]:
    rows: list[Row] = []
    for section in SECTIONS:
        rows += section(progress)
    return rows
