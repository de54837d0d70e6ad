"""The persistence module in one engine: requests in, answers out, the database off the tick."""

import contextlib
import sqlite3
import time

import pytest

from engine.persistence import open_store
from engine.persistence.messages import (
    EntitiesLoaded,
    EntityIdsReserved,
    LoadEntities,
    LoadOwned,
    LoadRegion,
    ReserveEntityIds,
    SaveEntities,
    SaveResult,
)
from engine.testing import Harness, Probe
from nodes.persistence import PersistenceModule


def _row(entity_id, version, region="valley", owner=None, state=b"s"):
    return [entity_id, "Pig", owner, region, version, state]


@pytest.fixture
def node(store_url):
    h = Harness(node_id=1000)
    probe = h.add(Probe("probe"))
    module = h.add(PersistenceModule("persistence", {"url": store_url, "reply_rows": 10}))
    h.connect("probe", "persistence")
    h.connect("persistence", "probe")
    h.tick()
    yield h, probe, module
    h.stop()


def _until(h, probe, what, timeout=30.0):
    """Tick until the probe holds a message for which ``what`` is true (returns them all)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        h.tick()
        if any(what(m) for m in probe.received):
            return probe.take()
        time.sleep(0.002)
    raise AssertionError(f"no answer within {timeout} s; got {probe.received}")


def _send(probe, module, msg_class, *fields):
    probe.send(msg_class(module.guid, probe.guid, *fields))


def test_saves_and_loads_are_answered_by_serial(node):
    h, probe, module = node
    _send(probe, module, SaveEntities, 1, [_row(1, 1), _row(2, 1, region="hills", owner=9)])
    got = _until(h, probe, lambda m: type(m) is SaveResult)
    assert [SaveResult(probe.guid, module.guid, 1, [1, 2], [], "")] == got
    _send(probe, module, LoadEntities, 2, [2, 1, 77])
    _send(probe, module, LoadRegion, 3, "hills")
    _send(probe, module, LoadOwned, 4, 9)
    answers = []
    while len(answers) < 3:
        answers += _until(h, probe, lambda m: type(m) is EntitiesLoaded)
    by_serial = {m.serial: m for m in answers}
    assert [_row(1, 1), _row(2, 1, region="hills", owner=9)] == by_serial[2].rows
    assert [_row(2, 1, region="hills", owner=9)] == by_serial[3].rows == by_serial[4].rows
    assert all(m.done and m.error == "" and m.frm == module.guid for m in answers)


def test_every_save_of_one_tick_goes_in_one_transaction(node):
    h, probe, module = node
    flushes = module.flushes
    _send(probe, module, SaveEntities, 1, [_row(1, 1), _row(2, 3, state=b"three")])
    _send(probe, module, SaveEntities, 2, [_row(3, 1)])
    _send(probe, module, SaveEntities, 3, [_row(2, 5, state=b"five")])
    h.tick()
    assert flushes + 1 == module.flushes
    answers = []
    while len(answers) < 3:
        answers += _until(h, probe, lambda m: type(m) is SaveResult)
    by_serial = {m.serial: m for m in answers}
    assert ([1], [[2, "superseded: version 5 in the same batch"]]) == (by_serial[1].saved_ids,
                                                                        by_serial[1].refused)
    assert [3] == by_serial[2].saved_ids and [2] == by_serial[3].saved_ids
    _send(probe, module, LoadEntities, 4, [2])
    loaded = _until(h, probe, lambda m: type(m) is EntitiesLoaded)
    assert [_row(2, 5, state=b"five")] == loaded[0].rows


def test_stale_and_malformed_rows_are_refused_with_reasons(node):
    h, probe, module = node
    _send(probe, module, SaveEntities, 1, [_row(1, 4)])
    _until(h, probe, lambda m: type(m) is SaveResult)
    _send(probe, module, SaveEntities, 2, [_row(1, 3), [5, "Pig"], ["'; DROP TABLE entities; --"]])
    result = _until(h, probe, lambda m: type(m) is SaveResult)[0]
    assert [] == result.saved_ids and "" == result.error
    assert [1, 5, None] == [r[0] for r in result.refused]
    assert result.refused[0][1] == "stale: version 3, stored 4"
    assert all(r[1].startswith("malformed") for r in result.refused[1:])


def test_a_bad_load_is_answered_with_an_error(node):
    h, probe, module = node
    _send(probe, module, LoadRegion, 1, "")
    _send(probe, module, LoadEntities, 2, [0, -1])
    answers = []
    while len(answers) < 2:
        answers += _until(h, probe, lambda m: type(m) is EntitiesLoaded)
    assert all(m.rows == [] and m.error.startswith("invalid: ") for m in answers)


def test_big_loads_come_in_chunks_with_the_last_marked_done(node):
    h, probe, module = node
    _send(probe, module, SaveEntities, 1, [_row(i, 1) for i in range(1, 26)])
    _until(h, probe, lambda m: type(m) is SaveResult)
    _send(probe, module, LoadRegion, 2, "valley")
    chunks = _until(h, probe, lambda m: type(m) is EntitiesLoaded and m.done)
    assert [10, 10, 5] == [len(m.rows) for m in chunks]
    assert [False, False, True] == [m.done for m in chunks]
    assert list(range(1, 26)) == [r[0] for m in chunks for r in m.rows]


def test_reserved_ids_are_fresh(node):
    h, probe, module = node
    _send(probe, module, ReserveEntityIds, 1, 100)
    _send(probe, module, ReserveEntityIds, 2, 100)
    answers = []
    while len(answers) < 2:
        answers += _until(h, probe, lambda m: type(m) is EntityIdsReserved)
    a, b = sorted(answers, key=lambda m: m.serial)
    assert 100 == a.how_many == b.how_many
    assert a.first + 100 <= b.first


def test_the_tick_runs_on_while_the_database_is_locked(tmp_path):
    path = tmp_path / "locked.db"
    h = Harness(node_id=1000)
    probe = h.add(Probe("probe"))
    module = h.add(PersistenceModule("persistence", {"url": f"sqlite:///{path}"}))
    h.connect("probe", "persistence")
    h.connect("persistence", "probe")
    h.tick()
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock: the worker must wait
        _send(probe, module, SaveEntities, 1, [_row(1, 1)])
        ticks = h.engine.tick
        for _ in range(50):
            h.tick()
            time.sleep(0.002)
        assert ticks + 50 == h.engine.tick  # every tick ran to its end meanwhile
        assert [] == probe.take()
        assert 1 == module.status()["pending_jobs"]
        blocker.execute("ROLLBACK")
        got = _until(h, probe, lambda m: type(m) is SaveResult)
        assert [1] == got[0].saved_ids
    finally:
        blocker.close()
        h.stop()


def test_stopping_commits_what_was_queued(tmp_path):
    url = f"sqlite:///{tmp_path}/stop.db"
    h = Harness(node_id=1000)
    probe = h.add(Probe("probe"))
    module = h.add(PersistenceModule("persistence", {"url": url}))
    h.connect("probe", "persistence")
    h.connect("persistence", "probe")
    h.tick()
    _send(probe, module, SaveEntities, 1, [_row(i, 1) for i in range(1, 1001)])
    h.tick()
    h.stop()
    with contextlib.closing(open_store(url)) as store:
        assert 1000 == len(store.load_entities(range(1, 1001)))


def test_a_store_that_cannot_open_stops_the_node_starting(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    h = Harness(node_id=1000)
    h.add(PersistenceModule("persistence", {"url": f"sqlite:///{tmp_path}/file/x.db"}))
    with pytest.raises(OSError):
        h.tick()


def _module_node(url, **settings):
    h = Harness(node_id=1000)
    probe = h.add(Probe("probe"))
    module = h.add(PersistenceModule("persistence", {"url": url, **settings}))
    h.connect("probe", "persistence")
    h.connect("persistence", "probe")
    h.tick()
    return h, probe, module


def test_saves_past_the_batch_limit_split_between_whole_requests(tmp_path):
    h, probe, module = _module_node(f"sqlite:///{tmp_path}/b.db", batch_limit=3)
    try:
        for serial in range(3):
            _send(probe, module, SaveEntities, serial, [_row(serial * 10 + 1, 1), _row(serial * 10 + 2, 1)])
        h.tick()
        assert 3 == module.flushes  # 2 + 2 rows would pass 3: each request is its own transaction
        answers = []
        while len(answers) < 3:
            answers += _until(h, probe, lambda m: type(m) is SaveResult)
        assert [2, 2, 2] == [len(m.saved_ids) for m in answers]
    finally:
        h.stop()


def test_an_overloaded_node_answers_at_once_instead_of_queueing(tmp_path):
    path = tmp_path / "slow.db"
    h, probe, module = _module_node(f"sqlite:///{path}", max_pending=1)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        _send(probe, module, SaveEntities, 1, [_row(1, 1)])
        h.tick()
        _send(probe, module, SaveEntities, 2, [_row(2, 1)])
        _send(probe, module, LoadRegion, 3, "valley")
        answers = []
        while len(answers) < 2:
            answers += _until(h, probe, lambda m: m.serial in (2, 3))
        assert all(m.error.startswith("overloaded: ") for m in answers)
        blocker.execute("ROLLBACK")
        assert [1] == _until(h, probe, lambda m: m.serial == 1)[0].saved_ids
    finally:
        blocker.close()
        h.stop()
    with contextlib.closing(open_store(f"sqlite:///{path}")) as store:
        assert [1] == [r.entity_id for r in store.load_entities([1, 2])]


def test_a_lost_postgres_connection_fails_one_request_then_reconnects(postgres_url):
    import psycopg

    h, probe, module = _module_node(postgres_url)
    try:
        _send(probe, module, SaveEntities, 1, [_row(1, 1)])
        _until(h, probe, lambda m: m.serial == 1)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
        assert killed
        _send(probe, module, SaveEntities, 2, [_row(2, 1)])
        failed = _until(h, probe, lambda m: m.serial == 2)[0]
        assert [] == failed.saved_ids and failed.error.startswith("store: ")
        assert [[2, failed.error]] == failed.refused
        _send(probe, module, SaveEntities, 3, [_row(2, 1)])
        assert [2] == _until(h, probe, lambda m: m.serial == 3)[0].saved_ids
    finally:
        h.stop()
