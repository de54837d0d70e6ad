"""``open_store(url)``: the backend is chosen by the URL's scheme.

- ``sqlite:///var/spenefett.db``: a file relative to the working directory
  (``sqlite:////srv/world.db`` for an absolute path, ``sqlite:///:memory:``
  for a throwaway); ``?synchronous=normal`` relaxes the fsync per commit.
- ``postgresql://user@host:port/dbname`` (or ``postgres://``): handed to
  psycopg as a libpq URI, options included.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs, unquote

from engine.persistence._records import StoreUrlError
from engine.persistence._schema import MIGRATIONS, Migration
from engine.persistence._store import Store

DEFAULT_URL = "sqlite:///var/spenefett.db"


def sqlite_path(url: str) -> str | None:
    """The file a ``sqlite:///`` URL names (None for other schemes); StoreUrlError if malformed."""
    if not url.startswith("sqlite:"):
        return None
    if not url.startswith("sqlite:///"):
        raise StoreUrlError("a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path, "
                            f"got {url!r}")
    path = unquote(url[len("sqlite:///"):].split("?", 1)[0])
    if not path:
        raise StoreUrlError(f"{url!r} names no file")
    return path


def open_store(url: str = DEFAULT_URL, *, migrations: Sequence[Migration] = MIGRATIONS) -> Store:
    """Open (creating and migrating as needed) the store the URL names."""
    if type(url) is not str:
        raise StoreUrlError(f"a store URL is a str, got {type(url).__name__}")
    path = sqlite_path(url)
    if path is not None:
        from engine.persistence._sqlite import SqliteStore

        query = parse_qs(url.split("?", 1)[1]) if "?" in url else {}
        unknown = set(query) - {"synchronous"}
        if unknown:
            raise StoreUrlError(f"unknown SQLite URL option(s): {', '.join(sorted(unknown))}")
        synchronous = query.get("synchronous", ["full"])[-1].lower()
        return SqliteStore(path, synchronous=synchronous, migrations=migrations)
    if url.startswith(("postgresql://", "postgres://")):
        from engine.persistence._postgres import PostgresStore

        return PostgresStore(url, migrations=migrations)
    raise StoreUrlError(f"no store backend for {url.split(':', 1)[0]!r} URLs "
                        "(use sqlite:///path or postgresql://...)")
