"""Store fixtures: every store test runs against SQLite and against a real PostgreSQL server.

The PostgreSQL server is ``SPENEFETT_TEST_POSTGRES_URL`` when set (a role
allowed to create databases), otherwise a throwaway server this session
starts with initdb/pg_ctl in a temporary folder. Each test gets a fresh
database. The PostgreSQL runs are skipped only when no server binaries
exist on the machine at all.
"""

from __future__ import annotations

import itertools
import os

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from engine.persistence import open_store
from engine.persistence.testing import PostgresUnavailable, ThrowawayPostgres

ENV_URL = "SPENEFETT_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgres"]
_numbers = itertools.count(1)


class _GivenServer:
    """A server someone else runs: we create and drop our own databases on it."""

    def __init__(self, url: str):
        self.url = url

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        params = conninfo_to_dict(self.url)
        params["dbname"] = name
        return make_conninfo(**params)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for this test session (see the module docstring)."""
    given = os.environ.get(ENV_URL)
    if given:
        yield _GivenServer(given)
        return
    try:
        server = ThrowawayPostgres(durable=False)
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL tests need the server binaries: {exc}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a fresh, empty PostgreSQL database."""
    name = f"spenefett_test_{os.getpid()}_{next(_numbers)}"
    url = postgres_server.create_database(name)
    yield url
    if isinstance(postgres_server, _GivenServer):
        postgres_server.drop_database(name)


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path):
    """A URL for a fresh store of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()
