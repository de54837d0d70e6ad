"""The Store contract, run against SQLite and a real PostgreSQL server alike."""

import contextlib
import sqlite3

import msgpack
import psycopg
import pytest

from engine.persistence import (
    DEFAULT_URL,
    MIGRATIONS,
    EntityRow,
    InvalidInputError,
    NameTakenError,
    NotFoundError,
    SchemaError,
    StaleSaveError,
    StoreUrlError,
    open_store,
    sqlite_path,
)

EVIL = [
    "'; DROP TABLE entities; --",
    'Robert"); DELETE FROM accounts; --',
    "%s %(x)s ? :name $1 \\ ' \" ; -- /* */",
    "ü名前 🐖",
    "a' OR '1'='1",
]


def _row(entity_id, version, *, region="valley", owner=None, cls="Pig", state=None):
    state = msgpack.packb({"id": entity_id, "v": version}) if state is None else state
    return [entity_id, cls, owner, region, version, state]


def _sql(url, statement):
    """Run one statement on the database directly, as an older server would have."""
    if url.startswith("sqlite:"):
        with contextlib.closing(sqlite3.connect(sqlite_path(url))) as conn:
            conn.execute(statement, (b"",))
            conn.commit()
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement.replace("?", "%s"), (b"",))


# -- schema and URLs -----------------------------------------------------------------------


def test_a_new_store_is_at_the_latest_schema(store):
    assert MIGRATIONS[-1].version == store.schema_version()


def test_reopening_applies_nothing_twice_and_keeps_data(store_url):
    with open_store(store_url) as s:
        s.save_entities([_row(1, 1)])
    with open_store(store_url) as s:
        assert MIGRATIONS[-1].version == s.schema_version()
        assert [1] == [r.entity_id for r in s.load_entities([1])]


def test_migrations_run_in_order_from_an_older_schema(store_url):
    with open_store(store_url, migrations=MIGRATIONS[:1]) as s:
        assert 1 == s.schema_version()
    _sql(store_url, "INSERT INTO entities (entity_id, class, version, state) VALUES (41, 'Pig', 1, ?)")
    with open_store(store_url) as s:
        assert 2 == s.schema_version()
        # migration 2 seeds the id counter past the ids already stored
        assert 42 == s.reserve_entity_ids(1).start


def test_a_database_newer_than_the_code_is_refused(store_url):
    open_store(store_url).close()
    with pytest.raises(SchemaError, match="newer"):
        open_store(store_url, migrations=MIGRATIONS[:1])


def test_the_default_url_is_a_file_under_var_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_store(DEFAULT_URL) as s:
        assert "sqlite" == s.backend
    assert (tmp_path / "var" / "spenefett.db").is_file()
    with contextlib.closing(sqlite3.connect(tmp_path / "var" / "spenefett.db")) as conn:
        assert "wal" == conn.execute("PRAGMA journal_mode").fetchone()[0]


def test_sqlite_commits_with_a_full_fsync_unless_told_otherwise(tmp_path):
    with open_store(f"sqlite:///{tmp_path}/a.db") as s:
        assert "full" == s.synchronous
    with open_store(f"sqlite:///{tmp_path}/b.db?synchronous=normal") as s:
        assert "normal" == s.synchronous


@pytest.mark.parametrize("url", ["mysql://x", "sqlite:relative.db", "sqlite:///", "nonsense",
                                 "sqlite:///x.db?journal=off"])
def test_a_bad_url_is_refused(url):
    with pytest.raises(StoreUrlError):
        open_store(url)


# -- accounts --------------------------------------------------------------------------------


def test_accounts_are_created_found_and_updated(store):
    a = store.create_account("Ann", "$argon2id$v=19$abc", "m=65536,t=3,p=4", ["player", "gm"], now=10.0)
    assert ("gm", "player") == a.roles
    assert a == store.get_account("ann") == store.get_account("ANN") == store.get_account_by_id(a.account_id)
    store.set_password(a.account_id, "$argon2id$new", "m=1")
    store.set_roles(a.account_id, ["admin"])
    got = store.get_account("Ann")
    assert ("$argon2id$new", "m=1", ("admin",)) == (got.password_hash, got.password_params, got.roles)
    assert store.get_account("nobody") is None
    assert store.get_account_by_id(999) is None


def test_account_names_are_unique_case_insensitively(store):
    store.create_account("Ann", "h", now=0.0)
    with pytest.raises(NameTakenError):
        store.create_account("aNN", "h2", now=1.0)
    assert "h" == store.get_account("ann").password_hash


def test_updating_a_missing_account_raises(store):
    with pytest.raises(NotFoundError):
        store.set_password(12345, "h")
    with pytest.raises(NotFoundError):
        store.set_roles(12345, ["x"])


# -- sessions --------------------------------------------------------------------------------


def test_sessions_live_until_they_expire_or_are_revoked(store):
    a = store.create_account("ann", "h", now=0.0)
    store.create_session("tok-1", a.account_id, now=100.0, expires_at=200.0)
    store.create_session("tok-2", a.account_id, now=100.0, expires_at=200.0)
    assert "tok-1" == store.get_session("tok-1", now=150.0).token
    assert store.get_session("tok-1", now=200.0) is None  # expired at its expiry time
    assert store.revoke_session("tok-1")
    assert store.get_session("tok-1", now=150.0) is None
    assert not store.revoke_session("no-such-token")
    assert 1 == store.revoke_account_sessions(a.account_id)
    assert store.get_session("tok-2", now=150.0) is None


def test_expire_sessions_deletes_only_dead_ones(store):
    a = store.create_account("ann", "h", now=0.0)
    store.create_session("old", a.account_id, now=0.0, expires_at=50.0)
    store.create_session("new", a.account_id, now=0.0, expires_at=500.0)
    store.create_session("revoked", a.account_id, now=0.0, expires_at=500.0)
    store.revoke_session("revoked")
    assert 2 == store.expire_sessions(now=100.0)
    assert "new" == store.get_session("new", now=100.0).token


def test_a_session_needs_an_account_and_a_fresh_token(store):
    with pytest.raises(NotFoundError):
        store.create_session("t", 777, now=0.0, expires_at=1.0)
    a = store.create_account("ann", "h", now=0.0)
    store.create_session("t", a.account_id, now=0.0, expires_at=10.0)
    with pytest.raises(NameTakenError):
        store.create_session("t", a.account_id, now=0.0, expires_at=20.0)
    assert 10.0 == store.get_session("t", now=1.0).expires_at


# -- characters ------------------------------------------------------------------------------


def test_a_character_is_created_with_its_entity_and_listed(store):
    a = store.create_account("ann", "h", now=0.0)
    hero = store.create_character(a.account_id, "Hero", "Human", b"\x80", region="valley", now=5.0)
    second = store.create_character(a.account_id, "Sidekick", "Elf", b"\x81\xa1a\x01", now=6.0)
    assert [hero, second] == store.list_characters(a.account_id)
    character, entity = store.load_character(hero.character_id)
    assert hero == character
    assert EntityRow(hero.entity_id, "Human", a.account_id, "valley", 1, b"\x80") == entity
    assert [hero.entity_id] == [r.entity_id for r in store.load_owned(a.account_id) if r.region == "valley"]


def test_character_names_are_unique_across_accounts(store):
    a = store.create_account("ann", "h", now=0.0)
    b = store.create_account("bob", "h", now=0.0)
    store.create_character(a.account_id, "Hero", "Human", b"", now=0.0)
    with pytest.raises(NameTakenError):
        store.create_character(b.account_id, "HERO", "Human", b"", now=0.0)
    assert [] == store.list_characters(b.account_id)
    assert 1 == len(store.load_region("valley")) + len(store.load_owned(a.account_id))


def test_deleting_a_character_removes_its_entity(store):
    a = store.create_account("ann", "h", now=0.0)
    hero = store.create_character(a.account_id, "Hero", "Human", b"", now=0.0)
    assert store.delete_character(hero.character_id)
    assert not store.delete_character(hero.character_id)
    assert store.load_character(hero.character_id) is None
    assert [] == store.load_entities([hero.entity_id])
    # the name is free again
    store.create_character(a.account_id, "Hero", "Human", b"", now=1.0)


def test_a_character_needs_an_account(store):
    with pytest.raises(NotFoundError):
        store.create_character(999, "Hero", "Human", b"", now=0.0)


# -- entities and versioned saves ------------------------------------------------------------


def test_saved_entities_load_by_id_region_and_owner(store):
    rows = [_row(1, 1, region="valley", owner=7), _row(2, 1, region="hills", owner=7),
            _row(3, 1, region="valley", owner=None)]
    outcome = store.save_entities(rows)
    assert [1, 2, 3] == outcome.saved and [] == outcome.refused
    assert [1, 3] == [r.entity_id for r in store.load_region("valley")]
    assert [1, 2] == [r.entity_id for r in store.load_owned(7)]
    assert [r for r in rows if r[0] in (1, 3)] == [r.as_list() for r in store.load_entities([3, 1, 99])]


def test_a_save_older_than_or_equal_to_the_stored_version_is_refused(store):
    store.save_entities([_row(1, 5, state=b"five")])
    outcome = store.save_entities([_row(1, 4, state=b"four"), _row(2, 1)])
    assert [2] == outcome.saved
    assert [(1, "stale: version 4, stored 5")] == outcome.refused
    assert [(1, "stale: version 5, stored 5")] == store.save_entities([_row(1, 5, state=b"again")]).refused
    assert b"five" == store.load_entity(1).state
    store.save_entities([_row(1, 6, state=b"six", region="hills", cls="Boar", owner=3)])
    assert EntityRow(1, "Boar", 3, "hills", 6, b"six") == store.load_entity(1)


def test_save_entity_raises_on_a_stale_save(store):
    store.save_entity(_row(1, 2))
    with pytest.raises(StaleSaveError):
        store.save_entity(_row(1, 1))
    with pytest.raises(InvalidInputError):
        store.save_entity(_row(1, 0))


def test_within_one_batch_the_highest_version_of_an_id_wins(store):
    outcome = store.save_entities([_row(1, 3, state=b"3"), _row(1, 7, state=b"7"), _row(1, 5, state=b"5")])
    assert [1] == outcome.saved
    assert ("superseded: version 7 in the same batch", None, "superseded: version 7 in the same batch") \
        == outcome.results
    assert b"7" == store.load_entity(1).state


def test_a_big_batch_is_saved_whole(store):
    rows = [_row(i, 1, region=f"r{i % 7}") for i in range(1, 5001)]
    assert 5000 == len(store.save_entities(rows).saved)
    rows2 = [_row(i, 2 if i % 2 else 1) for i in range(1, 5001)]
    outcome = store.save_entities(rows2)
    assert 2500 == len(outcome.saved) == len(outcome.refused)
    assert 5000 == len(store.load_entities(range(1, 5001)))


def test_reserved_ids_never_repeat_and_skip_ids_saved_directly(store):
    first = store.reserve_entity_ids(10)
    assert 10 == len(first)
    store.save_entities([_row(first.stop + 100, 1)])
    second = store.reserve_entity_ids(5)
    assert second.start > first.stop + 100
    a = store.create_account("ann", "h", now=0.0)
    hero = store.create_character(a.account_id, "Hero", "Human", b"", now=0.0)
    assert hero.entity_id >= second.stop


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", EVIL)
def test_sql_metacharacters_are_plain_data_everywhere(store, text):
    a = store.create_account(text, text, text, now=0.0)
    assert a == store.get_account(text)
    store.create_session(text, a.account_id, now=0.0, expires_at=10.0)
    assert text == store.get_session(text, now=1.0).token
    hero = store.create_character(a.account_id, text, text, text.encode(), region=text, now=0.0)
    store.save_entities([_row(hero.entity_id, 2, cls=text, region=text, state=text.encode())])
    assert [text] == [r.region for r in store.load_region(text)]
    assert text.encode() == store.load_character(hero.character_id)[1].state
    assert [text] == [c.name for c in store.list_characters(a.account_id)]
    assert MIGRATIONS[-1].version == store.schema_version()  # every table still there


MALFORMED = [
    [0, "Pig", None, "valley", 1, b""],                 # id 0
    [-5, "Pig", None, "valley", 1, b""],                # negative id
    [1 << 63, "Pig", None, "valley", 1, b""],           # id over 63 bits
    [True, "Pig", None, "valley", 1, b""],              # a bool is not an id
    [1, "", None, "valley", 1, b""],                    # empty class
    [1, "Pig\x00", None, "valley", 1, b""],             # NUL in text
    [1, "Pig", None, "val\ud800ley", 1, b""],           # unpaired surrogate
    [1, "Pig", "7", "valley", 1, b""],                  # owner not an int
    [1, "Pig", None, 5, 1, b""],                        # region not a str
    [1, "Pig", None, "valley", 0, b""],                 # version 0
    [1, "Pig", None, "valley", 2.0, b""],               # float version
    [1, "Pig", None, "valley", 2, "text"],              # state not bytes
    [1, "Pig", None, "valley", 2],                      # too short
    "not a row",
    None,
]


@pytest.mark.parametrize("bad", MALFORMED, ids=range(len(MALFORMED)))
def test_a_malformed_row_is_refused_and_changes_nothing(store, bad):
    store.save_entities([_row(1, 1, state=b"kept")])
    outcome = store.save_entities([bad, _row(2, 1)])
    assert [2] == outcome.saved
    assert outcome.results[0].startswith("malformed: ")
    assert b"kept" == store.load_entity(1).state and 1 == store.load_entity(1).version


@pytest.mark.parametrize("call", [
    lambda s: s.create_account("", "h", now=0.0),
    lambda s: s.create_account("a\x00b", "h", now=0.0),
    lambda s: s.create_account("ann", "h", roles=["has space"], now=0.0),
    lambda s: s.create_account("ann", "h", roles="admin", now=0.0),
    lambda s: s.create_account("x" * 2000, "h", now=0.0),
    lambda s: s.create_account("ann", "h", now=float("nan")),
    lambda s: s.get_account(b"ann"),
    lambda s: s.get_account_by_id("1"),
    lambda s: s.load_entities(["1"]),
    lambda s: s.load_entities([0]),
    lambda s: s.load_region(""),
    lambda s: s.load_owned(-1),
    lambda s: s.reserve_entity_ids(0),
    lambda s: s.create_session("t\x00", 1, now=0.0, expires_at=1.0),
])
def test_bad_arguments_raise_invalid_input_before_touching_the_database(store, call):
    with pytest.raises(InvalidInputError):
        call(store)
    assert store.get_account("ann") is None


def test_a_newer_row_committed_by_another_writer_mid_save_is_not_overwritten(postgres_url):
    import threading

    open_store(postgres_url).close()
    other = psycopg.connect(postgres_url)  # a transaction of its own, left open for now
    other.execute("INSERT INTO entities (entity_id, class, version, state) VALUES (9, 'Pig', 5, %s)",
                  (b"theirs",))
    outcome = []

    def save():
        with open_store(postgres_url) as store:
            outcome.append(store.save_entities([_row(9, 3, state=b"ours"), _row(10, 1)]))

    saver = threading.Thread(target=save)
    saver.start()
    saver.join(1.0)  # it reads no row 9, then its insert waits on the other transaction
    other.commit()
    other.close()
    saver.join(30)
    assert [10] == outcome[0].saved
    assert [(9, "stale: version 3, stored 5")] == outcome[0].refused
    with open_store(postgres_url) as store:
        assert b"theirs" == store.load_entity(9).state
